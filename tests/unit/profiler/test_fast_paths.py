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

"""The profiler's shortcuts give exactly what the plain computations do."""

import json
import warnings

import numpy as np

from watcher_predictive.profiler import averaging
from watcher_predictive.profiler import bursts
from watcher_predictive.profiler import engine
from watcher_predictive.profiler import ensemble
from watcher_predictive.profiler import running
from watcher_predictive.profiler import slot_profile
from watcher_predictive.simulation import generated


def _gappy(rng, shape, share):
    values = rng.standard_normal(shape)
    values[rng.random(shape) < share] = np.nan
    return values


def test_row_median_equals_numpy():
    rng = np.random.default_rng(0)
    values = _gappy(rng, (60, 40), 0.3)
    values[3] = np.nan  # never observed
    values[4, 1:] = np.nan  # one value
    values[5] = np.round(values[5], 1)  # ties
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        expected = np.nanmedian(values, axis=1)
    np.testing.assert_array_equal(bursts._row_nanmedian(values), expected)
    assert bursts._row_nanmedian(values[:, :0]).shape == (60,)


def test_forward_fill_equals_a_step_by_step_fill():
    rng = np.random.default_rng(1)
    values = _gappy(rng, (50, 7), 0.4)
    values[:20, 2] = np.nan  # a long gap from the start
    seen = ~np.isnan(values)
    initial = np.array([np.nan, 1.0, 2.0, 3.0, np.nan, 5.0, 6.0])
    expected = np.empty_like(values)
    carry = initial.copy()
    for k in range(values.shape[0]):
        expected[k] = carry
        carry = np.where(seen[k], values[k], carry)
    out, last = slot_profile.forward_fill(values, seen, initial)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(last, carry)
    out, last = slot_profile.forward_fill(values[:0], seen[:0], initial)
    assert out.shape == (0, 7)
    np.testing.assert_array_equal(last, initial)


def test_error_scale_does_not_depend_on_instance_blocks(monkeypatch):
    rng = np.random.default_rng(2)
    y = np.abs(_gappy(rng, (23, 600), 0.05))
    whole = averaging.SeasonalPersistence().fit(y, 0, 300)
    monkeypatch.setattr(running, 'ERROR_COLUMNS', 5)
    blocks = averaging.SeasonalPersistence().fit(y, 0, 300)
    np.testing.assert_array_equal(whole.error_scale_, blocks.error_scale_)
    np.testing.assert_array_equal(whole.errors_seen_, blocks.errors_seen_)


def test_bulk_states_equal_the_per_instance_ones():
    hist, _ = generated.generate(n_instances=5, days=3)
    y = hist.values['cpu']
    y[2, 100:130] = np.nan
    model = ensemble.Ensemble(validation_days=1).fit(y, hist.start,
                                                     hist.step)
    bulk = model.instance_states()
    single = [model.instance_state(i) for i in range(y.shape[0])]
    assert json.dumps(bulk) == json.dumps(single)


def test_profile_is_the_same_on_one_or_two_workers():
    hist, _ = generated.generate(n_instances=6, days=3)
    one = engine.Profiler(workers=1).profile(hist, 6)
    two = engine.Profiler(workers=2).profile(hist, 6)
    assert json.dumps(one.states, sort_keys=True) == json.dumps(
        two.states, sort_keys=True)
    for resource, forecast in one.forecasts.items():
        np.testing.assert_array_equal(forecast.quantiles,
                                      two.forecasts[resource].quantiles)
