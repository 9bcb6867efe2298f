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

"""Separate guests whose peaks collide, before they collide again.

The forecasts look one horizon ahead; by the time two guests are seen to
peak together in it they are busy, and moving either costs most. Their
peaks recur, though (daily jobs, backups), and the measured use of the
last ``collision_window`` seconds says which guests peaked together on
which host. A host whose guests, as placed now, together used more than
its threshold capacity in that window is a collision host; the engine
moves one of the colliding guests in its predicted lull now, to a host
where the guest's measured use added to its own guests' stays under the
threshold at every step of the window (so that the collision does not
move there), and where the predicted demand fits over the horizon.

The same measured profiles are used to choose the destination of every
overload migration, for the same reason.
"""

import numpy as np

from watcher_predictive.anticipation import types

# A guest is moved only when it removes at least this share of its host's
# measured excess: moving a guest that hardly took part costs a migration
# and leaves the collision.
MIN_SHARE = 0.1


def _never_idle(series, window_steps, duration, level):
    """Measured over the whole window and never idle long enough for a
    task: waiting for its lull would gain nothing.
    """
    if series.size < window_steps or series.size < duration:
        return False
    busiest = np.lib.stride_tricks.sliding_window_view(
        series, duration).max(axis=-1)
    return not bool(np.any(busiest < level))


def prepare(ctx, history, window_steps, lull_cpu):
    """Put the measured recent use, per guest and per host, in ``ctx``.

    :param history: instance uuid -> measured CPU use (vCPUs) per step,
        ending where the forecasts start; NaN where unknown
    """
    ctx['recent'] = {}
    ctx['recent_load'] = {}
    ctx['never_idle'] = set()
    if not history or window_steps <= 0:
        return
    ledger = ctx['ledger']
    load = {h: np.zeros(window_steps) for h in ledger.demand}
    for inst in ctx['instances']:
        series = history.get(inst.uuid)
        if series is None:
            continue
        series = np.nan_to_num(np.asarray(series, dtype=float)[
            -window_steps:], nan=0.0)
        series = np.minimum(np.maximum(series, 0.0), inst.vcpus)
        if _never_idle(series, window_steps, ctx['duration'],
                       lull_cpu * inst.vcpus):
            ctx['never_idle'].add(inst.uuid)
        recent = np.zeros(window_steps)
        if series.size:
            recent[-series.size:] = series
        ctx['recent'][inst.uuid] = recent
        if inst.host in load:
            load[inst.host] += recent
    ctx['recent_load'] = load


def _excess_sum(ctx, host, delta=None):
    load = ctx['recent_load'][host]
    if delta is not None:
        load = load + delta
    return float(np.maximum(load - ctx['ledger'].capacity[host], 0.0).sum())


def added_excess(ctx, host, uuid):
    """Measured excess (vCPU-steps over the threshold) the guest's recent
    use would add to ``host``; zero when nothing is known of it.
    """
    recent = ctx.get('recent', {}).get(uuid)
    if recent is None or host not in ctx.get('recent_load', {}):
        return 0.0
    return _excess_sum(ctx, host, recent) - _excess_sum(ctx, host)


def move(ctx, uuid, source, destination):
    recent = ctx.get('recent', {}).get(uuid)
    if recent is None:
        return
    loads = ctx['recent_load']
    if source in loads:
        loads[source] -= recent
    if destination in loads:
        loads[destination] += recent


def excess(ctx, host):
    load = ctx['recent_load'].get(host)
    if load is None:
        return np.zeros(0)
    return np.maximum(load - ctx['ledger'].capacity[host], 0.0)


def separate(engine, ctx, hosts):
    """Plan lull migrations that split the guests colliding on a host."""
    if not ctx.get('recent_load'):
        return
    if types.MIGRATE not in engine.params.actions_allowed:
        return
    totals = {h: float(excess(ctx, h).sum()) for h in ctx['recent_load']}
    for host in sorted((h for h, v in totals.items() if v > 0),
                       key=lambda h: -totals[h]):
        while engine.budget_left() and excess(ctx, host).sum() > 0:
            if not _separate_one(engine, ctx, hosts, host) and not \
                    _separate_one(engine, ctx, hosts, host, busy=True):
                break


