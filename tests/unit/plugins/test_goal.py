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

"""The goal, its indicators, and the global efficacy Watcher computes."""

from unittest import mock

import jsonschema
from watcher.common import exception as watcher_exception
from watcher.decision_engine.solution import efficacy as watcher_efficacy
from watcher.tests.unit import base

from watcher_predictive.plugins import efficacy
from watcher_predictive.plugins import goal

INDICATORS = {
    'instances_profiled': 10,
    'instances_skipped_short_history': 2,
    'migrations_planned': 3,
    'resizes_planned': 1,
    'throttles_planned': 2,
    'tasks_in_predicted_lull': 3,
    'mean_release_probability': 0.72,
    'tasks_queued': 9,
    'tasks_deferred': 2,
    'operator_tasks_planned': 1,
    'consolidation_migrations_planned': 1,
    'collision_migrations_planned': 1,
    'actions_withheld_dry_run': 0,
    'predicted_overload_avoided': 42.5,
}


class TestPredictiveOptimization(base.TestCase):

    def setUp(self):
        super().setUp()
        self.goal = goal.PredictiveOptimization(config=mock.Mock())
        self.efficacy = watcher_efficacy.Efficacy(self.goal, mock.Mock())

    def compute(self, **indicators):
        # Watcher's own path: Solution.set_efficacy_indicators, then
        # compute_global_efficacy when the solution is planned.
        self.efficacy.set_efficacy_indicators(**indicators)
        self.efficacy.compute_global_efficacy()
        return self.efficacy.global_efficacy

    def test_declares_the_indicators(self):
        spec = self.goal.efficacy_specification
        self.assertIsInstance(spec, efficacy.PredictiveOptimizationSpec)
        self.assertEqual(sorted(INDICATORS),
                         sorted(i.name for i in spec.indicators_specs))
        self.assertEqual(sorted(INDICATORS), sorted(spec.schema['required']))
        for indicator in spec.get_indicators_specs_dicts():
            self.assertTrue(indicator['description'])
        self.assertEqual(
            {'type': 'number', 'minimum': 0, 'maximum': 1},
            spec.schema['properties']['mean_release_probability'])
        self.assertEqual(
            {'type': 'integer', 'minimum': 0},
            spec.schema['properties']['migrations_planned'])

    def test_global_efficacy_is_the_share_of_tasks_in_a_lull(self):
        result = self.compute(**INDICATORS)
        self.assertEqual(1, len(result))
        self.assertEqual('tasks_in_predicted_lull_ratio', result[0].name)
        self.assertEqual('%', result[0].unit)
        # 3 of the 3 migrations + 1 resize; throttles do not count.
        self.assertEqual(75.0, result[0].value)
        self.assertEqual(sorted(INDICATORS),
                         sorted(i.name for i in self.efficacy.indicators))

    def test_nothing_planned_gives_zero_not_a_division_error(self):
        result = self.compute(**dict(
            INDICATORS, migrations_planned=0, resizes_planned=0,
            throttles_planned=0, tasks_in_predicted_lull=0,
            mean_release_probability=0.0))
        self.assertEqual(0.0, result[0].value)

    def test_only_throttles_planned(self):
        result = self.compute(**dict(
            INDICATORS, migrations_planned=0, resizes_planned=0,
            throttles_planned=4, tasks_in_predicted_lull=0))
        self.assertEqual(0.0, result[0].value)

    def test_empty_indicators(self):
        # A strategy that sets nothing: Watcher skips the validation.
        self.assertEqual(0.0, self.compute()[0].value)

    def test_ratio_never_exceeds_100(self):
        result = self.compute(**dict(INDICATORS, tasks_in_predicted_lull=9))
        self.assertEqual(100.0, result[0].value)

    def test_invalid_values_are_rejected(self):
        for name, value in [('mean_release_probability', 1.5),
                            ('migrations_planned', -1),
                            ('instances_profiled', 2.5)]:
            spec = self.goal.efficacy_specification
            self.assertRaises(jsonschema.ValidationError,
                              spec.validate_efficacy_indicators,
                              dict(INDICATORS, **{name: value}))

    def test_missing_indicator_is_rejected(self):
        indicators = dict(INDICATORS)
        del indicators['throttles_planned']
        self.assertRaises(jsonschema.ValidationError, self.compute,
                          **indicators)

    def test_undeclared_indicator_fails_the_computation(self):
        self.assertRaises(watcher_exception.GlobalEfficacyComputationError,
                          self.compute, **dict(INDICATORS, bogus=1))
