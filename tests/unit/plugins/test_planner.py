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

"""The predictive_weight planner orders and parallelises our actions."""

from unittest import mock

from watcher.common import utils
from watcher.decision_engine.loading import default as loading
from watcher.decision_engine.planner import weight
from watcher.decision_engine.solution import default as solution_default
from watcher import objects
from watcher.tests.unit.db import base
from watcher.tests.unit.db import utils as db_utils

from watcher_predictive.plugins import planner

WINDOW = {'window_start': '2026-11-25T10:05:00Z',
          'window_end': '2026-11-25T10:35:00Z'}


class TestPlannerDefaults(base.DbTestCase):

    def test_defaults_keep_watcher_types_and_add_ours(self):
        loaded = loading.DefaultPlannerLoader().load('predictive_weight')
        for action_type, value in weight.WeightPlanner.action_weights.items():
            self.assertEqual(value, loaded.config.weights[action_type])
        weights = loaded.config.weights
        self.assertGreater(weights['throttle'],
                           weights['predictive_migrate'])
        self.assertGreater(weights['predictive_migrate'],
                           weights['predictive_resize'])
        self.assertEqual(len(weights), len(set(weights.values())),
                         'weights must be unique: %s' % weights)
        self.assertEqual(4, loaded.config.parallelization['throttle'])
        self.assertEqual(2, loaded.config.parallelization['predictive_resize'])
        self.assertEqual(19, weights['unthrottle'])
        self.assertEqual(4, loaded.config.parallelization['unthrottle'])

    def test_incomplete_operator_config_keeps_our_defaults(self):
        # A DictOpt read from watcher.conf gives strings.
        loaded = planner.PredictiveWeightPlanner(
            utils.Struct(weights={'nop': '70', 'migrate': '30'},
                         parallelization={'migrate': '3'}))
        self.assertEqual(70, loaded.config.weights['nop'])
        self.assertEqual(32, loaded.config.weights['throttle'])
        self.assertEqual(3, loaded.config.parallelization['migrate'])
        self.assertEqual(2,
                         loaded.config.parallelization['predictive_migrate'])

    def test_no_config_at_all(self):
        loaded = planner.PredictiveWeightPlanner()
        self.assertEqual(planner.PredictiveWeightPlanner.action_weights,
                         loaded.config.weights)


