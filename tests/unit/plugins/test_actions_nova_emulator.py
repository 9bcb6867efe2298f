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

"""The gated actions through Watcher's Nova code, against its emulator.

Live migration is served by Watcher's Nova API emulator; resize by the
stand-in in ``tests/functional/fixtures/nova_resize.py``. Everything runs
in process (wsgi-intercept): no network.
"""

import datetime
import os
from unittest import mock

import fixtures

from watcher.common import exception as watcher_exception
from watcher.common import nova_helper
from watcher.tests.functional import topology
from watcher.tests.local_fixtures import nova as nova_fixture
from watcher.tests.unit import base

from tests.functional.fixtures import nova_resize
from watcher_predictive.plugins.actions import gated
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration

VM_1 = '6f1f6c2e-9a5b-4a8e-8a51-0c6f4bdfb3a1'
VM_2 = '0b7f3a44-2f4e-4d8e-9c1a-5a2f0f8e6d10'
T_START = datetime.datetime(2026, 11, 25, 10, 5,
                            tzinfo=datetime.timezone.utc).timestamp()
WINDOW = {'window_start': '2026-11-25T10:05:00Z',
          'window_end': '2026-11-25T10:35:00Z',
          'release_probability': 0.9, 'expected_benefit': 4.0,
          'reason': 'test'}
TOPOLOGY = topology.ComputeTopology(
    compute_nodes=[topology.ComputeNode(hostname='compute-1'),
                   topology.ComputeNode(hostname='compute-2')],
    instances=[topology.Instance(uuid=VM_1, name='vm-1', host='compute-1',
                                 vcpus=4, memory=8192, disk=40),
               topology.Instance(uuid=VM_2, name='vm-2', host='compute-1',
                                 vcpus=2, memory=4096, disk=20)])


class EmulatorTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.flags(migration_max_retries=5, migration_interval=0.1,
                   http_retries=1, http_retry_interval=0.1, group='nova')
        self.nova = self.useFixture(
            nova_fixture.NovaPlacementFixture(topology=TOPOLOGY))
        self.emulator = self.nova.nova_emulator

    def server(self, uuid):
        return self.emulator.servers[uuid]

    def hypervisor(self, host):
        return self.emulator._find_hypervisor_by_hostname(host)

    def action(self, action_class, **params):
        action = action_class(mock.Mock())
        action.input_parameters = dict(WINDOW, **params)
        action.clock = lambda: T_START + 60
        action.sleep = mock.Mock()
        return action


class TestResizeStandIn(EmulatorTestCase):

    def test_without_the_stand_in_the_emulator_cannot_resize(self):
        flavor = self.server(VM_2)['flavor']['id']
        self.assertRaises(watcher_exception.NovaClientError,
                          nova_helper.NovaHelper().resize_instance,
                          VM_1, flavor)
        self.assertEqual(4, self.server(VM_1)['flavor']['vcpus'])

    def test_watchers_resize_path_succeeds(self):
        resize = self.useFixture(nova_resize.NovaResizeFixture(self.emulator))
        small = resize.add_flavor('m1.small', vcpus=1, ram=2048, disk=20)
        used_before = self.hypervisor('compute-1')['vcpus_used']
        # By name, as the strategy gives it: Watcher looks the id up.
        self.assertIs(True, nova_helper.NovaHelper().resize_instance(
            VM_1, 'm1.small'))
        server = self.server(VM_1)
        self.assertEqual((small, 'm1.small', 1, 2048),
                         (server['flavor']['id'],
                          server['flavor']['original_name'],
                          server['flavor']['vcpus'], server['flavor']['ram']))
        self.assertEqual(('ACTIVE', 'active'),
                         (server['status'], server['OS-EXT-STS:vm_state']))
        self.assertEqual(used_before - 3,
                         self.hypervisor('compute-1')['vcpus_used'])
        self.assertEqual([(VM_1, mock.ANY, small)], resize.resizes)
        self.assertEqual({}, resize.pending)

    def test_states_as_nova_reports_them(self):
        resize = self.useFixture(nova_resize.NovaResizeFixture(self.emulator))
        small = resize.add_flavor('m1.small', vcpus=1, ram=2048, disk=20)
        helper = nova_helper.NovaHelper()
        helper._instance_resize(VM_1, small)
        server = helper.find_instance(VM_1)
        self.assertEqual(('VERIFY_RESIZE', 'resized', None),
                         (server.status, server.vm_state, server.task_state))
        self.assertEqual(1, server.flavor['vcpus'])
        self.assertIs(True, helper.confirm_resize(server, 'ACTIVE'))
        server = helper.find_instance(VM_1)
        self.assertEqual(('ACTIVE', 'active'),
                         (server.status, server.vm_state))
        self.assertEqual({}, resize.pending)

    def test_nova_like_refusals(self):
        resize = self.useFixture(nova_resize.NovaResizeFixture(self.emulator))
        own = self.server(VM_1)['flavor']['id']
        self.assertEqual(400, resize.resize(VM_1, {'flavorRef': own})[0])
        self.assertEqual(400, resize.resize(VM_1, {'flavorRef': 'nope'})[0])
        self.assertEqual(404, resize.resize('missing', {'flavorRef': own})[0])
        self.server(VM_1)['status'] = 'ERROR'
        other = self.server(VM_2)['flavor']['id']
        self.assertEqual(409, resize.resize(VM_1, {'flavorRef': other})[0])

    def test_cold_migration_confirm_still_reaches_the_emulator(self):
        self.useFixture(nova_resize.NovaResizeFixture(self.emulator))
        self.assertIs(True, nova_helper.NovaHelper()
                      .watcher_non_live_migrate_instance(VM_2, 'compute-2'))
        self.assertEqual('compute-2',
                         self.server(VM_2)['OS-EXT-SRV-ATTR:host'])
        self.assertEqual('ACTIVE', self.server(VM_2)['status'])


