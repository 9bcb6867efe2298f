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

"""One conformance suite for every forecasting model of the profiler.

Each model must: round-trip its state through JSON; forecast without
changing itself; work with short history, falling back and saying so;
give the same result fitted in one batch or updated step by step (within
its declared tolerance); handle NaN gaps and flat series.
"""

import importlib
import json

import numpy as np
import pytest

from watcher_predictive.profiler import base

STEP = 300
DAY_STEPS = 86400 // STEP
LEVELS = (0.05, 0.1, 0.5, 0.9, 0.95)

# (module, class, constructor kwargs); a module not yet present is
# reported as skipped, not silently dropped.
MODELS = [
    ('averaging', 'LastValue', {}),
    ('averaging', 'MovingAverage', {'window': 6}),
    ('averaging', 'ExponentialMovingAverage', {}),
    ('averaging', 'SeasonalProfile', {}),
    ('averaging', 'SeasonalPersistence', {}),
    ('arima', 'BatchedARIMA', {}),
    ('composite', 'SeasonalARIMA', {}),
    ('ensemble', 'Ensemble', {}),
    ('ensemble', 'Ensemble', {'gate': None}),
]


def factory(spec):
    module, cls, kwargs = spec
    try:
        mod = importlib.import_module('watcher_predictive.profiler.' +
                                      module)
    except ImportError:
        pytest.skip('watcher_predictive.profiler.%s not present' % module)
    return lambda: getattr(mod, cls)(**kwargs)


def series(days=4, n=4, seed=3):
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY_STEPS)
    hour = (t * STEP % 86400) / 3600
    busy = ((hour >= 8) & (hour < 18)).astype(float)
    y = np.stack([0.2 + k * 0.3 + busy * (1 + k) for k in range(n)])
    y += 0.1 * rng.normal(size=y.shape)
    return np.abs(y)


@pytest.fixture(params=MODELS, ids=lambda s: s[1])
def make(request):
    return factory(request.param)


def state_json(model):
    return json.dumps(model.get_state(), sort_keys=True)


def test_state_round_trip(make):
    model = make().fit(series(), 0, STEP)
    state = json.loads(state_json(model))
    assert isinstance(state['version'], int)
    rebuilt = type(model).from_state(state)
    np.testing.assert_allclose(rebuilt.predict(12, LEVELS),
                               model.predict(12, LEVELS), atol=1e-6)


def test_forecast_is_pure(make):
    model = make().fit(series(), 0, STEP)
    before = state_json(model)
    first = model.predict(12, LEVELS)
    model.predict(36, (0.2, 0.8))
    assert state_json(model) == before
    np.testing.assert_array_equal(first, model.predict(12, LEVELS))


def test_quantiles_shape_and_order(make):
    q = make().fit(series(), 0, STEP).predict(24, LEVELS)
    assert q.shape == (4, 24, len(LEVELS))
    assert not np.any(np.isnan(q))
    assert np.all(np.diff(q, axis=-1) >= -1e-12)


def test_short_history_falls_back_and_says_so(make):
    y = series()
    y[1, :-8] = np.nan
    model = make().fit(y, 0, STEP)
    assert bool(model.fallback_[1]) is True
    assert bool(model.fallback_[0]) is False
    assert not np.any(np.isnan(model.predict(6, LEVELS)))


def test_batch_equals_step_by_step(make):
    y = series(days=5)
    split = 4 * DAY_STEPS
    whole = make().fit(y, 0, STEP)
    model = make().fit(y[:, :split], 0, STEP)
    for k in range(split, y.shape[1], 12):
        model.update(y[:, k:k + 12])
    assert model.end_ == whole.end_
    scale = np.nanstd(y, axis=1)[:, None, None]
    diff = np.abs(model.predict(12, LEVELS) - whole.predict(12, LEVELS))
    tolerance = 1e-9 if model.UPDATE_EXACT else model.UPDATE_TOLERANCE
    assert np.all(diff <= tolerance * scale + 1e-9)


def test_gaps_and_flat_series(make):
    y = series()
    y[0, 200:500] = np.nan
    y[2] = 0.7
    q = make().fit(y, 0, STEP).predict(12, LEVELS)
    assert not np.any(np.isnan(q))
    np.testing.assert_allclose(q[2, :, 2], 0.7, atol=1e-6)


def test_unfitted_model_refuses_to_forecast(make):
    with pytest.raises(Exception, match='fit'):
        make().predict(3, LEVELS)


def test_base_contract():
    for spec in MODELS:
        try:
            cls = factory(spec)().__class__
        except pytest.skip.Exception:
            continue
        assert issubclass(cls, base.ForecastModel)
        assert cls.name
