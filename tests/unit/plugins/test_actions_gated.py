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

"""predictive_migrate and predictive_resize: schemas, validation, gating."""

import datetime
from unittest import mock

import fixtures
import jsonschema
from watcher.applier.actions import migration
from watcher.applier.actions import resize
from watcher.common import exception as watcher_exception
from watcher.common import nova_helper
from watcher.tests.unit import base

from watcher_predictive.anticipation import types
from watcher_predictive import exception
from watcher_predictive.plugins.actions import gated

INSTANCE = '6f1f6c2e-9a5b-4a8e-8a51-0c6f4bdfb3a1'
WINDOW = {
    'window_start': '2026-11-25T10:05:00Z',
    'window_end': '2026-11-25T10:35:00Z',
    'release_probability': 0.83,
    'expected_benefit': 1200.0,
    'reason': 'vm-1 predicted idle 10:05-10:35 before compute-1 overloads',
}
T_START = datetime.datetime(2026, 11, 25, 10, 5,
                            tzinfo=datetime.timezone.utc).timestamp()
T_END = T_START + 1800
MIGRATE = dict(WINDOW, resource_id=INSTANCE, resource_name='vm-1',
               migration_type='live', source_node='compute-1',
               destination_node='compute-2')
RESIZE = dict(WINDOW, resource_id=INSTANCE, flavor='m1.small')


def without(params, name):
    params = dict(params)
    del params[name]
    return params


class FakeClock:
    def __init__(self, now):
        self.now = now
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class TestSchemas(base.TestCase):

    def assert_rejected(self, action_class, params, name, reason=None):
        e = self.assertRaises(exception.ActionParameterError,
                              action_class.validate_parameters, params)
        self.assertEqual(name, e.kwargs['name'], str(e))
        self.assertIn('parameter %s=' % name, str(e))
        self.assertIn(action_class.get_name(), str(e))
        if reason:
            self.assertIn(reason, str(e))
        return e

    def test_schemas_are_valid_and_strict(self):
        for action_class in (gated.GatedLiveMigrate, gated.GatedResize):
            schema = action_class.SCHEMA
            jsonschema.validators.validator_for(schema).check_schema(schema)
            self.assertIs(False, schema['additionalProperties'])
            self.assertIn('window_start', schema['required'])
            self.assertIn('window_end', schema['required'])
        # The parents' schemas are left as they are.
        parent = migration.Migrate(mock.Mock()).schema
        self.assertNotIn('window_start', parent['properties'])
        self.assertEqual(['live', 'cold'],
                         parent['properties']['migration_type']['enum'])

    def test_valid_parameters(self):
        self.assertTrue(gated.GatedLiveMigrate.validate_parameters(MIGRATE))
        self.assertTrue(gated.GatedResize.validate_parameters(RESIZE))
        minimal = without(without(without(RESIZE, 'reason'),
                                  'expected_benefit'), 'release_probability')
        self.assertTrue(gated.GatedResize.validate_parameters(minimal))

    def test_migrate_rejects(self):
        cls = gated.GatedLiveMigrate
        self.assert_rejected(cls, dict(MIGRATE, colour='red'), 'colour',
                             'not a parameter of this action')
        self.assert_rejected(cls, dict(MIGRATE, migration_type='cold'),
                             'migration_type')
        self.assert_rejected(cls, without(MIGRATE, 'window_end'),
                             'window_end', 'required')
        self.assert_rejected(cls, without(MIGRATE, 'destination_node'),
                             'destination_node', 'required')
        self.assert_rejected(cls, dict(MIGRATE, release_probability=1.5),
                             'release_probability')
        self.assert_rejected(cls, dict(MIGRATE, resource_id='vm-1'),
                             'resource_id')
        self.assert_rejected(cls, dict(MIGRATE, window_start='tomorrow'),
                             'window_start')
        self.assert_rejected(cls, dict(MIGRATE, expected_benefit='high'),
                             'expected_benefit')
        self.assert_rejected(cls, dict(MIGRATE, destination_node='compute-1'),
                             'destination_node', 'destination is the source')
        self.assert_rejected(
            cls, dict(MIGRATE, window_end='2026-11-25T10:00:00Z'),
            'window_end', 'must end after it starts')

    def test_resize_rejects(self):
        cls = gated.GatedResize
        self.assert_rejected(cls, dict(RESIZE, migration_type='live'),
                             'migration_type')
        self.assert_rejected(cls, dict(RESIZE, flavor=''), 'flavor')
        self.assert_rejected(cls, without(RESIZE, 'flavor'), 'flavor')
        self.assert_rejected(cls, without(RESIZE, 'window_start'),
                             'window_start')

    def test_loaded_action_reports_through_watcher(self):
        # Watcher's action factory calls validate_parameters() on the
        # loaded action; the applier shows a WatcherException's message.
        action = gated.GatedResize(mock.Mock())
        action.input_parameters = RESIZE
        self.assertTrue(action.validate_parameters())
        action.input_parameters = dict(RESIZE, flavor='')
        e = self.assertRaises(watcher_exception.Invalid,
                              action.validate_parameters)
        self.assertIn('flavor', str(e))


class GatedTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.nova = mock.Mock(spec=nova_helper.NovaHelper)
        self.useFixture(fixtures.MockPatchObject(
            nova_helper, 'NovaHelper', return_value=self.nova))

    def make(self, action_class, params, now):
        action = action_class(mock.Mock(), osc=mock.Mock())
        action.input_parameters = params
        self.clock = FakeClock(now)
        action.clock = self.clock.time
        action.sleep = self.clock.sleep
        return action


class TestGatedLiveMigrate(GatedTestCase):

    def server(self, host='compute-1', status='ACTIVE'):
        return mock.Mock(host=host, status=status)

    def test_passed_window_is_skipped_before_asking_nova(self):
        action = self.make(gated.GatedLiveMigrate, MIGRATE, T_END + 1)
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              action.pre_condition)
        self.assertIn('skipped rather than executed late', str(e))
        self.assertIn(INSTANCE, str(e))
        self.nova.find_instance.assert_not_called()

    def test_early_waits_then_runs_watchers_checks(self):
        self.flags(window_poll_interval=60, group='watcher_predictive')
        self.nova.find_instance.return_value = self.server()
        self.nova.get_compute_node_by_hostname.return_value = mock.Mock(
            status='enabled')
        action = self.make(gated.GatedLiveMigrate, MIGRATE, T_START - 150)
        action.pre_condition()
        self.assertEqual([60, 60, 30], self.clock.sleeps)
        self.nova.find_instance.assert_called_once_with(INSTANCE)
        self.nova.get_compute_node_by_hostname.assert_called_once_with(
            'compute-2')

    def test_watchers_skip_conditions_still_apply(self):
        self.nova.find_instance.return_value = self.server(host='compute-3')
        action = self.make(gated.GatedLiveMigrate, MIGRATE, T_START + 5)
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              action.pre_condition)
        self.assertIn('compute-3', str(e))

    def test_execute_returns_exactly_true(self):
        action = self.make(gated.GatedLiveMigrate, MIGRATE, T_START + 5)
        self.nova.find_instance.return_value = self.server()
        self.nova.live_migrate_instance.return_value = True
        self.assertIs(True, action.execute())
        self.nova.live_migrate_instance.assert_called_once_with(
            instance_id=INSTANCE, dest_hostname='compute-2')
        # Watcher's migrate returns None when Nova raised.
        self.nova.live_migrate_instance.side_effect = \
            watcher_exception.NovaClientError(reason='boom')
        self.assertIs(False, action.execute())

    def test_description(self):
        action = self.make(gated.GatedLiveMigrate, MIGRATE, T_START)
        self.assertIn('window', action.get_description())


class TestGatedResize(GatedTestCase):

    def test_passed_window_is_skipped(self):
        action = self.make(gated.GatedResize, RESIZE, T_END + 600)
        self.assertRaises(watcher_exception.ActionSkipped,
                          action.pre_condition)
        self.nova.find_instance.assert_not_called()

    def test_inside_window_runs_watchers_checks(self):
        action = self.make(gated.GatedResize, RESIZE, T_START + 5)
        action.pre_condition()
        self.assertEqual([], self.clock.sleeps)
        self.nova.get_flavor_id.assert_called_once_with('m1.small')

    def test_gone_server_is_skipped(self):
        self.nova.find_instance.side_effect = \
            watcher_exception.ComputeResourceNotFound('gone')
        action = self.make(gated.GatedResize, RESIZE, T_START + 5)
        self.assertRaises(watcher_exception.ActionSkipped,
                          action.pre_condition)

    def test_execute_returns_exactly_true(self):
        action = self.make(gated.GatedResize, RESIZE, T_START + 5)
        self.nova.resize_instance.return_value = True
        self.assertIs(True, action.execute())
        self.nova.resize_instance.assert_called_once_with(
            instance_id=INSTANCE, flavor='m1.small')
        self.nova.resize_instance.return_value = False
        self.assertIs(False, action.execute())
        self.assertIsInstance(action, resize.Resize)


class TestStrategyParameters(base.TestCase):
    """What the strategy puts in a plan passes the action schemas."""

    def test_every_planned_kind_validates(self):
        from watcher_predictive.plugins import strategy

        for kind in types.ACTION_KINDS:
            planned = types.PlannedAction(
                kind=kind, instance_uuid=INSTANCE, instance_name='vm-1',
                source_host='compute-1', window_start=int(T_START),
                window_end=int(T_END), release_probability=0.8,
                expected_benefit=12.5, reason='test',
                destination_host='compute-2', flavor='m1.small',
                cpu_limit=1.5)
            params = strategy.action_parameters(planned)
            _action_type, action_class = strategy.ACTION_TYPES[kind]
            self.assertTrue(action_class.validate_parameters(
                dict(params, resource_id=INSTANCE)), kind)
            self.assertEqual(WINDOW['window_start'], params['window_start'])
