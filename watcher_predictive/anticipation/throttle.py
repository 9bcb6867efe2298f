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

"""Throttle a predicted burster over the contention it would cause."""

import numpy as np

from watcher_predictive.anticipation import cost as cost_mod
from watcher_predictive.anticipation import types


def throttle_one(engine, host, on_host, ctx, before):
    """Throttle the predicted burster of an overloaded host that no
    migration relieves, over the contention window.
    """
    p = engine.params
    ledger = ctx['ledger']
    throttled = {a.instance_uuid for a in engine._actions
                 if a.kind == types.THROTTLE}
    overload = ledger.overload(host)
    busy = overload > 0
    if ctx['blackout'][busy].any():
        return False
    bursters = []
    for u in on_host:
        if u in throttled or not engine.actable(ctx, u):
            continue
        high = ctx['demand'][u]
        # A burst is measured against the guest's usual level over the
        # horizon, not against the median of the same step (which a
        # predicted burst raises too).
        usual = max(float(np.median(ctx['median'][u])), 1e-6)
        ratio = float(high[busy].max()) / usual
        if ratio >= p.burst_ratio:
            bursters.append((ratio, usual, u))
    if not bursters or not engine.budget_left():
        return False
    ratio, usual, u = max(bursters)
    inst = ctx['by_uuid'][u]
    high = ctx['demand'][u]
    # Cap the burster at what leaves the host within its threshold, but
    # never below its own predicted median use.
    limit = float(np.max(np.maximum(
        (high - overload)[busy], ctx['median'][u][busy])))
    limit = max(round(limit, 2), 0.1)
    if limit >= float(high[busy].max()):
        return False
    capped = np.where(busy, np.minimum(high, limit), high)
    ledger.release(host, high - capped)
    ctx['demand'][u] = capped
    benefit = (before - ledger.overload(host).sum()) * ctx['step']
    steps = np.flatnonzero(busy)
    start = int(ctx['start'] + steps[0] * ctx['step'])
    end = int(ctx['start'] + (steps[-1] + 1) * ctx['step'])
    cost = cost_mod.throttle_cost((high - capped).sum() * ctx['step'])
    reason = (
        '%s predicted to burst to %.1f vCPUs (%.1fx its usual %.2f) '
        'while host %s is over its CPU threshold %s-%s; capped at %.2f '
        'vCPUs' % (inst.name, float(high[busy].max()), ratio, usual,
                   host, types.iso_utc(start), types.iso_utc(end),
                   limit))
    task = types.Task(
        kind=types.THROTTLE, source=types.SOURCE_OVERLOAD,
        instance_uuid=u, benefit=float(benefit), cost=cost,
        release_probability=ctx['release'][u], reason=reason,
        target=host, cpu_needed=limit)
    engine.record(task, types.PlannedAction(
        kind=types.THROTTLE, instance_uuid=u, instance_name=inst.name,
        source_host=host, window_start=start, window_end=end,
        release_probability=round(ctx['release'][u], 4),
        expected_benefit=round(float(benefit), 1), cpu_limit=limit,
        reason=reason))
    return True
