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

import copy
import json

import numpy as np

from watcher_predictive.learning import choice
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
    # The spread around a chosen candidate is off by default.
    assert 'spread' not in res
    assert {choice.REFERENCE, choice.MIXTURE} <= set(res['pending'][-1])
    # Too few scorings yet: the forecast follows the reference.
    assert list(choice.chosen(learner.options, res,
                              res['pending'][-1]['members'], 12)) == [0] * 12


def test_a_chosen_member_gets_the_spread_of_its_own_errors():
    options = learner_mod.Options(spread='step')
    # The second member's errors are 0.6 times the reference's.
    res = learn(options, [1.0, 1.0, 0.6, 1.0], np.random.default_rng(5),
                200)
    which = choice.chosen(options, res, MEMBERS, H)
    assert list(which) == [2] * H
    factors = choice.spread(options, res, MEMBERS, which)
    assert np.allclose(factors, 0.6, atol=0.1)
    # Following the reference keeps the profiler's spread.
    assert choice.spread(options, res, MEMBERS, np.zeros(H, int)).tolist() \
        == [1.0] * H
    # So do a state learned before the spread, the spread off, and
    # another set of members.
    old = {k: v for k, v in res.items() if k != 'spread'}
    assert choice.spread(options, old, MEMBERS, which).tolist() == [1.0] * H
    assert choice.spread(learner_mod.Options(), res, MEMBERS,
                         which).tolist() == [1.0] * H
    assert choice.spread(options, res, ['ema'], which).tolist() == [1.0] * H
    pooled = learner_mod.Options(spread='pooled')
    assert np.allclose(choice.spread(pooled, res, MEMBERS, which), 0.6,
                       atol=0.1)
    # A much better member's spread is narrowed at most MAX_SPREAD times.
    res = learn(options, [1.0, 1.0, 0.1, 1.0], np.random.default_rng(6), 60)
    assert choice.spread(options, res, MEMBERS, which).tolist() == \
        [1.0 / choice.MAX_SPREAD] * H
    medians, factors, _ = choice.follow(
        options, {'x': {'resources': {'cpu': res}}}, ['x'], 'cpu', MEMBERS,
        np.full((1, H), 1.0), np.array([[[2.0] * H], [[3.0] * H]]),
        np.full((1, H), 4.0), with_spread=True)
    assert medians.tolist() == [[3.0] * H]
    assert factors.tolist() == [[1.0 / choice.MAX_SPREAD] * H]


def test_a_chosen_member_gets_the_quantiles_of_its_own_errors():
    options = learner_mod.Options(spread='quantiles')
    rng = np.random.default_rng(7)
    res = {}
    for _ in range(300):
        truth = rng.normal(10.0, 0.1, H)
        # The second member is always below, by 0.5 on average
        # (exponentially); the others are 1 off either way.
        low = truth - rng.exponential(0.5, H)
        done = entry(0.0, [0.0, 0.0], 0.0)
        done[choice.REFERENCE] = list(truth + rng.choice([-1, 1], H))
        done['quantiles'] = [[[m - 1, m, m + 1] for m in truth - 1.0],
                             [[m - 1, m, m + 1] for m in low]]
        done[choice.MIXTURE] = list(truth + 1.0)
        choice.observe(options, res, done, truth, 1.0)
        res = json.loads(json.dumps(res))
    which = choice.chosen(options, res, MEMBERS, H)
    assert list(which) == [2] * H
    spread = choice.offsets(options, res, MEMBERS, which, LEVELS)
    # Exponential errors of mean 0.5: quantiles 0.05 and 1.15 at 10 and
    # 90 %, where a symmetric spread would put -0.8 and 0.8.
    assert np.allclose(spread[:, 0], 0.05, atol=0.1)
    assert np.allclose(spread[:, 1], 0.0)
    assert np.allclose(spread[:, 2], 1.15, atol=0.25)
    # Nothing around the reference, nor with the spread off.
    assert choice.offsets(options, res, MEMBERS, np.zeros(H, int),
                          LEVELS) is None
    assert choice.offsets(learner_mod.Options(), res, MEMBERS, which,
                          LEVELS) is None


