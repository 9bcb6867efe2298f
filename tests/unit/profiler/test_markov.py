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
from watcher_predictive.profiler import markov
from watcher_predictive.telemetry import trace

STEP = 300
# Three CPU levels x three memory levels. Doubly stochastic, so every
# state is equally frequent in the long run and the terciles of the
# simulated values fall between the levels.
PERMUTATION = np.roll(np.eye(9), 1, axis=1)
TRUE_MATRIX = (0.5 * np.eye(9) + 0.3 * PERMUTATION +
               0.2 * PERMUTATION @ PERMUTATION @ PERMUTATION)
THIRDS = markov.uniform_edges([1 / 3, 2 / 3], 0.0, 1.0)


def simulate(n, steps, seed=0, matrix=TRUE_MATRIX, first=None):
    """States (n, steps) of the chain, and CPU and memory values drawn
    uniformly inside each level, leaving a gap between levels.
    """
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(matrix, axis=1)
    states = np.empty((n, steps), dtype=int)
    states[:, 0] = rng.integers(0, 9, n) if first is None else first
    for t in range(1, steps):
        draw = rng.random(n)[:, None]
        states[:, t] = np.minimum(
            (draw > cumulative[states[:, t - 1]]).sum(axis=1), 8)
    low = rng.uniform(0.02, 0.31, (2, n, steps))
    cpu = states // 3 / 3 + low[0]
    memory = states % 3 / 3 + low[1]
    return states, {'cpu': cpu, 'memory': memory}


def test_transition_estimates_recover_the_true_matrix():
    _, values = simulate(4, 20000)
    known = markov.MarkovChain().fit(values, 0, STEP, edges=THIRDS)
    assert np.abs(known.transition_matrix() - TRUE_MATRIX).max() < 0.045
    # Own terciles land near the true thresholds; the few values they
    # put in the wrong level blur the estimates a little.
    model = markov.MarkovChain().fit(values, 0, STEP)
    np.testing.assert_allclose(model.thresholds_, 1 / 3 * np.array(
        [[[1, 2]] * 2] * 4), atol=0.05)
    error = np.abs(model.transition_matrix() - TRUE_MATRIX)
    assert error.max() < 0.06 and error.mean() < 0.01
    assert not model.fallback_.any()
    assert model.state_labels()[7] == 'cpu=high,memory=medium'


def test_state_distributions_are_matrix_powers():
    _, values = simulate(3, 2000, seed=1)
    values['cpu'][1, -3:] = np.nan  # last observation three steps back
    model = markov.MarkovChain().fit(values, 0, STEP)
    assert model.age_.tolist() == [0, 3, 0]
    matrix = model.transition_matrix()
    dist = model.predict_states(12)
    assert dist.shape == (3, 12, 9)
    for i in range(3):
        start = np.eye(9)[model.last_state_[i]]
        for k in range(12):
            power = np.linalg.matrix_power(matrix[i], k + 1 + model.age_[i])
            np.testing.assert_allclose(dist[i, k], start @ power,
                                       atol=1e-12)


def test_cpu_quantiles_are_calibrated():
    n, horizon = 400, 6
    states, values = simulate(n, 1500, seed=2)
    model = markov.MarkovChain().fit(values, 0, STEP)
    # What really came next, continuing every chain from its last state.
    future_states, future = simulate(n, horizon + 1, seed=3,
                                     first=states[:, -1])
    q = model.predict(horizon, levels=[0.1, 0.5, 0.9], resource='cpu')
    assert q.shape == (n, horizon, 3)
    actual = future['cpu'][:, 1:]
    inside = (actual >= q[:, :, 0]) & (actual <= q[:, :, 2])
    assert 0.75 < inside.mean() < 0.85
    below = actual < q[:, :, 1]
    assert 0.45 < below.mean() < 0.55


def test_predict_does_not_change_the_model():
    _, values = simulate(2, 500, seed=4)
    model = markov.MarkovChain().fit(values, 0, STEP)
    before = json.dumps(model.get_state(), sort_keys=True)
    model.predict(12)
    model.predict_states(30)
    model.sequence_probability('cpu=high', 'memory=high', 3)
    assert json.dumps(model.get_state(), sort_keys=True) == before


