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
probability and lull window, books the predicted demand of every host in a
capacity ledger, and plans three kinds of task:

* a live migration off a host whose predicted demand exceeds its threshold,
  done in the migrating instance's predicted lull, to a host that keeps its
  predicted headroom with the instance on it;
* a throttle of a predicted bursting neighbour on a contended host that no
  migration could relieve, over the contention window;
* a resize of an instance whose predicted use stays far below its flavor,
  to the smallest real flavor that still holds its predicted peak, in its
  lull.

Every move is booked in the ledger before the next is planned.
"""

import math

import numpy as np

from watcher_predictive.anticipation import headroom
from watcher_predictive.anticipation import release
from watcher_predictive.anticipation import types
from watcher_predictive import exception

# Target utilisation of a resized flavor at the predicted peak.
RESIZE_CPU_TARGET = 0.7
RESIZE_MEMORY_TARGET = 0.8


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
             operator_tasks=()):
        p = self.params
        cpu = forecasts.get('cpu')
        if cpu is None:
            raise exception.InvalidParameter(
                name='forecasts', value=sorted(forecasts),
                reason='a cpu forecast is required')
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
        probability = release.lull_probability(subset, vcpus, p.lull_cpu)
        release_p, lull_start = release.best_lull(probability, duration,
                                                  horizon_steps)
        release_by = dict(zip(ids, release_p.tolist()))
        window_by = {}
        for u, s in zip(ids, lull_start.tolist()):
            window_by[u] = None if s < 0 else (
                int(cpu.start + s * step),
                int(cpu.start + (s + duration) * step))

        ledger = headroom.CapacityLedger(hosts, h, p.host_cpu_threshold)
        demand_by = {}
        for row, u in enumerate(ids):
            demand_by[u] = cpu_q[row, :, hi]
        for inst in instances:
            # Instances without a forecast count at their full allocation:
            # we cannot predict them, so we do not bet on their lulls.
            demand = demand_by.get(inst.uuid, np.full(h, float(inst.vcpus)))
            ledger.book(inst.host, demand, inst.memory_mb, vcpus=inst.vcpus)

        self._actions = []
        self._migrations = {}
        ctx = dict(by_uuid=by_uuid, ids=ids, release=release_by,
                   lull=dict(zip(ids, lull_start.tolist())),
                   window=window_by, demand=demand_by,
                   median={u: cpu_q[r, :, med] for r, u in enumerate(ids)},
                   start=cpu.start, step=step, duration=duration)
        for host in ledger.overloaded_hosts():
            self._relieve(host, ledger, ctx, hosts)
        if types.RESIZE in p.actions_allowed and flavors:
            self._right_size(ctx, forecasts, flavors, peaks or {})
        return types.Plan(actions=list(self._actions),
                          release_probability=release_by,
                          lull_window=window_by,
                          host_demand={k: v.copy()
                                       for k, v in ledger.demand.items()},
                          host_capacity=dict(ledger.capacity))

    # -- helpers -----------------------------------------------------------

    def _budget_left(self):
        return len(self._actions) < self.params.max_actions

    def _may_migrate(self, *hosts):
        return all(self._migrations.get(h, 0) <
                   self.params.max_migrations_per_host for h in hosts)

    def _iso(self, ts):
        return types.iso_utc(ts)

    def _relieve(self, host, ledger, ctx, hosts):
        p = self.params
        on_host = [u for u in ctx['ids'] if ctx['by_uuid'][u].host == host]
        while self._budget_left() and ledger.overload(host).sum() > 0:
            overload = ledger.overload(host)
            onset = int(np.flatnonzero(overload)[0])
            before = overload.sum()
            moved = False
            if types.MIGRATE in p.actions_allowed:
                moved = self._migrate_one(host, on_host, ledger, ctx, hosts,
                                          onset, before)
            if not moved and types.THROTTLE in p.actions_allowed:
                moved = self._throttle_one(host, on_host, ledger, ctx,
                                           before)
            if not moved:
                return

    def _migrate_one(self, host, on_host, ledger, ctx, hosts, onset, before):
        p = self.params
        candidates = [u for u in on_host
                      if ctx['release'][u] >= p.release_threshold
                      and ctx['lull'][u] >= 0]
        # Prefer lulls that open before the overload does, then the most
        # likely lull, then the biggest relief.
        candidates.sort(key=lambda u: (
            ctx['lull'][u] > onset, -ctx['release'][u],
            -float(ctx['demand'][u].max())))
        for u in candidates:
            inst = ctx['by_uuid'][u]
            start_step = ctx['lull'][u]
            demand = ctx['demand'][u]
            targets = [h.name for h in hosts if h.name != host
                       and ledger.fits(h.name, demand, inst.memory_mb,
                                       start_step, inst.vcpus)
                       and self._may_migrate(host, h.name)]
            if not targets:
                continue
            target = max(targets, key=ledger.min_headroom)
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
            for name in (host, target):
                self._migrations[name] = self._migrations.get(name, 0) + 1
            on_host.remove(u)
            start, end = ctx['window'][u]
            self._actions.append(types.PlannedAction(
                kind=types.MIGRATE, instance_uuid=u, instance_name=inst.name,
                source_host=host, destination_host=target,
                window_start=start, window_end=end,
                release_probability=round(ctx['release'][u], 4),
                expected_benefit=round(float(benefit), 1),
                reason='host %s predicted at %.0f%% of its CPU threshold '
                       'from %s; %s predicted idle (P=%.2f) %s-%s; %s keeps '
                       '%.1f vCPUs of headroom' % (
                           host, 100 * peak_share,
                           self._iso(ctx['start'] + onset * ctx['step']),
                           inst.name, ctx['release'][u], self._iso(start),
                           self._iso(end), target,
                           ledger.min_headroom(target))))
            return True
        return False

    def _throttle_one(self, host, on_host, ledger, ctx, before):
        p = self.params
        throttled = {a.instance_uuid for a in self._actions
                     if a.kind == types.THROTTLE}
        overload = ledger.overload(host)
        busy = overload > 0
        bursters = []
        for u in on_host:
            if u in throttled:
                continue
            high = ctx['demand'][u]
            # A burst is measured against the guest's usual level over the
            # horizon, not against the median of the same step (which a
            # predicted burst raises too).
            usual = max(float(np.median(ctx['median'][u])), 1e-6)
            ratio = float(high[busy].max()) / usual
            if ratio >= p.burst_ratio:
                bursters.append((ratio, usual, u))
        if not bursters:
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
        self._actions.append(types.PlannedAction(
            kind=types.THROTTLE, instance_uuid=u, instance_name=inst.name,
            source_host=host, window_start=start, window_end=end,
            release_probability=round(ctx['release'][u], 4),
            expected_benefit=round(float(benefit), 1), cpu_limit=limit,
            reason='%s predicted to burst to %.1f vCPUs (%.1fx its usual '
                   '%.2f) while host %s is over its CPU threshold %s-%s; '
                   'capped at %.2f vCPUs' % (
                       inst.name, float(high[busy].max()), ratio, usual,
                       host, self._iso(start), self._iso(end), limit)))
        return True

    def _right_size(self, ctx, forecasts, flavors, peaks):
        p = self.params
        cpu = forecasts['cpu']
        memory = forecasts.get('memory')
        hi = _level(cpu, 0.95)
        planned = {a.instance_uuid for a in self._actions}
        cpu_row = {u: i for i, u in enumerate(cpu.instance_ids)}
        memory_row = {} if memory is None else {
            u: i for i, u in enumerate(memory.instance_ids)}
        for u in ctx['ids']:
            if not self._budget_left():
                return
            inst = ctx['by_uuid'][u]
            if u in planned or ctx['window'][u] is None:
                continue
            if ctx['release'][u] < p.release_threshold:
                continue
            row = cpu_row[u]
            peak_cpu = float(cpu.quantiles[row, :, hi].max())
            if 'cpu' in peaks:
                peak_cpu = max(peak_cpu, float(peaks['cpu'][row]))
            if peak_cpu > p.resize_max_usage * inst.vcpus:
                continue
            peak_mem = 0.0
            if u in memory_row:
                mrow = memory_row[u]
                peak_mem = float(memory.quantiles[
                    mrow, :, _level(memory, 0.95)].max())
                if 'memory' in peaks:
                    peak_mem = max(peak_mem, float(peaks['memory'][mrow]))
            need_vcpus = max(1, math.ceil(peak_cpu / RESIZE_CPU_TARGET))
            need_ram = peak_mem / RESIZE_MEMORY_TARGET
            fitting = [f for f in flavors
                       if f.vcpus >= need_vcpus and f.ram_mb >= need_ram
                       and f.disk_gb >= inst.disk_gb
                       and f.vcpus <= inst.vcpus
                       and f.ram_mb <= inst.memory_mb
                       and (f.vcpus, f.ram_mb) != (inst.vcpus,
                                                   inst.memory_mb)]
            if not fitting:
                continue
            flavor = min(fitting, key=lambda f: (f.vcpus, f.ram_mb,
                                                 f.disk_gb))
            start, end = ctx['window'][u]
            benefit = (inst.vcpus - flavor.vcpus) + (
                inst.memory_mb - flavor.ram_mb) / 1024.0
            self._actions.append(types.PlannedAction(
                kind=types.RESIZE, instance_uuid=u, instance_name=inst.name,
                source_host=inst.host, window_start=start, window_end=end,
                release_probability=round(ctx['release'][u], 4),
                expected_benefit=round(benefit, 2), flavor=flavor.name,
                reason='%s predicted to peak at %.2f of %d vCPUs and %.0f of '
                       '%d MiB; %s (%d vCPUs, %d MiB) holds that peak; '
                       'predicted idle (P=%.2f) %s-%s' % (
                           inst.name, peak_cpu, inst.vcpus, peak_mem,
                           inst.memory_mb, flavor.name, flavor.vcpus,
                           flavor.ram_mb, ctx['release'][u],
                           self._iso(start), self._iso(end))))
