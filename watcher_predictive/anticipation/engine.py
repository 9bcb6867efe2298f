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

"""The Resource Anticipation Engine: predictions in, planned actions out.

From the profiler's forecasts the engine derives each instance's release
probability and lull windows, books the predicted demand of every host in
a time-slotted capacity ledger, and works through a queue of tasks:

1. operator tasks whose deadline is near, each in the first suitable lull
   of its instance before the deadline; with ``throttle_overloaded``, a
   throttle of the busiest guests of hosts measured over their threshold
   now and predicted still over it, for a bounded time;
2. relief of hosts predicted to overload: a live migration of a guest in
   its predicted lull to a host that keeps its predicted headroom, or,
   when no migration can relieve the host, a throttle of a predicted
   bursting neighbour over the contention window;
3. the rest of the queue, by priority (benefit times release probability
   over cost): operator tasks due later, right-sizing (resize down a guest
   predicted to stay far below its flavor, resize up ahead of a predicted
   sustained peak) and consolidation (empty a host predicted to stay
   lightly used).

Every task is placed only where the predicted high quantile of the demand
fits over its whole window, and booked in the ledger before the next one
is considered, so the same headroom is never promised twice. The queue is
rebuilt from the new forecasts at every audit. Safety limits (actions per
audit, migrations per host, forecast confidence, blackout windows) bound
what is planned; a dry run plans everything and returns no action.
"""

import math

import numpy as np
from numpy.lib import stride_tricks

from watcher_predictive.anticipation import collision
from watcher_predictive.anticipation import cost as cost_mod
from watcher_predictive.anticipation import headroom
from watcher_predictive.anticipation import operator_tasks as operator
from watcher_predictive.anticipation import queue
from watcher_predictive.anticipation import release
from watcher_predictive.anticipation import throttle
from watcher_predictive.anticipation import types
from watcher_predictive import exception


# With busy_migration, lull migrations go first only when together they
# can remove at least this share of the host's predicted overload;
# otherwise they would cost migrations and leave the host overloaded (its
# busy guests are the cause, and they have no lull), and a busy guest is
# moved instead.
FUTILE_SHARE = 0.5
# One migration must remove at least this share of it.
MIN_RELIEF_SHARE = 0.01


def _level(forecast, wanted):
    """Index of the forecast level closest to ``wanted``."""
    return int(np.argmin(np.abs(forecast.levels - wanted)))


