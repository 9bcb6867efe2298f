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

from tests import traces
from watcher_predictive import exception
from watcher_predictive.profiler import bursts
from watcher_predictive.profiler import seasonal
from watcher_predictive.telemetry import trace

STEP = 300
DAY_STEPS = 86400 // STEP
START = 1375315200  # 2013-08-01 00:00 UTC


def usual_day(n, days, noise=0.02, seed=0):
    """Daily cycle (busy 9:00-17:00 UTC) plus noise, and the cycle alone."""
    rng = np.random.default_rng(seed)
    hour = (np.arange(days * DAY_STEPS) * STEP % 86400) / 3600
    baseline = np.tile(0.2 + 0.3 * ((hour >= 9) & (hour < 17)), (n, 1))
    return baseline + noise * rng.normal(size=baseline.shape), baseline


def add_burst(y, row, hour, minutes, days, height=1.0):
    for day in days:
        first = day * DAY_STEPS + hour * 12
        y[row, first:first + minutes // 5] += height


def test_bursts_at_known_hours():
    y, baseline = usual_day(3, 7)
    add_burst(y, 0, 14, 30, range(7))  # daily at 14:00, 30 minutes
    add_burst(y, 1, 3, 15, range(0, 7, 2))  # every other day at 03:00
    add_burst(y, 1, 22, 60, [5], height=0.5)
    found = bursts.detect_bursts(y, baseline, START, STEP)
    assert found.count.tolist() == [7, 5, 0]
    np.testing.assert_allclose(found.per_day, [1.0, 5 / 7, 0.0])
    np.testing.assert_allclose(found.mean_duration,
                               [1800, (4 * 900 + 3600) / 5, 0])
    np.testing.assert_allclose(found.max_duration, [1800, 3600, 0])
    assert found.start_hours[0, 14] == 7 and found.start_hours[0].sum() == 7
    assert found.start_hours[1, 3] == 4 and found.start_hours[1, 22] == 1
    assert found.probability_by_hour[0, 14] == 1.0
    assert found.probability_by_hour[1, 3] == pytest.approx(4 / 7)
    assert found.probability_by_hour[0, 13] == 0.0
    assert found.probability_by_hour.shape == (3, 24)
    assert np.all(found.limit < 0.5)


def test_min_steps_and_floor():
    y, baseline = usual_day(2, 2)
    add_burst(y, 0, 10, 5, [0], height=1.0)  # a single step
    add_burst(y, 0, 12, 20, [1], height=1.0)
    add_burst(y, 1, 12, 20, [1], height=0.3)
    found = bursts.detect_bursts(y, baseline, START, STEP, min_steps=2)
    assert found.count.tolist() == [1, 1]
    found = bursts.detect_bursts(y, baseline, START, STEP, floor=0.5)
    assert found.count.tolist() == [2, 0]


def test_no_bursts_in_noise():
    rng = np.random.default_rng(1)
    y, baseline = usual_day(5, 3, noise=0.1, seed=2)
    found = bursts.detect_bursts(y, baseline, START, STEP)
    assert found.count.tolist() == [0] * 5
    # Nor in heavier-tailed noise, measured against a biased baseline.
    noisy = baseline + 0.05 * rng.laplace(size=baseline.shape)
    found = bursts.detect_bursts(noisy, baseline + 0.3, START, STEP)
    assert found.count.sum() <= 5 * 3  # a few per instance at most
    flat = bursts.detect_bursts(np.full((1, 100), 0.4), 0.4, START, STEP)
    assert flat.count[0] == 0 and flat.limit[0] == 0


def test_gaps_in_bursts_and_in_history():
    y, baseline = usual_day(3, 2)
    add_burst(y, 0, 14, 60, [0])
    y[0, 14 * 12 + 4] = np.nan  # a gap splits the burst in two
    y[1] = np.nan
    y[2, :DAY_STEPS] = np.nan
    add_burst(y, 2, 14, 30, [1])
    found = bursts.detect_bursts(y, baseline, START, STEP)
    assert found.count.tolist() == [2, 0, 1]
    assert found.max_duration[0] == 7 * STEP
    assert np.isnan(found.per_day[1]) and found.per_day[2] == 1.0
    assert np.all(np.isnan(found.probability_by_hour[1]))
    assert found.probability_by_hour[2, 14] == 1.0


def test_cross_correlation_finds_the_lag():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 2000))
    y = np.empty_like(x)
    y[0] = np.roll(x[0], 3) + 0.3 * rng.normal(size=2000)  # y follows x
    y[1] = np.roll(x[1], -2)  # y leads x by two steps
    y[2] = -np.roll(x[2], 1)
    result = bursts.cross_correlation(x, y, max_lag=6)
    assert result.values.shape == (3, 13)
    assert result.lags.tolist() == list(range(-6, 7))
    assert result.best_lag.tolist() == [3, -2, 1]
    assert result.best[0] > 0.9 and result.best[1] == pytest.approx(1.0)
    assert result.best[2] == pytest.approx(-1.0)
    others = np.delete(result.values[0], 9)
    assert np.all(np.abs(others) < 0.1)


