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

from watcher_predictive.learning import learner as learner_mod
from watcher_predictive.learning import replay
from watcher_predictive.profiler import engine
from watcher_predictive.profiler import history as history_mod

STEP = 300
DAY = 288
IDS = ('a', 'b', 'c')


@pytest.fixture(scope='module')
def history():
    rng = np.random.default_rng(3)
    n = 3 * DAY + 24
    t = np.arange(n)
    day = np.sin(2 * np.pi * t / DAY)
    cpu = np.clip(np.stack([1 + 0.5 * day + rng.normal(0, 0.1, n),
                            0.5 + rng.normal(0, 0.05, n),
                            2 + day + rng.normal(0, 0.3, n)]), 0, None)
    return history_mod.History(IDS, 1_700_006_400, STEP, {
        'cpu': cpu, 'memory': 100 + 10 * cpu})


def audit(history, end, stored, issued, learner=None):
    seen = replay.window(history, end, 2)
    result = engine.Profiler().profile(seen, 12)
    learner = learner or learner_mod.Learner()
    outcome = learner.learn(seen, result, stored, issued, seen.end)
    for resource, fc in result.forecasts.items():
        for i, uuid in enumerate(fc.instance_ids):
            issued.append(replay.Issued(uuid, resource, 'ensemble',
                                        seen.end, fc.start, fc.step,
                                        fc.levels.tolist(),
                                        fc.quantiles[i].tolist()))
    return seen, result, outcome


def test_scores_once_and_keeps_arima_unless_it_drifts(history):
    issued = []
    _, _, first = audit(history, 3 * DAY, {}, issued)
    assert first.errors == []
    stored = json.loads(json.dumps(first.states))
    seen, _, second = audit(history, 3 * DAY + 12, stored, issued)
    models = {(e.instance_uuid, e.resource, e.model) for e in second.errors}
    assert ('a', 'cpu', 'ensemble') in models
    assert ('a', 'cpu', 'seasonal_arima') in models
    assert len(models) == len(second.errors)
    kept = stored['a']['resources']['cpu']['arima']
    now = second.states['a']['resources']['cpu']['arima']
    # No drift: the same order and coefficients, the state moved on.
    assert now['order'] == kept['order']
    assert now['row']['ar'] == kept['row']['ar']
    assert now['estimated_at'] == kept['estimated_at']
    assert now['end'] == kept['end'] + 12 * STEP
    assert second.states['a']['markov']['end'] == seen.end

    # Scoring again on the new state finds nothing new.
    again = json.loads(json.dumps(second.states))
    _, errors = learner_mod.Learner().score(seen, again, issued)
    assert errors == []

    # Drift: the order is re-selected and re-estimated now.
    drifted = json.loads(json.dumps(second.states))
    errors = drifted['a']['resources']['cpu']['errors']
    errors['seasonal_arima'] = {'fast': 9.0, 'slow': 1.0, 'count': 50}
    errors['ema'] = {'fast': 1.0, 'slow': 1.0, 'count': 50}
    _, _, third = audit(history, 3 * DAY + 24, drifted, issued)
    arima = third.states['a']['resources']['cpu']['arima']
    assert arima['reselections'] == 1
    assert arima['estimated_at'] == 1_700_006_400 + (3 * DAY + 24) * STEP
    other = third.states['b']['resources']['cpu']['arima']
    assert other['reselections'] == 0


def test_a_rebased_audit_loses_nothing(history):
    issued = []
    _, _, first = audit(history, 3 * DAY, {}, issued)
    stored = json.loads(json.dumps(first.states))
    # Two audits start from the same stored state; the first stores.
    seen, _, winner = audit(history, 3 * DAY + 12, stored, list(issued))
    _, _, loser = audit(history, 3 * DAY + 12, stored, list(issued))
    assert len(loser.errors) == len(winner.errors) > 0
    rebased = learner_mod.Learner().rebase(
        seen, json.loads(json.dumps(winner.states)), issued,
        loser.contributions)
    # Already scored by the winner: not scored twice, and both audits
    # are counted.
    assert rebased.errors == []
    assert rebased.states['a']['audits'] == 3
    assert rebased.states['a']['resources']['cpu']['weights'] == \
        winner.states['a']['resources']['cpu']['weights']
