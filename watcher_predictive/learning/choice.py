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
stay where the reference's median put them (``Options.spread``
'stay'), as this lowered the pinball loss on the replay of VMs 21 to
60 where moving the whole distribution with the median, or giving the
candidate a spread of its own out-of-sample errors (the profiler's
scaled by the candidate's discounted mean absolute error over the
reference's, ``spread``, or the quantiles of its errors, ``offsets``;
kept as options) did not.

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
# Bounds of the factor on the spread around a chosen candidate's median.
MAX_SPREAD = 2.0
# The ``spread`` options learned from each candidate's errors.
LEARNED_SPREADS = ('step', 'pooled', 'quantiles')
# Step of the quantiles of a candidate's errors, per scored error.
SPREAD_RATE = 0.02


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
    if options.spread in LEARNED_SPREADS:
        _observe_spread(options, res, names, truth[None] - medians,
                        seen, entry['levels'])


def _observe_spread(options, res, names, errors, seen, levels):
    """Discounted sums of each candidate's absolute errors per horizon
    step, in the units of the resource (``sum``, ``count``), and each
    candidate's quantiles of its signed errors over that mean (``z``,
    candidates x levels, tracked by a step of ``SPREAD_RATE`` on their
    pinball loss per error): the spread around a chosen candidate.
    """
    steps = seen.size
    stored = res.get('spread')
    if stored and stored.get('candidates') == names and \
            len(stored.get('count', ())) == steps and \
            stored.get('levels') == list(levels):
        sums = np.asarray(stored['sum'], float)
        count = np.asarray(stored['count'], float)
        z = np.asarray(stored['z'], float)
    else:
        sums, count = np.zeros((len(names), steps)), np.zeros(steps)
        # A Laplace distribution of mean absolute deviation 1.
        tau = np.asarray(levels, float)
        z = np.tile(np.where(tau < 0.5, np.log(2 * tau),
                             -np.log(2 * (1 - tau))), (len(names), 1))
    errors = np.where(np.isnan(errors), 0.0, errors)
    mean = sums / np.maximum(count, 1e-12)
    known = seen & (count > 0)
    for s in np.flatnonzero(known):
        ok = mean[:, s] > 0
        u = errors[ok, s] / mean[ok, s]
        z[ok] += SPREAD_RATE * (np.asarray(levels)[None] -
                                (u[:, None] < z[ok]))
    d = options.gate_discount
    sums[:, seen] = d * sums[:, seen] + np.abs(errors[:, seen])
    count[seen] = d * count[seen] + 1.0
    res['spread'] = {'candidates': names, 'levels': list(levels),
                     'sum': sums.round(8).tolist(),
                     'count': count.round(8).tolist(),
                     'z': z.round(6).tolist()}


def offsets(options, res, members, which, levels):
    """Quantiles (h, levels) around the chosen candidates' medians, of
    their own out-of-sample errors (``spread`` 'quantiles'), or None
    where the reference is followed at every step, too few were scored
    or nothing is learned.
    """
    stored = (res or {}).get('spread')
    if options.spread != 'quantiles' or not stored or \
            stored.get('candidates') != candidates(members) or \
            stored.get('levels') != list(levels) or not which.any():
        return None
    sums = np.asarray(stored['sum'], float)
    count = np.asarray(stored['count'], float)
    at = np.minimum(np.arange(which.size), count.size - 1)
    if count[at].min() < options.gate_min_scorings:
        return None
    mean = sums[which, at] / count[at]
    z = np.asarray(stored['z'], float)[which]
    z[:, scoring.level_index(levels, 0.5)] = 0.0
    out = mean[:, None] * z
    out[which == 0] = np.nan
    return out


def spread(options, res, members, which):
    """Factors (h,) by which the spread around the median moves to the
    chosen candidates ``which`` (h indices among ``candidates(members)``)
    is scaled: the candidate's discounted mean absolute error over the
    reference's, at each step (``spread`` 'step') or over all steps
    ('pooled'), within [1 / MAX_SPREAD, MAX_SPREAD]; 1 where the
    reference is followed or fewer than ``gate_min_scorings`` were scored.
    """
    out = np.ones(which.size)
    stored = (res or {}).get('spread')
    if options.spread not in ('step', 'pooled') or not stored or \
            stored.get('candidates') != candidates(members):
        return out
    sums = np.asarray(stored['sum'], float)
    count = np.asarray(stored['count'], float)
    at = np.minimum(np.arange(which.size), count.size - 1)
    if options.spread == 'pooled':
        num, den = sums.sum(axis=1)[which], np.full(which.size,
                                                    sums[0].sum())
        enough = np.full(which.size, count.min() >= options.gate_min_scorings)
    else:
        num, den = sums[which, at], sums[0, at]
        enough = count[at] >= options.gate_min_scorings
    ok = (which != 0) & enough & (den > 0)
    out[ok] = np.clip(num[ok] / den[ok], 1.0 / MAX_SPREAD, MAX_SPREAD)
    return out


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
            reference, states, ids, resource, levels=None):
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
    followed, factors, spreads = follow(
        options, states, ids, resource, model.member_names, reference,
        member_medians, mixture, chose, with_spread=True, levels=levels)
    return followed, mixture, factors, spreads


def follow(options, states, ids, resource, members, reference, members_med,
           mixture, where=None, with_spread=False, levels=None):
    """The medians (instances, h) followed: per instance and step, the
    chosen candidate's among ``reference`` (instances, h), ``members_med``
    (members, instances, h) and ``mixture`` (instances, h); the reference
    for the instances not in ``where`` (booleans, default all).
    ``with_spread``: and the factors (instances, h) of their spread
    (``spread``).
    """
    stack = np.concatenate([reference[None], members_med, mixture[None]])
    n, h = reference.shape
    out = reference.copy()
    factors = np.ones((n, h))
    spreads = [None] * n
    for j, uuid in enumerate(ids):
        if where is not None and not where[j]:
            continue
        res = states.get(uuid, {}).get('resources', {}).get(resource)
        which = chosen(options, res, members, h)
        out[j] = stack[which, j, np.arange(h)]
        factors[j] = spread(options, res, members, which)
        if levels is not None:
            spreads[j] = offsets(options, res, members, which, levels)
    return (out, factors, spreads) if with_spread else out