def placement(engine, ctx):
    where = {i.uuid: i.host for i in ctx['instances']}
    for action in engine._actions:
        if action.kind == types.MIGRATE:
            where[action.instance_uuid] = action.destination_host
    return where


def _separate_one(engine, ctx, hosts, host, busy=False):
    """Move one colliding guest: one predicted idle, or with ``busy`` one
    that has not idled in the whole window, in its least busy window.
    """
    p = engine.params
    ledger = ctx['ledger']
    over = excess(ctx, host)
    total = float(over.sum())
    acted = {a.instance_uuid for a in engine._actions}
    where = placement(engine, ctx)
    candidates = []
    for u in ctx['ids']:
        if where.get(u) != host or u in acted or u not in ctx['recent']:
            continue
        if not engine.movable(ctx, u):
            continue
        if busy:
            if u not in ctx['never_idle']:
                continue
            s, probability = engine._busy_window(ctx, u, ctx['steps'])
            if s is None:
                continue
        else:
            if ctx['window'][u] is None or \
                    ctx['release'][u] < p.release_threshold:
                continue
            s, probability = ctx['lull'][u], ctx['release'][u]
        relief = float(np.minimum(ctx['recent'][u], over).sum())
        if relief < MIN_SHARE * total:
            continue
        cost = engine.migration_cost(ctx, u, s)
        weight = 1.0 if busy else probability
        candidates.append((-relief * weight / max(cost, 1e-6),
                           u, s, cost, relief, probability))
    candidates.sort()
    for _score, u, s, cost, relief, probability in candidates:
        inst = ctx['by_uuid'][u]
        demand = ctx['demand'][u]
        targets = []
        for h in hosts:
            if h.name == host or not engine.may_migrate(host, h.name) or \
                    not ledger.fits(h.name, demand, inst.memory_mb, s,
                                    inst.vcpus):
                continue
            # What the move takes off this host, less what it adds to
            # the destination: the collision must not just move.
            gain = relief - added_excess(ctx, h.name, u)
            if gain >= MIN_SHARE * total:
                targets.append((gain, ledger.min_headroom(h.name), h.name))
        if not targets:
            continue
        gain, _room, target = max(targets)
        peak = float(ctx['recent_load'][host].max())
        at = int(np.argmax(ctx['recent_load'][host]))
        ago = (ctx['recent_load'][host].size - at) * ctx['step']
        ledger.release(host, demand, inst.memory_mb, s, inst.vcpus)
        ledger.book(target, demand, inst.memory_mb, s, inst.vcpus)
        move(ctx, u, host, target)
        engine.count_migration(host, target)
        start = int(ctx['start'] + s * ctx['step'])
        end = start + ctx['duration'] * ctx['step']
        how = 'has not idled for a task in the last %.0f h; moved while ' \
            'least busy' % (over.size * ctx['step'] / 3600.0) if busy \
            else 'predicted idle'
        reason = (
            'guests of host %s together used up to %.1f vCPUs (%.0f%% of '
            'its CPU threshold) %.1f h ago; %s took %.0f vCPU-min of the '
            'excess; %s (P=%.2f) %s-%s; on %s it would have '
            'added %.0f vCPU-min over its threshold in the last %.0f h; '
            'migration cost %.1f GiB copied' % (
                host, peak, 100 * peak / ledger.capacity[host], ago / 3600.0,
                inst.name, relief * ctx['step'] / 60.0, how, probability,
                types.iso_utc(start), types.iso_utc(end), target,
                (relief - gain) * ctx['step'] / 60.0,
                over.size * ctx['step'] / 3600.0, cost))
        benefit = gain * ctx['step']
        task = types.Task(
            kind=types.MIGRATE, source=types.SOURCE_COLLISION,
            instance_uuid=u, benefit=float(benefit), cost=cost,
            release_probability=probability, reason=reason, target=target,
            cpu_needed=float(demand.max()), memory_mb=inst.memory_mb)
        engine.record(task, types.PlannedAction(
            kind=types.MIGRATE, instance_uuid=u, instance_name=inst.name,
            source_host=host, destination_host=target, window_start=start,
            window_end=end,
            # A guest that never idles is not moved in a predicted lull.
            release_probability=0.0 if busy else round(probability, 4),
            expected_benefit=round(float(benefit), 1), reason=reason,
            source=types.SOURCE_COLLISION))
        return True
    return False