def test_state_round_trip_through_json():
    _, values = simulate(3, 600, seed=5)
    model = markov.MarkovChain(smoothing=0.5, forgetting=0.999).fit(
        values, 600, STEP)
    state = json.loads(json.dumps(model.get_state()))
    assert state['version'] == 1 and len(state['states']) == 9
    rebuilt = markov.MarkovChain.from_state(state)
    assert rebuilt.forgetting == 0.999 and rebuilt.end_ == model.end_
    np.testing.assert_array_equal(rebuilt.predict(6), model.predict(6))
    # Updates continue from exactly the stored counts.
    _, more = simulate(3, 50, seed=6)
    np.testing.assert_array_equal(rebuilt.update(more).counts_,
                                  model.update(more).counts_)
    assert model.instance_state(0) == rebuilt.instance_state(0)


def test_state_of_another_version_is_refused():
    _, values = simulate(1, 100)
    state = markov.MarkovChain().fit(values, 0, STEP).get_state()
    state['version'] = 99
    with pytest.raises(exception.InvalidParameter, match='version'):
        markov.MarkovChain.from_state(state)


@pytest.mark.parametrize('forgetting', [1.0, 0.99])
def test_fit_then_update_equals_one_fit(forgetting):
    _, values = simulate(3, 900, seed=7)
    values['memory'][0, 395:410] = np.nan  # a gap across the split
    values['cpu'][1, 399] = np.nan  # the last step before it missing
    part = {r: v[:, :400] for r, v in values.items()}
    rest = {r: v[:, 400:] for r, v in values.items()}
    first = markov.MarkovChain(forgetting=forgetting).fit(part, 0, STEP)
    edges = first.edges_.copy()
    updated = first.update({r: v[:, :250] for r, v in rest.items()})
    updated.update({r: v[:, 250:] for r, v in rest.items()})
    whole = markov.MarkovChain(forgetting=forgetting).fit(
        values, 0, STEP, edges=edges)
    assert updated.end_ == whole.end_ == 900 * STEP
    for name in ('edges_', 'last_state_', 'age_', 'transitions_',
                 'observed_', 'fallback_'):
        np.testing.assert_array_equal(getattr(updated, name),
                                      getattr(whole, name))
    if forgetting == 1.0:
        np.testing.assert_array_equal(updated.counts_, whole.counts_)
        np.testing.assert_array_equal(updated.values_, whole.values_)
    else:
        np.testing.assert_allclose(updated.counts_, whole.counts_,
                                   rtol=1e-12)
        np.testing.assert_allclose(updated.values_, whole.values_,
                                   rtol=1e-12)
    np.testing.assert_allclose(updated.predict(5), whole.predict(5),
                               rtol=1e-12)


def test_forgetting_follows_a_changed_guest():
    _, old = simulate(1, 3000, seed=8)
    stuck = {r: np.full((1, 300), 0.1) for r in ('cpu', 'memory')}
    stay = {}
    for forgetting in (1.0, 0.99):
        model = markov.MarkovChain(forgetting=forgetting).fit(
            old, 0, STEP, edges=THIRDS).update(stuck)
        stay[forgetting] = model.transition_matrix()[0, 0, 0]
    # Without forgetting the old half-and-half still weighs; with a
    # half-life of 69 steps the last 300 steps dominate.
    assert 0.6 < stay[1.0] < 0.8
    assert stay[0.99] > 0.85


def test_gaps_break_transitions():
    levels = np.array([0.1, 0.5, np.nan, 0.9, 0.9, 0.1])
    values = {'cpu': levels[None, :], 'memory': np.full((1, 6), 0.1)}
    model = markov.MarkovChain(smoothing=0.0, min_transitions=0).fit(
        values, 0, STEP, edges=THIRDS)
    counts = model.counts_[0]
    # low->medium, high->high, high->low; nothing across the gap.
    assert counts.sum() == 3 and model.transitions_[0] == 3
    assert counts[0, 3] == counts[6, 6] == counts[6, 0] == 1
    assert model.observed_[0] == 5


def test_flat_series_and_instance_never_observed():
    values = {'cpu': np.full((2, 300), 0.25),
              'memory': np.full((2, 300), 512.0)}
    values['cpu'][1] = np.nan
    model = markov.MarkovChain().fit(values, 0, STEP)
    q = model.predict(4, levels=[0.1, 0.5, 0.9])
    assert np.all(np.isfinite(q))
    np.testing.assert_allclose(q[0], 0.25)
    memory = model.predict(4, resource='memory')
    np.testing.assert_allclose(memory[0], 512.0)
    assert model.fallback_.tolist() == [False, True]
    dist = model.predict_states(3)
    assert np.all(np.isfinite(dist))
    np.testing.assert_allclose(dist.sum(axis=-1), 1.0)
    # Every value of a flat series is at the lowest threshold: "low".
    assert model.last_state_[0] == 0 and dist[0, 0, 0] > 0.9


