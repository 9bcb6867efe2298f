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

"""Which median each instance's forecast follows, learned from the
out-of-sample errors of the forecasts that came due.

The profiler's ensemble chooses between its reference (the last value),
its members and their mixture on the scorings its history window holds:
with a few days of history, about one a hour over its last day, too few
for its gate to leave the reference. The learner sees every forecast
every audit issued, scored once its time has come, accumulated across
audits. Per instance and resource it keeps a ``SignificanceGate``
(:mod:`watcher_predictive.profiler.gate`) over these candidates, scored
on their errors at the horizon actually forecast:

* ``reference``: the profiler's median re-weighted by the learned
  weights (the ensemble's weights, those its own gate chose, times the
  learned ones; what learning gives without this choice);
* each member's median;
* ``mixture``: the members weighted by the ensemble's mixture weights
  times the learned ones (``adjust.eg_step``).

An instance follows a candidate only once it has been significantly
better than the reference (``gate`` standard errors, over at
least ``gate_min_scorings`` scorings, discounted by ``gate_discount`` per
scoring so that a change of behaviour is followed); otherwise the
reference, so that noise in the scores cannot make the median worse.
The choice applies where the ensemble's own gate chose, that is where it
scored the instance within its window; elsewhere (a window too short to
keep a validation part) its forecast is its members' mean, which the
learned weights re-weight.

Only the median moves to the candidate followed: the other quantiles
stay where the reference's median put them, as this lowered the pinball
loss on the replay of VMs 21 to 60. Also tried there and removed (see
``benchmarks/README.rst``, section ``learning_replay``): moving the whole
distribution with the chosen median; scaling the spread around it by
the candidate's discounted mean absolute error over the reference's, per
horizon step or pooled over the steps; the chosen median plus the
quantiles of the candidate's own out-of-sample errors.

Settings (``gate`` 0 as the ensemble's own gate, discount 0.99, 24
scorings, one choice per instance rather than per step) chosen on the
Bitbrains month replay of VMs 21 to 40 and 41 to 60
(``benchmarks/learning_replay.py``).
"""

import numpy as np

from watcher_predictive.learning import scoring
from watcher_predictive.profiler import gate as gate_mod

REFERENCE = 'reference'
MIXTURE = 'mixture'


def candidates(members):
    return [REFERENCE] + list(members) + [MIXTURE]


def _gate(options, names, steps, stored):
    gate = gate_mod.SignificanceGate(
        0, options.gate, options.gate_discount, options.gate_min_scorings,
        options.gate_by_step)
    usable = stored and stored.get('candidates') == names and \
        stored.get('steps') == steps and \
        stored.get('by_step') == bool(options.gate_by_step)
    return gate.load([stored['state'] if usable else None], len(names),
                     steps)


def observe(options, res, entry, truth, scale):
    """Learn from one scored forecast (a pending ``entry`` of ``res``)."""
    if options.gate is None or MIXTURE not in entry:
        return
    names = candidates(entry['members'])
    median = scoring.level_index(entry['levels'], 0.5)
    medians = np.concatenate([
        np.asarray(entry[REFERENCE], float)[None],
        np.asarray(entry['quantiles'], float)[:, :, median],
        np.asarray(entry[MIXTURE], float)[None]])
    truth = np.asarray(truth, float)
    seen = ~np.isnan(truth)
    if not seen.any():
        return
    loss = np.abs(truth[None] - medians) / max(scale, 1e-6)
    loss[:, ~seen] = 0.0
    loss[np.isnan(loss)] = 0.0
    steps = truth.size
    gate = _gate(options, names, steps, res.get('gate'))
    gate.observe(loss[:, None, :], seen[None])
    res['gate'] = {'candidates': names, 'steps': steps,
                   'by_step': bool(options.gate_by_step),
                   'state': gate.instance_state(0)}


def chosen(options, res, members, h):
    """Index, among ``candidates(members)``, of the median followed at
    each of ``h`` steps (0, the reference, until one is learned).
    """
    stored = (res or {}).get('gate')
    if options.gate is None or not stored:
        return np.zeros(h, dtype=int)
    names = candidates(members)
    gate = _gate(options, names, stored['steps'], stored)
    choice = gate.choice()[0]
    return choice[np.minimum(np.arange(h), choice.size - 1)]


def medians(options, model, own, steps, learned_w, member_medians,
            reference, states, ids, resource):
    """The medians (instances, h) the learned forecasts follow, and the
    learned mixture's (a candidate, remembered for scoring).

    :param model: the ensemble that forecast (its ``mixture_`` and, per
        instance, whether its own gate chose: ``scored_instances_``)
    :param own: its rows of the instances ``ids``
    :param steps: its horizon step of each forecast step
    :param learned_w: (instances, members) learned weights
    :param member_medians: (members, instances, h)
    :param reference: (instances, h) the profiler's median re-weighted
    """
    weights = getattr(model, 'mixture_', model.weights_)[own][:, steps] * \
        learned_w[:, None, :]
    weights /= weights.sum(axis=2, keepdims=True)
    mixture = np.einsum('nhk,knh->nh', weights, member_medians)
    # Only where the ensemble's own gate chose (it scored the instance in
    # its window); elsewhere its forecast is its members' mean, which the
    # learned weights re-weight.
    scored = getattr(model, 'scored_instances_', None)
    chose = np.ones(len(ids), dtype=bool) if scored is None else \
        np.asarray(scored)[own] > 0
    followed = follow(options, states, ids, resource, model.member_names,
                      reference, member_medians, mixture, chose)
    return followed, mixture


def follow(options, states, ids, resource, members, reference, members_med,
           mixture, where=None):
    """The medians (instances, h) followed: per instance and step, the
    chosen candidate's among ``reference`` (instances, h), ``members_med``
    (members, instances, h) and ``mixture`` (instances, h); the reference
    for the instances not in ``where`` (booleans, default all).
    """
    stack = np.concatenate([reference[None], members_med, mixture[None]])
    h = reference.shape[1]
    out = reference.copy()
    for j, uuid in enumerate(ids):
        if where is not None and not where[j]:
            continue
        res = states.get(uuid, {}).get('resources', {}).get(resource)
        which = chosen(options, res, members, h)
        out[j] = stack[which, j, np.arange(h)]
    return out