class TestPredictiveScheduling(base.DbTestCase):

    def setUp(self):
        super().setUp()
        db_utils.create_test_goal(name='predictive_optimization')
        self.strategy = db_utils.create_test_strategy(
            name='predictive_anticipation')
        self.audit = db_utils.create_test_audit(
            uuid=utils.generate_uuid(), strategy_id=self.strategy.id)
        # Loaded as the decision engine does, with no operator config.
        self.planner = loading.DefaultPlannerLoader().load(
            'predictive_weight')

    def schedule(self, counts, windows=None):
        solution = solution_default.DefaultSolution(
            goal=mock.Mock(), strategy=self.strategy)
        for action_type, count in counts.items():
            for i in range(count):
                solution.add_action(
                    action_type=action_type,
                    resource_id=utils.generate_uuid(),
                    input_parameters=dict((windows or {}).get(
                        (action_type, i), WINDOW), index=i))
        action_plan = self.planner.schedule(self.context, self.audit.id,
                                            solution)
        actions = objects.Action.list(
            self.context, filters={'action_plan_id': action_plan.id})
        return {a.uuid: a for a in actions}

    @staticmethod
    def ancestors(actions, action):
        seen = set()
        todo = list(action.parents)
        while todo:
            uuid = todo.pop()
            if uuid not in seen:
                seen.add(uuid)
                todo.extend(actions[uuid].parents)
        return seen

    def test_throttles_then_migrations_then_resizes(self):
        # Added in the reverse of the expected order.
        actions = self.schedule({'predictive_resize': 2,
                                 'predictive_migrate': 3,
                                 'throttle': 5})
        self.assertEqual(10, len(actions))
        by_type = {}
        for a in actions.values():
            by_type.setdefault(a.action_type, set()).add(a.uuid)
        for a in actions.values():
            ancestors = self.ancestors(actions, a)
            if a.action_type == 'predictive_migrate':
                self.assertLessEqual(by_type['throttle'], ancestors)
                self.assertFalse(ancestors & by_type['predictive_resize'])
            if a.action_type == 'predictive_resize':
                self.assertLessEqual(
                    by_type['throttle'] | by_type['predictive_migrate'],
                    ancestors)
            if a.action_type == 'throttle':
                self.assertFalse(ancestors - by_type['throttle'])

    def test_parallelization(self):
        actions = self.schedule({'throttle': 5, 'predictive_migrate': 3,
                                 'predictive_resize': 3})
        # Actions that share their parents run side by side.
        groups = {}
        for a in actions.values():
            groups.setdefault((a.action_type, frozenset(a.parents)),
                              []).append(a)
        sizes = {}
        for (action_type, _parents), group in groups.items():
            sizes.setdefault(action_type, []).append(len(group))
        self.assertEqual([1, 4], sorted(sizes['throttle']))
        self.assertEqual([1, 2], sorted(sizes['predictive_migrate']))
        self.assertEqual([1, 2], sorted(sizes['predictive_resize']))
        roots = [a for a in actions.values() if not a.parents]
        self.assertEqual({'throttle'}, {a.action_type for a in roots})

    def test_watcher_types_still_planned(self):
        actions = self.schedule({'nop': 1, 'throttle': 1,
                                 'predictive_migrate': 1})
        by_type = {a.action_type: a for a in actions.values()}
        self.assertEqual([], by_type['nop'].parents)
        self.assertEqual([by_type['nop'].uuid], by_type['throttle'].parents)
        self.assertEqual([by_type['throttle'].uuid],
                         by_type['predictive_migrate'].parents)

    def test_earliest_windows_first_within_a_type(self):
        def window(minute):
            return {'window_start': '2026-11-25T10:%02d:00Z' % minute,
                    'window_end': '2026-11-25T11:%02d:00Z' % minute}

        # Added latest window first.
        actions = self.schedule(
            {'predictive_migrate': 3},
            windows={('predictive_migrate', 0): window(50),
                     ('predictive_migrate', 1): window(30),
                     ('predictive_migrate', 2): window(10)})
        first = sorted(a.input_parameters['window_start']
                       for a in actions.values() if not a.parents)
        self.assertEqual(['2026-11-25T10:10:00Z', '2026-11-25T10:30:00Z'],
                         first)
        last = [a for a in actions.values() if a.parents]
        self.assertEqual(['2026-11-25T10:50:00Z'],
                         [a.input_parameters['window_start'] for a in last])

    def test_a_later_throttle_does_not_hold_back_an_earlier_migration(self):
        early = {'window_start': '2026-11-25T10:00:00Z',
                 'window_end': '2026-11-25T10:10:00Z'}
        late = {'window_start': '2026-11-25T10:40:00Z',
                'window_end': '2026-11-25T11:40:00Z'}
        actions = self.schedule(
            {'throttle': 1, 'predictive_migrate': 1},
            windows={('throttle', 0): late,
                     ('predictive_migrate', 0): early})
        by_type = {a.action_type: a for a in actions.values()}
        self.assertEqual([], by_type['predictive_migrate'].parents)
        self.assertEqual([by_type['predictive_migrate'].uuid],
                         by_type['throttle'].parents)

    def test_unthrottle_comes_when_its_throttle_window_ends(self):
        throttle_window = {'window_start': '2026-11-25T10:00:00Z',
                           'window_end': '2026-11-25T10:30:00Z'}
        lift_window = {'window_start': '2026-11-25T10:30:00Z',
                       'window_end': '2026-11-26T10:30:00Z'}
        migrate_window = {'window_start': '2026-11-25T10:20:00Z',
                          'window_end': '2026-11-25T10:40:00Z'}
        # Added unthrottle first; a migration opens between the two.
        actions = self.schedule(
            {'unthrottle': 1, 'predictive_migrate': 1, 'throttle': 1},
            windows={('unthrottle', 0): lift_window,
                     ('predictive_migrate', 0): migrate_window,
                     ('throttle', 0): throttle_window})
        by_type = {a.action_type: a for a in actions.values()}
        self.assertEqual([], by_type['throttle'].parents)
        self.assertEqual([by_type['throttle'].uuid],
                         by_type['predictive_migrate'].parents)
        self.assertEqual([by_type['predictive_migrate'].uuid],
                         by_type['unthrottle'].parents)
