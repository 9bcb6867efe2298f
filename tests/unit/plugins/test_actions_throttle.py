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

"""The throttle action and its drivers, with the plugin's real tables on
SQLite."""

import datetime
import os
import sys
from unittest import mock

import fixtures
import jsonschema
from watcher.common import exception as watcher_exception
from watcher.common import nova_helper
from watcher.tests.unit import base

from watcher_predictive import exception
from watcher_predictive.plugins.actions import drivers
from watcher_predictive.plugins.actions.drivers import base as driver_base
from watcher_predictive.plugins.actions.drivers import libvirt_driver
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


class RecordingDriver(driver_base.ThrottleDriver):
    """A driver that keeps the guest's limits in a dict, as a hypervisor
    would, and can be told to fail.
    """

    name = 'recording'

    def __init__(self, current=None, fail_apply=None, fail_restore=None):
        self.current = dict(current or {'cpu_limit': None})
        self.calls = []
        self.fail_apply = fail_apply
        self.fail_restore = fail_restore
        self.closed = 0

    def apply(self, instance_uuid, host, limits, *, window_end=None):
        self.calls.append(('apply', instance_uuid, host, limits.cpu_limit))
        if self.fail_apply:
            raise driver_base.ThrottleApplyFailed(
                instance=instance_uuid, host=host, reason=self.fail_apply)
        previous = dict(self.current)
        self.current = {'cpu_limit': limits.cpu_limit}
        return previous

    def restore(self, instance_uuid, host, previous):
        self.calls.append(('restore', instance_uuid, host, previous))
        if self.fail_restore:
            raise driver_base.ThrottleRestoreFailed(
                instance=instance_uuid, host=host, reason=self.fail_restore)
        self.current = dict(previous)

    def close(self):
        self.closed += 1