def test_cross_correlation_with_gaps():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 1000))
    y = np.roll(x, 2, axis=1) + 0.2 * rng.normal(size=x.shape)
    x[0, rng.random(1000) < 0.2] = np.nan
    y[0, rng.random(1000) < 0.2] = np.nan
    x[1] = np.nan
    y[2] = 5.0  # constant: no correlation
    result = bursts.cross_correlation(x, y, max_lag=4)
    assert result.best_lag[0] == 2 and result.best[0] > 0.9
    assert np.all(np.isnan(result.values[1:]))
    assert np.isnan(result.best[1]) and result.best_lag[1] == 0
    with pytest.raises(exception.InvalidParameter, match='max_lag'):
        bursts.cross_correlation(x, y, max_lag=1000)
    with pytest.raises(exception.InvalidParameter, match='same shape'):
        bursts.cross_correlation(x, y[:, 1:], max_lag=2)


def test_summary_is_json():
    y, baseline = usual_day(2, 2)
    add_burst(y, 0, 14, 30, [0, 1])
    y[1] = np.nan
    values = {'cpu': y, 'memory': np.roll(y, 1, axis=1),
              'disk': np.ones_like(y)}
    correlations = bursts.resource_correlations(values, max_lag=3)
    assert sorted(correlations) == ['disk', 'memory']
    found = {'cpu': bursts.detect_bursts(y, baseline, START, STEP)}
    summary = bursts.summarise(['a', 'b'], found, correlations, step=STEP)
    text = json.dumps(summary, allow_nan=False)
    first = json.loads(text)[0]
    assert first['instance'] == 'a'
    assert first['bursts']['cpu']['count'] == 2
    assert first['bursts']['cpu']['mean_duration_s'] == 1800
    assert first['correlations']['memory']['lag_steps'] == 1
    assert first['correlations']['memory']['lag_s'] == STEP
    assert first['correlations']['disk']['correlation'] is None
    assert summary[1]['bursts']['cpu']['per_day'] is None
    with pytest.raises(exception.InvalidParameter, match='reference'):
        bursts.resource_correlations({'memory': y}, max_lag=3)


def test_bad_arguments():
    y, baseline = usual_day(2, 1)
    with pytest.raises(exception.InvalidParameter, match='baseline'):
        bursts.detect_bursts(y, baseline[:, :10], START, STEP)
    with pytest.raises(exception.InvalidParameter, match='min_steps'):
        bursts.detect_bursts(y, baseline, START, STEP, min_steps=0)
    with pytest.raises(exception.InvalidParameter, match='instances'):
        bursts.detect_bursts(y[0], baseline[0], START, STEP)


def test_real_trace_smoke():
    path = traces.trace_path()
    if path is None:
        pytest.skip(traces.missing_message())
    history, _ = trace.load_bitbrains(path, limit=50, step=STEP)
    correlations = bursts.resource_correlations(history.values, max_lag=12)
    memory = correlations['memory']
    at_zero = memory.values[:, 12]
    # The trace's README gives 0.43 as the median over all 500 VMs.
    median = np.nanmedian(np.abs(at_zero))
    assert np.isfinite(median) and 0.1 < median < 0.8
    assert np.all(np.abs(memory.best[~np.isnan(memory.best)]) >= np.abs(
        at_zero[~np.isnan(memory.best)]) - 1e-12)

    cpu = history.values['cpu']
    model = seasonal.SeasonalMovingAverage().fit(cpu, history.start, STEP)
    slots = (history.timestamps() % 86400) // STEP
    found = bursts.detect_bursts(cpu, model.profile_[:, slots],
                                 history.start, STEP, floor=0.05)
    assert np.all(np.isfinite(found.per_day))
    assert np.all(found.max_duration >= found.mean_duration)
    # Bursts are departures, not the usual state of a VM.
    assert np.median(found.per_day) < 24
    summary = bursts.summarise(history.instance_ids, {'cpu': found},
                               correlations, step=STEP)
    json.dumps(summary, allow_nan=False)
