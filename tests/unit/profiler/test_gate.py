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
from watcher_predictive.profiler import ensemble
from watcher_predictive.profiler import gate

STEP = 300
DAY = 86400 // STEP


def scorings(gate_, losses, rounds, seed=0):
    """Feed ``rounds`` scorings whose mean loss per candidate (instances
    share them) is ``losses``, with noise.
    """
    rng = np.random.default_rng(seed)
    k = len(losses)
    seen = np.ones((2, 12), dtype=bool)
    for _ in range(rounds):
        loss = np.asarray(losses)[:, None, None] + 0.3 * rng.random(
            (k, 2, 12))
        gate_.observe(loss, seen)


def test_reference_kept_without_a_significant_advantage():
    g = gate.SignificanceGate(reference=0, z=2.0, min_scorings=10).start(
        3, 2, 12)
    scorings(g, [1.0, 1.0, 1.2], 100)
    assert (g.choice() == 0).all()
    mixture = np.full((2, 2, 12), 0.5)
    weights = g.weights(mixture)
    assert (weights[0] == 1.0).all() and (weights[1] == 0.0).all()


def test_better_candidate_followed_after_enough_scorings():
    g = gate.SignificanceGate(reference=0, z=2.0, min_scorings=10).start(
        3, 2, 12)
    scorings(g, [1.0, 0.6, 1.2], 5)
    assert (g.choice() == 0).all()  # not enough scorings yet
    scorings(g, [1.0, 0.6, 1.2], 20, seed=1)
    assert (g.choice() == 1).all()


def test_mixture_followed_when_it_is_the_best_candidate():
    # Candidates: two members, then the mixture.
    g = gate.SignificanceGate(reference=0, z=0.0, min_scorings=1).start(
        3, 2, 12)
    scorings(g, [1.0, 1.1, 0.5], 30)
    mixture = np.array([np.full((2, 12), 0.25), np.full((2, 12), 0.75)])
    assert np.array_equal(g.weights(mixture), mixture)


def test_by_step_choices_differ_per_step():
    g = gate.SignificanceGate(reference=0, z=2.0, min_scorings=5,
                              by_step=True).start(2, 1, 3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        loss = np.array([[[1.0, 1.0, 1.0]], [[0.5, 1.5, 1.0]]])
        g.observe(loss + 0.1 * rng.random((2, 1, 3)), np.ones((1, 3), bool))
    assert g.choice().tolist() == [[1, 0, 0]]


def test_bad_gate_parameters():
    with pytest.raises(exception.InvalidParameter):
        gate.SignificanceGate(reference=0, z=-1.0)
    with pytest.raises(exception.InvalidParameter):
        ensemble.Ensemble(members=('ema', 'seasonal_profile'), gate=1.0)


def random_walk(n=4, days=9, seed=0):
    """Levels held for hours, then jumping: nothing beats the last value."""
    rng = np.random.default_rng(seed)
    t = days * DAY
    jumps = rng.random((n, t)) < 1 / 48
    return 1.0 + np.cumsum(jumps * rng.normal(0, 1, (n, t)), axis=1) ** 2


def test_ensemble_gives_exactly_the_last_value_where_it_is_best():
    y = random_walk()
    model = ensemble.Ensemble().fit(y, 0, STEP)
    median = model.predict(12, (0.5,))[:, :, 0]
    assert np.array_equal(median, np.repeat(y[:, -1:], 12, axis=1))
    mixed = ensemble.Ensemble(gate=None).fit(y, 0, STEP)
    assert not np.array_equal(mixed.predict(12, (0.5,))[:, :, 0], median)


def test_ensemble_follows_a_better_model_and_keeps_it_through_state():
    rng = np.random.default_rng(1)
    t = np.arange(9 * DAY)
    # A smooth daily wave with independent noise: the seasonal members
    # forecast it far better than the last (noisy) value.
    y = 2 + np.sin(2 * np.pi * t / DAY)[None] + 0.3 * rng.normal(
        size=(3, t.size))
    model = ensemble.Ensemble().fit(y, 0, STEP)
    median = model.predict(12, (0.5,))[:, :, 0]
    assert not np.allclose(median, y[:, -1:])
    copy = ensemble.Ensemble.from_state(json.loads(json.dumps(
        model.get_state())))
    assert np.array_equal(copy.predict(12, (0.5,))[:, :, 0], median)
    assert copy._gate.choice().tolist() == model._gate.choice().tolist()
