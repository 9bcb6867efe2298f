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

"""Window-gated actions through Watcher's applier: skipped, not failed."""

import time
from unittest import mock

import fixtures
from watcher.applier.action_plan import default as action_plan_handler
from watcher.common import nova_helper
from watcher.common import utils
from watcher import objects
from watcher.tests.unit.db import base
from watcher.tests.unit.objects import utils as obj_utils

from tests.unit.plugins import test_actions_throttle
from watcher_predictive.plugins.actions import window

INSTANCE = test_actions_throttle.INSTANCE


def throttle_params(start, end):
    return dict(test_actions_throttle.PARAMS, window_start=window.iso(start),
                window_end=window.iso(end))


class TestApplier(base.DbTestCase):

    def setUp(self):
        super().setUp()
        for module in ('action', 'action_plan'):
            self.useFixture(fixtures.MockPatch(
                'watcher.notifications.%s' % module, autospec=True))
        self.nova = mock.Mock(spec=nova_helper.NovaHelper)
        self.nova.find_instance.return_value = mock.Mock(
            host='compute-1', status='ACTIVE')
        self.useFixture(fixtures.MockPatchObject(
            nova_helper, 'NovaHelper', return_value=self.nova))
        db = self.useFixture(test_actions_throttle.StoreFixture())
        self.store = db.store
        self.flags(connection=db.url, throttle_driver='noop',
                   group='watcher_predictive')
        obj_utils.create_test_goal(self.context)
        strategy = obj_utils.create_test_strategy(self.context)
        audit = obj_utils.create_test_audit(self.context,
                                            strategy_id=strategy.id)
        self.action_plan = obj_utils.create_test_action_plan(
            self.context, audit_id=audit.id, strategy_id=strategy.id)

    def add_action(self, params, parents=(), number=1):
        return obj_utils.create_test_action(
            self.context, id=number, uuid=utils.generate_uuid(),
            action_plan_id=self.action_plan.id, action_type='throttle',
            input_parameters=params, parents=list(parents))

    def run_plan(self):
        handler = action_plan_handler.DefaultActionPlanHandler(
            self.context, mock.MagicMock(), self.action_plan.uuid)
        handler.execute()
        return objects.ActionPlan.get_by_uuid(self.context,
                                              self.action_plan.uuid)

    def state(self, action):
        action = objects.Action.get_by_uuid(self.context, action.uuid)
        return action.state, action.status_message

    def test_late_action_is_skipped_and_the_plan_succeeds(self):
        now = time.time()
        late = self.add_action(throttle_params(now - 7200, now - 3600))
        on_time = self.add_action(throttle_params(now - 60, now + 3600),
                                  parents=[late.uuid], number=2)
        plan = self.run_plan()
        self.assertEqual(objects.action_plan.State.SUCCEEDED, plan.state)
        self.assertEqual('One or more actions were skipped.',
                         plan.status_message)
        state, message = self.state(late)
        self.assertEqual(objects.action.State.SKIPPED, state)
        self.assertIn('Action was skipped automatically: Window ', message)
        self.assertIn('skipped rather than executed late', message)
        self.assertEqual((objects.action.State.SUCCEEDED, None),
                         self.state(on_time))
        self.assertEqual(1, len(self.store.applied_throttles(INSTANCE)))

    def test_invalid_parameters_fail_with_their_reason(self):
        now = time.time()
        bad = self.add_action(dict(throttle_params(now - 60, now + 3600),
                                   cpu_limit=0))
        plan = self.run_plan()
        self.assertEqual(objects.action_plan.State.FAILED, plan.state)
        state, message = self.state(bad)
        self.assertEqual(objects.action.State.FAILED, state)
        self.assertIn('invalid parameter cpu_limit=0', message)
        self.assertEqual([], self.store.applied_throttles(INSTANCE))
