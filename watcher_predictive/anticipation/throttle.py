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

"""Throttle a predicted burster over the contention it would cause, and
the busiest guests of a host measured over its threshold now.

When no guest of the host stands out as a burster but its guests' peaks
collided in the measured history (:mod:`collision`) and no migration
relieves it, ``throttle_colliders`` caps the colliding guests, one per
step of the relief loop, each at its share of the host's threshold
capacity (in proportion to its vCPUs) over the predicted overload.
"""

import numpy as np

from watcher_predictive.anticipation import collision
from watcher_predictive.anticipation import cost as cost_mod
from watcher_predictive.anticipation import types


def _colliders(engine, host, on_host, ctx, busy, throttled, use=None):
    """Guests that took part in the host's measured collision and are
    predicted busy in the overload: no burst stands out among them, so
    each is capped at its share of the threshold capacity.
    """
    excess = collision.day_excess(ctx, host)
    if not excess.size or not excess.any():
        return []
    ledger = ctx['ledger']
    guests = [u for u in on_host if u in ctx['recent']]
    allocated = sum(ctx['by_uuid'][u].vcpus for u in guests) or 1.0
    out = []
    for u in guests:
        if u in throttled or not engine.actable(ctx, u):
            continue
        took = float(np.minimum(collision.day_use(ctx, u), excess).sum())
        if took <= 0:
            continue
        share = ledger.capacity[host] * ctx['by_uuid'][u].vcpus / allocated
        high = float((use(u) if use else ctx['demand'][u])[busy].max())
        if high > share:
            out.append((high - share, share, u))
    return out


def _record(engine, ctx, u, host, busy, limit, benefit, why, high, capped):
    inst = ctx['by_uuid'][u]
    steps = np.flatnonzero(busy)
    start = int(ctx['start'] + steps[0] * ctx['step'])
    end = int(ctx['start'] + (steps[-1] + 1) * ctx['step'])
    cost = cost_mod.throttle_cost((high - capped).sum() * ctx['step'])
    reason = '%s; capped at %.2f vCPUs %s-%s' % (
        why, limit, types.iso_utc(start), types.iso_utc(end))
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
    if not engine.budget_left():
        return False
    if bursters:
        ratio, usual, u = max(bursters)
        high = ctx['demand'][u]
        # Cap the burster at what leaves the host within its threshold,
        # but never below its own predicted median use.
        floor = ctx['median'][u][busy]
        why = 'predicted to burst'
    elif engine.params.throttle_colliders:
        colliders = _colliders(engine, host, on_host, ctx, busy, throttled)
        if not colliders:
            return False
        _over, share, u = max(colliders)
        high = ctx['demand'][u]
        usual = max(float(np.median(ctx['median'][u])), 1e-6)
        ratio = float(high[busy].max()) / usual
        floor = np.full(int(busy.sum()), share)
        why = 'peaked with its neighbours in the last %.0f h, predicted' % (
            ctx['day_steps'] * ctx['step'] / 3600.0)
    else:
        return False
    inst = ctx['by_uuid'][u]
    limit = float(np.max(np.maximum((high - overload)[busy], floor)))
    limit = max(round(limit, 2), 0.1)
    # A cap at or above the guest's vCPUs would change nothing: the high
    # quantile of a forecast can exceed what the guest is able to use.
    if limit >= min(float(high[busy].max()), float(inst.vcpus)):
        return False
    capped = np.where(busy, np.minimum(high, limit), high)
    ledger.release(host, high - capped)
    ctx['demand'][u] = capped
    benefit = (before - ledger.overload(host).sum()) * ctx['step']
    why = '%s %s to %.1f vCPUs (%.1fx its usual %.2f) while host %s is ' \
        'over its CPU threshold' % (inst.name, why, float(high[busy].max()),
                                    ratio, usual, host)
    _record(engine, ctx, u, host, busy, limit, benefit, why, high, capped)
    return True


def throttle_recurring(engine, ctx):
    """Throttle the colliders of hosts whose guests, as now placed, went
    over the threshold together one collision window ago at the times the
    horizon covers (a daily collision recurs), when the forecasts do not
    see it and no separation moved them apart.
    """
    if not engine.params.throttle_colliders or \
            types.THROTTLE not in engine.params.actions_allowed:
        return
    ledger = ctx['ledger']
    h = ctx['steps']
    for host in sorted(ctx.get('recent_load', {})):
        over = collision.day_excess(ctx, host)
        if over.size < h or not over[:h].any():
            continue
        busy = over[:h] > 0
        if ctx['blackout'][busy].any():
            continue
        throttled = {a.instance_uuid for a in engine._actions
                     if a.kind == types.THROTTLE}
        on_host = [u for u, at in collision.placement(engine, ctx).items()
                   if at == host]
        for _over, share, u in sorted(_colliders(
                engine, host, on_host, ctx, busy, throttled,
                use=lambda u: collision.day_use(ctx, u)[:h]), reverse=True):
            if not engine.budget_left():
                return
            limit = max(round(share, 2), 0.1)
            use = collision.day_use(ctx, u)[:h]
            if float(use[busy].max()) <= limit:
                continue
            benefit = float(np.minimum(np.maximum(use - limit, 0.0),
                                       over[:h])[busy].sum()) * ctx['step']
            high = ctx['demand'][u]
            capped = np.where(busy, np.minimum(high, limit), high)
            ledger.release(host, high - capped)
            ctx['demand'][u] = capped
            _record(engine, ctx, u, host, busy, limit, benefit, (
                '%s and its neighbours on host %s went over its CPU '
                'threshold together %.0f h ago at these times' % (
                    ctx['by_uuid'][u].name, host,
                    over.size * ctx['step'] / 3600.0)), high, capped)


