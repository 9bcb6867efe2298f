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

"""The strategy reads its history from a real Prometheus server and plans.

Prometheus (Debian's package) holds 3 days of 5-minute samples of 20
Bitbrains guests, written as sg-core exports Ceilometer's metrics;
``[watcher_predictive] telemetry_source = prometheus`` and
``prometheus_url`` point at it, and the strategy is loaded by Watcher's
loader with nothing injected but the cluster model.
"""

import os
import tempfile
import unittest

from oslo_config import cfg
from watcher.decision_engine.loading import default as loading
from watcher.tests.unit import base

from tests.functional.fixtures import gnocchi as gnocchi_fixture
from tests.functional.fixtures import prometheus as prometheus_fixture
from tests import traces
from watcher_predictive.cmd import demo
from watcher_predictive import conf as predictive_conf
from watcher_predictive import exception
from watcher_predictive.simulation import cluster
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration
from watcher_predictive.telemetry import trace

CONF = cfg.CONF
N_VMS = 20


class TestAuditOnPrometheus(base.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if traces.trace_path() is None:
            raise unittest.SkipTest(traces.missing_message())
        cls.prometheus = prometheus_fixture.PrometheusFixture()
        cls.prometheus.setUp()
        try:
            full, cls.shapes = trace.load_bitbrains(traces.trace_path(),
                                                    limit=N_VMS)
            cls.posted = gnocchi_fixture.history_window(
                full, 4 * 288, 3 * 288)
            cls.loaded = cls.prometheus.load_history(cls.posted)
        except BaseException:
            cls.prometheus.cleanUp()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.prometheus.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        folder = tempfile.mkdtemp()
        self.url = 'sqlite:///%s' % os.path.join(folder, 'watcher.sqlite')
        CONF.set_override('connection', self.url, group='database')
        predictive_conf.register_opts(CONF)
        CONF.set_override('telemetry_source', 'prometheus',
                          group='watcher_predictive')
        CONF.set_override('prometheus_url', self.prometheus.url,
                          group='watcher_predictive')
        CONF.set_override('telemetry_timeout', 10,
                          group='watcher_predictive')
        migration.upgrade(self.url)
        self.store = storage.Store(self.url)

    def cluster_model(self):
        """The loaded guests on three simulated hosts, under the uuids
        Prometheus knows them by.
        """
        uuids = {series: uuid for uuid, series in self.loaded.mapping.items()}
        sim = cluster.build(self.shapes, n_hosts=3, host_vcpus=16,
                            host_memory_mb=1024 * 1024, cpu_ratio=4.0,
                            uuids=uuids)
        return sim, demo._watcher_model(sim)

    def strategy(self):
        sim, model = self.cluster_model()
        strategy = loading.DefaultStrategyLoader().load(
            'predictive_anticipation')
        strategy._compute_model = model
        strategy.flavors = sim.flavors
        strategy.clock = lambda: self.loaded.end
        return strategy, sim

    def test_profiles_and_plans_from_prometheus(self):
        strategy, sim = self.strategy()
        self.assertEqual(N_VMS, len(sim.instances))
        solution = strategy.execute(audit=None)
        indicators = {i['name']: i['value']
                      for i in solution.efficacy_indicators}
        self.assertEqual(N_VMS, indicators['instances_profiled'])
        self.assertEqual(0, indicators['instances_skipped_short_history'])
        profile = strategy.last_profile
        self.assertEqual(set(self.loaded.instance_ids),
                         set(profile.profiled))
        # The forecasts start where the history ends.
        self.assertEqual(self.loaded.end, profile.forecasts['cpu'].start)
        self.assertEqual(N_VMS, len(strategy.last_plan.release_probability))
        # Every planned action passed its schema and names a real guest.
        self.assertTrue(solution.actions)
        uuids = set(self.loaded.instance_ids)
        for action in solution.actions:
            self.assertIn(action['input_parameters']['resource_id'], uuids)
        stored = self.store.load_profiles(self.loaded.instance_ids)
        self.assertEqual(uuids, set(stored))
        self.assertEqual(self.loaded.end, next(iter(
            stored.values())).history_end)

        # Prometheus stops: the next audit fails clearly and changes
        # nothing.
        versions = {u: r.version for u, r in stored.items()}
        self.prometheus.stop()
        strategy, _ = self.strategy()
        self.assertRaisesRegex(exception.TelemetryUnavailable,
                               'prometheus.*cannot connect',
                               strategy.execute, None)
        after = self.store.load_profiles(self.loaded.instance_ids)
        self.assertEqual(versions, {u: r.version for u, r in after.items()})
