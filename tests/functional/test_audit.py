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

"""End to end through Watcher 17's in-process services.

Watcher's real API, decision engine and applier, SQLite, fake messaging,
and the harness's Nova and Placement emulators (with the resize they lack,
see ``fixtures/nova_resize.py``). Telemetry is the plugin's trace-replay
source over series written here, so that what each guest is about to do is
known: the plan can then be checked action by action.
"""

import time

import fixtures
import numpy as np
from oslo_config import cfg
from watcher.tests.functional import base
from watcher.tests.functional import topology

from tests.functional.fixtures import nova_resize
from watcher_predictive.plugins.actions import unthrottle
from watcher_predictive.plugins.actions import window
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration
from watcher_predictive.telemetry import trace

CONF = cfg.CONF
STEP = 300
DAYS = 4

TOPOLOGY = (
    topology.ComputeTopology()
    .add_computes(count=2, vcpus=16, memory=65536, disk=1000)
    .update_compute('compute-1', vcpus=4)
    .add_instances(computes=['compute-1'], count=3, vcpus=2, memory=2048)
    .add_instances(computes=['compute-2'], count=1, vcpus=4, memory=8192,
                   name_prefix='big')
    .add_instances(computes=['compute-2'], count=1, vcpus=2, memory=4096,
                   name_prefix='new')
)
MOVER, STEADY, BURSTY = (TOPOLOGY.instances[i].uuid for i in range(3))
OVERSIZED = TOPOLOGY.instances[3].uuid
NEWCOMER = TOPOLOGY.instances[4].uuid


def workload(now, short_history=()):
    """Four days of history ending now, the same every day.

    compute-1 (4 cores, threshold 80 % = 3.2) runs MOVER (idle from 20
    minutes ago to 20 minutes from now, busy at 1.8 vCPUs otherwise),
    STEADY (1.8 vCPUs all the time) and BURSTY (0.2 vCPUs, with bursts to
    1.5 of 30 minutes every 160 minutes, one of them from 10 minutes ago
    to 20 minutes from now): predicted
    overloaded from now on, and still overloaded during BURSTY's burst once
    MOVER has left. compute-2 runs OVERSIZED (4 vCPUs, uses 0.1) and
    NEWCOMER, whose history is too short.

    BURSTY's bursts recur nine times a day, so that the ensemble's hourly
    validation origins see one start in every phase of a burst, whatever
    the minute the test runs at: with a single daily burst, an origin
    whose last value is in the burst may never occur, and which member
    wins the steps after the burst is then decided by noise.
    """
    end = now - now % STEP
    n = DAYS * 86400 // STEP
    times = end - STEP * np.arange(n, 0, -1)
    # Seconds from the same time of day as now, in [-12 h, 12 h).
    phase = (times - end + 43200) % 86400 - 43200
    rng = np.random.default_rng(7)
    cpu = {
        MOVER: np.where((phase >= -1200) & (phase < 1200), 0.05, 1.8),
        STEADY: np.full(n, 1.8),
        BURSTY: np.where((times - end + 600) % 9600 < 1800, 1.5, 0.2),
        OVERSIZED: np.full(n, 0.1),
        NEWCOMER: np.full(n, 0.5),
    }
    ids = list(cpu)
    values = {'cpu': np.stack([cpu[i] for i in ids])}
    values['cpu'] += rng.normal(0, 0.01, values['cpu'].shape).clip(0)
    values['memory'] = np.full_like(values['cpu'], 1000.0)
    values['disk'] = values['cpu'] * 1e6
    values['network'] = values['cpu'] * 1e5
    for uuid in short_history:
        for array in values.values():
            array[ids.index(uuid), :-10] = np.nan
    return history_mod.History(instance_ids=ids, start=int(times[0]),
                               step=STEP, values=values)


