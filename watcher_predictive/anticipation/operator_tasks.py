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

"""Operator tasks in the queue: each in the first suitable lull of its
instance before its deadline."""

import numpy as np

from watcher_predictive.anticipation import cost as cost_mod
from watcher_predictive.anticipation.queue import _deferred
from watcher_predictive.anticipation.queue import _span
from watcher_predictive.anticipation.queue import Candidate
from watcher_predictive.anticipation import types


def operator_candidate(engine, ctx, op, flavors):
    """The first suitable lull of the instance before the deadline.

    When the deadline falls in this horizon and no lull opens before it,
    the likeliest window before the deadline is taken: an operator's
    deadline is a promise. When it falls later, the task waits for a
    later audit.
    """
    p = engine.params
    common = dict(task_id=op.id, deadline=op.deadline, reason=op.reason)
    source = types.SOURCE_OPERATOR
    uuid = op.instance_uuid
    if op.deadline <= ctx['start']:
        c = _deferred(op.kind, source, uuid, 'the deadline has passed',
                      **common)
        c.task.status = types.EXPIRED
        return c
    inst = ctx['by_uuid'].get(uuid)
    if inst is None:
        return _deferred(op.kind, source, uuid,
                         'the instance is not in the audit scope', **common)
    if op.kind not in p.actions_allowed:
        return _deferred(op.kind, source, uuid, 'the audit does not allow '
                         '%s actions' % op.kind, **common)
    windows = ctx['window_p'].get(uuid)
    last = (op.deadline - ctx['start']) // ctx['step'] - ctx['duration']
    due_here = op.deadline - ctx['start'] <= ctx['steps'] * ctx['step']
    start_step, probability, how = None, 0.0, ''
    if windows is not None and windows.size and last >= 0:
        usable = windows[:int(last) + 1]
        ok = np.flatnonzero(usable >= p.release_threshold)
        if ok.size:
            start_step = int(ok[0])
            how = 'first predicted lull before the deadline'
        elif due_here:
            start_step = int(np.argmax(usable))
            how = 'no predicted lull before the deadline; likeliest window'
        if start_step is not None:
            probability = float(usable[start_step])
    elif due_here and windows is None:
        start_step, how = 0, 'no forecast for the instance; due now'
    if start_step is None or not engine.clear(
            ctx, start_step, start_step + ctx['duration']):
        return _deferred(op.kind, source, uuid, 'no suitable lull before '
                         'the deadline in this horizon; planned at a later '
                         'audit', **common)
    start, end = _span(ctx, start_step)
    demand = ctx['demand'].get(uuid, np.full(ctx['steps'],
                                             float(inst.vcpus)))
    benefit = 1.0 + (1.0 if due_here else 0.0)
    if op.kind == types.MIGRATE:
        cost = engine.migration_cost(ctx, uuid, start_step) \
            if uuid in ctx['median'] else inst.memory_mb / 1024.0
    elif op.kind == types.RESIZE:
        cost = cost_mod.resize_cost(inst.memory_mb)
    else:
        cost = cost_mod.throttle_cost(float(demand.sum()) * ctx['step'])
    task = types.Task(
        kind=op.kind, source=source, instance_uuid=uuid, benefit=benefit,
        cost=cost, release_probability=probability,
        reason='operator task %s%s: %s (P=%.2f) %s-%s' % (
            op.id, ' (%s)' % op.reason if op.reason else '', how,
            probability, types.iso_utc(start), types.iso_utc(end)),
        target=op.flavor, cpu_needed=float(demand.max()),
        memory_mb=inst.memory_mb, deadline=op.deadline, task_id=op.id)

    def do_place():
        return _place_operator(engine, ctx, task, inst, op, start_step,
                               demand, flavors)
    return Candidate(task=task, place=do_place)


def _place_operator(engine, ctx, task, inst, op, s, demand, flavors):
    ledger = ctx['ledger']
    start, end = _span(ctx, s)
    common = dict(instance_uuid=inst.uuid, instance_name=inst.name,
                  source_host=inst.host, window_start=start,
                  window_end=end,
                  release_probability=round(task.release_probability, 4),
                  expected_benefit=round(task.benefit, 2),
                  reason=task.reason)
    if op.kind == types.MIGRATE:
        targets = [h for h in ledger.demand if h != inst.host
                   and ledger.fits(h, demand, inst.memory_mb, s, inst.vcpus)
                   and engine.may_migrate(inst.host, h)]
        if not targets:
            task.note = 'no host keeps its predicted headroom with the ' \
                        'instance on it'
            return None
        target = max(targets, key=ledger.min_headroom)
        ledger.release(inst.host, demand, inst.memory_mb, s, inst.vcpus)
        ledger.book(target, demand, inst.memory_mb, s, inst.vcpus)
        engine.count_migration(inst.host, target)
        task.target = target
        return types.PlannedAction(kind=types.MIGRATE,
                                   destination_host=target, **common)
    if op.kind == types.RESIZE:
        flavor = next((f for f in flavors if f.name == op.flavor), None)
        if flavor is None:
            task.note = 'flavor %r is not known to Nova' % op.flavor
            return None
        grow = flavor.vcpus - inst.vcpus
        more_memory = flavor.ram_mb - inst.memory_mb
        host = inst.host
        if grow > 0 and ledger.allocated.get(host, 0) + grow > \
                ledger.allocatable.get(host, 0) or more_memory > 0 and \
                ledger.memory.get(host, 0) + more_memory > \
                ledger.memory_capacity.get(host, 0):
            task.note = 'host %s cannot allocate flavor %s' % (host,
                                                               flavor.name)
            return None
        ledger.book(host, np.zeros(ctx['steps']), more_memory, s, grow)
        return types.PlannedAction(kind=types.RESIZE, flavor=flavor.name,
                                   **common)
    usual = float(np.median(ctx['median'][inst.uuid])) \
        if inst.uuid in ctx['median'] else 0.1 * inst.vcpus
    limit = max(round(usual, 2), 0.1)
    end = min(op.deadline, int(ctx['start'] + ctx['steps'] * ctx['step']))
    capped = np.minimum(demand, limit)
    ledger.release(inst.host, (demand - capped), 0.0, s)
    common.update(window_end=max(end, start + ctx['step']))
    return types.PlannedAction(kind=types.THROTTLE, cpu_limit=limit,
                               **common)
