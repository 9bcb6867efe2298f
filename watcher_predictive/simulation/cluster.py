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

"""A simulated cluster for the demo and for replays: real traced guests
placed on simulated hosts.

Pure: it returns the engine's plain types; the demo turns them into
Watcher's cluster data model.
"""

import dataclasses
import uuid as uuid_mod

from watcher_predictive.anticipation import types
from watcher_predictive import exception

# Namespace of the instance UUIDs derived from trace series names, so that
# the same trace always gives the same instances.
UUID_NAMESPACE = uuid_mod.UUID('6f1c9a52-3b7e-4d8a-9c61-2f4e8b0d7a13')


def _catalog():
    """A general-purpose flavor family: 1 to 32 vCPUs with 2, 4 or 8 GiB
    per vCPU, all with the same 40 GB root disk (so that a resize down
    never has to shrink a disk, which Nova refuses).
    """
    flavors = []
    for vcpus in (1, 2, 4, 8, 16, 32):
        for per_vcpu, family in ((2, 'c'), (4, 'g'), (8, 'm')):
            name = '%s1.%dx%d' % (family, vcpus, vcpus * per_vcpu)
            flavors.append(types.Flavor(str(len(flavors) + 1), name, vcpus,
                                        vcpus * per_vcpu * 1024, 40))
    return tuple(flavors)


STANDARD_FLAVORS = _catalog()


@dataclasses.dataclass
class SimulatedCluster:
    hosts: list
    instances: list
    flavors: list
    series: dict
    """Instance uuid -> trace series id."""


def instance_uuid(series_id):
    return str(uuid_mod.uuid5(UUID_NAMESPACE, str(series_id)))


def _flavor_for(vcpus, memory_mb, flavors):
    """The flavor of a traced guest: the smallest that holds its shape, or
    a new one of exactly its shape.
    """
    fitting = [f for f in flavors
               if f.vcpus >= vcpus and f.ram_mb >= memory_mb]
    if fitting:
        return min(fitting, key=lambda f: (f.vcpus, f.ram_mb))
    flavor = types.Flavor(str(100 + len(flavors)),
                          'x1.%dx%d' % (vcpus, -(-memory_mb // 1024)),
                          vcpus, memory_mb, 40)
    flavors.append(flavor)
    return flavor


def build(shapes, n_hosts, host_vcpus, host_memory_mb, order=None,
          cpu_ratio=1.0, uuids=None):
    """Place traced guests on ``n_hosts`` identical hosts.

    :param shapes: series id -> ``{'vcpus': int, 'memory_mb': int}``
    :param host_vcpus: physical cores of a host
    :param order: series ids in placement order (default: sorted ids);
        each goes to the first host with room for its flavor.
    :param cpu_ratio: vCPU allocation ratio, as Nova's
        ``cpu_allocation_ratio``
    :param uuids: series id -> instance uuid, for guests that already have
        one (default: derived from the series id)
    """
    if n_hosts < 1 or host_vcpus <= 0 or host_memory_mb <= 0:
        raise exception.InvalidParameter(
            name='hosts', value=(n_hosts, host_vcpus, host_memory_mb),
            reason='at least one host with positive vCPUs and memory')
    flavors = list(STANDARD_FLAVORS)
    allocatable = host_vcpus * cpu_ratio
    hosts = [types.Host(name='sim-compute-%d' % (i + 1), vcpus=host_vcpus,
                        memory_mb=host_memory_mb,
                        vcpus_allocatable=allocatable)
             for i in range(n_hosts)]
    used = {h.name: [0, 0] for h in hosts}
    instances = []
    series = {}
    for series_id in order or sorted(shapes):
        shape = shapes[series_id]
        flavor = _flavor_for(max(1, int(shape['vcpus'])),
                             max(512, int(shape['memory_mb'])), flavors)
        host = next((h for h in hosts
                     if used[h.name][0] + flavor.vcpus <= allocatable
                     and used[h.name][1] + flavor.ram_mb <= host_memory_mb),
                    None)
        if host is None:
            continue
        used[host.name][0] += flavor.vcpus
        used[host.name][1] += flavor.ram_mb
        uuid = (uuids or {}).get(series_id) or instance_uuid(series_id)
        series[uuid] = series_id
        instances.append(types.Instance(
            uuid=uuid, name='vm-%s' % series_id, host=host.name,
            vcpus=flavor.vcpus, memory_mb=flavor.ram_mb,
            disk_gb=flavor.disk_gb, flavor_name=flavor.name))
    return SimulatedCluster(hosts=hosts, instances=instances,
                            flavors=flavors, series=series)


def pick_mixed(history, n, until=None):
    """``n`` series spread evenly over the range of mean CPU use (before
    ``until``), so that a demo cluster holds busy and idle guests alike.
    """
    import numpy as np
    cpu = history.values['cpu']
    if until is not None:
        cpu = cpu[:, :max(1, (until - history.start) // history.step)]
    with np.errstate(all='ignore'):
        mean = np.where(np.all(np.isnan(cpu), axis=1), -1.0,
                        np.nan_to_num(np.nanmean(cpu, axis=1), nan=-1.0))
    order = np.argsort(-mean, kind='stable')
    order = order[mean[order] >= 0]
    if n >= len(order):
        return [history.instance_ids[i] for i in order]
    picks = np.unique(np.linspace(0, len(order) - 1, n).round().astype(int))
    return [history.instance_ids[i] for i in order[picks]]
