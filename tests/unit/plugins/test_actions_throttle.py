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

"""The throttle action and its drivers."""

import dataclasses
import datetime
import os
import tempfile
from unittest import mock

import fixtures
import jsonschema
from watcher.common import exception as watcher_exception
from watcher.common import nova_helper
from watcher.tests.unit import base

from watcher_predictive import exception
from watcher_predictive.plugins.actions import drivers
from watcher_predictive.plugins.actions.drivers import base as driver_base
from watcher_predictive.plugins.actions.drivers import noop
from watcher_predictive.plugins.actions import throttle
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration

INSTANCE = '6f1f6c2e-9a5b-4a8e-8a51-0c6f4bdfb3a1'
T_START = datetime.datetime(2026, 11, 25, 10, 5,
                            tzinfo=datetime.timezone.utc).timestamp()
T_END = T_START + 1800
PARAMS = {
    'resource_id': INSTANCE,
    'resource_name': 'vm-1',
    'host': 'compute-1',
    'cpu_limit': 1.5,
    'window_start': '2026-11-25T10:05:00Z',
    'window_end': '2026-11-25T10:35:00Z',
    'release_probability': 0.4,
    'expected_benefit': 900.0,
    'reason': 'vm-1 predicted to burst while compute-1 is overloaded',
}


@dataclasses.dataclass
class FakeThrottle:
    id: int
    instance_uuid: str
    host: str
    driver: str
    limits: dict
    previous: dict
    state: str
    window_end: int


class FakeStore:
    """The throttle methods of storage.api.Store, in memory."""

    def __init__(self, fail=False):
        self.rows = []
        self.fail = fail

    def _check(self):
        if self.fail:
            raise exception.StorageError(reason='database is down')

    def record_throttle(self, instance_uuid, host, driver, limits, previous,
                        action_uuid=None, window_end=None):
        self._check()
        self.rows.append(FakeThrottle(len(self.rows) + 1, instance_uuid, host,
                                      driver, limits, previous, 'applied',
                                      window_end))
        return self.rows[-1].id

    def active_throttle(self, instance_uuid):
        self._check()
        active = [r for r in self.rows if r.instance_uuid == instance_uuid
                  and r.state == 'applied']
        return active[-1] if active else None

    def mark_throttle_reverted(self, throttle_id):
        self._check()
        self.rows[throttle_id - 1].state = 'reverted'


class TestSchema(base.TestCase):

    def test_schema_is_valid_and_strict(self):
        schema = throttle.Throttle.SCHEMA
        jsonschema.validators.validator_for(schema).check_schema(schema)
        self.assertIs(False, schema['additionalProperties'])
        self.assertEqual(
            ['cpu_limit', 'host', 'resource_id', 'window_end',
             'window_start'], schema['required'])
        self.assertEqual(
            {'resource_id', 'resource_name', 'host', 'cpu_limit',
             'window_start', 'window_end', 'release_probability',
             'expected_benefit', 'reason'}, set(schema['properties']))

    def test_valid(self):
        self.assertTrue(throttle.Throttle.validate_parameters(PARAMS))

    def test_rejects(self):
        for params, name in [
                (dict(PARAMS, cpu_limit=0), 'cpu_limit'),
                (dict(PARAMS, cpu_limit=-1.0), 'cpu_limit'),
                (dict(PARAMS, cpu_limit='2'), 'cpu_limit'),
                (dict(PARAMS, host=''), 'host'),
                (dict(PARAMS, flavor='m1.small'), 'flavor'),
                (dict(PARAMS, resource_id='not-a-uuid'), 'resource_id'),
                (dict(PARAMS, release_probability=-0.1),
                 'release_probability'),
                ({k: v for k, v in PARAMS.items() if k != 'host'}, 'host'),
                (dict(PARAMS, window_end='2026-11-25T09:00:00Z'),
                 'window_end')]:
            e = self.assertRaises(exception.ActionParameterError,
                                  throttle.Throttle.validate_parameters,
                                  params)
            self.assertEqual(name, e.kwargs['name'], str(e))
            self.assertIn('throttle has an invalid parameter %s=' % name,
                          str(e))


