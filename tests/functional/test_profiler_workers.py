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

"""Audits profiled by two ``watcher-predictive-profiler`` processes.

Watcher's in-process services run the audit; the profiling goes over the
machine's real RabbitMQ (vhost ``watcher_predictive_citest``, made by
tools/test-setup.sh, else the default vhost, always with a topic of this
test's own) to two worker processes started here with a config file
written here. Workers and test share one SQLite file for the plugin's
tables, and read the same Bitbrains-format trace, also written here.
"""

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import fixtures
import numpy as np
from oslo_config import cfg
from watcher.tests.functional import base
from watcher.tests.functional import topology

from watcher_predictive import conf as predictive_conf
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration

CONF = cfg.CONF
STEP = 300
DAYS = 2
N_INSTANCES = 36
VHOST = 'watcher_predictive_citest'
HEADER = ('Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\t'
          'CPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned '
          '[KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk '
          'write throughput [KB/s];\tNetwork received throughput [KB/s];\t'
          'Network transmitted throughput [KB/s]')

TOPOLOGY = (
    topology.ComputeTopology()
    .add_computes(count=6, vcpus=64, memory=262144, disk=4000)
)
for _compute in range(6):
    TOPOLOGY = TOPOLOGY.add_instances(
        computes=['compute-%d' % (_compute + 1)],
        count=N_INSTANCES // 6, vcpus=2, memory=2048,
        name_prefix='vm%d' % _compute)


def rabbit_url():
    """The test vhost when it exists, else the default one."""
    try:
        listed = subprocess.run(['rabbitmqctl', '-q', 'list_vhosts'],
                                capture_output=True, text=True, timeout=30)
        vhosts = listed.stdout.split()
    except (OSError, subprocess.SubprocessError):
        vhosts = []
    vhost = VHOST if VHOST in vhosts else ''
    return 'rabbit://guest:guest@127.0.0.1:5672/%s' % vhost


def write_trace(folder, vms=8):
    """Bitbrains files: daily cycles of different phases and levels."""
    os.makedirs(folder)
    n = DAYS * 86400 // STEP
    now = int(time.time())
    times = now - now % STEP - STEP * np.arange(n, 0, -1)
    rng = np.random.default_rng(3)
    for vm in range(1, vms + 1):
        hour = (times % 86400) / 3600.0
        busy = np.sin(2 * np.pi * (hour - 3 * vm) / 24) > 0
        cores = 2
        usage = np.where(busy, 0.3 + 0.05 * vm, 0.05) + \
            rng.normal(0, 0.02, n).clip(-0.04)
        rows = [HEADER]
        for t, u in zip(times, usage):
            mhz = 2 * 2600.0
            rows.append(';\t'.join(str(x) for x in (
                int(t), cores, mhz, u * mhz, u * 100, 4194304.0,
                4194304.0 * (0.3 + 0.3 * u), 10.0 * u, 5.0, 8.0 * u, 2.0)))
        with open(os.path.join(folder, '%d.csv' % vm), 'w') as stream:
            stream.write('\n'.join(rows) + '\n')


