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

"""The strategy's side of operator tasks and of lifting throttles, on
Watcher's own model and solution with the plugin's tables on SQLite.

The engine's placement of operator tasks is tested with the engine; here
its plan is given, to check what the strategy does with it.
"""

import os
import tempfile
from unittest import mock

from watcher.tests.unit import base

from tests.unit.plugins import test_strategy as strategy_tests
from watcher_predictive.anticipation import types
from watcher_predictive import exception
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration

NOW = strategy_tests.NOW
BUSY = strategy_tests.BUSY
HOT = strategy_tests.HOT
AUDIT = 'bbbbbbbb-0000-0000-0000-00000000000a'
PLAN = 'watcher_predictive.anticipation.engine.AnticipationEngine.plan'


def throttle_action(task_id=None, end=NOW + 1800):
    return types.PlannedAction(
        kind=types.THROTTLE, instance_uuid=BUSY, instance_name='vm-2',
        source_host='c1', window_start=NOW + 300, window_end=end,
        release_probability=0.0, expected_benefit=120.0,
        reason='vm-2 predicted to burst on c1', cpu_limit=1.0,
        task_id=task_id)


def plan_of(*actions):
    return types.Plan(actions=list(actions), release_probability={},
                      lull_window={}, host_demand={}, host_capacity={})


class TestOperatorTasksAndUnthrottle(base.TestCase):

    def setUp(self):
        super().setUp()
        folder = tempfile.mkdtemp()
        self.addCleanup(lambda: [os.remove(os.path.join(folder, f))
                                 for f in os.listdir(folder)])
        self.url = 'sqlite:///%s' % os.path.join(folder, 'p.sqlite')
        migration.upgrade(self.url)
        self.store = storage.Store(self.url)
        self.addCleanup(self.store.dispose)

    def strategy(self):
        return strategy_tests.TestStrategy.strategy(self)

    def test_every_throttle_gets_its_unthrottle(self):
        self.flags(throttle_disk_iops_sec=200, group='watcher_predictive')
        with mock.patch(PLAN, return_value=plan_of(throttle_action())):
            solution = self.strategy().execute(audit=mock.Mock(uuid=AUDIT))
        by_type = {a['action_type']: a['input_parameters']
                   for a in solution.actions}
        self.assertEqual(['throttle', 'unthrottle'], sorted(by_type))
        self.assertEqual(200, by_type['throttle']['disk_iops_sec'])
        self.assertNotIn('disk_bytes_sec', by_type['throttle'])
        lift = by_type['unthrottle']
        self.assertEqual((BUSY, 'c1'), (lift['resource_id'], lift['host']))
        self.assertEqual(by_type['throttle']['window_end'],
                         lift['window_start'])
        self.assertEqual(types.iso_utc(NOW + 1800 + 86400),
                         lift['window_end'])

    def test_tasks_reach_the_engine_and_are_claimed_or_expired(self):
        late = self.store.add_task(HOT, 'migrate', NOW - 60, now=NOW - 3600)
        wanted = self.store.add_task(BUSY, 'throttle', NOW + 7200,
                                     reason='noisy', now=NOW - 3600)
        waiting = self.store.add_task(HOT, 'resize', NOW + 7200,
                                      flavor='m1.small', now=NOW - 3600)
        given = []

        def plan(hosts, instances, forecasts, **kwargs):
            given.append(kwargs['operator_tasks'])
            return plan_of(throttle_action(task_id=wanted.id))

        with mock.patch(PLAN, side_effect=plan, autospec=False):
            solution = self.strategy().execute(audit=mock.Mock(uuid=AUDIT))
        self.assertEqual([[wanted.as_operator_task(),
                           waiting.as_operator_task()]], given)
        self.assertEqual('expired', self.store.get_task(late.id).state)
        claimed = self.store.get_task(wanted.id)
        self.assertEqual(('planned', AUDIT),
                         (claimed.state, claimed.audit_uuid))
        self.assertEqual('pending', self.store.get_task(waiting.id).state)
        self.assertEqual(2, len(solution.actions))

    def test_task_claimed_meanwhile_drops_its_action(self):
        task = self.store.add_task(BUSY, 'throttle', NOW + 7200,
                                   now=NOW - 3600)

        def plan(*args, **kwargs):
            # A concurrent audit claims it while this one plans.
            self.store.claim_tasks([task.id], 'other-audit')
            return plan_of(throttle_action(task_id=task.id))

        with mock.patch(PLAN, side_effect=plan):
            solution = self.strategy().execute(audit=mock.Mock(uuid=AUDIT))
        self.assertEqual([], solution.actions)
        self.assertEqual('other-audit',
                         self.store.get_task(task.id).audit_uuid)

    def test_failed_plan_gives_its_tasks_back(self):
        task = self.store.add_task(BUSY, 'throttle', NOW + 7200,
                                   now=NOW - 3600)
        bad = throttle_action(task_id=task.id, end=NOW - 300)
        with mock.patch(PLAN, return_value=plan_of(bad)):
            self.assertRaises(exception.ActionParameterError,
                              self.strategy().execute,
                              audit=mock.Mock(uuid=AUDIT))
        back = self.store.get_task(task.id)
        self.assertEqual(('pending', None), (back.state, back.audit_uuid))
