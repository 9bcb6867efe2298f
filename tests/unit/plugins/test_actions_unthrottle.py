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

"""The unthrottle action, with the plugin's real tables on SQLite."""

from unittest import mock

import fixtures
import jsonschema
from watcher.common import exception as watcher_exception
from watcher.common import nova_helper
from watcher.tests.unit import base

from tests.unit.plugins import test_actions_throttle as throttle_tests
from watcher_predictive.plugins.actions import unthrottle

INSTANCE = throttle_tests.INSTANCE
T_END = int(throttle_tests.T_END)
PARAMS = {
    'resource_id': INSTANCE,
    'resource_name': 'vm-1',
    'host': 'compute-1',
    'window_start': '2026-11-25T10:35:00Z',
    'window_end': '2026-11-26T10:35:00Z',
    'release_probability': 0.4,
    'expected_benefit': 0.0,
    'reason': 'Lift the throttle of vm-1 planned until 10:35.',
}


class TestDueThrottles(base.TestCase):

    def test_stops_at_the_first_not_due(self):
        rows = [mock.Mock(id=3, window_end=200), mock.Mock(id=2,
                                                           window_end=100),
                mock.Mock(id=1, window_end=None)]
        self.assertEqual([3, 2, 1],
                         [r.id for r in unthrottle.due_throttles(rows, 200)])
        self.assertEqual([], unthrottle.due_throttles(rows, 150))
        self.assertEqual([2, 1], [r.id for r in unthrottle.due_throttles(
            rows[1:], 150)])


class TestUnthrottle(base.TestCase):

    def setUp(self):
        super().setUp()
        self.nova = mock.Mock(spec=nova_helper.NovaHelper)
        self.nova.find_instance.return_value = mock.Mock(
            host='compute-1', status='ACTIVE')
        self.useFixture(fixtures.MockPatchObject(
            nova_helper, 'NovaHelper', return_value=self.nova))
        db = self.useFixture(throttle_tests.StoreFixture())
        self.store = db.store
        self.flags(connection=db.url, group='watcher_predictive')
        self.driver = throttle_tests.RecordingDriver(
            current={'cpu_limit': 1.0})
        self.action = unthrottle.Unthrottle(mock.Mock(), osc=mock.Mock())
        self.action.input_parameters = dict(PARAMS)
        self.action.get_driver = self.get_driver
        self.action.clock = lambda: T_END + 5
        self.action.sleep = lambda s: None

    def get_driver(self, name):
        self.assertEqual('recording', name)
        return self.driver

    def record(self, previous, window_end=T_END, host='compute-1'):
        return self.store.record_throttle(INSTANCE, host, 'recording',
                                          {'cpu_limit': 1.0}, previous,
                                          window_end=window_end)

    def test_schema(self):
        schema = unthrottle.Unthrottle.SCHEMA
        jsonschema.validators.validator_for(schema).check_schema(schema)
        self.assertTrue(unthrottle.Unthrottle.validate_parameters(PARAMS))
        self.assertEqual('unthrottle', unthrottle.Unthrottle.get_name())

    def test_lifts_the_stack_newest_first(self):
        first = self.record({'cpu_limit': None}, window_end=T_END - 600)
        second = self.record({'cpu_limit': 2.0})
        self.action.pre_condition()
        self.assertIs(True, self.action.execute())
        self.assertEqual(
            [('restore', INSTANCE, 'compute-1', {'cpu_limit': 2.0}),
             ('restore', INSTANCE, 'compute-1', {'cpu_limit': None})],
            self.driver.calls)
        self.assertEqual({'cpu_limit': None}, self.driver.current)
        self.assertEqual([], self.store.applied_throttles(INSTANCE))
        self.assertLess(first, second)

    def test_later_throttle_keeps_the_guest_capped(self):
        self.record({'cpu_limit': None})
        self.record({'cpu_limit': 1.0}, window_end=T_END + 3600)
        self.action.pre_condition()
        self.action.execute()
        self.assertEqual([], self.driver.calls)
        self.assertEqual(2, len(self.store.applied_throttles(INSTANCE)))

    def test_nothing_to_lift_is_skipped(self):
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              self.action.pre_condition)
        self.assertIn('no throttle applied', str(e))

    def test_gone_instance_forgets_its_throttles(self):
        self.record({'cpu_limit': None})
        self.nova.find_instance.side_effect = \
            watcher_exception.ComputeResourceNotFound('gone')
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              self.action.pre_condition)
        self.assertIn('marked lifted', str(e))
        self.assertEqual([], self.store.applied_throttles(INSTANCE))
        self.assertEqual([], self.driver.calls)

    def test_moved_instance_is_restored_where_it_runs(self):
        self.record({'cpu_limit': None})
        self.nova.find_instance.return_value = mock.Mock(
            host='compute-2', status='ACTIVE')
        self.action.pre_condition()
        self.action.execute()
        self.assertEqual('compute-2', self.driver.calls[0][2])

    def test_restore_failure_keeps_the_throttle_recorded(self):
        self.record({'cpu_limit': None})
        self.driver.fail_restore = 'connection refused'
        self.action.pre_condition()
        e = self.assertRaises(watcher_exception.ActionExecutionFailure,
                              self.action.execute)
        self.assertIn('connection refused', str(e))
        self.assertEqual(1, len(self.store.applied_throttles(INSTANCE)))

    def test_waits_for_its_window_and_is_never_reverted(self):
        self.action.clock = lambda: T_END + 2 * 86400
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              self.action.pre_condition)
        self.assertIn('skipped rather than executed late', str(e))
        self.assertIs(True, self.action.revert())