class TestThrottleAction(base.TestCase):

    def setUp(self):
        super().setUp()
        self.nova = mock.Mock(spec=nova_helper.NovaHelper)
        self.nova.find_instance.return_value = mock.Mock(
            host='compute-1', status='ACTIVE')
        self.useFixture(fixtures.MockPatchObject(
            nova_helper, 'NovaHelper', return_value=self.nova))
        self.store = FakeStore()
        self.action = throttle.Throttle(mock.Mock(), osc=mock.Mock())
        self.action.input_parameters = dict(PARAMS)
        self.action.driver = noop.NoopThrottleDriver(store=self.store)
        self.now = T_START + 10
        self.sleeps = []
        self.action.clock = lambda: self.now
        self.action.sleep = self.sleep

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def test_apply_then_revert(self):
        self.action.pre_condition()
        self.assertIs(True, self.action.execute())
        self.assertEqual(1, len(self.store.rows))
        row = self.store.rows[0]
        self.assertEqual(({'cpu_limit': 1.5}, {'cpu_limit': None}, 'noop',
                          'compute-1', int(T_END), 'applied'),
                         (row.limits, row.previous, row.driver, row.host,
                          row.window_end, row.state))
        self.assertIs(row, self.store.active_throttle(INSTANCE))
        self.assertTrue(self.action.revert())
        self.assertEqual('reverted', row.state)
        self.assertIsNone(self.store.active_throttle(INSTANCE))
        # Reverting again changes nothing.
        self.assertTrue(self.action.revert())

    def test_stacked_throttle_restores_the_earlier_one(self):
        first = self.store.record_throttle(INSTANCE, 'compute-1', 'noop',
                                           {'cpu_limit': 3.0},
                                           {'cpu_limit': None})
        self.assertIs(True, self.action.execute())
        self.assertEqual({'cpu_limit': 3.0}, self.store.rows[1].previous)
        self.action.revert()
        self.assertEqual(first, self.store.active_throttle(INSTANCE).id)

    def test_revert_without_apply_does_nothing(self):
        self.assertTrue(self.action.revert())
        self.assertEqual([], self.store.rows)

    def test_passed_window_is_skipped(self):
        self.now = T_END + 60
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              self.action.pre_condition)
        self.assertIn('skipped rather than executed late', str(e))
        self.nova.find_instance.assert_not_called()

    def test_early_waits_for_window_start(self):
        self.flags(window_poll_interval=120, group='watcher_predictive')
        self.now = T_START - 300
        self.action.pre_condition()
        self.assertEqual([120, 120, 60], self.sleeps)
        self.nova.find_instance.assert_called_once_with(INSTANCE)

    def test_gone_instance_is_skipped(self):
        self.nova.find_instance.side_effect = \
            watcher_exception.ComputeResourceNotFound('gone')
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              self.action.pre_condition)
        self.assertIn('%s not found' % INSTANCE, str(e))

    def test_moved_or_stopped_instance_is_skipped(self):
        self.nova.find_instance.return_value = mock.Mock(
            host='compute-2', status='ACTIVE')
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              self.action.pre_condition)
        self.assertIn('compute-2', str(e))
        self.nova.find_instance.return_value = mock.Mock(
            host='compute-1', status='SHUTOFF')
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              self.action.pre_condition)
        self.assertIn('SHUTOFF', str(e))

    def test_driver_failure_fails_the_action_with_its_reason(self):
        self.store.fail = True
        e = self.assertRaises(watcher_exception.ActionExecutionFailure,
                              self.action.execute)
        self.assertIn('database is down', str(e))
        self.assertIsNone(self.action.previous)

    def test_driver_comes_from_the_config(self):
        self.action.driver = None
        self.flags(throttle_driver='noop', group='watcher_predictive')
        self.assertIsInstance(self.action._get_driver(),
                              noop.NoopThrottleDriver)


class TestDrivers(base.TestCase):

    def test_unknown_driver(self):
        e = self.assertRaises(driver_base.UnknownThrottleDriver,
                              drivers.get_driver, 'libvirt')
        self.assertIn("'libvirt'", str(e))
        self.assertIn('noop', str(e))

    def test_restore_failures(self):
        driver = noop.NoopThrottleDriver(store=FakeStore())
        self.assertRaises(driver_base.ThrottleRestoreFailed, driver.restore,
                          INSTANCE, 'compute-1', {'cpu_limit': None})
        driver = noop.NoopThrottleDriver(store=FakeStore(fail=True))
        e = self.assertRaises(driver_base.ThrottleRestoreFailed,
                              driver.restore, INSTANCE, 'compute-1',
                              {'cpu_limit': None, 'throttle_id': 1})
        self.assertIsInstance(e, exception.ThrottleError)
        self.assertRaises(driver_base.ThrottleApplyFailed, driver.apply,
                          INSTANCE, 'compute-1', 2.0)

    def test_noop_driver_with_the_plugin_tables(self):
        with tempfile.TemporaryDirectory() as tmp:
            url = 'sqlite:///' + os.path.join(tmp, 'watcher.sqlite')
            migration.upgrade(url)
            store = storage.Store(url)
            try:
                driver = noop.NoopThrottleDriver(store=store)
                previous = driver.apply(INSTANCE, 'compute-1', 2.0,
                                        window_end=int(T_END))
                active = store.active_throttle(INSTANCE)
                self.assertEqual(previous['throttle_id'], active.id)
                self.assertEqual({'cpu_limit': 2.0}, active.limits)
                self.assertEqual(int(T_END), active.window_end)
                driver.restore(INSTANCE, 'compute-1', previous)
                self.assertIsNone(store.active_throttle(INSTANCE))
            finally:
                store.dispose()