class TestGatedActionsAgainstTheEmulator(EmulatorTestCase):

    def test_predictive_resize(self):
        resize = self.useFixture(nova_resize.NovaResizeFixture(self.emulator))
        resize.add_flavor('m1.small', vcpus=1, ram=2048, disk=20)
        action = self.action(gated.GatedResize, resource_id=VM_1,
                             flavor='m1.small')
        self.assertTrue(action.validate_parameters())
        action.pre_condition()
        self.assertIs(True, action.execute())
        self.assertEqual(1, self.server(VM_1)['flavor']['vcpus'])

    def test_predictive_resize_to_a_missing_flavor_fails(self):
        self.useFixture(nova_resize.NovaResizeFixture(self.emulator))
        action = self.action(gated.GatedResize, resource_id=VM_1,
                             flavor='m1.huge')
        self.assertRaises(watcher_exception.ActionExecutionFailure,
                          action.pre_condition)

    def test_predictive_migrate(self):
        action = self.action(gated.GatedLiveMigrate, resource_id=VM_1,
                             migration_type='live', source_node='compute-1',
                             destination_node='compute-2')
        action.pre_condition()
        self.assertIs(True, action.execute())
        self.assertEqual('compute-2',
                         self.server(VM_1)['OS-EXT-SRV-ATTR:host'])
        # Watcher's own check now skips it: it left its source node.
        self.assertRaises(watcher_exception.ActionSkipped,
                          action.pre_condition)

    def _store(self):
        folder = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///%s' % os.path.join(folder, 'p.sqlite')
        migration.upgrade(url)
        return storage.Store(url)

    def test_predictive_migrate_carries_the_throttles_along(self):
        store = self._store()
        applied = store.record_throttle(VM_1, 'compute-1', 'noop',
                                        {'cpu_limit': 1.0}, {}, 'a-1')
        lifted = store.record_throttle(VM_1, 'compute-1', 'noop',
                                       {'cpu_limit': 2.0}, {}, 'a-2')
        store.mark_throttle_reverted(lifted)
        other = store.record_throttle(VM_2, 'compute-1', 'noop',
                                      {'cpu_limit': 1.0}, {}, 'a-3')
        action = self.action(gated.GatedLiveMigrate, resource_id=VM_1,
                             migration_type='live', source_node='compute-1',
                             destination_node='compute-2')
        action.store = store
        action.pre_condition()
        self.assertIs(True, action.execute())
        [row] = store.applied_throttles(VM_1)
        self.assertEqual((applied, 'compute-2'), (row.id, row.host))
        # Only the migrated guest's applied throttles moved.
        self.assertEqual('compute-1',
                         store.applied_throttles(VM_2)[0].host)
        self.assertEqual(other, store.applied_throttles(VM_2)[0].id)
        self.assertEqual(0, store.move_throttles(VM_1, 'compute-2'))

    def test_predictive_migrate_succeeds_when_the_record_fails(self):
        store = self._store()
        store.record_throttle(VM_1, 'compute-1', 'noop', {'cpu_limit': 1.0},
                              {}, 'a-1')
        store.dispose()
        # The database file is gone: the record fails for real, the
        # migration (already done by Nova) still succeeds.
        broken = storage.Store('sqlite:////nonexistent-dir/p.sqlite')
        action = self.action(gated.GatedLiveMigrate, resource_id=VM_1,
                             migration_type='live', source_node='compute-1',
                             destination_node='compute-2')
        action.store = broken
        action.pre_condition()
        with self.assertLogs(gated.LOG.logger, 'WARNING') as logs:
            self.assertIs(True, action.execute())
        self.assertEqual('compute-2',
                         self.server(VM_1)['OS-EXT-SRV-ATTR:host'])
        self.assertIn('could not be recorded there', logs.output[0])
        self.assertIn('nonexistent-dir', logs.output[0])