class ProfilerWorkersTestCase(base.WatcherFunctionalTestCase):

    COMPUTE_TOPOLOGY = TOPOLOGY

    def setUp(self):
        super().setUp()
        try:
            socket.create_connection(('127.0.0.1', 5672), timeout=5).close()
        except OSError as e:
            self.fail('RabbitMQ does not answer on 127.0.0.1:5672 (%s); '
                      'run tools/test-setup.sh' % e)
        self.load_topology(TOPOLOGY)
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.url = 'sqlite:///%s' % os.path.join(self.tmp, 'plugin.sqlite')
        migration.upgrade(self.url)
        self.store = storage.Store(self.url)
        self.addCleanup(self.store.dispose)
        self.trace = os.path.join(self.tmp, 'trace')
        write_trace(self.trace)
        self.topic = 'watcher_predictive_profiler_test_%s' % (
            uuid.uuid4().hex[:10])
        self.transport_url = rabbit_url()
        predictive_conf.register_opts(CONF)
        self.flags(group='watcher_predictive', connection=self.url,
                   profiler_workers=2,
                   profiler_transport_url=self.transport_url,
                   profiler_topic=self.topic, profiler_shard_size=9,
                   profiler_shard_timeout=120,
                   profiler_heartbeat_timeout=4,
                   profiler_shard_attempts=3, profiler_ping_timeout=5)
        self.coordinator_log = self.useFixture(fixtures.FakeLogger(
            name='watcher_predictive.distributed.coordinator',
            level=logging.INFO))
        self.workers = {}

    # -- workers -----------------------------------------------------------

    def start_workers(self, *names):
        for name in names:
            self.start_worker(name)
        for name in names:
            self.wait_in_log(name, 'listening on topic', 60)

    def start_worker(self, name):
        config = os.path.join(self.tmp, '%s.conf' % name)
        log_file = os.path.join(self.tmp, '%s.log' % name)
        with open(config, 'w') as stream:
            stream.write('\n'.join([
                '[DEFAULT]',
                'host = %s' % name,
                'log_file = %s' % log_file,
                'debug = false',
                '[database]',
                'connection = %s' % self.url,
                '[watcher_predictive]',
                'connection = %s' % self.url,
                'telemetry_source = trace',
                'trace_path = %s' % self.trace,
                'profiler_transport_url = %s' % self.transport_url,
                'profiler_topic = %s' % self.topic,
                'profiler_refresh_interval = 0',
                '']))
        process = subprocess.Popen(
            [sys.executable, '-m', 'watcher_predictive.cmd.profiler',
             '--config-file', config],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.workers[name] = (process, log_file)
        self.addCleanup(self.kill_worker, name)

    def kill_worker(self, name):
        process, _ = self.workers[name]
        if process.poll() is None:
            # The launcher forks the service: end the whole group.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def log_of(self, name):
        try:
            with open(self.workers[name][1]) as stream:
                return stream.read()
        except FileNotFoundError:
            return ''

    def wait_in_log(self, name, text, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log_of(name):
                return
            if self.workers[name][0].poll() is not None:
                self.fail('worker %s exited: %s' % (name, self.log_of(name)))
            time.sleep(0.05)
        self.fail('worker %s did not log %r within %s s: %s' % (
            name, text, timeout, self.log_of(name)[-3000:]))

    # -- audits ------------------------------------------------------------

    def post_audit(self):
        resp = self.admin_api.post('/audit_templates', {
            'name': 'predictive-%s' % time.time(),
            'goal': 'predictive_optimization',
            'strategy': 'predictive_anticipation'})
        self.assertEqual(201, resp.status_code, resp.text)
        resp = self.admin_api.post('/audits', {
            'audit_type': 'ONESHOT',
            'audit_template_uuid': resp.json()['uuid'],
            'parameters': {'min_history': 86400}})
        self.assertEqual(201, resp.status_code, resp.text)
        return resp.json()['uuid']

    def wait_for_end(self, audit, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            state = self.admin_api.get('/audits/%s' % audit).json()['state']
            if state in ('SUCCEEDED', 'FAILED', 'CANCELLED'):
                return state
            time.sleep(0.1)
        self.fail('audit %s still running after %s s' % (audit, timeout))

    def indicators(self, audit):
        plans = self.admin_api.get(
            '/action_plans?audit_uuid=%s' % audit).json()['action_plans']
        self.assertEqual(1, len(plans))
        plan = self.admin_api.get('/action_plans/%s' % plans[0]['uuid'])
        return {i['name']: i['value']
                for i in plan.json()['efficacy_indicators']}

    def assert_all_profiled(self, audit):
        self.assertEqual(N_INSTANCES,
                         self.indicators(audit)['instances_profiled'])
        uuids = [i.uuid for i in TOPOLOGY.instances]
        profiles = self.store.load_profiles(uuids)
        self.assertEqual(set(uuids), set(profiles))
        self.assertTrue(self.store.latest_forecasts(uuids[-1], 'cpu'))

    # -- tests -------------------------------------------------------------

    def test_two_workers_profile_an_audit_and_reuse_fresh_profiles(self):
        strategy_log = self.useFixture(fixtures.FakeLogger(
            name='watcher_predictive.plugins.strategy', level=logging.INFO))
        measured = ('Measured use of %d of %d instances read from the '
                    'histories stored by the profiler workers'
                    % (N_INSTANCES, N_INSTANCES))
        self.start_workers('worker-a', 'worker-b')
        audit = self.post_audit()
        self.assertEqual('SUCCEEDED', self.wait_for_end(audit, 120))
        self.assert_all_profiled(audit)
        # The plan has the guests' measured use (collision separation)
        # without the decision engine reading telemetry.
        self.assertIn(measured, strategy_log.output)
        # Both workers took shards.
        for name in self.workers:
            self.assertIn('Shard of', self.log_of(name), name)
            self.assertIn("'%s': " % name, self.coordinator_log.output)
        versions = {u: p.version for u, p in self.store.load_profiles(
            [i.uuid for i in TOPOLOGY.instances]).items()}

        # A second audit finds every profile fresh: nothing is profiled
        # again or rewritten.
        audit = self.post_audit()
        self.assertEqual('SUCCEEDED', self.wait_for_end(audit, 120))
        self.assertEqual(N_INSTANCES,
                         self.indicators(audit)['instances_profiled'])
        self.assertIn('0 profiled now, %d fresh profiles reused'
                      % N_INSTANCES, self.coordinator_log.output)
        self.assertEqual(2, strategy_log.output.count(measured))
        self.assertEqual(versions, {
            u: p.version for u, p in self.store.load_profiles(
                list(versions)).items()})

    def test_killing_a_worker_mid_audit_still_completes_it(self):
        self.start_workers('worker-a', 'worker-b')
        audit = self.post_audit()
        # As soon as worker-a holds a shard, it dies.
        self.wait_in_log('worker-a', 'Profiling shard', 60)
        self.kill_worker('worker-a')
        self.assertEqual('SUCCEEDED', self.wait_for_end(audit, 120))
        self.assert_all_profiled(audit)
        self.assertIn('sending it again', self.coordinator_log.output)

    def test_no_worker_fails_the_audit_clearly_within_the_timeout(self):
        audit_log = self.useFixture(fixtures.FakeLogger(
            name='watcher.decision_engine.audit', level=logging.ERROR))
        started = time.time()
        audit = self.post_audit()
        self.assertEqual('FAILED', self.wait_for_end(audit, 60))
        # The ping timeout (5 s) plus the audit's own start and end.
        self.assertLess(time.time() - started, 30)
        self.assertIn('No profiler worker answered on topic %s' % self.topic,
                      audit_log.output)
        self.assertIn('no answer to a ping within 5 s', audit_log.output)
        self.assertEqual({}, self.store.load_profiles(
            [i.uuid for i in TOPOLOGY.instances]))
