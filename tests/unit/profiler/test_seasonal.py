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

import json

import numpy as np
import pytest

from watcher_predictive import exception
from watcher_predictive.profiler import seasonal

STEP = 300
DAY_STEPS = 86400 // STEP


def daily(days=4, noise=0.05, seed=0, n=3):
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY_STEPS)
    hour = (t * STEP % 86400) / 3600
    busy = ((hour >= 9) & (hour < 17)).astype(float)
    base = np.stack([0.1 + k * 0.5 + busy for k in range(n)])
    return base + noise * rng.normal(size=base.shape)


def test_forecast_follows_the_daily_cycle():
    y = daily()
    model = seasonal.SeasonalMovingAverage().fit(y, 0, STEP)
    # The fitted data ends at midnight; forecast the next 24 hours.
    q = model.predict(DAY_STEPS, levels=[0.1, 0.5, 0.9])
    median = q[:, :, 1]
    hour = np.arange(1, DAY_STEPS + 1) * STEP / 3600
    busy = (hour > 9.5) & (hour < 16.5)
    idle = (hour > 1) & (hour < 8)
    assert np.all(median[:, busy].mean(axis=1) -
                  median[:, idle].mean(axis=1) > 0.8)
    # Intervals contain most of what a new day brings.
    future = daily(days=1, seed=1)[:, 1:]
    inside = (future >= q[:, :-1, 0]) & (future <= q[:, :-1, 2])
    assert inside.mean() > 0.6


def test_quantiles_are_ordered_and_non_negative():
    y = daily(noise=0.3)
    q = seasonal.SeasonalMovingAverage().fit(y, 0, STEP).predict(24)
    assert q.shape == (3, 24, 5)
    assert np.all(np.diff(q, axis=-1) >= 0)
    assert np.all(q >= 0)


def test_recent_departure_is_carried_then_decays():
    y = daily(noise=0.0)
    y[:, -6:] += 1.0  # busier than usual for the last half hour
    model = seasonal.SeasonalMovingAverage(half_life=1800).fit(y, 0, STEP)
    median = model.predict(36, levels=[0.5])[:, :, 0]
    usual = seasonal.SeasonalMovingAverage(half_life=1800).fit(
        daily(noise=0.0), 0, STEP).predict(36, levels=[0.5])[:, :, 0]
    lift = median - usual
    assert np.all(lift[:, 0] > 0.2)
    assert np.all(lift[:, -1] < lift[:, 0] / 4)


def test_predict_does_not_change_the_model():
    model = seasonal.SeasonalMovingAverage().fit(daily(), 0, STEP)
    before = json.dumps(model.get_state(), sort_keys=True)
    model.predict(12)
    model.predict(48, levels=[0.2, 0.8])
    assert json.dumps(model.get_state(), sort_keys=True) == before


def test_state_round_trip_through_json():
    model = seasonal.SeasonalMovingAverage(half_life=900).fit(
        daily(), 0, STEP)
    state = json.loads(json.dumps(model.get_state()))
    rebuilt = seasonal.SeasonalMovingAverage.from_state(state)
    np.testing.assert_allclose(rebuilt.predict(24), model.predict(24),
                               atol=1e-5)
    assert rebuilt.half_life == 900


def test_state_of_another_version_is_refused():
    state = seasonal.SeasonalMovingAverage().fit(
        daily(), 0, STEP).get_state()
    state['version'] = 99
    with pytest.raises(exception.InvalidParameter, match='version'):
        seasonal.SeasonalMovingAverage.from_state(state)


def test_short_history_falls_back_to_flat_profile():
    y = daily(days=4)
    y[1, :-DAY_STEPS // 2] = np.nan  # half a day only
    model = seasonal.SeasonalMovingAverage().fit(y, 0, STEP)
    assert model.fallback_.tolist() == [False, True, False]
    assert np.ptp(model.profile_[1]) == 0


def test_gaps_and_flat_series():
    y = daily()
    y[0, 100:400] = np.nan
    y[2] = 0.25
    q = seasonal.SeasonalMovingAverage().fit(y, 0, STEP).predict(12)
    assert not np.any(np.isnan(q))
    np.testing.assert_allclose(q[2], 0.25)


def test_unfitted_and_bad_arguments():
    model = seasonal.SeasonalMovingAverage()
    with pytest.raises(exception.PredictiveError, match='not been fitted'):
        model.predict(3)
    with pytest.raises(exception.InvalidParameter, match='step'):
        model.fit(daily(), 0, 7)
    model.fit(daily(), 0, STEP)
    with pytest.raises(exception.InvalidParameter, match='levels'):
        model.predict(3, levels=[0.9, 0.1])
    with pytest.raises(exception.InvalidParameter, match='horizon'):
        model.predict(0)


def test_peak_covers_the_busy_hours():
    y = daily(noise=0.0)
    peak = seasonal.SeasonalMovingAverage().fit(y, 0, STEP).peak(0.95)
    np.testing.assert_allclose(peak, y.max(axis=1), atol=0.05)
