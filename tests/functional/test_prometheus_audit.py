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

import unittest

from watcher.tests.unit import base

from tests.functional.fixtures import audit_case
from tests.functional.fixtures import gnocchi as gnocchi_fixture
from tests.functional.fixtures import prometheus as prometheus_fixture
from tests import traces
from watcher_predictive.telemetry import trace

N_VMS = audit_case.AuditOnSource.N_VMS


class TestAuditOnPrometheus(audit_case.AuditOnSource, base.TestCase):

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
        self.use_source('prometheus', prometheus_url=self.prometheus.url)

    def test_profiles_and_plans_from_prometheus(self):
        # Prometheus stops: the next audit fails naming it and the refused
        # connection.
        self.check_audit_then_outage(self.prometheus.stop,
                                     'prometheus.*cannot connect')
