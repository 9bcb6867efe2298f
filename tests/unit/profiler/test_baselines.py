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

import warnings

import numpy as np
import pytest
from statsmodels.tsa.arima import model as arima_model

from watcher_predictive import exception
from watcher_predictive.profiler import baselines

STEP = 300
LEVELS = (0.05, 0.1, 0.5, 0.9, 0.95)
NAN = np.nan


def test_nan_quantiles_match_numpy():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5, 40))
    values[rng.random(values.shape) < 0.2] = NAN
    levels = np.array([0.01, 0.1, 0.5, 0.77, 0.99])
    np.testing.assert_allclose(
        baselines.nan_quantiles(values, levels),
        np.nanquantile(values, levels, axis=1).T)
    np.testing.assert_array_equal(
        baselines.nan_quantiles(np.full((2, 3), NAN), levels), 0.0)
    assert baselines.nan_quantiles(np.zeros((2, 0)), levels).shape == (2, 5)


def test_persistence_is_the_last_observed_value():
    y = np.array([[1.0, 2.0, 3.0, NAN], [5.0, 4.0, 6.0, 7.0]])
    model = baselines.Persistence().fit(y, 0, STEP)
    q = model.predict(3, LEVELS)
    assert q.shape == (2, 3, 5)
    np.testing.assert_array_equal(q[:, :, 2], [[3.0] * 3, [7.0] * 3])
    model.update(np.array([[NAN, 8.0], [2.0, NAN]]))
    np.testing.assert_array_equal(model.predict(2, LEVELS)[:, :, 2],
                                  [[8.0] * 2, [2.0] * 2])
    assert model.end_ == 6 * STEP


def test_persistence_intervals_are_its_own_errors_per_lead():
    # One-step changes are +1 and -1 alternately: the 5% and 95%
    # quantiles of the change are -1 and +1; two-step changes are all 0.
    y = np.array([[0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]])
    q = baselines.Persistence().fit(y, 0, STEP).predict(2, LEVELS)
    np.testing.assert_allclose(q[0, 0], [-1.0, -1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(q[0, 1], [0.0] * 5)


def test_seasonal_naive_is_the_value_one_season_before():
    season = 4 * STEP
    y = np.arange(10, dtype=float).reshape(1, 10) * 10
    model = baselines.SeasonalNaive(season=season).fit(y, 0, STEP)
    # The last season is 60, 70, 80, 90; beyond it the forecast repeats.
    np.testing.assert_array_equal(model.predict(6, LEVELS)[0, :, 2],
                                  [60, 70, 80, 90, 60, 70])
    model.update(np.array([[100.0, 110.0]]))
    np.testing.assert_array_equal(model.predict(4, LEVELS)[0, :, 2],
                                  [80, 90, 100, 110])


def test_seasonal_naive_falls_back_on_the_last_value_in_gaps():
    season = 4 * STEP
    y = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, NAN, 7.0, 8.0]])
    q = baselines.SeasonalNaive(season=season).fit(y, 0, STEP).predict(
        4, LEVELS)
    np.testing.assert_array_equal(q[0, :, 2], [5.0, 8.0, 7.0, 8.0])
    with pytest.raises(exception.InvalidParameter, match='season'):
        baselines.SeasonalNaive(season=1000).fit(y, 0, STEP)


def test_unfitted_baseline_refuses_to_forecast():
    with pytest.raises(exception.PredictiveError, match='fit'):
        baselines.Persistence().predict(3)


def arima_series(n=400, seed=7):
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=n)
    x = np.zeros(n)
    for t in range(2, n):
        x[t] = 0.5 * x[t - 1] - 0.2 * x[t - 2] + noise[t] + 0.3 * noise[
            t - 1]
    return 20 + np.cumsum(x) * 0.1


def statsmodels_quantiles(results, h):
    forecast = results.get_forecast(h)
    mean = np.asarray(forecast.predicted_mean)
    lo80, hi80 = np.asarray(forecast.conf_int(alpha=0.2)).T
    lo90, hi90 = np.asarray(forecast.conf_int(alpha=0.1)).T
    return np.stack([lo90, lo80, mean, hi80, hi90], axis=-1)


def test_arima_agrees_with_statsmodels_own_forecast():
    y = arima_series()
    y[50:55] = NAN
    model = baselines.StatsmodelsArima().fit(y[None, :300], 0, STEP)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        results = arima_model.ARIMA(y[:300], order=(2, 1, 1)).fit()
    assert not model.fallback_[0]
    np.testing.assert_allclose(model.predict(12, LEVELS)[0],
                               statsmodels_quantiles(results, 12),
                               rtol=1e-5, atol=1e-6)
    # New data, the same parameters: statsmodels' append without refit.
    model.update(y[None, 300:312]).update(y[None, 312:324])
    appended = results.append(y[300:324], refit=False)
    np.testing.assert_allclose(model.predict(12, LEVELS)[0],
                               statsmodels_quantiles(appended, 12),
                               rtol=1e-5, atol=1e-6)


def test_arima_falls_back_on_short_series_and_skips_empty_ones():
    y = np.full((2, 120), NAN)
    y[0, -20:] = np.linspace(1.0, 2.0, 20)
    model = baselines.StatsmodelsArima().fit(y, 0, STEP)
    assert model.fallback_.tolist() == [True, False]
    q = model.predict(3, LEVELS)
    assert np.all(np.isfinite(q[0])) and np.all(np.isnan(q[1]))
    assert np.all(np.diff(q[0], axis=-1) >= 0)
