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

"""Replay a trace on a simulated cluster under a placement policy.

The guests of the trace are packed on the hosts (first fit, in trace
order, by their flavors' vCPUs and memory, within the allocation ratio).
From the first audit on, every ``audit_interval`` the policy looks at what
it may know (the trace up to that moment) and decides; the replay then
runs the trace step by step with those decisions and measures:

* overload minutes: per host and step, the guests' CPU demand above the
  host's cores;
* migrations, those that ran in a real lull (the guest's measured CPU
  below the lull level for the whole task duration from its start), and
  their cost proxy (:func:`cost.migration_cost` on the measured CPU and
  memory during the migration);
* resizes, throttled minutes (a throttle in force), resize-capped minutes
  (a guest that wanted more CPU than its new flavor) and active host-hours
  (hosts with at least one guest).

Policies: ``none``; ``reactive`` (Watcher's ``workload_balance`` and
``basic_consolidation``, :mod:`reactive`); ``predictive`` (the plugin's
ensemble, learning online from each new interval, and its anticipation
engine; planned actions run at the start of their window when it opens
before the next audit, later ones are planned again by that audit).
The predictive policy measures the use the trace wanted, or with
``capped_telemetry`` what a throttled guest got, as a real cloud would.
"""

import dataclasses

import numpy as np

from watcher_predictive.anticipation import cost as cost_mod
from watcher_predictive.anticipation import engine as engine_mod
from watcher_predictive.anticipation import types
from watcher_predictive import exception
from watcher_predictive.profiler import base
from watcher_predictive.profiler import ensemble
from watcher_predictive.simulation import cluster as sim_cluster
from watcher_predictive.simulation import reactive

POLICIES = ('predictive', 'reactive', 'none')
KEYS = ('overload_minutes', 'migrations', 'migrations_in_lull',
        'migration_cost', 'resizes', 'throttled_minutes',
        'active_host_hours')


@dataclasses.dataclass
class Workload:
    """What the guests did, on one grid."""

    ids: list
    start: int
    step: int
    cpu: np.ndarray
    """(guests, steps) CPU use in vCPUs (NaN where unknown)."""
    memory: np.ndarray
    """(guests, steps) memory use in MiB, or None."""
    shapes: dict
    """Guest id -> {'vcpus', 'memory_mb'}."""


def workload(history, shapes, skip=0):
    """The guests of a loaded trace, in vCPUs and MiB.

    Traces in percent (PlanetLab, wide) are guests of one vCPU and 2 GiB.
    Guests with no CPU data, or no vCPU in their shape, are left out.
    """
    cpu = np.asarray(history.values['cpu'], dtype=float)[skip:]
    ids = list(history.instance_ids)[skip:]
    memory = history.values.get('memory')
    memory = None if memory is None else np.asarray(
        memory, dtype=float)[skip:]
    out = {}
    keep = []
    for i, sid in enumerate(ids):
        shape = shapes.get(sid, {})
        if 'vcpus' in shape:
            vcpus, mem = int(shape['vcpus']), float(shape['memory_mb'])
        else:
            cpu[i] = cpu[i] / float(shape.get('cpu_capacity', 100.0))
            vcpus, mem = 1, 2048.0
        if vcpus < 1 or mem <= 0 or np.all(np.isnan(cpu[i])):
            continue
        keep.append(i)
        out[sid] = {'vcpus': vcpus, 'memory_mb': mem}
    if memory is not None and np.all(np.isnan(memory[keep])):
        memory = None
    return Workload(ids=[ids[i] for i in keep], start=history.start,
                    step=history.step, cpu=cpu[keep],
                    memory=None if memory is None else memory[keep],
                    shapes=out)


@dataclasses.dataclass
class Settings:
    hosts: int
    host_cores: int = 16
    host_memory_mb: int = 256 * 1024
    cpu_ratio: float = 4.0
    audit_interval: int = 900
    warmup_days: float = 7.0
    days: float = None
    """Days replayed after the warm-up (None: to the end)."""
    reactive_strategies: tuple = ('workload_balance', 'basic_consolidation')
    params: types.PlanParameters = dataclasses.field(
        default_factory=types.PlanParameters)
    capped_telemetry: bool = False
    """The predictive policy measures a throttled guest's use held at its
    cap, as a real cloud does, instead of the use the trace wanted."""