def test_short_history_falls_back_to_the_marginal():
    _, values = simulate(2, 600, seed=9)
    for r in values:
        values[r][1, :-30] = np.nan
    model = markov.MarkovChain().fit(values, 0, STEP)
    assert model.fallback_.tolist() == [False, True]
    dist = model.predict_states(5)
    for k in range(5):
        np.testing.assert_allclose(dist[1, k], model.marginal()[1])
    assert model.get_state()['instances'][1]['fallback'] is True


def test_high_cpu_then_high_memory_is_captured():
    # A job: CPU rises, memory follows one step later at medium and two
    # steps later at high, and stays high a little after the CPU drops.
    rng = np.random.default_rng(10)
    cpu, memory = [], []
    while len(cpu) < 6000:
        idle, busy = rng.integers(3, 8), rng.integers(4, 9)
        cpu += [0.1] * idle + [0.9] * busy + [0.1] * 2
        memory += [0.1] * idle + [0.1, 0.5] + [0.9] * (busy - 2) + [
            0.9] * 2
    values = {'cpu': np.array([cpu]), 'memory': np.array([memory])}
    model = markov.MarkovChain().fit(values, 0, STEP, edges=THIRDS)
    after_cpu = model.sequence_probability(
        {'cpu': 'high', 'memory': 'low'}, {'memory': 'high'}, 2)
    baseline = model.sequence_probability(None, 'memory=high', 2)
    after_idle = model.sequence_probability('cpu=low,memory=low',
                                            {'memory': 2}, 2)
    assert after_cpu[0] > 0.95
    assert baseline[0] < 0.75 and after_idle[0] < 0.2


def test_bad_parameters():
    with pytest.raises(exception.InvalidParameter, match='levels'):
        markov.MarkovChain(levels=1)
    with pytest.raises(exception.InvalidParameter, match='forgetting'):
        markov.MarkovChain(forgetting=0.0)
    with pytest.raises(exception.InvalidParameter, match='resources'):
        markov.MarkovChain(resources=('cpu', 'gpu'))
    with pytest.raises(exception.InvalidParameter, match='states'):
        markov.MarkovChain(levels=5, resources=('cpu', 'memory', 'disk',
                                                'network'))
    model = markov.MarkovChain()
    with pytest.raises(exception.PredictiveError, match='not been fitted'):
        model.predict(3)
    with pytest.raises(exception.InvalidParameter, match='memory'):
        model.fit({'cpu': np.zeros((1, 5))}, 0, STEP)
    _, values = simulate(2, 100)
    model.fit(values, 0, STEP)
    with pytest.raises(exception.InvalidParameter, match='horizon'):
        model.predict_states(0)
    with pytest.raises(exception.InvalidParameter, match='disk'):
        model.predict(3, resource='disk')
    with pytest.raises(exception.InvalidParameter, match='levels are'):
        model.sequence_probability('cpu=extreme', 'memory=high', 2)
    with pytest.raises(exception.InvalidParameter, match='same order'):
        model.update({r: v[:1] for r, v in values.items()})
    with pytest.raises(exception.InvalidParameter, match='uniform_edges'):
        model.fit(values, 0, STEP, edges=THIRDS[::-1])


def test_real_trace_smoke():
    path = traces.trace_path()
    if path is None:
        pytest.skip(traces.missing_message())
    history, _ = trace.load_bitbrains(path, limit=20, step=STEP)
    model = markov.MarkovChain().fit(
        {r: v[:, :-288] for r, v in history.values.items()}, history.start,
        STEP)
    model.update({r: v[:, -288:] for r, v in history.values.items()})
    assert model.end_ == history.end
    q = model.predict(12, levels=[0.1, 0.5, 0.9])
    assert q.shape == (20, 12, 3) and np.all(np.isfinite(q))
    assert np.all(np.diff(q, axis=-1) >= 0)
    assert model.fallback_.sum() <= 2
    dist = model.predict_states(12)
    np.testing.assert_allclose(dist.sum(axis=-1), 1.0)
    probability = model.sequence_probability('cpu=high', 'memory=high', 6)
    assert np.all((probability >= 0) & (probability <= 1))
    # The median forecast of the next hour is near what the VMs did.
    cpu = history.values['cpu']
    assert np.all(q[:, :, 1] <= np.nanmax(cpu, axis=1)[:, None] + 1e-9)
    json.dumps(model.get_state(), allow_nan=False)
