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

"""Warm-started ensembles: stored per instance, continued across audits."""

import json

import numpy as np
import pytest

from watcher_predictive.learning import learner as learner_mod
from watcher_predictive.learning import replay
from watcher_predictive.learning import warm
from watcher_predictive.profiler import engine
from watcher_predictive.profiler import ensemble
from watcher_predictive.profiler import history as history_mod

STEP = 300
DAY = 288
START = 1_700_006_400
IDS = ('a', 'b', 'c')


@pytest.fixture(scope='module')
def history():
    """Three guests whose CPU alternates between two values every step
    (a daily-periodic pattern that only the seasonal members foresee).
    """
    rng = np.random.default_rng(5)
    n = 4 * DAY
    flip = np.arange(n) % 2
    cpu = np.stack([0.2 + 2.0 * flip, 1.0 + 0.5 * flip, 3.0 - flip]) + \
        rng.normal(0, 0.02, (3, n))
    return history_mod.History(IDS, START, STEP, {'cpu': cpu})


def audit(history, end, stored, issued, options=None):
    seen = replay.window(history, end, 2, ('cpu',))
    result = engine.Profiler(markov_resources=('cpu',)).profile(seen, 12)
    fresh = result.forecasts['cpu'].quantiles.copy()
    # Warm start is off by default: these tests are about it.
    options = options or learner_mod.Options(warm_start=True)
    outcome = learner_mod.Learner(options).learn(seen, result, stored,
                                                 issued, seen.end)
    fc = result.forecasts['cpu']
    for i, uuid in enumerate(fc.instance_ids):
        issued.append(replay.Issued(uuid, 'cpu', 'ensemble', seen.end,
                                    fc.start, fc.step, fc.levels.tolist(),
                                    fc.quantiles[i].tolist()))
    return fresh, fc.quantiles, json.loads(json.dumps(outcome.states))


def test_split_and_stack_give_back_the_batch(history):
    model = ensemble.Ensemble(horizon_steps=12).fit(
        history.values['cpu'][:, :2 * DAY], START, STEP)
    state = json.loads(json.dumps(model.get_state()))
    parts = [warm.split(state, i) for i in range(3)]
    assert all(len(p['instances']) == 1 for p in parts)
    again = ensemble.Ensemble.from_state(warm.stack(parts))
    np.testing.assert_allclose(again.predict(12), model.predict(12))
    # One instance alone forecasts what it did in the batch.
    alone = ensemble.Ensemble.from_state(parts[1])
    np.testing.assert_allclose(alone.predict(12)[0, :, 3],
                               model.predict(12)[1, :, 3])


def test_the_stored_ensemble_is_continued_not_refitted(history):
    issued = []
    _, _, stored = audit(history, 2 * DAY, {}, issued)
    first = stored['a']['resources']['cpu']['model']
    assert first['end'] == START + 2 * DAY * STEP
    for k in range(1, 7):
        _, _, stored = audit(history, 2 * DAY + 12 * k, stored, issued)
    kept = stored['a']['resources']['cpu']['model']
    assert kept['end'] == START + (2 * DAY + 72) * STEP
    # Six hourly scorings more than the fit of the window alone.
    assert kept['scored'] == first['scored'] + 6
    # Weights carried on converge toward the seasonal members.
    seasonal = [n != 'last_value' and n != 'ema'
                for n in kept['params']['members']]
    loss = np.array(kept['instances'][0]['loss'])
    assert loss[:, seasonal].mean() < 0.2 * loss[:, ~np.array(
        seasonal)].mean()


def test_a_persisted_state_changes_the_next_forecast(history):
    issued = []
    _, _, stored = audit(history, 2 * DAY, {}, issued)
    for k in range(1, 4):
        _, _, stored = audit(history, 2 * DAY + 12 * k, stored, issued)
    end = 2 * DAY + 48
    fresh, warmed, _ = audit(history, end, stored, list(issued))
    # What the stored ensemble learned differs from the window's fit...
    assert not np.allclose(fresh, warmed)
    # ... and is what the forecast uses: dropping it changes the forecast.
    without = json.loads(json.dumps(stored))
    for uuid in IDS:
        without[uuid]['resources']['cpu']['model'] = None
    _, cold, _ = audit(history, end, without, list(issued))
    assert not np.allclose(cold, warmed)
    # Turned off, the stored ensemble is ignored.
    _, off, _ = audit(history, end, stored, list(issued),
                      learner_mod.Options(warm_start=False))
    np.testing.assert_allclose(off, cold)


def test_a_refit_that_does_better_replaces_the_stored_ensemble(history):
    issued = []
    _, _, stored = audit(history, 2 * DAY, {}, issued)
    _, _, stored = audit(history, 2 * DAY + 12, stored, issued)
    errors = stored['b']['resources']['cpu']['errors']
    errors['ensemble'] = {'fast': 9.0, 'slow': 1.0, 'count': 50}
    errors[warm.REFIT] = {'fast': 1.0, 'slow': 1.0, 'count': 50}
    before = {u: stored[u]['resources']['cpu']['model']['scored']
              for u in IDS}
    _, _, after = audit(history, 2 * DAY + 24, stored, issued)
    scored = {u: after[u]['resources']['cpu']['model']['scored']
              for u in IDS}
    assert scored['a'] == before['a'] + 1
    # 'b' starts again from the fit of its window alone.
    assert scored['b'] < before['b']


def test_the_learned_calibration_scales_the_whole_spread(history):
    issued = []
    _, _, stored = audit(history, 2 * DAY, {}, issued)
    spreads = []
    for log_factor in (0.0, 0.5):
        changed = json.loads(json.dumps(stored))
        for uuid in IDS:
            changed[uuid]['resources']['cpu']['calibration'] = {
                '80': log_factor, '90': log_factor}
        _, quantiles, _ = audit(history, 2 * DAY + 12, changed,
                                list(issued))
        spreads.append(quantiles - quantiles[:, :, 2:3])
    # Above the median (never clipped at zero) every interval is scaled.
    positive = spreads[0][:, :, 3:] > 0
    np.testing.assert_allclose(spreads[1][:, :, 3:][positive],
                               np.exp(0.5) * spreads[0][:, :, 3:][positive],
                               rtol=1e-6)