def _last_use(ctx, history):
    """Measured CPU use (vCPUs) of each guest in the last step of the
    history (the one before when the last is not measured yet), within
    its allocation; guests without a measure are left out.
    """
    out = {}
    for u, inst in ctx['by_uuid'].items():
        series = history.get(u)
        if series is None:
            continue
        tail = np.asarray(series, dtype=float)[-2:]
        tail = tail[np.isfinite(tail)]
        if tail.size:
            out[u] = min(max(float(tail[-1]), 0.0), float(inst.vcpus))
    return out


def throttle_measured(engine, ctx, history):
    """Cap the busiest guests of hosts measured over their threshold
    capacity in the last step and predicted still over it in the first
    step of the horizon: a collision the forecasts did not see coming,
    that no migration relieved in time. It goes before the other relief
    (whose predicted overload it lowers), so that the actions per audit
    spent elsewhere do not leave a host over its capacity now.

    Each guest, the furthest above its share of the threshold capacity
    (in proportion to its vCPUs) first, is capped at what brings the
    host's measured use back under the threshold, never below its share,
    for ``throttle_overloaded`` seconds (within the horizon); its
    unthrottle lifts the cap at the end, and a later audit caps it again
    only if the host is still measured and predicted over.
    """
    p = engine.params
    if not p.throttle_overloaded or not history or \
            types.THROTTLE not in p.actions_allowed:
        return
    ledger = ctx['ledger']
    steps = max(1, min(ctx['steps'], -(-p.throttle_overloaded //
                                       ctx['step'])))
    busy = np.zeros(ctx['steps'], dtype=bool)
    busy[:steps] = True
    if ctx['blackout'][busy].any():
        return
    use = _last_use(ctx, history)
    now = ctx['start'] + ctx['step']
    where = {i.uuid: i.host for i in ctx['instances']}
    capped_now = {}
    for action in engine._actions:
        if action.window_start >= now:
            continue
        if action.kind == types.MIGRATE:
            where[action.instance_uuid] = action.destination_host
        elif action.kind == types.THROTTLE:
            capped_now[action.instance_uuid] = action.cpu_limit
    load = {}
    for u, value in use.items():
        value = min(value, capped_now.get(u, value))
        use[u] = value
        load[where[u]] = load.get(where[u], 0.0) + value
    for host in sorted(load, key=lambda h: -load[h] + ledger.capacity.get(
            h, load[h])):
        if host not in ledger.capacity:
            continue
        excess = load[host] - ledger.capacity[host]
        if excess <= 0 or ledger.demand[host][0] <= ledger.capacity[host]:
            continue
        guests = [u for u, at in where.items() if at == host]
        allocated = sum(ctx['by_uuid'][u].vcpus for u in guests) or 1.0
        order = []
        for u in guests:
            if u in capped_now or u not in use or \
                    not engine.actable(ctx, u):
                continue
            share = ledger.capacity[host] * ctx['by_uuid'][u].vcpus / \
                allocated
            if use[u] > share:
                order.append((use[u] - share, share, u))
        measured = load[host]
        for _above, share, u in sorted(order, reverse=True):
            if excess <= 0 or not engine.budget_left():
                break
            limit = max(round(max(share, use[u] - excess), 2), 0.1)
            if limit >= use[u]:
                continue
            excess -= use[u] - limit
            before = float(ledger.overload(host).sum())
            high = ctx['demand'][u]
            capped = np.where(busy, np.minimum(high, limit), high)
            ledger.release(host, high - capped)
            ctx['demand'][u] = capped
            # The relief counted: the measured use cut, over the window.
            benefit = max(before - float(ledger.overload(host).sum()),
                          (use[u] - limit) * steps) * ctx['step']
            why = ('host %s measured at %.0f%% of its CPU threshold in the '
                   'last %d min and predicted over it; %s used %.2f vCPUs '
                   '(its share %.2f)' % (
                       host, 100 * measured / ledger.capacity[host],
                       ctx['step'] // 60, ctx['by_uuid'][u].name, use[u],
                       share))
            _record(engine, ctx, u, host, busy, limit, benefit, why, high,
                    capped)
            engine._actions[-1].source = types.SOURCE_MEASURED
            engine._tasks[-1].source = types.SOURCE_MEASURED
