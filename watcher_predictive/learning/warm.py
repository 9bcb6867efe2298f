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

"""Warm-started ensembles: what the members learned is carried on.

The profiler fits its ensemble on the history window of every audit, so
that on its own it knows nothing older than the window (a seasonal
profile of two days, weights learned over the last day). With a stored
ensemble the learner instead restores it (members, weights, calibration,
pending forecasts) and only ``update``s it with the steps that came since
it was stored: the seasonal profiles keep learning over weeks (their
day-of-week offsets need two), the weights and the calibration go on
from where the last audit left them.

An instance starts again from the profiler's fresh fit (its ARIMA order
re-selected, every member re-estimated) when

* it has no usable stored ensemble (none, other parameters, or an end
  outside this audit's window);
* its ARIMA member drifted (``adjust.drifted``, judged at scoring);
* the fresh fit has lately forecast it clearly better than the warm
  ensemble (both are scored, as ``refit`` and ``ensemble``): after a
  change of behaviour, a profile of the last days beats one of weeks.

The stored ensemble of one instance is the batch state of the ensemble
cut down to that instance (``split``); the instances of one audit whose
stored ensembles end at the same time are stacked back into one batch
(``stack``) and updated together.
"""

import collections
import json

import numpy as np

from watcher_predictive.profiler import ensemble

REFIT = 'refit'


def split(state, i):
    """The state of instance ``i`` of a batched model state."""
    out = {}
    for key, value in state.items():
        if key == 'instances':
            out[key] = [value[i]]
        elif key == 'members':
            out[key] = [split(m, i) for m in value]
        elif key == 'pending':
            out[key] = [[t, [member[i:i + 1] for member in medians]]
                        for t, medians in value]
        elif isinstance(value, dict) and 'model' in value:
            out[key] = split(value, i)
        else:
            out[key] = value
    return out


def stack(states):
    """One batched state of single-instance states of the same model,
    parameters and end, in order.
    """
    first = states[0]
    out = {}
    for key, value in first.items():
        if key == 'instances':
            out[key] = [s[key][0] for s in states]
        elif key == 'members':
            out[key] = [stack([s[key][k] for s in states])
                        for k in range(len(value))]
        elif key == 'pending':
            out[key] = [[t, [sum((s[key][j][1][k] for s in states), [])
                             for k in range(len(medians))]]
                        for j, (t, medians) in enumerate(value)]
        elif key == 'calibration':
            # Pooled over instances by the ensemble: pooled again (kept
            # exactly when the instances were stored together).
            tables = [s[key] for s in states]
            out[key] = value if all(t == value for t in tables) else \
                np.mean(tables, axis=0).tolist()
        elif key == 'scored':
            out[key] = max(s[key] for s in states)
        elif isinstance(value, dict) and 'model' in value:
            out[key] = stack([s[key] for s in states])
        else:
            out[key] = value
    return out


def _key(state):
    return (state['end'], json.dumps(state['params'], sort_keys=True),
            tuple(t for t, _ in state['pending']))


def usable(options, stored, params, subset, res):
    """Whether the stored ensemble of one instance can be continued."""
    if not stored or stored.get('model') != ensemble.Ensemble.name or \
            stored.get('version') != ensemble.Ensemble.STATE_VERSION or \
            stored.get('params') != params or stored.get('step') != \
            subset.step or not subset.start < stored['end'] <= subset.end:
        return False
    if (res.get('arima') or {}).get('drift'):
        return False
    return not refit_better(options, res['errors'])


def refit_better(options, errors):
    """The fresh fit has lately been clearly better than what was issued."""
    warm, fresh = errors.get('ensemble'), errors.get(REFIT)
    if not warm or not fresh or min(warm['count'], fresh['count']) < \
            options.min_scored:
        return False
    return fresh['fast'] * (1 + options.drift_tolerance) < warm['fast']


def restore(options, model, subset, resource, states):
    """Warm ensembles of the instances that have one, brought up to the
    end of ``subset``.

    :param model: the profiler's fresh ensemble (its parameters)
    :returns: [(rows, warm ensemble)], and the rows left to the fresh fit
    """
    params = model._params()
    groups = collections.defaultdict(list)
    cold = []
    for i, uuid in enumerate(subset.instance_ids):
        res = states.get(uuid, {}).get('resources', {}).get(resource) or {}
        stored = res.get('model')
        if options.warm_start and usable(options, stored, params, subset,
                                         res):
            groups[_key(stored)].append(i)
        else:
            cold.append(i)
    warm = []
    values = subset.values[resource]
    for rows in groups.values():
        batch = stack([states[subset.instance_ids[i]]['resources'][
            resource]['model'] for i in rows])
        restored = ensemble.Ensemble.from_state(batch)
        first = (restored.end_ - subset.start) // subset.step
        restored.update(values[rows, first:])
        warm.append((np.asarray(rows), restored))
    return warm, np.asarray(cold, dtype=int)


def store(model, rows, whole, ids, resource, contributions):
    """Keep each instance's ensemble, for the next audit to continue.

    :param whole: whether ``model`` holds every instance (the profiler's
        fit) rather than only ``rows`` (a restored group)
    """
    state = model.get_state()
    for j, i in enumerate(rows):
        contributions[ids[i]]['model'][resource] = split(
            state, i if whole else j)
