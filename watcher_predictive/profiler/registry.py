# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The plugin's forecasting models, by name, for the backtest.

A model is a zero-argument factory returning a fitted-on-demand object with
the ``base.ForecastModel`` contract. Three ways in, checked in this order:

* ``MODELS``: name -> factory, always available. ``register(name,
  factory)`` adds to it (from code that runs before the backtest).
* ``OPTIONAL``: name -> ``'module:Class'`` inside
  ``watcher_predictive.profiler``. The model is available when that module
  exists; the module is imported only when the model is built, so a model
  being written does not break the others: its import error is reported as
  that model's error. Adding a model to the backtest is one line here.
* The ensemble: ``ENSEMBLE_FACTORY`` when something has set it, otherwise
  ``ensemble:Ensemble`` when ``watcher_predictive.profiler.ensemble``
  exists. It is evaluated under the name ``ensemble`` only when available.

Baselines (``baselines``) are not registered here: the backtest always
runs them as references.
"""

import importlib
import importlib.util

from watcher_predictive import exception
from watcher_predictive.profiler import seasonal

PACKAGE = 'watcher_predictive.profiler'
ENSEMBLE = 'ensemble'

MODELS = {
    'seasonal_ma': seasonal.SeasonalMovingAverage,
}

OPTIONAL = {
    'last_value': 'averaging:LastValue',
    'moving_average': 'averaging:MovingAverage',
    'ema': 'averaging:ExponentialMovingAverage',
    'seasonal_profile': 'averaging:SeasonalProfile',
    'seasonal_persistence': 'averaging:SeasonalPersistence',
    'arima': 'arima:BatchedARIMA',
    'markov': 'markov:MarkovChain',
}

# Models that learn several resources at once (``fit`` takes a dict of
# arrays): the backtest runs them on its one resource through
# ``SingleResource``.
MULTI_RESOURCE = frozenset({'markov'})

ENSEMBLE_SPEC = 'ensemble:Ensemble'
ENSEMBLE_FACTORY = None
"""Set by the ensemble module (or a test) to override ``ENSEMBLE_SPEC``."""


def register(name, factory):
    """Add a model the backtest evaluates under ``name``."""
    if name == ENSEMBLE or not callable(factory):
        raise exception.InvalidParameter(
            name='name/factory', value=(name, factory),
            reason='give a new model name and a zero-argument callable; '
                   'the ensemble is set through ENSEMBLE_FACTORY')
    MODELS[name] = factory


def _module_exists(spec):
    module = spec.partition(':')[0]
    return importlib.util.find_spec('%s.%s' % (PACKAGE, module)) is not None


class SingleResource:
    """A multi-resource model seen through the one-resource contract.

    Whatever resource the arrays hold, the model learns it under the name
    ``label`` (its own configuration: ``resources=(label,)``).
    """

    def __init__(self, model_class, label='cpu'):
        self.model = model_class(resources=(label,))
        self.label = label
        self.name = self.model.name

    def fit(self, y, start, step):
        self.model.fit({self.label: y}, start, step)
        return self

    def update(self, y_new):
        self.model.update({self.label: y_new})
        return self

    def predict(self, h, levels):
        return self.model.predict(h, levels, resource=self.label)


def _lazy(spec, multi_resource=False):
    module, _, attribute = spec.partition(':')

    def build():
        mod = importlib.import_module('%s.%s' % (PACKAGE, module))
        model_class = getattr(mod, attribute)
        if multi_resource:
            return SingleResource(model_class)
        return model_class()
    build.spec = spec
    return build


def ours():
    """Names of the plugin's own models that can be built, in order."""
    names = list(MODELS)
    names += [name for name, spec in OPTIONAL.items()
              if name not in MODELS and _module_exists(spec)]
    return names


def ensemble_factory():
    """Factory of the ensemble, or None where there is none yet."""
    if ENSEMBLE_FACTORY is not None:
        return ENSEMBLE_FACTORY
    if _module_exists(ENSEMBLE_SPEC):
        return _lazy(ENSEMBLE_SPEC)
    return None


def available():
    """Every name ``factory()`` accepts: ours, then the ensemble."""
    names = ours()
    if ensemble_factory() is not None:
        names.append(ENSEMBLE)
    return names


def factory(name):
    """Zero-argument factory of the model called ``name``."""
    if name == ENSEMBLE and ensemble_factory() is not None:
        return ensemble_factory()
    if name in MODELS:
        return MODELS[name]
    if name in OPTIONAL and _module_exists(OPTIONAL[name]):
        return _lazy(OPTIONAL[name], name in MULTI_RESOURCE)
    raise exception.InvalidParameter(
        name='model', value=name,
        reason='available models are %s' % ', '.join(available()))