class Replay:
    def __init__(self, work, settings, policy):
        if policy not in POLICIES:
            raise exception.InvalidParameter(
                name='policy', value=policy,
                reason='choose among %s' % ', '.join(POLICIES))
        s = settings
        if s.audit_interval < work.step or s.audit_interval % work.step:
            raise exception.InvalidParameter(
                name='audit_interval', value=s.audit_interval,
                reason='a multiple of the trace step (%d s)' % work.step)
        self.work, self.s, self.policy = work, settings, policy
        self.step = work.step
        self.first = int(round(s.warmup_days * 86400 / work.step))
        total = work.cpu.shape[1]
        self.last = total if s.days is None else min(
            total, self.first + int(round(s.days * 86400 / work.step)))
        if self.first < 12 or self.last - self.first < 12:
            raise exception.InvalidParameter(
                name='warmup_days/days', value=(s.warmup_days, s.days),
                reason='the trace has %.1f days; leave at least one hour '
                       'of warm-up and one of replay' % (
                           total * work.step / 86400.0))
        built = sim_cluster.build(work.shapes, s.hosts, s.host_cores,
                                  s.host_memory_mb, order=work.ids,
                                  cpu_ratio=s.cpu_ratio,
                                  uuids={i: i for i in work.ids})
        if not built.instances:
            raise exception.InvalidParameter(
                name='hosts', value=s.hosts,
                reason='no guest fits on these hosts')
        self.cluster = built
        row = {sid: i for i, sid in enumerate(work.ids)}
        self.rows = np.array([row[i.uuid] for i in built.instances])
        self.names = [i.uuid for i in built.instances]
        self.host_names = [h.name for h in built.hosts]
        host_index = {h: k for k, h in enumerate(self.host_names)}
        self.host_of = np.array([host_index[i.host]
                                 for i in built.instances])
        self.vcpus = np.array([i.vcpus for i in built.instances], float)
        self.first_vcpus = self.vcpus.copy()
        self.memory_mb = np.array([i.memory_mb for i in built.instances],
                                  float)
        self.flavor = [i.flavor_name for i in built.instances]
        self.cpu = np.nan_to_num(work.cpu[self.rows], nan=0.0)
        # What the predictive policy measures (a copy of the trace's rows):
        # with capped_telemetry the use of throttled guests is held at
        # their caps, filled in step by step as the replay runs.
        self.measured = work.cpu[self.rows]
        self.mem_use = None if work.memory is None else np.nan_to_num(
            work.memory[self.rows], nan=0.0)
        self.disabled = set()
        self.events = []
        self.throttles = []
        self.last_migrated = {}
        self.result = dict.fromkeys(KEYS, 0)
        self.result.update(migration_cost=0.0, overload_minutes=0.0,
                           throttled_minutes=0.0, active_host_hours=0.0,
                           resize_capped_minutes=0.0, audits=0,
                           migrations_by_source={},
                           throttled_minutes_by_source={}, dropped_guests=len(
                               work.ids) - len(self.names))

    # -- the loop ----------------------------------------------------------

    def run(self):
        s = self.s
        every = s.audit_interval // self.step
        if self.policy == 'predictive':
            self._fit()
        for t in range(self.first, self.last):
            if (t - self.first) % every == 0:
                self.result['audits'] += 1
                if self.policy == 'predictive':
                    self._predictive(t, every)
                elif self.policy == 'reactive':
                    self._reactive(t)
            self._advance(t)
        r = self.result
        r.update(guests=len(self.names), hosts=len(self.host_names),
                 policy=self.policy, days=round(
                     (self.last - self.first) * self.step / 86400.0, 2))
        for key in ('overload_minutes', 'migration_cost',
                    'throttled_minutes', 'active_host_hours',
                    'resize_capped_minutes'):
            r[key] = round(float(r[key]), 1)
        by = r['throttled_minutes_by_source']
        r['throttled_minutes_by_source'] = {k: round(v, 1)
                                            for k, v in by.items()}
        return r

    def _advance(self, t):
        due = [e for e in self.events if e[0] <= t]
        self.events = [e for e in self.events if e[0] > t]
        for event in sorted(due, key=lambda e: e[0]):
            self._apply(t, *event[1:])
        demand = np.minimum(self.cpu[:, t], self.vcpus)
        # A guest resized below its first flavor that wants more than its
        # new one: the price of a resize predicted wrong.
        capped = (self.vcpus < self.first_vcpus) & (
            self.cpu[:, t] > self.vcpus + 1e-9)
        self.result['resize_capped_minutes'] += float(
            capped.sum()) * self.step / 60.0
        by = self.result['throttled_minutes_by_source']
        for row, begin, end, limit, source in self.throttles:
            if begin <= t < end:
                demand[row] = min(demand[row], limit)
                if self.s.capped_telemetry:
                    self.measured[row, t] = np.fmin(
                        self.measured[row, t], limit)
                self.result['throttled_minutes'] += self.step / 60.0
                by[source] = by.get(source, 0.0) + self.step / 60.0
        n = len(self.host_names)
        load = np.bincount(self.host_of, weights=demand, minlength=n)
        over = load > self.s.host_cores + 1e-9
        self.result['overload_minutes'] += float(over.sum()) * \
            self.step / 60.0
        active = np.bincount(self.host_of, minlength=n) > 0
        self.result['active_host_hours'] += float(active.sum()) * \
            self.step / 3600.0

    def _apply(self, t, kind, row, value, source):
        if kind == types.MIGRATE:
            self._migrate(t, row, value, source)
        elif kind == types.RESIZE:
            flavor = next(f for f in self.cluster.flavors
                          if f.name == value)
            self.vcpus[row] = flavor.vcpus
            self.memory_mb[row] = flavor.ram_mb
            self.flavor[row] = flavor.name
            self.result['resizes'] += 1

    def _migrate(self, t, row, destination, source):
        target = self.host_names.index(destination)
        if target == self.host_of[row]:
            return
        duration = max(1, -(-self.s.params.task_duration // self.step))
        window = self.cpu[row, t:t + duration]
        level = self.s.params.lull_cpu * self.vcpus[row]
        if window.size and np.all(window < level):
            self.result['migrations_in_lull'] += 1
        share = float(window.mean()) / self.vcpus[row] if window.size \
            else 0.0
        used = 1.0
        if self.mem_use is not None and window.size:
            used = float(self.mem_use[row, t:t + duration].mean()) / \
                self.memory_mb[row]
        self.result['migration_cost'] += float(cost_mod.migration_cost(
            self.memory_mb[row], share, used))
        self.result['migrations'] += 1
        self.last_migrated[self.names[row]] = int(
            self.work.start + t * self.step)
        by = self.result['migrations_by_source']
        by[source] = by.get(source, 0) + 1
        self.host_of[row] = target

    # -- the reactive policy -----------------------------------------------

    def _hosts(self):
        return [dict(name=h, cores=self.s.host_cores,
                     vcpu_capacity=self.s.host_cores * self.s.cpu_ratio,
                     memory_capacity=self.s.host_memory_mb,
                     disabled=h in self.disabled) for h in self.host_names]

    def _reactive(self, t):
        placement = {r: self.host_names[self.host_of[r]]
                     for r in range(len(self.names))}
        vcpus = dict(enumerate(self.vcpus.tolist()))
        memory = dict(enumerate(self.memory_mb.tolist()))
        if 'workload_balance' in self.s.reactive_strategies:
            # Period 300 s: the last step's mean, as Gnocchi gives it.
            usage = dict(enumerate(np.minimum(
                self.cpu[:, t - 1], self.vcpus).tolist()))
            move = reactive.workload_balance(
                self._hosts(), placement, usage, vcpus, memory,
                100.0 * self.s.params.host_cpu_threshold)
            if move:
                self._migrate(t, move[0], move[2], 'workload_balance')
                placement[move[0]] = move[2]
        if 'basic_consolidation' in self.s.reactive_strategies:
            period = max(1, 7200 // self.step)
            mean = np.minimum(self.cpu[:, max(0, t - period):t],
                              self.vcpus[:, None]).mean(axis=1)
            host_usage = np.bincount(self.host_of, weights=mean,
                                     minlength=len(self.host_names))
            moves, disabled = reactive.basic_consolidation(
                self._hosts(), placement, dict(zip(
                    self.host_names, host_usage.tolist())),
                dict(enumerate(mean.tolist())), vcpus, memory)
            for row, _src, dst in moves:
                self._migrate(t, row, dst, 'basic_consolidation')
            self.disabled.update(disabled)

    # -- the predictive policy ---------------------------------------------

    def _fit(self):
        p = self.s.params
        self.horizon_steps = max(1, p.horizon // self.step)
        self.models = {}
        series = {'cpu': self.measured}
        if self.work.memory is not None:
            series['memory'] = self.work.memory[self.rows]
        self.series = series
        for resource, y in series.items():
            self.models[resource] = ensemble.Ensemble(
                horizon_steps=self.horizon_steps).fit(
                    y[:, :self.first], self.work.start, self.step)
        self.seen = self.first

    def _predictive(self, t, every):
        p = self.s.params
        forecasts, peaks = {}, {}
        start = int(self.work.start + t * self.step)
        for resource, model in self.models.items():
            if t > self.seen:
                model.update(self.series[resource][:, self.seen:t])
            forecasts[resource] = base.Forecast(
                instance_ids=tuple(self.names), resource=resource,
                start=start, step=self.step, levels=base.DEFAULT_LEVELS,
                quantiles=np.maximum(model.predict(
                    self.horizon_steps, base.DEFAULT_LEVELS), 0.0),
                model=model.name, fallback=np.asarray(model.fallback_))
            peaks[resource] = model.peak(0.95)
        self.seen = t
        hosts = [types.Host(name=h, vcpus=self.s.host_cores,
                            memory_mb=self.s.host_memory_mb,
                            vcpus_allocatable=self.s.host_cores *
                            self.s.cpu_ratio, disabled=h in self.disabled)
                 for h in self.host_names]
        instances = [types.Instance(
            uuid=u, name=u, host=self.host_names[self.host_of[r]],
            vcpus=int(self.vcpus[r]), memory_mb=int(self.memory_mb[r]),
            disk_gb=40, flavor_name=self.flavor[r])
            for r, u in enumerate(self.names)]
        back = max(0, t - max(p.collision_window, p.separation_window)
                   // self.step)
        measured = np.nan_to_num(self.measured[:, back:t], nan=0.0)
        history = {u: measured[r] for r, u in enumerate(self.names)}
        plan = engine_mod.AnticipationEngine(p).plan(
            hosts, instances, forecasts, flavors=self.cluster.flavors,
            peaks=peaks, history=history,
            last_migrated=dict(self.last_migrated))
        row = {u: r for r, u in enumerate(self.names)}
        horizon_end = t + every
        for action in plan.actions:
            begin = t + (action.window_start - start) // self.step
            if begin >= horizon_end:
                continue  # planned again, from newer forecasts
            r = row[action.instance_uuid]
            if action.kind == types.MIGRATE:
                self.events.append((begin, types.MIGRATE, r,
                                    action.destination_host, action.source))
            elif action.kind == types.RESIZE:
                self.events.append((begin, types.RESIZE, r, action.flavor,
                                    action.source))
            else:
                end = t + (action.window_end - start) // self.step
                self.throttles.append((r, begin, end, action.cpu_limit,
                                       action.source))


def lull_share(result):
    if not result['migrations']:
        return None
    return round(100.0 * result['migrations_in_lull'] /
                 result['migrations'], 1)
