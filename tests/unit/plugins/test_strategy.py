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

"""The strategy on Watcher's own model, loader and solution, with the
plugin's real storage on SQLite and trace-replay telemetry."""

import os
import tempfile
from unittest import mock

import numpy as np
from watcher.decision_engine.loading import default as loading
from watcher.decision_engine.model import element
from watcher.decision_engine.model import model_root
from watcher.tests.unit import base

from watcher_predictive.anticipation import types
from watcher_predictive import exception
from watcher_predictive.plugins import strategy as strategy_mod
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration
from watcher_predictive.telemetry import trace

STEP = 300
NOW = 1_800_000_000
HOT = 'aaaaaaaa-0000-0000-0000-000000000001'
BUSY = 'aaaaaaaa-0000-0000-0000-000000000002'
IDLE_BIG = 'aaaaaaaa-0000-0000-0000-000000000003'
FRESH = 'aaaaaaaa-0000-0000-0000-000000000004'


def model():
    root = model_root.ModelRoot()
    for i, (name, cores) in enumerate((('c1', 4), ('c2', 16))):
        root.add_node(element.ComputeNode(
            id=i, uuid='node-%d' % i, hostname=name, memory=65536,
            memory_mb_reserved=0, memory_ratio=1.0, disk=1000,
            disk_gb_reserved=0, disk_ratio=1.0, vcpus=cores,
            vcpu_reserved=0, vcpu_ratio=1.0, status='enabled',
            state='up'))
    for uuid, host, vcpus, memory in ((HOT, 'c1', 2, 2048),
                                      (BUSY, 'c1', 2, 2048),
                                      (IDLE_BIG, 'c2', 4, 8192),
                                      (FRESH, 'c2', 2, 4096)):
        inst = element.Instance(
            uuid=uuid, name='vm-' + uuid[-1], memory=memory, disk=20,
            vcpus=vcpus, metadata={}, state='active',
            project_id='aaaaaaaa-1111-2222-3333-444444444444',
            host=host, hypervisor_hostname=host)
        root.add_instance(inst)
        root.map_instance(inst, root.get_node_by_name(host))
    return root


def history():
    n = 2 * 86400 // STEP
    times = NOW - STEP * np.arange(n, 0, -1)
    phase = (times - NOW) % 86400
    cpu = np.stack([np.where(phase < 1200, 0.05, 1.9),
                    np.full(n, 1.9), np.full(n, 0.1), np.full(n, 0.5)])
    cpu[3, :-20] = np.nan
    ids = [HOT, BUSY, IDLE_BIG, FRESH]
    return history_mod.History(ids, int(times[0]), STEP, {
        'cpu': cpu, 'memory': np.full_like(cpu, 1000.0),
        'disk': cpu * 1e6, 'network': cpu * 1e5})


FLAVORS = [types.Flavor('1', 'm1.small', 1, 2048, 20),
           types.Flavor('2', 'm1.medium', 2, 4096, 20),
           types.Flavor('3', 'm1.large', 4, 8192, 20)]


