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

"""The end-to-end scenario's workload, planned at every time of day.

``tests/openstack`` runs the plugin on a real cloud once, at whatever time
the run starts, with the guests' telemetry shifted to end at that time.
What it asserts of the plan (migrations off compute1 in predicted lulls,
resizes, a compute1 guest left alone for the operator throttle, windows
that open now or at the next step, a non-empty short plan) must hold
wherever "now" falls in the day and in its 5-minute step, and whatever
the delay between the telemetry being posted and the audit. This test
plans the same guests, on the same two hosts, with the same audit
parameters, through the real strategy and storage, at clocks spread over
a day, in process: a failure here names the clock the cloud run would
have failed at.
"""

import os
import tempfile
from unittest import mock

from watcher.decision_engine.loading import default as loading
from watcher.tests.unit import base

from tests.openstack import config
from tests.openstack import test_scenario as scenario
from tests.openstack import workload
from tests import traces
from watcher_predictive.anticipation import types
from watcher_predictive.cmd import demo
from watcher_predictive.simulation import cluster as sim_cluster
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration
from watcher_predictive.telemetry import trace

# A Thursday, 00:00:00 UTC.
DAY0 = 1_795_651_200
# Clocks over one day: 13 starting times, 1 h 51 min 7 s apart (so that
# they fall at every phase of the hour and of the 5-minute step), each
# with a delay between posting the telemetry and auditing (the cloud run
# takes one to two minutes).
CLOCKS = [DAY0 + i * 6667 for i in range(13)]
DELAYS = (0, 70, 185, 299)
SHORT_PARAMETERS = {'task_duration': 300, 'horizon': 600,
                    'actions_allowed': ['migrate', 'resize']}


def _cluster():
    flavors = [types.Flavor(str(i), name, vcpus, ram, disk)
               for i, (name, (vcpus, ram, disk))
               in enumerate(sorted(workload.FLAVORS.items()))]
    by_name = {f.name: f for f in flavors}
    hosts = [types.Host(name=name, vcpus=config.HOST_VCPUS,
                        memory_mb=config.HOST_MEMORY_MB,
                        vcpus_allocatable=4.0 * config.HOST_VCPUS)
             for name in config.COMPUTE_HOSTS]
    instances = []
    series = {}
    for series_id, host, flavor_name in workload.GUESTS:
        flavor = by_name[flavor_name]
        uuid = sim_cluster.instance_uuid(series_id)
        series[uuid] = series_id
        instances.append(types.Instance(
            uuid=uuid, name='vm-' + series_id, host=host,
            vcpus=flavor.vcpus, memory_mb=flavor.ram_mb,
            disk_gb=flavor.disk_gb, flavor_name=flavor.name))
    return sim_cluster.SimulatedCluster(hosts=hosts, instances=instances,
                                        flavors=flavors, series=series)


class TestScenarioAtEveryClock(base.TestCase):

    def setUp(self):
        super().setUp()
        path = traces.trace_path()
        if path is None:
            self.skipTest(traces.missing_message())
        self.history = workload.load_trace(path)
        self.sim = _cluster()
        self.folder = tempfile.mkdtemp(prefix='wp-scenario-clock-')

    def _audit(self, store, posted, now, parameters):
        step = workload.STEP
        # As workload.post_telemetry: the history ends at the step the
        # telemetry was posted in.
        offset = int(posted // step * step - self.history.end)
        strategy = loading.DefaultStrategyLoader().load(
            'predictive_anticipation')
        strategy.input_parameters.update(parameters)
        strategy._compute_model = demo._watcher_model(self.sim)
        strategy.telemetry = trace.TraceSource(self.history,
                                               self.sim.series, offset)
        strategy.flavors = self.sim.flavors
        strategy.store = store
        strategy.clock = lambda: now
        audit = mock.Mock(uuid='cccccccc-0000-0000-0000-%012d' % now)
        solution = strategy.execute(audit=audit)
        return solution.actions, {i['name']: i['value']
                                  for i in solution.efficacy_indicators}

    def _check(self, posted, delay):
        now = posted + delay
        url = 'sqlite:///%s' % os.path.join(self.folder, '%d.sqlite' % now)
        migration.upgrade(url)
        store = storage.Store(url)
        where = 'telemetry posted at %d, audit %d s later' % (posted, delay)
        actions, indicators = self._audit(store, posted, now,
                                          scenario.MAIN_PARAMETERS)
        kinds = {}
        for action in actions:
            kinds.setdefault(action['action_type'], []).append(
                action['input_parameters'])
        self.assertTrue(kinds.get('predictive_migrate'), (where, kinds))
        self.assertTrue(kinds.get('predictive_resize'), (where, kinds))
        for p in kinds['predictive_migrate']:
            self.assertEqual(('compute1', 'compute2'),
                             (p['source_node'], p['destination_node']),
                             where)
            self.assertGreaterEqual(p['release_probability'], 0.6, where)
        for p in kinds['predictive_migrate'] + kinds['predictive_resize']:
            start = scenario._epoch(p['window_start'])
            # The plan is started within a minute of the audit; a window
            # must open within max_window_wait of that.
            self.assertLessEqual(start, now + config.MAX_WINDOW_WAIT - 60,
                                 (where, p))
            self.assertGreater(scenario._epoch(p['window_end']), now + 60,
                               (where, p))
        self.assertEqual(len(kinds['predictive_migrate']),
                         indicators['migrations_planned'], where)
        acted = {a['input_parameters']['resource_id'] for a in actions}
        spare = [i for i in self.sim.instances
                 if i.host == 'compute1' and i.uuid not in acted]
        self.assertTrue(spare, '%s: every compute1 guest acted on' % where)

        short, _ = self._audit(store, posted, now + 60, SHORT_PARAMETERS)
        self.assertTrue(short, '%s: the short plan is empty' % where)
        return {k: len(v) for k, v in kinds.items()}

    def test_plan_holds_at_every_clock(self):
        plans = {}
        for i, posted in enumerate(CLOCKS):
            delay = DELAYS[i % len(DELAYS)]
            plans[(posted - DAY0, delay)] = self._check(posted, delay)
        # Every clock was planned, each with its own telemetry offset.
        self.assertEqual(len(CLOCKS), len(plans))
