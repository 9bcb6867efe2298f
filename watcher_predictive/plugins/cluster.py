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

"""What the engines are told about the cluster, read from Watcher's model
and from Nova."""

import datetime

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from oslo_log import log

from watcher_predictive.anticipation import types
from watcher_predictive.plugins import parameters

LOG = log.getLogger(__name__)

# Only running guests have behaviour worth profiling and can be live
# migrated or resized.
ACTIVE = 'active'


def hosts_and_instances(compute_model, default_horizon):
    """Hosts and active instances of the audit's scope.

    :returns: ``(hosts, instances, warnings)``; warnings are the per-instance
        metadata problems that were worked around.
    """
    hosts = []
    instances = []
    warnings = []
    for node in compute_model.get_all_compute_nodes().values():
        hosts.append(types.Host(
            name=node.hostname,
            vcpus=float(node.vcpus - node.vcpu_reserved),
            vcpus_allocatable=float(node.vcpu_capacity),
            memory_mb=float(node.memory_mb_capacity),
            disabled=node.status != 'enabled'))
        for inst in compute_model.get_node_instances(node):
            if inst.state != ACTIVE or inst.watcher_exclude:
                continue
            horizon, problem = parameters.instance_horizon(
                inst.metadata, default_horizon)
            if problem is not None:
                LOG.warning('Instance %s: %s', inst.uuid, problem)
                warnings.append(problem)
            instances.append(types.Instance(
                uuid=inst.uuid, name=inst.name, host=node.hostname,
                vcpus=int(inst.vcpus), memory_mb=int(inst.memory),
                disk_gb=int(inst.disk), horizon=horizon))
    return hosts, instances, warnings


def nova_flavors(nova):
    """Flavors of the cloud, as the resize planner sees them.

    :param nova: a ``watcher.common.nova_helper.NovaHelper``
    """
    return [types.Flavor(id=str(f.id), name=f.flavor_name,
                         vcpus=int(f.vcpus), ram_mb=int(f.ram),
                         disk_gb=int(f.disk))
            for f in nova.get_flavor_list()]


def recent_live_migrations(nova, since):
    """Instance uuid -> epoch seconds of its last live migration completed
    since ``since`` (epoch seconds), from Nova's migrations API.

    :param nova: a ``watcher.common.nova_helper.NovaHelper``; when Nova
        cannot list migrations the audit goes on without the cool-down
        (logged)
    """
    try:
        return _live_migrations(nova, since)
    except (sdk_exc.SDKException, ks_exc.ClientException) as exc:
        LOG.warning('Nova did not list the recent live migrations (%s); '
                    'no cool-down applies in this audit', exc)
        return {}


def _live_migrations(nova, since):
    when = datetime.datetime.fromtimestamp(since, tz=datetime.timezone.utc)
    out = {}
    for m in nova.connection.compute.migrations(
            changes_since=when.strftime('%Y-%m-%dT%H:%M:%SZ'),
            migration_type='live-migration', status='completed'):
        stamp = m.updated_at or m.created_at
        if not stamp or not m.server_id:
            continue
        done = datetime.datetime.fromisoformat(str(stamp).replace(
            'Z', '+00:00'))
        if done.tzinfo is None:
            done = done.replace(tzinfo=datetime.timezone.utc)
        out[m.server_id] = max(out.get(m.server_id, 0),
                               int(done.timestamp()))
    return out
