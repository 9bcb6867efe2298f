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

"""What Watcher's own reactive strategies decide, for the replay.

The decision rules of Watcher 17's ``workload_balance`` and
``basic_consolidation`` strategies
(``watcher/decision_engine/strategy/strategies/``), reproduced step for
step on the replay's plain data, from the same current averages their
datasource gives them:

* ``workload_balance`` (metric ``instance_cpu_usage``, period 300 s): a
  host whose summed guest CPU reaches ``threshold`` % of its cores is a
  source; from the busiest source, the guest whose use comes closest to,
  without exceeding, the source's excess over the cluster's average host
  load; to the least loaded host under the threshold with free vCPUs and
  memory that stays under the threshold with the guest. At most one
  migration per audit.
* ``basic_consolidation`` (period 7200 s, ``migration_attempts`` 0):
  hosts scored by their mean CPU use; the least used host is released
  guest by guest, busiest guest first, to the first host in descending
  score order whose allocated vCPUs and memory, with the guest, stay
  within its capacity (allocation ratio included); a host left empty is
  disabled. Scores are not recomputed within the audit, as in Watcher.

Watcher disables the hosts consolidation empties and never enables them
again; ``workload_balance`` ignores disabled hosts, and so does the
replay.
"""


def workload_balance(hosts, placement, usage, vcpus, memory, threshold):
    """At most one migration: ``(instance, source, destination)`` or None.

    :param hosts: dicts with ``name``, ``cores``, ``vcpu_capacity``,
        ``memory_capacity``, ``disabled``
    :param placement: instance -> host name
    :param usage: instance -> CPU use in vCPUs (the last period's mean)
    :param threshold: percent of the host's cores
    """
    nodes = [h for h in hosts if not h['disabled']]
    if not nodes:
        return None
    load = {h['name']: 0.0 for h in nodes}
    on = {h['name']: [] for h in nodes}
    for inst, host in placement.items():
        if host in load:
            load[host] += usage.get(inst, 0.0)
            on[host].append(inst)
    util = {h['name']: load[h['name']] / h['cores'] * 100 for h in nodes}
    average = sum(load.values()) / len(nodes)
    sources = sorted((h for h in nodes if util[h['name']] >= threshold),
                     key=lambda h: -util[h['name']])
    targets = [h for h in nodes if util[h['name']] < threshold]
    if not sources or not targets:
        return None
    chosen = None
    for src in sources:
        if not on[src['name']]:
            continue
        delta = load[src['name']] - average
        best, best_delta = None, 1000000
        for inst in on[src['name']]:
            current = delta - usage.get(inst, 0.0)
            if 0 <= current < best_delta:
                best, best_delta = inst, current
        if best is not None:
            chosen = (src, best)
            break
    if chosen is None:
        return None
    src, inst = chosen
    used = _allocated(placement, vcpus, memory)
    fitting = []
    for dst in targets:
        name = dst['name']
        if dst['vcpu_capacity'] - used[name][0] < vcpus[inst]:
            continue
        if dst['memory_capacity'] - used[name][1] < memory[inst]:
            continue
        if usage.get(inst, 0.0) + load[name] < threshold / 100.0 * dst[
                'cores']:
            fitting.append(dst)
    if not fitting:
        return None
    dst = min(fitting, key=lambda h: util[h['name']])
    return inst, src['name'], dst['name']


def _allocated(placement, vcpus, memory):
    used = {}
    for inst, host in placement.items():
        cpu, mem = used.get(host, (0, 0))
        used[host] = (cpu + vcpus[inst], mem + memory[inst])
    return _Default(used)


class _Default(dict):
    def __missing__(self, key):
        return (0, 0)


def basic_consolidation(hosts, placement, host_usage, usage, vcpus, memory):
    """Migrations ``[(instance, source, destination)]`` and the hosts to
    disable, as Watcher's ``basic_consolidation`` plans them.

    :param host_usage: host -> mean CPU use over the period, in cores
    :param usage: instance -> mean CPU use over the period, in vCPUs
    """
    placement = dict(placement)
    nodes = {h['name']: h for h in hosts if not h['disabled']}
    scores = []
    for name, h in nodes.items():
        if any(p == name for p in placement.values()):
            # calculate_weight: the CPU share; disk and memory count 0.
            scores.append((name, (host_usage.get(name, 0.0) / h['cores'])
                           / 3.0))
    scores.sort(key=lambda x: x[1], reverse=True)
    moves, disabled = [], []
    while scores:
        release = scores[-1][0]
        guests = [(i, (usage.get(i, 0.0) / vcpus[i]) / 3.0)
                  for i, p in placement.items() if p == release]
        guests.sort(key=lambda x: x[1], reverse=True)
        migrated = 0
        for inst, _score in guests:
            for name, _ in scores:
                if name == release:
                    continue
                used = _allocated(placement, vcpus, memory)[name]
                dst = nodes[name]
                if (dst['vcpu_capacity'] >= used[0] + vcpus[inst] and
                        dst['memory_capacity'] >= used[1] + memory[inst]):
                    placement[inst] = name
                    moves.append((inst, release, name))
                    migrated += 1
                    if not any(p == release for p in placement.values()):
                        disabled.append(release)
                    break
        if not migrated:
            scores.pop()
    return moves, disabled
