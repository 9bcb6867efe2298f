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
last ``separation_window`` seconds (by default ``collision_window``, one
day) says which guests peaked together on which host. A host whose
guests, as placed now, together used more than its threshold capacity in
that window is a collision host; the engine
moves one of the colliding guests in its predicted lull now, to a host
where the guest's measured use added to its own guests' stays under the
threshold at every step of the window (so that the collision does not
move there), and where the predicted demand fits over the horizon.

The same measured profiles are used to choose the destination of every
overload migration, for the same reason. A separation window longer than
the collision window (several days) finds the guests whose peaks meet on
some days only, which one day of history misses on a tightly packed
cluster; the throttle of recurring collisions (:mod:`throttle`) still
looks at the last ``collision_window`` only (:func:`day_excess`).
"""

import zlib

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


def _shuffled(uuid, series, draws, per_day):
    """The guest's measured use followed by ``draws`` copies of it, each
    rotated by a whole number of days drawn from its uuid (the same at
    every audit), so that the days of different guests meet as they
    could have; the measured series comes last.
    """
    days = series.size // per_day
    if draws <= 0 or days < 2:
        return series
    rng = np.random.default_rng(zlib.crc32(uuid.encode('utf-8')))
    shifts = rng.integers(0, days, size=draws) * per_day
    return np.concatenate([np.roll(series, int(k)) for k in shifts] +
                          [series])


def prepare(ctx, history, window_steps, lull_cpu, day_steps=None,
            draws=0):
    """Put the measured recent use, per guest and per host, in ``ctx``.

    :param history: instance uuid -> measured CPU use (vCPUs) per step,
        ending where the forecasts start; NaN where unknown
    :param window_steps: steps of history searched for collisions to
        separate
    :param day_steps: steps of the collision window (default
        ``window_steps``), the tail of it that :func:`day_excess` reads
    :param draws: copies of the window in which every guest's days are
        rotated (:func:`_shuffled`), added to the measured one: a host is
        also a collision host when its guests' peaks of different days
        would meet
    """
    ctx['recent'] = {}
    ctx['recent_load'] = {}
    ctx['never_idle'] = set()
    day_steps = window_steps if day_steps is None else day_steps
    window_steps = max(window_steps, day_steps)
    ctx['day_steps'] = day_steps
    ctx['window_steps'] = window_steps
    if not history or window_steps <= 0:
        return
    ledger = ctx['ledger']
    per_day = max(1, 86400 // ctx['step'])
    size = window_steps * (1 + draws) if window_steps // per_day >= 2 \
        else window_steps
    load = {h: np.zeros(size) for h in ledger.demand}
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
        if size > window_steps:
            recent = _shuffled(inst.uuid, recent, draws, per_day)
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


def day_excess(ctx, host):
    """Measured excess over the last collision window only."""
    over = excess(ctx, host)
    return over[over.size - min(ctx['day_steps'], over.size):]


def day_use(ctx, uuid):
    recent = ctx['recent'][uuid]
    return recent[recent.size - min(ctx['day_steps'], recent.size):]


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
            if _separate_one(engine, ctx, hosts, host):
                continue
            if not engine.params.busy_separation or \
                    not _separate_one(engine, ctx, hosts, host, busy=True):
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
        if busy and u not in ctx['never_idle']:
            continue
        s, probability = engine.move_window(ctx, u, busy, ctx['steps'])
        if s is None:
            continue
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
        measured = ctx['recent_load'][host][-ctx['window_steps']:]
        peak = float(measured.max())
        at = int(np.argmax(measured))
        ago = (measured.size - at) * ctx['step']
        ledger.release(host, demand, inst.memory_mb, s, inst.vcpus)
        ledger.book(target, demand, inst.memory_mb, s, inst.vcpus)
        move(ctx, u, host, target)
        engine.count_migration(host, target)
        start = int(ctx['start'] + s * ctx['step'])
        end = start + ctx['duration'] * ctx['step']
        hours = ctx['window_steps'] * ctx['step'] / 3600.0
        copies = over.size // ctx['window_steps']
        how = 'has not idled for a task in the last %.0f h; moved while ' \
            'least busy' % hours if busy else 'predicted idle'
        per = ' (mean of the measured window and %d with each guest\'s ' \
            'days rotated)' % (copies - 1) if copies > 1 else ''
        reason = (
            'guests of host %s together used up to %.1f vCPUs (%.0f%% of '
            'its CPU threshold) %.1f h ago; %s took %.0f vCPU-min of the '
            'excess%s; %s (P=%.2f) %s-%s; on %s it would have '
            'added %.0f vCPU-min over its threshold in the last %.0f h; '
            'migration cost %.1f GiB copied' % (
                host, peak, 100 * peak / ledger.capacity[host], ago / 3600.0,
                inst.name, relief * ctx['step'] / 60.0 / copies, per, how,
                probability, types.iso_utc(start), types.iso_utc(end),
                target, (relief - gain) * ctx['step'] / 60.0 / copies,
                hours, cost))
        benefit = gain * ctx['step'] / copies
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
