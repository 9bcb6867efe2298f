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

"""The guests of the end-to-end scenario and their telemetry.

Real Bitbrains VMs (``bitbrains_rnd_2013-8``), chosen for what they make
the plugin see on two hosts of ``config.HOST_VCPUS`` usable vCPUs, with
the default audit parameters (host CPU threshold 0.8):

* compute1 holds two VMs busy at about 8.4 cores each (16.8 against a
  threshold of 12.8 cores: predicted overloaded), two VMs that are mostly
  idle but burst to 3 to 8 cores, an 8-vCPU VM that stays idle and a
  2-vCPU VM that stays idle;
* compute2 holds one busy VM and one idle 2-vCPU VM.

The idle VMs are predicted idle (release probability near 1), so the plan
holds live migrations off compute1, resizes of the oversized idle VMs and
a throttle of a bursting neighbour. The trace is cut one day before its
end (as the demo does); the three days before that point are posted to
Gnocchi as Ceilometer's compute agent would have, shifted to end now.
"""

import time

import numpy as np

from tests.functional.fixtures import gnocchi as gnocchi_fixture

FLAVORS = {
    # name -> (vCPUs, RAM MiB, disk GB); one disk size, as a resize down
    # must not shrink a disk.
    'wp.large': (8, 4096, 1),
    'wp.small': (2, 2048, 1),
    'wp.tiny': (1, 1024, 1),
}
GUESTS = [
    # (trace series, host, flavor)
    ('bitbrains-52', 'compute1', 'wp.large'),   # busy
    ('bitbrains-68', 'compute1', 'wp.large'),   # busy
    ('bitbrains-76', 'compute1', 'wp.large'),   # bursty
    ('bitbrains-81', 'compute1', 'wp.large'),   # bursty
    ('bitbrains-82', 'compute1', 'wp.large'),   # idle
    ('bitbrains-1', 'compute1', 'wp.small'),    # idle
    ('bitbrains-42', 'compute2', 'wp.large'),   # busy
    ('bitbrains-38', 'compute2', 'wp.small'),   # idle
]
HISTORY_DAYS = 3
HOLDOUT_DAYS = 1
STEP = 300
TRACE_LIMIT = 90        # the VMs above are among the trace's first 90

HOST_TYPE = {'host_name': {'type': 'string', 'min_length': 0,
                           'max_length': 255, 'required': True}}


def load_trace(path):
    """The guests' history, cut before the hold-out day."""
    from watcher_predictive.telemetry import trace
    full, _ = trace.load_bitbrains(path, limit=TRACE_LIMIT, step=STEP)
    history = full.select([g[0] for g in GUESTS])
    per_day = 86400 // STEP
    last = history.values['cpu'].shape[1] - HOLDOUT_DAYS * per_day
    return gnocchi_fixture.history_window(
        history, last - HISTORY_DAYS * per_day, HISTORY_DAYS * per_day)


def create_flavors(conn):
    flavors = {}
    for name, (vcpus, ram, disk) in FLAVORS.items():
        flavors[name] = conn.compute.create_flavor(
            name=name, vcpus=vcpus, ram=ram, disk=disk)
    return flavors


def create_image(conn):
    image = conn.image.create_image(
        name='wp-tiny', disk_format='raw', container_format='bare',
        visibility='public', data=b'\0' * 4096)
    return conn.image.wait_for_status(image, 'active', wait=60)


def boot(conn, image, flavors, name, host, flavor):
    """Boot one server on ``host`` (no network: Neutron has no driver)."""
    return conn.compute.create_server(
        name=name, image_id=image.id, flavor_id=flavors[flavor].id,
        networks='none', availability_zone='nova:%s' % host)


def boot_all(conn, image, flavors, timeout=300):
    """Boot every guest of ``GUESTS``; returns series id -> server."""
    pending = {series: boot(conn, image, flavors, 'vm-' + series, host,
                            flavor)
               for series, host, flavor in GUESTS}
    return {series: conn.compute.wait_for_server(server, wait=timeout)
            for series, server in pending.items()}


