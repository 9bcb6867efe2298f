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

"""The task queue beyond overload relief: right-sizing and consolidation
(operator tasks are in :mod:`operator_tasks`).

Each source proposes *candidates*: a :class:`types.Task` (what, why, its
benefit, cost and release probability, hence its priority) and how to
place it. The engine sorts the candidates by priority and places them one
by one; placing books the task in the capacity ledger, or defers it with a
note saying why (no lull before the deadline, no host keeps its headroom,
a limit reached). Nothing here imports OpenStack.
"""

import dataclasses
import math

import numpy as np

from watcher_predictive.anticipation import cost as cost_mod
from watcher_predictive.anticipation import types

# Target utilisation of a resized flavor at the predicted peak.
RESIZE_CPU_TARGET = 0.7
RESIZE_MEMORY_TARGET = 0.8


@dataclasses.dataclass
class Candidate:
    task: types.Task
    place: object = None
    """Callable returning the :class:`types.PlannedAction` (or a list of
    them) once booked, or None after setting ``task.note``."""


def place(engine, candidate):
    task = candidate.task
    if candidate.place is None:
        engine.record(task)
        return
    if not engine.budget_left():
        task.note = 'the most actions per audit are planned already'
        engine.record(task)
        return
    result = candidate.place()
    if result is None:
        engine.record(task)
        return
    if not isinstance(result, list):
        engine.record(task, result)
        return
    # One queue entry (emptying a host) became several migrations: each
    # is recorded as its own task, with its own instance and destination.
    for action in result:
        engine.record(dataclasses.replace(
            task, instance_uuid=action.instance_uuid,
            target=action.destination_host), action)


def _deferred(kind, source, uuid, note, **extra):
    task = types.Task(kind=kind, source=source, instance_uuid=uuid,
                      benefit=0.0, cost=1.0, release_probability=0.0,
                      reason=extra.pop('reason', ''), note=note, **extra)
    return Candidate(task=task)


def _span(ctx, s):
    return (int(ctx['start'] + s * ctx['step']),
            int(ctx['start'] + (s + ctx['duration']) * ctx['step']))


# -- right-sizing -------------------------------------------------------------

def _level(forecast, wanted):
    return int(np.argmin(np.abs(forecast.levels - wanted)))


def right_size_candidates(engine, ctx, forecasts, flavors, peaks):
    p = engine.params
    cpu = forecasts['cpu']
    memory = forecasts.get('memory')
    hi = _level(cpu, 0.95)
    planned = {a.instance_uuid for a in engine._actions}
    cpu_row = {u: i for i, u in enumerate(cpu.instance_ids)}
    memory_row = {} if memory is None else {
        u: i for i, u in enumerate(memory.instance_ids)}
    out = []
    for u in ctx['ids']:
        inst = ctx['by_uuid'][u]
        if u in planned or not engine.actable(ctx, u):
            continue
        row = cpu_row[u]
        peak_cpu = float(cpu.quantiles[row, :, hi].max())
        if 'cpu' in peaks:
            peak_cpu = max(peak_cpu, float(peaks['cpu'][row]))
        peak_mem = 0.0
        if u in memory_row:
            mrow = memory_row[u]
            peak_mem = float(memory.quantiles[
                mrow, :, _level(memory, 0.95)].max())
            if 'memory' in peaks:
                peak_mem = max(peak_mem, float(peaks['memory'][mrow]))
        if peak_cpu <= p.resize_max_usage * inst.vcpus:
            c = _resize_down(engine, ctx, inst, peak_cpu, peak_mem, flavors)
        else:
            c = _resize_up(engine, ctx, inst, flavors)
        if c is not None:
            out.append(c)
    return out


