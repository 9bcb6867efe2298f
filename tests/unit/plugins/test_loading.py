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

"""Watcher's own loaders find every plugin by its entry-point name."""

from watcher.applier.actions import base as action_base
from watcher.applier.loading import default as applier_loading
from watcher.decision_engine.goal import base as goal_base
from watcher.decision_engine.loading import default as de_loading
from watcher.decision_engine.planner import weight
from watcher.tests.unit import base

from watcher_predictive.plugins.actions import gated
from watcher_predictive.plugins.actions import throttle
from watcher_predictive.plugins import goal
from watcher_predictive.plugins import planner

ACTIONS = {
    'throttle': throttle.Throttle,
    'predictive_migrate': gated.GatedLiveMigrate,
    'predictive_resize': gated.GatedResize,
}


class TestLoading(base.TestCase):

    def test_goal(self):
        loader = de_loading.DefaultGoalLoader()
        self.assertIn('predictive_optimization', loader.list_available())
        loaded = loader.load('predictive_optimization')
        self.assertIsInstance(loaded, goal_base.Goal)
        self.assertIsInstance(loaded, goal.PredictiveOptimization)
        self.assertEqual('predictive_optimization', loaded.name)
        self.assertEqual('Predictive optimization', loaded.display_name)
        # What Watcher's syncer stores for the goal.
        self.assertIn('mean_release_probability',
                      loaded.efficacy_specification
                      .serialize_indicators_specs())

    def test_planner(self):
        loader = de_loading.DefaultPlannerLoader()
        loaded = loader.load('predictive_weight')
        self.assertIsInstance(loaded, weight.WeightPlanner)
        self.assertIsInstance(loaded, planner.PredictiveWeightPlanner)
        self.assertEqual('predictive_weight', loaded.get_name())
        for action_type in ACTIONS:
            self.assertIn(action_type, loaded.config.weights)
            self.assertIn(action_type, loaded.config.parallelization)

    def test_actions(self):
        loader = applier_loading.DefaultActionLoader()
        available = loader.list_available()
        for name, action_class in ACTIONS.items():
            self.assertIs(action_class, available[name])
            loaded = loader.load(name)
            self.assertIsInstance(loaded, action_base.BaseAction)
            self.assertIsInstance(loaded, action_class)
            self.assertEqual(name, loaded.get_name())
            self.assertTrue(loaded.get_description())