def test_the_learner_puts_the_chosen_candidates_spread_around_it():
    rng = np.random.default_rng(8)
    step, day = 300, 288
    n = 3 * day + 72
    cpu = np.clip(1 + np.cumsum(rng.normal(0, 0.02, n)) +
                  rng.normal(0, 0.02, n), 0, None)[None]
    history = history_mod.History(('b',), 1_700_006_400, step, {'cpu': cpu})
    options = learner_mod.Options(spread='quantiles', gate_min_scorings=1,
                                  calibration_rate=0.0)
    learner = learner_mod.Learner(options)
    stored, issued = {}, []
    for end in range(3 * day, n + 1, 12):
        seen = replay.window(history, end, 3, ('cpu',))
        result = engine.Profiler(markov_resources=('cpu',)).profile(seen, 12)
        outcome = learner.learn(seen, result, stored, issued, seen.end)
        stored = json.loads(json.dumps(outcome.states))
        fc = result.forecasts['cpu']
        issued.append(replay.Issued('b', 'cpu', 'ensemble', seen.end,
                                    fc.start, fc.step, fc.levels.tolist(),
                                    fc.quantiles[0].tolist()))
    # The last audit's forecast: its median is the chosen candidate's,
    # the other quantiles that median plus the quantiles of the
    # candidate's errors, learned by the audits before.
    res = outcome.states['b']['resources']['cpu']
    members = res['pending'][-1]['members']
    which = choice.chosen(options, res, members, 12)
    assert which[0] != 0
    spread = choice.offsets(options, res, members, which,
                            fc.levels.tolist())
    median = fc.quantiles[0][:, list(fc.levels).index(0.5)]
    assert np.allclose(fc.quantiles[0],
                       np.sort(np.maximum(median[:, None] + spread, 0),
                               axis=1), atol=1e-9)


def test_only_the_median_moves_to_the_chosen_candidate():
    # The same audits learned with the default (the spread stays where
    # the reference's median put it) and with the whole distribution
    # moved with the median.
    rng = np.random.default_rng(8)
    step, day = 300, 288
    n = 3 * day + 72
    cpu = np.clip(np.stack([
        1 + np.cumsum(rng.normal(0, 0.02, n)) + rng.normal(0, 0.02, n),
        0.5 + 0.3 * np.sin(2 * np.pi * np.arange(n) / day) +
        rng.normal(0, 0.05, n)]), 0, None)
    history = history_mod.History(('a', 'b'), 1_700_006_400, step,
                                  {'cpu': cpu})
    learners = {spread: learner_mod.Learner(learner_mod.Options(
        spread=spread, gate_min_scorings=1, calibration_rate=0.0))
        for spread in ('stay', None)}
    stored = {spread: {} for spread in learners}
    issued = {spread: [] for spread in learners}
    for end in range(3 * day, n + 1, 12):
        seen = replay.window(history, end, 3, ('cpu',))
        profile = engine.Profiler(markov_resources=('cpu',)).profile(seen,
                                                                     12)
        last = {}
        for spread, learner in learners.items():
            result = copy.deepcopy(profile)
            outcome = learner.learn(seen, result, stored[spread],
                                    issued[spread], seen.end)
            stored[spread] = json.loads(json.dumps(outcome.states))
            fc = result.forecasts['cpu']
            for i, uuid in enumerate(fc.instance_ids):
                issued[spread].append(replay.Issued(
                    uuid, 'cpu', 'ensemble', seen.end, fc.start, fc.step,
                    fc.levels.tolist(), fc.quantiles[i].tolist()))
            last[spread] = fc.quantiles[0]
    # Instance 'a' follows another candidate than the reference.
    res = stored['stay']['a']['resources']['cpu']
    assert res['gate'] == stored[None]['a']['resources']['cpu']['gate']
    which = choice.chosen(learners['stay'].options, res,
                          res['pending'][-1]['members'], 12)
    assert which[0] != 0
    median = list(fc.levels).index(0.5)
    chosen = last[None][:, median]
    reference = np.array(res['pending'][-1][choice.REFERENCE])
    assert np.abs(chosen - reference).max() > 1e-3
    assert np.ptp(last[None], axis=1).min() > 1e-3
    # The same median; the other quantiles where the reference put them.
    stay = last[None] - (chosen - reference)[:, None]
    stay[:, median] = chosen
    # (Without calibration: only an interval crossing the median is cut.)
    stay = learner_mod.calibrate_spread(stay[None], fc.levels,
                                        [{'80': 0.0, '90': 0.0}])[0]
    assert np.allclose(last['stay'], np.sort(stay, axis=1), atol=1e-5)
    assert not np.allclose(last['stay'], last[None], atol=1e-5)