def _resize_down(engine, ctx, inst, peak_cpu, peak_mem, flavors):
    p = engine.params
    u = inst.uuid
    if ctx['window'][u] is None or ctx['release'][u] < p.release_threshold:
        return None
    need_vcpus = max(1, math.ceil(peak_cpu / RESIZE_CPU_TARGET))
    need_ram = peak_mem / RESIZE_MEMORY_TARGET
    fitting = [f for f in flavors
               if f.vcpus >= need_vcpus and f.ram_mb >= need_ram
               and f.disk_gb >= inst.disk_gb and f.vcpus <= inst.vcpus
               and f.ram_mb <= inst.memory_mb
               and (f.vcpus, f.ram_mb) != (inst.vcpus, inst.memory_mb)]
    if not fitting:
        return None
    flavor = min(fitting, key=lambda f: (f.vcpus, f.ram_mb, f.disk_gb))
    start, end = ctx['window'][u]
    benefit = (inst.vcpus - flavor.vcpus) + (
        inst.memory_mb - flavor.ram_mb) / 1024.0
    reason = ('%s predicted to peak at %.2f of %d vCPUs and %.0f of %d MiB; '
              '%s (%d vCPUs, %d MiB) holds that peak; predicted idle '
              '(P=%.2f) %s-%s' % (
                  inst.name, peak_cpu, inst.vcpus, peak_mem, inst.memory_mb,
                  flavor.name, flavor.vcpus, flavor.ram_mb,
                  ctx['release'][u], types.iso_utc(start),
                  types.iso_utc(end)))
    task = types.Task(
        kind=types.RESIZE, source=types.SOURCE_RIGHT_SIZE, instance_uuid=u,
        benefit=benefit, cost=cost_mod.resize_cost(inst.memory_mb),
        release_probability=ctx['release'][u], reason=reason,
        target=flavor.name, cpu_needed=peak_cpu, memory_mb=flavor.ram_mb)

    def do_place():
        s = ctx['lull'][u]
        ledger = ctx['ledger']
        ledger.book(inst.host, np.zeros(ctx['steps']),
                    flavor.ram_mb - inst.memory_mb, s,
                    flavor.vcpus - inst.vcpus)
        return types.PlannedAction(
            kind=types.RESIZE, instance_uuid=u, instance_name=inst.name,
            source_host=inst.host, window_start=start, window_end=end,
            release_probability=round(ctx['release'][u], 4),
            expected_benefit=round(benefit, 2), flavor=flavor.name,
            reason=reason)
    return Candidate(task=task, place=do_place)


def _resize_up(engine, ctx, inst, flavors):
    """Resize up ahead of a predicted sustained peak, in a lull before it."""
    p = engine.params
    u = inst.uuid
    median = ctx['median'][u]
    high = median >= p.resize_up_usage * inst.vcpus
    run = np.convolve(high.astype(int), np.ones(p.sustained_steps, int),
                      'valid') if high.size >= p.sustained_steps else []
    sustained = np.flatnonzero(np.asarray(run) >= p.sustained_steps)
    if not sustained.size:
        return None
    onset = int(sustained[0])
    windows = ctx['window_p'][u][:max(onset - ctx['duration'] + 1, 0)]
    ok = np.flatnonzero(windows >= p.release_threshold)
    peak = float(ctx['demand'][u].max())
    need = max(inst.vcpus + 1, math.ceil(peak / RESIZE_CPU_TARGET))
    bigger = [f for f in flavors if f.vcpus >= need
              and f.ram_mb >= inst.memory_mb and f.disk_gb >= inst.disk_gb]
    if not bigger:
        return None
    flavor = min(bigger, key=lambda f: (f.vcpus, f.ram_mb, f.disk_gb))
    onset_at = types.iso_utc(ctx['start'] + onset * ctx['step'])
    if not ok.size:
        return _deferred(types.RESIZE, types.SOURCE_RIGHT_SIZE, u,
                         'no predicted lull before the peak at %s' %
                         onset_at, target=flavor.name)
    s = int(ok[0])
    start, end = _span(ctx, s)
    probability = float(windows[s])
    reason = ('%s predicted to use %.2f of its %d vCPUs for %d min from %s; '
              '%s (%d vCPUs) holds the peak; resized in its lull (P=%.2f) '
              '%s-%s' % (inst.name, float(median[onset]), inst.vcpus,
                         p.sustained_steps * ctx['step'] // 60, onset_at,
                         flavor.name, flavor.vcpus, probability,
                         types.iso_utc(start), types.iso_utc(end)))
    task = types.Task(
        kind=types.RESIZE, source=types.SOURCE_RIGHT_SIZE, instance_uuid=u,
        benefit=float(flavor.vcpus - inst.vcpus),
        cost=cost_mod.resize_cost(inst.memory_mb),
        release_probability=probability, reason=reason, target=flavor.name,
        cpu_needed=peak, memory_mb=flavor.ram_mb)

    def do_place():
        ledger = ctx['ledger']
        grow = flavor.vcpus - inst.vcpus
        more = flavor.ram_mb - inst.memory_mb
        if ledger.allocated[inst.host] + grow > ledger.allocatable[
                inst.host] or ledger.memory[inst.host] + more > \
                ledger.memory_capacity[inst.host]:
            task.note = 'host %s cannot allocate %s' % (inst.host,
                                                        flavor.name)
            return None
        ledger.book(inst.host, np.zeros(ctx['steps']), more, s, grow)
        return types.PlannedAction(
            kind=types.RESIZE, instance_uuid=u, instance_name=inst.name,
            source_host=inst.host, window_start=start, window_end=end,
            release_probability=round(probability, 4),
            expected_benefit=task.benefit, flavor=flavor.name,
            reason=reason)
    return Candidate(task=task, place=do_place)