class StoreFixture(fixtures.Fixture):
    """A migrated SQLite database, set as [watcher_predictive] connection.
    """

    def _setUp(self):
        folder = self.useFixture(fixtures.TempDir()).path
        self.url = 'sqlite:///' + os.path.join(folder, 'watcher.sqlite')
        migration.upgrade(self.url)
        self.store = storage.Store(self.url)
        self.addCleanup(self.store.dispose)


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
             'disk_bytes_sec', 'disk_iops_sec', 'window_start',
             'window_end', 'release_probability', 'expected_benefit',
             'reason'}, set(schema['properties']))

    def test_valid(self):
        self.assertTrue(throttle.Throttle.validate_parameters(PARAMS))
        self.assertTrue(throttle.Throttle.validate_parameters(
            dict(PARAMS, disk_bytes_sec=10 ** 7, disk_iops_sec=0)))

    def test_rejects(self):
        for params, name in [
                (dict(PARAMS, cpu_limit=0), 'cpu_limit'),
                (dict(PARAMS, cpu_limit=-1.0), 'cpu_limit'),
                (dict(PARAMS, cpu_limit='2'), 'cpu_limit'),
                (dict(PARAMS, disk_bytes_sec=-1), 'disk_bytes_sec'),
                (dict(PARAMS, disk_iops_sec=1.5), 'disk_iops_sec'),
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

    def test_limits_refuse_nonsense(self):
        self.assertRaises(exception.InvalidParameter,
                          driver_base.ThrottleLimits, 0)
        self.assertRaises(exception.InvalidParameter,
                          driver_base.ThrottleLimits, 1.0, disk_iops_sec=-3)
        self.assertEqual({'cpu_limit': 1.0, 'disk_bytes_sec': 5,
                          'disk_iops_sec': 0},
                         driver_base.ThrottleLimits(1.0, 5).as_dict())


class TestThrottleAction(base.TestCase):

    def setUp(self):
        super().setUp()
        self.nova = mock.Mock(spec=nova_helper.NovaHelper)
        self.nova.find_instance.return_value = mock.Mock(
            host='compute-1', status='ACTIVE')
        self.useFixture(fixtures.MockPatchObject(
            nova_helper, 'NovaHelper', return_value=self.nova))
        db = self.useFixture(StoreFixture())
        self.store = db.store
        self.flags(connection=db.url, group='watcher_predictive')
        self.action = throttle.Throttle(mock.Mock(), osc=mock.Mock())
        self.action.input_parameters = dict(PARAMS)
        self.now = T_START + 10
        self.sleeps = []
        self.action.clock = lambda: self.now
        self.action.sleep = self.sleep

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def test_apply_then_revert_with_the_noop_driver(self):
        self.action.pre_condition()
        self.assertIs(True, self.action.execute())
        [row] = self.store.applied_throttles(INSTANCE)
        self.assertEqual(
            ({'cpu_limit': 1.5, 'disk_bytes_sec': 0, 'disk_iops_sec': 0},
             {}, 'noop', 'compute-1', int(T_END)),
            (row.limits, row.previous, row.driver, row.host,
             row.window_end))
        self.assertEqual(row.id, self.action.throttle_id)
        self.assertTrue(self.action.revert())
        self.assertEqual([], self.store.applied_throttles(INSTANCE))
        # Reverting again changes nothing.
        self.assertTrue(self.action.revert())

    def test_revert_restores_exactly_what_was_replaced(self):
        driver = RecordingDriver(current={'cpu_limit': 3.0, 'x': 7})
        self.action.driver = driver
        self.action.execute()
        self.assertEqual({'cpu_limit': 1.5}, driver.current)
        self.assertEqual({'cpu_limit': 3.0, 'x': 7},
                         self.store.applied_throttles(INSTANCE)[0].previous)
        self.action.revert()
        self.assertEqual({'cpu_limit': 3.0, 'x': 7}, driver.current)
        self.assertEqual(['apply', 'restore'], [c[0] for c in driver.calls])

    def test_disk_limits_reach_the_driver(self):
        self.action.input_parameters = dict(PARAMS, disk_bytes_sec=1000,
                                            disk_iops_sec=50)
        self.action.execute()
        [row] = self.store.applied_throttles(INSTANCE)
        self.assertEqual({'cpu_limit': 1.5, 'disk_bytes_sec': 1000,
                          'disk_iops_sec': 50}, row.limits)

    def test_unrecorded_throttle_is_lifted_again(self):
        driver = RecordingDriver(current={'cpu_limit': 4.0})
        self.action.driver = driver
        self.store.dispose()
        # Tables gone: recording fails for real.
        migration.downgrade(self.store.safe_url, 'base')
        e = self.assertRaises(watcher_exception.ActionExecutionFailure,
                              self.action.execute)
        self.assertIn('could not be recorded', str(e))
        self.assertIn('the throttle was lifted again', str(e))
        self.assertEqual({'cpu_limit': 4.0}, driver.current)
        self.assertIsNone(self.action.throttle_id)

    def test_unrecorded_throttle_that_cannot_be_lifted_says_so(self):
        driver = RecordingDriver(current={'cpu_limit': 4.0},
                                 fail_restore='host went away')
        self.action.driver = driver
        migration.downgrade(self.store.safe_url, 'base')
        e = self.assertRaises(watcher_exception.ActionExecutionFailure,
                              self.action.execute)
        self.assertIn('host went away', str(e))
        self.assertIn("previous values {'cpu_limit': 4.0}", str(e))

    def test_driver_failure_fails_the_action_with_its_reason(self):
        driver = RecordingDriver(fail_apply='quota refused')
        self.action.driver = driver
        e = self.assertRaises(watcher_exception.ActionExecutionFailure,
                              self.action.execute)
        self.assertIn('quota refused', str(e))
        self.assertIsNone(self.action.throttle_id)
        self.assertEqual([], self.store.applied_throttles(INSTANCE))
        self.assertEqual(1, driver.closed)

    def test_revert_without_apply_does_nothing(self):
        self.action.driver = driver = RecordingDriver()
        self.assertTrue(self.action.revert())
        self.assertEqual([], driver.calls)

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

    def test_driver_comes_from_the_config(self):
        self.flags(throttle_driver='noop', group='watcher_predictive')
        self.assertIsInstance(self.action._get_driver(),
                              noop.NoopThrottleDriver)


class TestDrivers(base.TestCase):

    def test_unknown_driver(self):
        e = self.assertRaises(driver_base.UnknownThrottleDriver,
                              drivers.get_driver, 'xen')
        self.assertIn("'xen'", str(e))
        self.assertIn('libvirt, noop', str(e))

    def test_missing_libvirt_package_is_named(self):
        # None in sys.modules makes the import fail as when absent.
        with mock.patch.dict(sys.modules, {'libvirt': None}):
            e = self.assertRaises(driver_base.DriverDependencyMissing,
                                  drivers.get_driver, 'libvirt')
        self.assertIn('pip install libvirt-python', str(e))
        self.assertIn('throttle_driver = noop', str(e))

    def test_noop_driver_changes_and_restores_nothing(self):
        driver = noop.NoopThrottleDriver()
        self.assertEqual({}, driver.apply(
            INSTANCE, 'compute-1', driver_base.ThrottleLimits(2.0)))
        driver.restore(INSTANCE, 'compute-1', {})
        # What earlier versions recorded is lifted the same way.
        self.assertIsNone(driver.restore(INSTANCE, 'compute-1', {
            'cpu_limit': None, 'throttle_id': 3}))

    def test_libvirt_driver_options(self):
        self.flags(libvirt_uri_template='qemu+ssh://nova@{host}/system',
                   libvirt_timeout=7, libvirt_cpu_period=50000,
                   group='watcher_predictive')
        driver = libvirt_driver.LibvirtThrottleDriver(
            libvirt_module=mock.sentinel.libvirt)
        self.assertEqual('qemu+ssh://nova@compute-1/system',
                         driver.uri('compute-1'))
        self.assertEqual((7, 50000), (driver.timeout, driver.cpu_period))
        driver.uri_template = 'qemu+tls://{hostname}/system'
        e = self.assertRaises(driver_base.ThrottleApplyFailed, driver.uri,
                              'compute-1')
        self.assertIn('the only field is {host}', str(e))
