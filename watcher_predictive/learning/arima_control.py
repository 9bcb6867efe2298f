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

"""ARIMA: keep what works, re-select what drifted.

The profiler selects an ARIMA order per instance by BIC and estimates it
at every audit. With a stored ARIMA the learner keeps the stored order and
coefficients and only advances the model's state (last values and
innovations) over the observations that came since: the incremental
update. The order is re-selected and the coefficients re-estimated (the
profiler's fresh fit is taken) when

* the ARIMA member's recent error drifted above its own history and above
  the moving average's (``adjust.drifted``, judged in ``Learner.score``),
* or the coefficients are older than ``arima_max_age``,
* or there is no usable stored model.
"""

import collections

import numpy as np

from watcher_predictive.profiler import arima as arima_mod
from watcher_predictive.profiler import averaging

MEMBER = 'seasonal_arima'


def _departures(y, start, step):
    """What the seasonal profile leaves of ``y``, as the member computes
    it when fitted (a profile learned online, one step ahead).
    """
    profile = averaging.SeasonalProfile().fit(y[:, :0], start, step)
    return y - profile.replay(y)


def apply(options, model, subset, resource, states, contributions, now):
    if MEMBER not in model.member_names:
        return
    member = model.members_[list(model.member_names).index(MEMBER)]
    fitted = member.arima_
    whole = fitted.get_state()
    ids = subset.instance_ids
    groups = collections.defaultdict(list)
    previous = {}
    for i, uuid in enumerate(ids):
        res = states.get(uuid, {}).get('resources', {}).get(resource) or {}
        stored = res.get('arima')
        previous[i] = stored
        if stored and not stored.get('drift') and \
                stored.get('params') == whole['params'] and \
                now - stored['estimated_at'] < options.arima_max_age and \
                subset.start <= stored['end'] <= fitted.end_:
            groups[stored['end']].append(i)
    kept = set()
    if groups:
        rows = sorted(i for group in groups.values() for i in group)
        y = subset.values[resource][rows]
        departures = dict(zip(rows, _departures(y, subset.start,
                                                subset.step)))
        for end, group in sorted(groups.items()):
            stored = arima_mod.BatchedARIMA.from_state(dict(
                whole, end=end,
                instances=[previous[i]['row'] for i in group]))
            first = (end - subset.start) // subset.step
            stored.update(np.stack([departures[i][first:] for i in group]))
            for j, i in enumerate(group):
                whole['instances'][i] = stored.instance_state(j)
                kept.add(i)
        member.arima_ = arima_mod.BatchedARIMA.from_state(whole)
    for i, uuid in enumerate(ids):
        old = previous[i] or {}
        reselected = i not in kept and bool(old)
        contributions[uuid]['arima'][resource] = {
            'row': whole['instances'][i], 'end': int(fitted.end_),
            'params': whole['params'],
            'order': whole['instances'][i]['order'],
            'estimated_at': int(old['estimated_at']) if i in kept
            else int(now),
            'reselections': old.get('reselections', 0) + int(reselected),
            'reselected': reselected and bool(old.get('drift')),
            'drift': False}