# -- consolidation ------------------------------------------------------------

def consolidation_candidates(engine, ctx, hosts):
    """Empty hosts predicted to stay lightly used, all or nothing."""
    p = engine.params
    ledger = ctx['ledger']
    by_host = {}
    for inst in ctx['instances']:
        by_host.setdefault(inst.host, []).append(inst)
    out = []
    for host in hosts:
        name = host.name
        guests = by_host.get(name, [])
        if host.disabled or not guests or name not in ledger.demand:
            continue
        peak = float(ledger.demand[name].max())
        if peak >= p.consolidation_threshold * ledger.capacity[name]:
            continue
        uuids = [g.uuid for g in guests]
        ready = all(engine.movable(ctx, u) and ctx['window'][u] is not None
                    and ctx['release'][u] >= p.release_threshold
                    for u in uuids)
        if not ready:
            continue
        costs = {u: engine.migration_cost(ctx, u, ctx['lull'][u])
                 for u in uuids}
        seconds = ctx['steps'] * ctx['step']
        benefit = float(host.vcpus) * seconds / 3600.0
        probability = min(ctx['release'][u] for u in uuids)
        task = types.Task(
            kind=types.MIGRATE, source=types.SOURCE_CONSOLIDATION,
            instance_uuid=uuids[0], benefit=benefit,
            cost=sum(costs.values()), release_probability=probability,
            reason='host %s predicted to stay below %.0f%% of its CPU '
                   'threshold (peak %.1f vCPUs); its %d guests move in '
                   'their lulls so that it can be switched off' % (
                       name, 100 * p.consolidation_threshold, peak,
                       len(uuids)),
            target=None, cpu_needed=peak)

        def do_place(name=name, guests=guests, task=task, costs=costs):
            return _empty_host(engine, ctx, name, guests, task, costs)
        out.append(Candidate(task=task, place=do_place))
    return out


def _empty_host(engine, ctx, name, guests, task, costs):
    ledger = ctx['ledger']
    if len(guests) > engine.params.max_actions - len(engine._actions) or \
            not engine.may_migrate(name, count=len(guests)):
        task.note = 'emptying host %s needs %d migrations, over the ' \
                    'limits' % (name, len(guests))
        return None
    # Destinations: hosts that stay in use. Moving guests to an empty
    # host would only move the problem.
    busy = {i.host for i in ctx['instances']} - {name}
    booked = []
    actions = []
    for inst in sorted(guests, key=lambda g: -float(
            ctx['demand'][g.uuid].max())):
        s = ctx['lull'][inst.uuid]
        demand = ctx['demand'][inst.uuid]
        targets = [h for h in busy
                   if ledger.fits(h, demand, inst.memory_mb, s, inst.vcpus)
                   and engine.may_migrate(h)]
        if not targets:
            for host, d, m, st, v in booked:
                ledger.release(host, d, m, st, v)
                ledger.book(name, d, m, st, v)
            task.note = 'no host keeps its headroom with %s on it' % (
                inst.name)
            return None
        # Fill the fullest host that still fits: that is consolidation.
        target = min(targets, key=ledger.min_headroom)
        ledger.release(name, demand, inst.memory_mb, s, inst.vcpus)
        ledger.book(target, demand, inst.memory_mb, s, inst.vcpus)
        booked.append((target, demand, inst.memory_mb, s, inst.vcpus))
        start, end = _span(ctx, s)
        actions.append(types.PlannedAction(
            kind=types.MIGRATE, instance_uuid=inst.uuid,
            instance_name=inst.name, source_host=name,
            destination_host=target, window_start=start, window_end=end,
            release_probability=round(ctx['release'][inst.uuid], 4),
            expected_benefit=round(task.benefit / len(guests), 2),
            reason='%s; %s predicted idle (P=%.2f) %s-%s, to %s' % (
                task.reason, inst.name, ctx['release'][inst.uuid],
                types.iso_utc(start), types.iso_utc(end), target)))
    for target, *_ in booked:
        engine.count_migration(name, target)
    return actions
