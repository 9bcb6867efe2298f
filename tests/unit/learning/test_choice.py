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

from watcher_predictive.learning import choice
from watcher_predictive.learning import forecasts
from watcher_predictive.learning import learner as learner_mod
from watcher_predictive.learning import replay
from watcher_predictive.profiler import engine
from watcher_predictive.profiler import history as history_mod

MEMBERS = ['last_value', 'ema']
LEVELS = [0.1, 0.5, 0.9]
H = 4


def entry(reference, members, mixture):
    quantiles = [[[m - 1, m, m + 1]] * H for m in members]
    return {'members': MEMBERS, 'levels': LEVELS, 'quantiles': quantiles,
            choice.REFERENCE: [reference] * H, choice.MIXTURE: [mixture] * H}


def learn(options, errors, rng, scorings):
    """``errors``: each candidate's typical absolute error."""
    res = {}
    for _ in range(scorings):
        truth = rng.normal(10.0, 0.1, H)
        off = [e * rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)
               for e in errors]
        done = entry(10 + off[0], [10 + o for o in off[1:-1]], 10 + off[-1])
        choice.observe(options, res, done, truth, 1.0)
        # The state goes through JSON between audits, as the store does.
        res = json.loads(json.dumps(res))
    return res


def test_follows_a_member_only_once_it_is_significantly_better():
    options = learner_mod.Options()
    rng = np.random.default_rng(1)
    early = learn(options, [1.0, 1.0, 0.3, 1.0], rng,
                  options.gate_min_scorings - 1)
    assert list(choice.chosen(options, early, MEMBERS, H)) == [0] * H
    res = learn(options, [1.0, 1.0, 0.3, 1.0], rng, 60)
    # Candidates: the profiler's median, the members, the mixture.
    assert list(choice.chosen(options, res, MEMBERS, H)) == [2] * H
    medians = choice.follow(
        options, {'x': {'resources': {'cpu': res}}}, ['x'], 'cpu', MEMBERS,
        np.full((1, H), 1.0), np.array([[[2.0] * H], [[3.0] * H]]),
        np.full((1, H), 4.0))
    assert medians.tolist() == [[3.0] * H]


def test_keeps_the_reference_when_nothing_is_significantly_better():
    # At gate 0 (the default) the lowest discounted mean error is
    # followed, noise included; 2 standard errors leave it to chance
    # about once in 40.
    options = learner_mod.Options(gate=2.0)
    res = learn(options, [1.0, 1.0, 1.0, 1.0], np.random.default_rng(2), 200)
    assert list(choice.chosen(options, res, MEMBERS, H)) == [0] * H
    # Another set of members starts the choice again.
    assert list(choice.chosen(options, res, ['ema'], H)) == [0] * H


def test_disabled_gate_learns_and_chooses_nothing():
    options = learner_mod.Options(gate=None)
    res = learn(options, [1.0, 0.1, 1.0, 1.0], np.random.default_rng(3), 60)
    assert res == {}
    assert list(choice.chosen(options, res, MEMBERS, H)) == [0] * H


def test_the_learner_keeps_the_choice_in_its_state():
    rng = np.random.default_rng(4)
    step, day = 300, 288
    n = 3 * day + 48
    cpu = np.clip(np.stack([
        1 + np.cumsum(rng.normal(0, 0.05, n)),
        0.5 + 0.3 * np.sin(2 * np.pi * np.arange(n) / day) +
        rng.normal(0, 0.02, n)]), 0, None)
    history = history_mod.History(('a', 'b'), 1_700_006_400, step,
                                  {'cpu': cpu})
    learner = learner_mod.Learner()
    stored, issued = {}, []
    for end in (3 * day, 3 * day + 12, 3 * day + 24):
        seen = replay.window(history, end, 3, ('cpu',))
        result = engine.Profiler(markov_resources=('cpu',)).profile(seen, 12)
        outcome = learner.learn(seen, result, stored, issued, seen.end)
        stored = json.loads(json.dumps(outcome.states))
        fc = result.forecasts['cpu']
        for i, uuid in enumerate(fc.instance_ids):
            issued.append(replay.Issued(uuid, 'cpu', 'ensemble', seen.end,
                                        fc.start, fc.step,
                                        fc.levels.tolist(),
                                        fc.quantiles[i].tolist()))
    res = stored['a']['resources']['cpu']
    # Two audits' forecasts came due: two scorings of every candidate.
    assert res['gate']['candidates'] == choice.candidates(
        res['pending'][-1]['members'])
    assert res['gate']['state']['scorings'] == [2]
    assert {choice.REFERENCE, choice.MIXTURE} <= set(res['pending'][-1])
    # Too few scorings yet: the forecast follows the reference.
    assert list(choice.chosen(learner.options, res,
                              res['pending'][-1]['members'], 12)) == [0] * 12


def test_only_the_median_moves_to_the_chosen_candidate():
    rng = np.random.default_rng(8)
    step, day = 300, 288
    n = 3 * day + 72
    cpu = np.clip(np.stack([
        1 + np.cumsum(rng.normal(0, 0.02, n)) + rng.normal(0, 0.02, n),
        0.5 + 0.3 * np.sin(2 * np.pi * np.arange(n) / day) +
        rng.normal(0, 0.05, n)]), 0, None)
    history = history_mod.History(('a', 'b'), 1_700_006_400, step,
                                  {'cpu': cpu})
    learner = learner_mod.Learner(learner_mod.Options(
        gate_min_scorings=1, calibration_rate=0.0))
    stored, issued = {}, []
    for end in range(3 * day, n + 1, 12):
        seen = replay.window(history, end, 3, ('cpu',))
        result = engine.Profiler(markov_resources=('cpu',)).profile(seen,
                                                                    12)
        before = result.forecasts['cpu'].quantiles[0].copy()
        outcome = learner.learn(seen, result, stored, issued, seen.end)
        stored = json.loads(json.dumps(outcome.states))
        fc = result.forecasts['cpu']
        for i, uuid in enumerate(fc.instance_ids):
            issued.append(replay.Issued(
                uuid, 'cpu', 'ensemble', seen.end, fc.start, fc.step,
                fc.levels.tolist(), fc.quantiles[i].tolist()))
    # Instance 'a' follows another candidate than the reference (the
    # profiler's median re-weighted) in the last audit.
    res = outcome.states['a']['resources']['cpu']
    entry = res['pending'][-1]
    which = choice.chosen(learner.options, res, entry['members'], 12)
    assert which[0] != 0
    median = list(fc.levels).index(0.5)
    stack = np.concatenate([
        np.asarray(entry[choice.REFERENCE])[None],
        np.asarray(entry['quantiles'])[:, :, median],
        np.asarray(entry[choice.MIXTURE])[None]])
    chosen = stack[which, np.arange(12)]
    reference = np.asarray(entry[choice.REFERENCE])
    assert np.abs(chosen - reference).max() > 1e-3
    # The chosen median; the other quantiles where the re-weighted
    # median put the profiler's distribution, not moved with the median.
    expected = before + (reference - before[:, median])[:, None]
    expected[:, median] = chosen
    # (Without calibration: only an interval crossing the median is cut.)
    expected = forecasts.calibrate_spread(
        expected[None], fc.levels, [{'80': 0.0, '90': 0.0}])[0]
    assert np.allclose(fc.quantiles[0], np.sort(np.maximum(expected, 0),
                                                axis=1), atol=1e-5)
    moved = before + (chosen - before[:, median])[:, None]
    assert not np.allclose(fc.quantiles[0], np.sort(moved, axis=1),
                           atol=1e-5)