class AnticipationEngine:
    def __init__(self, params):
        self.params = params
        if params.step <= 0 or params.horizon < params.step:
            raise exception.InvalidParameter(
                name='horizon', value=params.horizon,
                reason='the horizon must cover at least one step of %d s'
                       % params.step)
        unknown = set(params.actions_allowed) - set(types.ACTION_KINDS)
        if unknown:
            raise exception.InvalidParameter(
                name='actions_allowed', value=sorted(unknown),
                reason='allowed kinds are %s' % ', '.join(types.ACTION_KINDS))

    def plan(self, hosts, instances, forecasts, flavors=(), peaks=None,
             operator_tasks=(), history=None, last_migrated=None):
        """Plan the audit's actions.

        :param history: optional instance uuid -> measured CPU use (vCPUs)
            per step up to the forecasts' start: guests whose peaks
            collided in it are separated (:mod:`collision`), and no
            migration goes to a host where the guest's peaks would collide
        :param last_migrated: optional instance uuid -> epoch seconds of
            its last live migration: guests migrated less than
            ``migration_cooldown`` before the forecasts' start are not
            migrated again by the engine's own tasks
        """
        p = self.params
        cpu = forecasts.get('cpu')
        if cpu is None:
            raise exception.InvalidParameter(
                name='forecasts', value=sorted(forecasts),
                reason='a cpu forecast is required')
        ctx = self._context(hosts, instances, forecasts)
        ctx['cooling'] = {
            u for u, when in (last_migrated or {}).items()
            if ctx['start'] - when < p.migration_cooldown}
        day = p.collision_window // p.step
        collision.prepare(ctx, history, (p.separation_window or
                                         p.collision_window) // p.step
                          if day else 0, p.lull_cpu, day_steps=day,
                          draws=p.separation_draws)
        ledger = ctx['ledger']
        self._actions = []
        self._tasks = []
        self._migrations = {}
        self._relieving = {}
        before = sum(float(ledger.overload(h).sum()) for h in ledger.demand)

        near, later = [], []
        for op in operator_tasks:
            due = op.deadline - ctx['start'] <= p.deadline_near
            (near if due else later).append(op)
        for op in sorted(near, key=lambda o: (o.deadline, o.id)):
            queue.place(self, operator.operator_candidate(self, ctx, op,
                                                          flavors))
        throttle.throttle_measured(self, ctx, history)
        for host in ledger.overloaded_hosts():
            self._relieve(host, ctx, hosts)
        collision.separate(self, ctx, hosts)
        throttle.throttle_recurring(self, ctx)
        candidates = [operator.operator_candidate(self, ctx, op, flavors)
                      for op in later]
        if types.RESIZE in p.actions_allowed and flavors:
            candidates += queue.right_size_candidates(
                self, ctx, forecasts, flavors, peaks or {})
        if types.MIGRATE in p.actions_allowed and \
                p.consolidation_threshold > 0:
            candidates += queue.consolidation_candidates(self, ctx, hosts)
        candidates.sort(key=lambda c: -c.task.priority)
        for candidate in candidates:
            queue.place(self, candidate)

        after = sum(float(ledger.overload(h).sum()) for h in ledger.demand)
        actions = list(self._actions)
        plan = types.Plan(
            actions=[] if p.dry_run else actions,
            release_probability=ctx['release'],
            lull_window=ctx['window'],
            host_demand={k: v.copy() for k, v in ledger.demand.items()},
            host_capacity=dict(ledger.capacity), tasks=list(self._tasks),
            dry_run_actions=actions if p.dry_run else [],
            overload_avoided=round((before - after) * ctx['step'], 1))
        return plan

    # -- the predictions every task uses -----------------------------------

    def _context(self, hosts, instances, forecasts):
        p = self.params
        cpu = forecasts['cpu']
        by_uuid = {i.uuid: i for i in instances}
        ids = [u for u in cpu.instance_ids if u in by_uuid]
        position = {u: i for i, u in enumerate(cpu.instance_ids)}
        rows = [position[u] for u in ids]
        h = cpu.horizon_steps
        step = cpu.step
        vcpus = np.array([by_uuid[u].vcpus for u in ids], dtype=float)
        cpu_q = cpu.quantiles[rows]
        hi = _level(cpu, p.demand_quantile)
        med = _level(cpu, 0.5)
        horizon_steps = np.array([
            max(1, (by_uuid[u].horizon or p.horizon) // step) for u in ids])
        duration = max(1, math.ceil(p.task_duration / step))
        subset = cpu if len(ids) == len(cpu.instance_ids) else type(cpu)(
            instance_ids=tuple(ids), resource='cpu', start=cpu.start,
            step=step, levels=cpu.levels, quantiles=cpu_q, model=cpu.model)
        probability = release.lull_probability(subset, vcpus, p.lull_cpu) \
            if ids else np.zeros((0, h))
        blackout = cost_mod.blackout_mask(cpu.start, step, h,
                                          p.blackout_windows)
        # No task may run in a blackout: a window touching one is no lull.
        probability = np.where(blackout[None, :], 0.0, probability)
        release_p, lull_start = release.best_lull(probability, duration,
                                                  horizon_steps)
        window_p = np.full((len(ids), max(h - duration + 1, 0)), 0.0)
        if ids and duration <= h:
            window_p = stride_tricks.sliding_window_view(
                probability, duration, axis=1).min(axis=-1)
            ends = np.arange(window_p.shape[1]) + duration
            window_p = np.where(ends[None, :] <= horizon_steps[:, None],
                                window_p, 0.0)
        fallback = np.asarray(cpu.fallback, dtype=bool)[rows] if len(
            cpu.fallback) == len(cpu.instance_ids) else None
        confidence = cost_mod.forecast_confidence(cpu_q, cpu.levels, vcpus,
                                                  fallback) \
            if ids else np.zeros(0)
        release_by = dict(zip(ids, release_p.tolist()))
        window_by = {}
        for u, s in zip(ids, lull_start.tolist()):
            window_by[u] = None if s < 0 or blackout[s:s + duration].any() \
                else (int(cpu.start + s * step),
                      int(cpu.start + (s + duration) * step))

        ledger = headroom.CapacityLedger(hosts, h, p.host_cpu_threshold)
        demand_by = {u: cpu_q[r, :, hi] for r, u in enumerate(ids)}
        for inst in instances:
            # Instances without a forecast count at their full allocation:
            # we cannot predict them, so we do not bet on their lulls.
            demand = demand_by.get(inst.uuid, np.full(h, float(inst.vcpus)))
            ledger.book(inst.host, demand, inst.memory_mb, vcpus=inst.vcpus)

        memory = forecasts.get('memory')
        memory_share = {}
        if memory is not None:
            mmed = _level(memory, 0.5)
            for r, u in enumerate(memory.instance_ids):
                if u in by_uuid and by_uuid[u].memory_mb > 0:
                    memory_share[u] = memory.quantiles[r, :, mmed] / \
                        by_uuid[u].memory_mb
        return dict(
            by_uuid=by_uuid, ids=ids, release=release_by,
            lull=dict(zip(ids, lull_start.tolist())), window=window_by,
            window_p=dict(zip(ids, window_p)), demand=demand_by,
            median={u: cpu_q[r, :, med] for r, u in enumerate(ids)},
            confidence=dict(zip(ids, confidence.tolist())),
            memory_share=memory_share, blackout=blackout, ledger=ledger,
            start=cpu.start, step=step, steps=h, duration=duration,
            instances=list(instances))

    # -- helpers shared with the queue -------------------------------------

    def budget_left(self):
        return len(self._actions) < self.params.max_actions

    def may_migrate(self, *hosts, count=1):
        return all(self._migrations.get(h, 0) + count <=
                   self.params.max_migrations_per_host for h in hosts)

    def count_migration(self, *hosts):
        for name in hosts:
            self._migrations[name] = self._migrations.get(name, 0) + 1

    def actable(self, ctx, uuid):
        """May the engine act on this instance at all?"""
        return (uuid in ctx['release'] and
                ctx['confidence'][uuid] >= self.params.min_confidence)

    def movable(self, ctx, uuid):
        """May the engine migrate this instance on its own?"""
        return self.actable(ctx, uuid) and uuid not in ctx['cooling']

    def clear(self, ctx, start_step, end_step):
        """True when no step of the window lies in a blackout."""
        return not ctx['blackout'][max(start_step, 0):end_step].any()

    def migration_cost(self, ctx, uuid, start_step):
        inst = ctx['by_uuid'][uuid]
        end = start_step + ctx['duration']
        share = float(np.mean(ctx['median'][uuid][start_step:end])) / max(
            inst.vcpus, 1e-6)
        memory = ctx['memory_share'].get(uuid)
        used = 1.0 if memory is None else float(
            np.mean(memory[start_step:end]))
        return float(cost_mod.migration_cost(inst.memory_mb, share, used))

    def record(self, task, action=None):
        if action is not None:
            action.task_id = task.task_id
            action.source = task.source
            action.cost = round(task.cost, 3)
            self._actions.append(action)
            task.status = types.PLANNED
        self._tasks.append(task)

    # -- overload relief ---------------------------------------------------

    def _relieve(self, host, ctx, hosts):
        p = self.params
        ledger = ctx['ledger']
        on_host = [u for u in ctx['ids'] if ctx['by_uuid'][u].host == host]
        self._relieving[host] = False
        if ledger.overload(host).sum() * ctx['step'] / 60.0 < \
                p.min_overload:
            return
        while self.budget_left() and ledger.overload(host).sum() > 0:
            overload = ledger.overload(host)
            onset = int(np.flatnonzero(overload)[0])
            before = overload.sum()
            moved = False
            if types.MIGRATE in p.actions_allowed:
                moved = self._migrate_one(host, on_host, ctx, hosts, onset,
                                          before)
                if not moved and p.busy_migration:
                    moved = self._migrate_one(host, on_host, ctx, hosts,
                                              onset, before, busy=True)
            if not moved and types.THROTTLE in p.actions_allowed:
                moved = throttle.throttle_one(self, host, on_host, ctx,
                                              before)
            if not moved:
                return

    def move_window(self, ctx, u, busy, before):
        """Start step and probability of the window in which ``u`` would
        be moved: its predicted lull when its release probability clears
        ``release_threshold``, or with ``busy`` its least busy window
        before step ``before``; ``(None, 0.0)`` when there is none.
        """
        if busy:
            return self._busy_window(ctx, u, before)
        if ctx['window'][u] is None or \
                ctx['release'][u] < self.params.release_threshold:
            return None, 0.0
        return ctx['lull'][u], ctx['release'][u]

    def _busy_window(self, ctx, u, onset):
        """Start and probability of the least busy window before the
        overload: a busy guest has no lull.
        """
        windows = ctx['window_p'][u]
        last = max(0, min(onset - ctx['duration'], windows.size - 1))
        clear = [s for s in range(last + 1)
                 if self.clear(ctx, s, s + ctx['duration'])]
        if not clear:
            return None, 0.0
        s = max(clear, key=lambda k: (windows[k], -k))
        return s, float(windows[s])

    def _migrate_one(self, host, on_host, ctx, hosts, onset, before,
                     busy=False):
        p = self.params
        ledger = ctx['ledger']
        overload = ledger.overload(host)
        total = float(overload.sum())
        candidates = []
        for u in on_host:
            if not self.movable(ctx, u):
                continue
            start_step, probability = self.move_window(ctx, u, busy, onset)
            if start_step is None:
                continue
            relief = float(np.minimum(ctx['demand'][u],
                                      overload)[start_step:].sum())
            if relief < MIN_RELIEF_SHARE * total:
                continue
            cost = self.migration_cost(ctx, u, start_step)
            weight = probability if not busy else 1.0
            candidates.append((start_step > onset,
                               -relief * weight / max(cost, 1e-6),
                               u, cost, start_step, probability, relief))
        if p.busy_migration and not busy and not self._relieving[host] and sum(
                c[-1] for c in candidates) < FUTILE_SHARE * total:
            return False
        self._relieving[host] = True
        # Prefer windows that open before the overload does, then the most
        # relief per unit of cost, weighed by the lull's probability.
        candidates.sort()
        for _late, _score, u, cost, start_step, probability, _relief in \
                candidates:
            inst = ctx['by_uuid'][u]
            demand = ctx['demand'][u]
            targets = [h.name for h in hosts if h.name != host
                       and ledger.fits(h.name, demand, inst.memory_mb,
                                       start_step, inst.vcpus)
                       and self.may_migrate(host, h.name)]
            if not targets or not self.budget_left():
                continue
            # The destination where the guest's measured peaks collide
            # least with its guests', then the most predicted headroom.
            target = min(targets, key=lambda h: (
                collision.added_excess(ctx, h, u), -ledger.min_headroom(h)))
            peak_share = float(ledger.demand[host].max()) / ledger.capacity[
                host]
            ledger.release(host, demand, inst.memory_mb, start_step,
                           inst.vcpus)
            ledger.book(target, demand, inst.memory_mb, start_step,
                        inst.vcpus)
            benefit = (before - ledger.overload(host).sum()) * ctx['step']
            if benefit <= 0:
                ledger.release(target, demand, inst.memory_mb, start_step,
                               inst.vcpus)
                ledger.book(host, demand, inst.memory_mb, start_step,
                            inst.vcpus)
                continue
            self.count_migration(host, target)
            collision.move(ctx, u, host, target)
            on_host.remove(u)
            start = int(ctx['start'] + start_step * ctx['step'])
            end = start + ctx['duration'] * ctx['step']
            how = 'predicted idle' if not busy else \
                'has no lull before it; moved while least busy'
            reason = (
                'host %s predicted at %.0f%% of its CPU threshold from %s; '
                '%s %s (P=%.2f) %s-%s; %s keeps %.1f vCPUs of headroom; '
                'migration cost %.1f GiB copied' % (
                    host, 100 * peak_share,
                    types.iso_utc(ctx['start'] + onset * ctx['step']),
                    inst.name, how, probability, types.iso_utc(start),
                    types.iso_utc(end), target, ledger.min_headroom(target),
                    cost))
            task = types.Task(
                kind=types.MIGRATE, source=types.SOURCE_OVERLOAD,
                instance_uuid=u, benefit=float(benefit), cost=cost,
                release_probability=probability, reason=reason,
                target=target, cpu_needed=float(demand.max()),
                memory_mb=inst.memory_mb)
            self.record(task, types.PlannedAction(
                kind=types.MIGRATE, instance_uuid=u, instance_name=inst.name,
                source_host=host, destination_host=target,
                window_start=start, window_end=end,
                release_probability=round(probability, 4),
                expected_benefit=round(float(benefit), 1), reason=reason))
            return True
        return False