class PredictiveAuditTestCase(base.WatcherFunctionalTestCase):

    COMPUTE_TOPOLOGY = TOPOLOGY

    def setUp(self):
        super().setUp()
        self.load_topology(TOPOLOGY)
        self.flags(migration_max_retries=5, migration_interval=0.1,
                   group='nova')
        self.url = CONF.database.connection
        migration.upgrade(self.url)
        self.store = storage.Store(self.url)
        self.resize = self.useFixture(nova_resize.NovaResizeFixture(
            self.env.nova_fixture.nova_emulator))
        self.resize.add_flavor('m1.small', vcpus=1, ram=2048, disk=20)
        self.use_history(workload(time.time(), short_history=[NEWCOMER]))

    def use_history(self, history):
        source = trace.TraceSource(history, {u: u for u in
                                             history.instance_ids}, 0)
        self.useFixture(fixtures.MockPatch(
            'watcher_predictive.telemetry.get_source', return_value=source))

    def create_audit(self, parameters, expect='SUCCEEDED'):
        resp = self.admin_api.post('/audit_templates', {
            'name': 'predictive-%s' % time.time(),
            'goal': 'predictive_optimization',
            'strategy': 'predictive_anticipation'})
        self.assertEqual(201, resp.status_code, resp.text)
        template = resp.json()['uuid']
        resp = self.admin_api.post('/audits', {
            'audit_type': 'ONESHOT', 'audit_template_uuid': template,
            'parameters': parameters})
        if expect is None:
            return resp
        self.assertEqual(201, resp.status_code, resp.text)
        audit = resp.json()['uuid']
        if expect == 'FAILED':
            return self._wait_for_failure(audit)
        self._wait_for_audit_state(audit, expect)
        return audit

    def _wait_for_failure(self, audit):
        deadline = time.time() + 30
        while time.time() < deadline:
            state = self.admin_api.get('/audits/%s' % audit).json()['state']
            if state == 'FAILED':
                return audit
            self.assertNotIn(state, ('SUCCEEDED', 'CANCELLED'))
            time.sleep(0.1)
        self.fail('audit %s did not fail' % audit)

    def plan_of(self, audit):
        plans = self.admin_api.get(
            '/action_plans?audit_uuid=%s' % audit).json()['action_plans']
        self.assertEqual(1, len(plans))
        plan = self.admin_api.get('/action_plans/%s' % plans[0]['uuid'])
        actions = self.admin_api.get(
            '/actions?action_plan_uuid=%s' % plans[0]['uuid']).json()[
                'actions']
        details = [self.admin_api.get('/actions/%s' % a['uuid']).json()
                   for a in actions]
        return plan.json(), details

    def test_plan_in_the_lulls_and_run_it(self):
        # An operator task whose deadline passed before this audit.
        late = self.store.add_task(STEADY, 'migrate', int(time.time()) + 1,
                                   now=time.time())
        time.sleep(1.1)
        audit = self.create_audit({'max_migrations_per_host': 1})
        self.assertEqual('expired', self.store.get_task(late.id).state)
        plan, actions = self.plan_of(audit)
        self.assertEqual('RECOMMENDED', plan['state'])
        by_type = {}
        for action in actions:
            by_type.setdefault(action['action_type'], []).append(action)
        self.assertEqual({'predictive_migrate', 'throttle', 'unthrottle',
                          'predictive_resize'}, set(by_type))

        migrate = self._assert_action(
            actions, 'predictive_migrate', resource_id=MOVER,
            source_node='compute-1', destination_node='compute-2',
            migration_type='live')
        params = migrate['input_parameters']
        self.assertGreater(params['release_probability'], 0.6)
        self.assertIn('idle', params['reason'])
        self.assertLess(params['window_start'], params['window_end'])
        self._assert_action(actions, 'throttle', resource_id=BURSTY,
                            host='compute-1')
        self._assert_action(actions, 'predictive_resize',
                            resource_id=OVERSIZED, flavor='m1.small')
        # The plan runs in the order of the windows: no action waits for
        # one whose window opens later, and a throttle opening with a
        # migration goes first.
        by_uuid = {a['uuid']: a for a in actions}
        for action in actions:
            start = action['input_parameters']['window_start']
            for parent in action['parents']:
                self.assertLessEqual(
                    by_uuid[parent]['input_parameters']['window_start'],
                    start)
        throttle = by_type['throttle'][0]
        if (throttle['input_parameters']['window_start'] ==
                migrate['input_parameters']['window_start']):
            self.assertIn(throttle['uuid'], migrate['parents'])
        # The throttle is lifted when its window ends.
        lift = self._assert_action(actions, 'unthrottle',
                                   resource_id=BURSTY, host='compute-1')
        throttle_end = throttle['input_parameters']['window_end']
        self.assertEqual(throttle_end,
                         lift['input_parameters']['window_start'])

        indicators = {i['name']: i['value']
                      for i in plan['efficacy_indicators']}
        self.assertEqual(4, indicators['instances_profiled'])
        self.assertEqual(1, indicators['instances_skipped_short_history'])
        self.assertEqual(1, indicators['migrations_planned'])
        self.assertEqual(1, indicators['throttles_planned'])
        self.assertEqual(1, indicators['resizes_planned'])
        self.assertEqual(2, indicators['tasks_in_predicted_lull'])

        # The profiles and forecasts of this audit are stored.
        profiles = self.store.load_profiles([MOVER, STEADY, NEWCOMER])
        self.assertEqual({MOVER, STEADY}, set(profiles))
        self.assertTrue(self.store.latest_forecasts(MOVER, 'cpu'))

        # The unthrottle runs as if its window had come.
        lift_time = window.parse_time('unthrottle', 'window_start',
                                      throttle_end).timestamp() + 1
        self.useFixture(fixtures.MockPatchObject(
            unthrottle.Unthrottle, 'clock', staticmethod(lambda: lift_time)))
        resp = self.admin_api.patch(
            '/action_plans/%s' % plan['uuid'],
            [{'op': 'replace', 'path': '/state', 'value': 'PENDING'}])
        self.assertEqual(200, resp.status_code)
        self._wait_for_action_plan_state(plan['uuid'], 'SUCCEEDED')
        for action in self.admin_api.get(
                '/actions?action_plan_uuid=%s' % plan['uuid']).json()[
                    'actions']:
            self.assertEqual('SUCCEEDED', action['state'], action)

        emulator = self.env.nova_fixture.nova_emulator
        self.assertEqual('compute-2', emulator.servers[MOVER][
            'OS-EXT-SRV-ATTR:host'])
        self.assertEqual('m1.small', emulator.servers[OVERSIZED][
            'flavor']['original_name'])
        # Applied on compute-1, then lifted by the unthrottle.
        self.assertIsNone(self.store.active_throttle(BURSTY))
        self.assertEqual(1, self.store.purge(0, now=time.time() + 60)[1])

    def test_invalid_parameter_is_refused_with_its_name(self):
        resp = self.create_audit({'horizon': 'soon'}, expect=None)
        self.assertEqual(400, resp.status_code)
        self.assertIn('horizon', resp.text)
        resp = self.create_audit({'release_threshold': 1.5}, expect=None)
        self.assertEqual(400, resp.status_code)
        self.assertIn('release_threshold', resp.text)

    def test_rule_between_parameters_fails_the_audit(self):
        self.create_audit({'horizon': 600, 'task_duration': 1200},
                          expect='FAILED')
        self.assertEqual({}, self.store.load_profiles([MOVER]))

    def test_unreachable_telemetry_fails_and_stores_nothing(self):
        from watcher_predictive import exception

        class Unreachable:
            def fetch(self, *args):
                raise exception.TelemetryUnavailable(
                    source='gnocchi', reason='connection refused')

        self.useFixture(fixtures.MockPatch(
            'watcher_predictive.telemetry.get_source',
            return_value=Unreachable()))
        self.create_audit({}, expect='FAILED')
        self.assertEqual({}, self.store.load_profiles(
            [MOVER, STEADY, BURSTY, OVERSIZED]))