class TestStrategy(base.TestCase):

    def setUp(self):
        super().setUp()
        folder = tempfile.mkdtemp()
        self.addCleanup(lambda: [os.remove(os.path.join(folder, f))
                                 for f in os.listdir(folder)])
        self.url = 'sqlite:///%s' % os.path.join(folder, 'p.sqlite')
        migration.upgrade(self.url)
        self.store = storage.Store(self.url)

    def strategy(self, params=None, source=None):
        strategy = loading.DefaultStrategyLoader().load(
            'predictive_anticipation')
        strategy._compute_model = model()
        strategy.input_parameters.update(params or {})
        strategy.telemetry = source or trace.TraceSource(
            history(), {u: u for u in history().instance_ids}, 0)
        strategy.store = self.store
        strategy.flavors = FLAVORS
        strategy.clock = lambda: NOW
        return strategy

    def test_loaded_by_name_with_its_planner_and_goal(self):
        strategy = loading.DefaultStrategyLoader().load(
            'predictive_anticipation')
        self.assertIsInstance(strategy, strategy_mod.PredictiveAnticipation)
        self.assertEqual('predictive_weight', strategy.planner)
        self.assertEqual('predictive_optimization', strategy.goal.name)

    def test_plans_and_stores_in_one_go(self):
        audit = mock.Mock(uuid='bbbbbbbb-0000-0000-0000-000000000001')
        solution = self.strategy().execute(audit=audit)
        kinds = sorted(a['action_type'] for a in solution.actions)
        self.assertEqual(['predictive_migrate', 'predictive_resize'], kinds)
        migrate = [a for a in solution.actions
                   if a['action_type'] == 'predictive_migrate'][0]
        params = migrate['input_parameters']
        self.assertEqual(HOT, params['resource_id'])
        self.assertEqual(('c1', 'c2'), (params['source_node'],
                                        params['destination_node']))
        self.assertEqual('2027-01-15T08:00:00Z', params['window_start'])
        indicators = {i['name']: i['value']
                      for i in solution.efficacy_indicators}
        self.assertEqual(3, indicators['instances_profiled'])
        self.assertEqual(1, indicators['instances_skipped_short_history'])
        stored = self.store.load_profiles([HOT, BUSY, IDLE_BIG, FRESH])
        self.assertEqual({HOT, BUSY, IDLE_BIG}, set(stored))
        self.assertEqual(NOW, stored[HOT].history_end)
        forecasts = self.store.latest_forecasts(HOT, 'cpu')
        self.assertEqual(audit.uuid, forecasts[0].audit_uuid)
        self.assertEqual(12, len(forecasts[0].quantiles))

        # A second audit updates the same rows (version check) and adds a
        # forecast.
        self.strategy().execute(audit=audit)
        again = self.store.load_profiles([HOT])
        self.assertEqual(stored[HOT].version + 1, again[HOT].version)
        self.assertEqual(2, len(self.store.latest_forecasts(HOT, 'cpu')))

    def test_dry_run_adds_no_action_but_reports_it(self):
        audit = mock.Mock(uuid='bbbbbbbb-0000-0000-0000-000000000002')
        with self.assertLogs('watcher_predictive.plugins.strategy',
                             level='INFO') as logs:
            solution = self.strategy({'dry_run': True}).execute(audit=audit)
        self.assertEqual([], solution.actions)
        indicators = {i['name']: i['value']
                      for i in solution.efficacy_indicators}
        self.assertEqual(2, indicators['actions_withheld_dry_run'])
        self.assertEqual(1, indicators['migrations_planned'])
        self.assertGreaterEqual(indicators['tasks_queued'], 2)
        self.assertTrue(any('Dry run: would migrate' in line
                            for line in logs.output))

    def test_operator_task_is_planned_with_its_id(self):
        strategy = self.strategy()
        strategy.operator_tasks = [types.OperatorTask(
            id='op-1', instance_uuid=IDLE_BIG, kind='resize',
            flavor='m1.medium', deadline=NOW + 3600,
            reason='new flavor policy')]
        solution = strategy.execute(audit=mock.Mock(uuid='c' * 8))
        moved = [a for a in solution.actions
                 if a['input_parameters'].get('resource_id') == IDLE_BIG
                 and a['action_type'] == 'predictive_resize']
        # The operator's flavor, not the smaller one right-sizing picks.
        self.assertEqual(1, len(moved))
        self.assertEqual('m1.medium', moved[0]['input_parameters']['flavor'])
        self.assertIn('operator task op-1',
                      moved[0]['input_parameters']['reason'])
        indicators = {i['name']: i['value']
                      for i in solution.efficacy_indicators}
        self.assertEqual(1, indicators['operator_tasks_planned'])
        self.assertEqual('op-1', [a for a in strategy.last_plan.actions
                                  if a.instance_uuid == IDLE_BIG and
                                  a.kind == 'resize'][0].task_id)

    def test_rule_between_parameters(self):
        strategy = self.strategy({'horizon': 600, 'task_duration': 1200})
        self.assertRaisesRegex(exception.InvalidParameter, 'task_duration',
                               strategy.execute)

    def test_unreachable_telemetry_stores_nothing(self):
        source = mock.Mock()
        source.fetch.side_effect = exception.TelemetryUnavailable(
            source='gnocchi', reason='connection refused')
        strategy = self.strategy(source=source)
        self.assertRaisesRegex(exception.TelemetryUnavailable,
                               'connection refused', strategy.execute)
        self.assertEqual({}, self.store.load_profiles([HOT, BUSY]))

    def test_invalid_action_is_caught_before_the_plan(self):
        bad = types.PlannedAction(
            kind=types.THROTTLE, instance_uuid=BUSY, instance_name='vm-2',
            source_host='c1', window_start=NOW, window_end=NOW - 300,
            release_probability=0.0, expected_benefit=1.0, reason='x',
            cpu_limit=0.0)
        plan = types.Plan(actions=[bad], release_probability={},
                          lull_window={}, host_demand={}, host_capacity={})
        strategy = self.strategy()
        with mock.patch('watcher_predictive.anticipation.engine.'
                        'AnticipationEngine.plan', return_value=plan):
            self.assertRaises(exception.ActionParameterError,
                              strategy.execute)
        self.assertEqual([], strategy.solution.actions)
        self.assertEqual({}, self.store.load_profiles([HOT, BUSY]))

    def test_concurrent_audit_wins_then_ours_is_stored(self):
        strategy = self.strategy()
        real_save = self.store.save_audit
        calls = []

        def racing_save(audit_uuid, profiles, forecasts):
            profiles = list(profiles)
            if not calls:
                # Another decision engine stores a profile of HOT first.
                real_save('other', [storage.ProfileUpdate(
                    HOT, {'version': 1}, NOW, None)], [])
            calls.append(len(profiles))
            return real_save(audit_uuid, profiles, forecasts)

        with mock.patch.object(self.store, 'save_audit',
                               side_effect=racing_save):
            strategy.execute(audit=mock.Mock(uuid='c' * 8))
        self.assertEqual(2, len(calls))
        stored = self.store.load_profiles([HOT])
        self.assertEqual(2, stored[HOT].version)
        self.assertIn('models', stored[HOT].state)

    def test_nova_failure_only_drops_the_resizes(self):
        strategy = self.strategy()
        strategy.flavors = None
        with mock.patch('watcher.common.nova_helper.NovaHelper',
                        side_effect=RuntimeError('nova is down')):
            solution = strategy.execute(audit=mock.Mock(uuid='e' * 8))
        kinds = [a['action_type'] for a in solution.actions]
        self.assertEqual(['predictive_migrate'], kinds)
        indicators = {i['name']: i['value']
                      for i in solution.efficacy_indicators}
        self.assertEqual(0, indicators['resizes_planned'])
