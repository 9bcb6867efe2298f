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

import numpy as np
import pytest

from watcher_predictive import exception
from watcher_predictive.simulation import cluster
from watcher_predictive.simulation import generated


def test_build_places_within_allocation_and_is_deterministic():
    shapes = {'s%d' % i: {'vcpus': 4, 'memory_mb': 4096} for i in range(10)}
    sim = cluster.build(shapes, n_hosts=2, host_vcpus=8,
                        host_memory_mb=65536, cpu_ratio=2.0)
    assert len(sim.instances) == 8  # 2 hosts x 16 allocatable vCPUs
    per_host = {}
    for inst in sim.instances:
        per_host[inst.host] = per_host.get(inst.host, 0) + inst.vcpus
    assert per_host == {'sim-compute-1': 16, 'sim-compute-2': 16}
    again = cluster.build(shapes, 2, 8, 65536, cpu_ratio=2.0)
    assert [i.uuid for i in again.instances] == [
        i.uuid for i in sim.instances]
    assert sim.series[cluster.instance_uuid('s0')] == 's0'


def test_odd_shapes_get_a_flavor_of_their_own():
    sim = cluster.build({'x': {'vcpus': 12, 'memory_mb': 50000},
                         'y': {'vcpus': 3, 'memory_mb': 5000}}, 1, 16,
                        131072, cpu_ratio=2.0)
    by_name = {i.name: i for i in sim.instances}
    assert by_name['vm-y'].flavor_name == 'c1.4x8'
    # 12 vCPUs and 49 GiB: the 16-vCPU flavors hold it.
    assert by_name['vm-x'].flavor_name == 'g1.16x64'
    huge = cluster.build({'z': {'vcpus': 64, 'memory_mb': 1 << 20}}, 1, 64,
                         1 << 21)
    assert huge.instances[0].flavor_name == 'x1.64x1024'
    assert any(f.name == 'x1.64x1024' for f in huge.flavors)
    assert len({f.disk_gb for f in cluster.STANDARD_FLAVORS}) == 1


def test_pick_mixed_spans_busy_and_idle():
    hist, _ = generated.generate(n_instances=12, days=2)
    picked = cluster.pick_mixed(hist, 4)
    assert len(picked) == 4
    means = {i: float(np.nanmean(hist.values['cpu'][k]))
             for k, i in enumerate(hist.instance_ids)}
    assert picked[0] == max(means, key=means.get)
    assert picked[-1] == min(means, key=means.get)


def test_bad_hosts():
    with pytest.raises(exception.InvalidParameter, match='hosts'):
        cluster.build({}, 0, 8, 1024)


def test_generated_workload_has_cycles_and_idle_guests():
    hist, shapes = generated.generate(n_instances=8, days=3, end=3 * 86400)
    assert hist.values['cpu'].shape == (8, 864)
    assert set(shapes) == set(hist.instance_ids)
    util = hist.values['cpu'] / np.array(
        [shapes[i]['vcpus'] for i in hist.instance_ids])[:, None]
    assert util[2].max() < 0.2  # an oversized guest
    assert util[0].max() > 0.4 and util[0].min() < 0.1  # office hours
