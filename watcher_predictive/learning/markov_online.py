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

"""The Markov chain, continued online from its stored counts.

The profiler fits a chain over the whole history window at every audit;
with a stored chain the learner instead takes the stored counts and
learns only the steps that came since, one at a time, scoring each step's
one-step prediction by its log loss before learning it. The loss drives
the chain's forgetting factor (``adjust.next_memory``): the chain forgets
faster when the guest's behaviour changes, and remembers longer while it
predicts well. A chain that keeps failing at its shortest memory is
replaced by the profiler's fresh fit (new level edges).
"""

import collections

import numpy as np

from watcher_predictive.learning import adjust
from watcher_predictive.profiler import markov

# A stored chain further behind than this is refitted rather than stepped.
MAX_CATCH_UP_STEPS = 2 * 288


def _params(chain):
    return {'levels': chain.levels, 'resources': list(chain.resources),
            'smoothing': chain.smoothing, 'bins': chain.bins,
            'min_transitions': chain.min_transitions}


def _usable(stored, params, subset):
    if not stored or stored.get('params') != params:
        return False
    end = stored['end']
    return subset.start <= end <= subset.end and (
        subset.end - end) // subset.step <= MAX_CATCH_UP_STEPS


def apply(options, result, subset, states, contributions):
    """Continue stored chains; update ``result`` and ``contributions``."""
    chain = result.markov_chain
    if chain is None:
        return
    params = _params(chain)
    ids = subset.instance_ids
    values = {r: subset.values[r] for r in chain.resources}
    groups = collections.defaultdict(list)
    for i, uuid in enumerate(ids):
        stored = states.get(uuid, {}).get('markov')
        if _usable(stored, params, subset):
            groups[(stored['end'], int(stored['memory']))].append(i)
        else:
            contributions[uuid]['markov'] = _fresh(chain, i, stored, params)
    horizon = None if result.state_probabilities is None else \
        result.state_probabilities.shape[1]
    for (end, level), rows in sorted(groups.items()):
        stored = [states[ids[i]]['markov'] for i in rows]
        online = markov.MarkovChain.from_state({
            'model': markov.MarkovChain.name,
            'version': markov.MarkovChain.STATE_VERSION,
            'params': dict(params, forgetting=adjust.forgetting(level)),
            'step': subset.step, 'end': end,
            'instances': [s['row'] for s in stored]})
        losses, counted = _step_through(online, values, rows, subset, end)
        for j, i in enumerate(rows):
            entry = _next(options, stored[j], losses[j], counted[j])
            if entry is None:
                contributions[ids[i]]['markov'] = _fresh(
                    chain, i, stored[j], params)
                continue
            entry.update(row=online.instance_state(j), end=int(online.end_))
            contributions[ids[i]]['markov'] = entry
            if horizon:
                result.state_probabilities[i] = online.predict_states(
                    horizon)[j]
    for uuid in ids:
        entry = contributions[uuid]['markov']
        if entry is not None and uuid in result.states and \
                'markov' in result.states[uuid]:
            labels = result.states[uuid]['markov'].get('states')
            result.states[uuid]['markov'] = dict(
                entry['row'], states=labels,
                forgetting=adjust.forgetting(int(entry['memory'])))


def _step_through(online, values, rows, subset, end):
    """Learn the steps after ``end`` one by one; mean one-step log loss."""
    n = len(rows)
    losses, counted = np.zeros(n), np.zeros(n)
    first = (end - subset.start) // subset.step
    for t in range(first, subset.n_steps):
        probs = online.predict_states(1)[:, 0, :]
        online.update({r: v[rows, t:t + 1] for r, v in values.items()})
        seen = (online.age_ == 0) & (online.last_state_ >= 0)
        p = probs[np.arange(n), np.maximum(online.last_state_, 0)]
        losses += np.where(seen, -np.log(np.maximum(p, 1e-6)), 0.0)
        counted += seen
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(counted > 0, losses / counted, np.nan), counted


def _next(options, stored, loss, counted):
    """The stored entry after one audit's loss; None asks for a refit."""
    entry = {k: v for k, v in stored.items() if k not in ('row', 'end')}
    if not counted or np.isnan(loss):
        return entry
    fast = adjust.ewma(entry['loss_fast'], float(loss), adjust.FAST_RATE,
                       entry['count'])
    slow = adjust.ewma(entry['loss_slow'], float(loss), adjust.SLOW_RATE,
                       entry['count'])
    level = adjust.next_memory(entry['memory'], fast, slow,
                               options.drift_tolerance, entry['count'],
                               options.min_scored)
    if entry['count'] >= options.min_scored and entry['memory'] < 1 and \
            fast > (1 + options.drift_tolerance) * slow:
        return None
    entry.update(loss_fast=fast, loss_slow=slow, memory=level,
                 count=entry['count'] + 1)
    return entry


def _fresh(chain, i, stored, params):
    return {'row': chain.instance_state(i), 'end': int(chain.end_),
            'params': params, 'memory': adjust.MEMORY_LEVELS - 1,
            'loss_fast': None, 'loss_slow': None, 'count': 0,
            'resets': (stored or {}).get('resets', -1) + 1}
