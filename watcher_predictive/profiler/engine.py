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

"""The Guest Behavior Profiler: from histories to predictive distributions.

``Profiler.profile`` takes the history of many instances, skips those with
too little of it (they are reported, not fatal), and for all the others at
once:

* fits the ensemble of forecasting models for every resource and
  forecasts its quantiles over the horizon;
* fits a Markov chain over the joint CPU x memory levels and gives, per
  step of the horizon, the probability of each joint state;
* finds bursts against the seasonal profile, and the correlation (with
  lag) of CPU with memory, disk and network;
* returns each instance's profile state as versioned JSON.
"""

import dataclasses

import numpy as np

from watcher_predictive import exception
from watcher_predictive.profiler import averaging
from watcher_predictive.profiler import base
from watcher_predictive.profiler import bursts as bursts_mod
from watcher_predictive.profiler import ensemble
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.profiler import markov

STATE_VERSION = 2
# Lags, in steps, over which resources are correlated with CPU, and the
# recent days the correlations are measured on (what the guest does now;
# also what keeps their cost bounded on long histories).
MAX_LAG = 6
CORRELATION_DAYS = 3


@dataclasses.dataclass
class ProfileResult:
    forecasts: dict
    """Resource -> :class:`base.Forecast` over the profiled instances."""
    profiled: tuple
    skipped: dict
    """Instance uuid -> :class:`exception.InsufficientHistory`."""
    states: dict
    """Instance uuid -> versioned JSON-compatible profile state."""
    peaks: dict = dataclasses.field(default_factory=dict)
    """Resource -> (instances,) predicted peak over the next day (0.95
    quantile), in the order of the forecasts' instances.
    """
    state_probabilities: np.ndarray = None
    """(instances, horizon steps, states): probability of each joint
    Markov state at each step of the horizon.
    """
    state_labels: tuple = ()


class Profiler:
    def __init__(self, min_history_steps=288, levels=base.DEFAULT_LEVELS,
                 model_factory=ensemble.Ensemble, markov_resources=(
                     'cpu', 'memory')):
        if min_history_steps < 1:
            raise exception.InvalidParameter(
                name='min_history_steps', value=min_history_steps,
                reason='at least one sample is needed')
        self.min_history_steps = int(min_history_steps)
        self.levels = base.check_levels(levels)
        self.model_factory = model_factory
        self.markov_resources = tuple(markov_resources)

    def _model(self, horizon_steps):
        try:
            return self.model_factory(
                horizon_steps=min(horizon_steps, 288))
        except TypeError:
            return self.model_factory()

    def profile(self, history, horizon_steps):
        if horizon_steps < 1:
            raise exception.InvalidParameter(
                name='horizon_steps', value=horizon_steps,
                reason='forecast at least one step ahead')
        observed = history.observed_steps('cpu')
        skipped = {}
        profiled = []
        for uuid, count in zip(history.instance_ids, observed):
            if count < self.min_history_steps:
                skipped[uuid] = exception.InsufficientHistory(
                    instance=uuid, available=int(count),
                    required=self.min_history_steps)
            else:
                profiled.append(uuid)
        result = ProfileResult(forecasts={}, profiled=tuple(profiled),
                               skipped=skipped, states={})
        if not profiled:
            return result
        subset = history.select(profiled)
        states = {uuid: {'version': STATE_VERSION, 'step': history.step,
                         'history_end': history.end, 'models': {}}
                  for uuid in profiled}
        baselines = {}
        for resource in history_mod.RESOURCES:
            if resource not in subset.values:
                continue
            y = subset.values[resource]
            model = self._model(horizon_steps).fit(y, subset.start,
                                                   subset.step)
            result.forecasts[resource] = base.Forecast(
                instance_ids=tuple(profiled), resource=resource,
                start=subset.end, step=subset.step, levels=self.levels,
                quantiles=model.predict(horizon_steps, self.levels),
                model=model.name,
                fallback=np.asarray(model.fallback_, dtype=bool))
            result.peaks[resource] = model.peak(0.95)
            baselines[resource] = _baseline(y, subset.start, subset.step,
                                            model)
            for i, uuid in enumerate(profiled):
                states[uuid]['models'][resource] = dict(
                    model.instance_state(i), model=model.name)
        self._markov(subset, horizon_steps, result, states)
        self._bursts(subset, baselines, states)
        result.states = states
        return result

    def _markov(self, subset, horizon_steps, result, states):
        resources = [r for r in self.markov_resources if r in subset.values]
        if not resources:
            return
        chain = markov.MarkovChain(resources=tuple(resources)).fit(
            {r: subset.values[r] for r in resources}, subset.start,
            subset.step)
        result.state_probabilities = chain.predict_states(horizon_steps)
        result.state_labels = tuple(chain.state_labels())
        for i, uuid in enumerate(subset.instance_ids):
            states[uuid]['markov'] = chain.instance_state(i)
            states[uuid]['markov']['states'] = list(result.state_labels)

    def _bursts(self, subset, baselines, states):
        found = {r: bursts_mod.detect_bursts(
            subset.values[r], baselines[r], subset.start, subset.step)
            for r in baselines}
        recent = subset.tail(CORRELATION_DAYS * 86400 // subset.step)
        correlations = bursts_mod.resource_correlations(
            recent.values, MAX_LAG) if 'cpu' in recent.values else {}
        for entry in bursts_mod.summarise(subset.instance_ids, found,
                                          correlations, subset.step):
            uuid = entry.pop('instance')
            states[uuid].update(entry)


def _baseline(y, start, step, model=None):
    """What the seasonal profile says of each step of ``y``.

    The ensemble's own seasonal profile member is used when it has one
    (it has learned the same history); otherwise a profile is fitted.
    """
    profile = None
    for member in getattr(model, 'members_', ()):
        if isinstance(member, averaging.SeasonalProfile) and \
                member.name == averaging.SeasonalProfile.name:
            profile = member
    if profile is None:
        profile = averaging.SeasonalProfile().fit(y, start, step)
    return profile.baseline(start, y.shape[1])
