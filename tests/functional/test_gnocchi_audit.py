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

"""The strategy reads its history from a real Gnocchi server and plans.

Gnocchi 4.7.1 (PostgreSQL indexer, file storage, gnocchi-metricd) holds 3
days of 5-minute samples of 20 Bitbrains guests, posted as Ceilometer's
compute agent does; Watcher's own client configuration
(``[watcher_clients_auth]``) points at it, and the strategy is loaded by
Watcher's loader with nothing injected but the cluster model.
"""

import unittest

from watcher.tests.unit import base

from tests.functional.fixtures import audit_case
from tests.functional.fixtures import gnocchi as gnocchi_fixture
from tests import traces
from watcher_predictive.telemetry import trace

N_VMS = audit_case.AuditOnSource.N_VMS


class TestAuditOnGnocchi(audit_case.AuditOnSource, base.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if traces.trace_path() is None:
            raise unittest.SkipTest(traces.missing_message())
        cls.gnocchi = gnocchi_fixture.GnocchiFixture()
        cls.gnocchi.setUp()
        try:
            cls.loaded, cls.posted = cls.gnocchi.load_trace(n_vms=N_VMS,
                                                            days=3)
        except BaseException:
            cls.gnocchi.cleanUp()
            raise
        _, cls.shapes = trace.load_bitbrains(traces.trace_path(),
                                             limit=N_VMS)

    @classmethod
    def tearDownClass(cls):
        cls.gnocchi.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.gnocchi.configure_watcher(timeout=10)
        self.use_source('gnocchi')

    def test_profiles_and_plans_from_gnocchi(self):
        # The API stops: the next audit fails naming Gnocchi.
        self.check_audit_then_outage(lambda: self.gnocchi.stop('api'),
                                     'gnocchi')