def post_telemetry(client, servers, history, end=None):
    """Post ``history`` for ``servers`` as Ceilometer would, ending now.

    Each server gets an ``instance`` resource (``cpu``, ``memory.usage``
    and, for Watcher's own strategies, ``memory.resident``), a disk and a
    network interface with their counters, and each host a ``host``
    resource with ``compute.node.cpu.percent`` and
    ``hardware.memory.used`` summed over its guests. Every metric is then
    read back with ``refresh`` so that Gnocchi aggregates what was posted.

    :returns: the offset added to the history's timestamps
    """
    end = end or int(time.time()) // STEP * STEP
    offset = int(end - history.end)
    stamps = history.timestamps().astype(float) + offset + 7
    policies = {m: p for m, (_, _, p) in gnocchi_fixture.METRICS.items()}
    try:
        client.resource_type.create({'name': 'host',
                                     'attributes': HOST_TYPE})
    except Exception:
        pass    # a second load into the same Gnocchi
    host_cpu = {}
    host_mem = {}
    for row, series in enumerate(history.instance_ids):
        server = servers[series]
        _create_instance(client, server, policies)
        rates = {'cpu': history.values['cpu'][row] * 1e9}
        for metric, (resource, share) in gnocchi_fixture.SPLIT.items():
            rates[metric] = history.values[resource][row] * share
        batch = {}
        for metric, rate in rates.items():
            ok = np.isfinite(rate)
            counter = gnocchi_fixture._counter(
                stamps[ok], rate[ok], np.zeros(int(ok.sum()), dtype=bool))
            resource_id = {'instance': server.id,
                           'disk': server.id + '-vda',
                           'nic': server.id + '-tap0'}[
                gnocchi_fixture.METRICS[metric][0]]
            batch.setdefault(resource_id, {})[metric] = \
                gnocchi_fixture._measures(stamps[ok], counter)
        memory = history.values['memory'][row]
        ok = np.isfinite(memory)
        points = gnocchi_fixture._measures(stamps[ok], memory[ok])
        batch[server.id]['memory.usage'] = points
        batch[server.id]['memory.resident'] = points
        client.metric.batch_resources_metrics_measures(batch)
        host = server.compute_host
        vcpus = np.nan_to_num(history.values['cpu'][row])
        host_cpu[host] = host_cpu.get(host, 0) + vcpus
        host_mem[host] = host_mem.get(host, 0) + np.nan_to_num(memory)
    from tests.openstack import config
    for host in host_cpu:
        client.resource.create('host', {
            'id': '%s_%s' % (host, host), 'host_name': host,
            'metrics': {'compute.node.cpu.percent': {
                'archive_policy_name': 'ceilometer-low'},
                'hardware.memory.used': {
                'archive_policy_name': 'ceilometer-low'}}})
        client.metric.batch_resources_metrics_measures({
            '%s_%s' % (host, host): {
                'compute.node.cpu.percent': gnocchi_fixture._measures(
                    stamps, 100.0 * host_cpu[host] / config.HOST_VCPUS),
                'hardware.memory.used': gnocchi_fixture._measures(
                    stamps, host_mem[host] * 1024)}})
    refresh(client)
    return offset


def _create_instance(client, server, policies):
    def metrics(kind):
        return {m: {'archive_policy_name': policies[m], 'unit': unit}
                for m, (k, unit, _) in gnocchi_fixture.METRICS.items()
                if k == kind}
    instance_metrics = metrics('instance')
    instance_metrics['memory.resident'] = {
        'archive_policy_name': 'ceilometer-low', 'unit': 'MB'}
    client.resource.create('instance', {
        'id': server.id, 'display_name': server.name,
        'host': server.compute_host, 'flavor_id': server.flavor.id or '',
        'flavor_name': server.flavor.name or server.flavor.original_name,
        'image_ref': server.image.id, 'metrics': instance_metrics})
    client.resource.create('instance_disk', {
        'id': server.id + '-vda', 'name': 'vda', 'instance_id': server.id,
        'metrics': metrics('disk')})
    client.resource.create('instance_network_interface', {
        'id': server.id + '-tap0', 'name': 'tap0',
        'instance_id': server.id, 'metrics': metrics('nic')})


def refresh(client):
    """Have Gnocchi aggregate every measure posted (no metricd runs)."""
    for resource_type in ('instance', 'instance_disk',
                          'instance_network_interface', 'host'):
        for resource in client.resource.list(resource_type=resource_type):
            for metric_id in resource['metrics'].values():
                client.metric.get_measures(metric_id, refresh=True)
