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

"""Adaptive learning through the strategy: real SQLite store, Watcher's
loader and model, trace-replay telemetry, one audit per simulated hour."""

import os
import tempfile
from unittest import mock

import numpy as np
import sqlalchemy as sa
from watcher.decision_engine.loading import default as loading
from watcher.tests.unit import base

from watcher_predictive import exception
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration
from watcher_predictive.storage import models
from watcher_predictive.telemetry import trace

from tests.unit.plugins import test_strategy as fixtures  # noqa: I202

STEP = 300
NOW = fixtures.NOW
IDS = [fixtures.HOT, fixtures.BUSY, fixtures.IDLE_BIG]


def noisy_history(hours_after=6):
    """Three days of noisy daily cycles, ending ``hours_after`` past NOW."""
    rng = np.random.default_rng(7)
    n = 3 * 86400 // STEP + hours_after * 12
    end = NOW + hours_after * 3600
    times = end - STEP * np.arange(n, 0, -1)
    day = np.sin(2 * np.pi * (times % 86400) / 86400)
    cpu = np.stack([1.0 + 0.8 * day + rng.normal(0, 0.2, n),
                    1.5 + rng.normal(0, 0.3, n).cumsum() * 0.02,
                    0.3 + 0.2 * day + rng.normal(0, 0.05, n)])
    cpu = np.clip(cpu, 0.0, None)
    return history_mod.History(IDS, int(times[0]), STEP, {
        'cpu': cpu, 'memory': 1000 + 200 * cpu, 'disk': cpu * 1e6,
        'network': cpu * 1e5})


class TestStrategyLearning(base.TestCase):

    def setUp(self):
        super().setUp()
        folder = tempfile.mkdtemp()
        self.addCleanup(lambda: [os.remove(os.path.join(folder, f))
                                 for f in os.listdir(folder)])
        self.folder = folder
        self.history = noisy_history()

    def database(self, name):
        url = 'sqlite:///%s' % os.path.join(self.folder, name)
        migration.upgrade(url)
        return url

    def audit(self, store, hour, **patches):
        strategy = loading.DefaultStrategyLoader().load(
            'predictive_anticipation')
        strategy._compute_model = fixtures.model()
        strategy.telemetry = trace.TraceSource(
            self.history, {u: u for u in IDS}, 0)
        strategy.store = store
        strategy.flavors = fixtures.FLAVORS
        strategy.clock = lambda: NOW + hour * 3600
        strategy.execute(audit=mock.Mock(uuid='%08d' % hour))
        return strategy

    @staticmethod
    def snapshot(url):
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                profiles = conn.execute(sa.select(
                    models.Profile.instance_uuid, models.Profile.state,
                    models.Profile.version).order_by(
                        models.Profile.instance_uuid)).all()
                errors = conn.execute(sa.select(
                    *[c for c in models.ForecastError.__table__.c
                      if c.name not in ('id', 'created_at')]).order_by(
                        'instance_uuid', 'resource', 'model',
                        'issued_at')).all()
                forecasts = conn.execute(sa.select(
                    models.Forecast.instance_uuid, models.Forecast.resource,
                    models.Forecast.issued_at,
                    models.Forecast.quantiles).order_by(
                        models.Forecast.id)).all()
        finally:
            engine.dispose()
        return profiles, errors, forecasts

    def test_every_forecast_is_scored_once_and_learned_from(self):
        url = self.database('a.sqlite')
        store = storage.Store(url)
        for hour in range(3):
            self.audit(store, hour)
        errors = store.forecast_errors()
        models_scored = {e.model for e in errors}
        self.assertIn('ensemble', models_scored)
        self.assertIn('seasonal_arima', models_scored)
        # Audits at hours 0..2 with a one-hour horizon: the forecasts of
        # hours 0 and 1 have come, once each, per instance and model.
        keys = [(e.instance_uuid, e.resource, e.model, e.issued_at)
                for e in errors]
        self.assertEqual(len(keys), len(set(keys)))
        self.assertEqual({NOW, NOW + 3600}, {e.issued_at for e in errors})
        state = store.load_profiles(IDS)[fixtures.HOT].state['learning']
        self.assertEqual(3, state['audits'])
        cpu = state['resources']['cpu']
        self.assertEqual(NOW + 3600, cpu['scored_until'])
        weights = np.array(list(cpu['weights'].values()))
        self.assertTrue(np.isclose(weights.sum(), 1.0))
        self.assertGreater(np.ptp(weights), 0.01)
        self.assertIn('markov', state)
        self.assertEqual(NOW + 2 * 3600, state['markov']['end'])

    def test_learned_state_is_the_same_after_a_restart(self):
        kept, restarted = self.database('k.sqlite'), self.database(
            'r.sqlite')
        store = storage.Store(kept)
        for hour in range(3):
            self.audit(store, hour)
            # A new decision engine: new store (engine, pool) every audit.
            fresh = storage.Store(restarted)
            self.audit(fresh, hour)
            fresh.dispose()
        store.dispose()
        self.assertEqual(self.snapshot(kept), self.snapshot(restarted))
        self.assertTrue(self.snapshot(kept)[1])

    def test_failure_half_way_leaves_the_state_as_it_was(self):
        url = self.database('f.sqlite')
        store = storage.Store(url)
        self.audit(store, 0)
        self.audit(store, 1)
        before = self.snapshot(url)
        # Planning fails after learning scored and adjusted everything.
        with mock.patch('watcher_predictive.anticipation.engine.'
                        'AnticipationEngine.plan',
                        side_effect=RuntimeError('planner crashed')):
            self.assertRaises(RuntimeError, self.audit, store, 2)
        self.assertEqual(before, self.snapshot(url))

        # The database fails inside the save, after the profiles were
        # updated: a score of this audit is already there (a real unique
        # key violation), every retry fails the same way, and the whole
        # transaction is rolled back each time.
        engine = sa.create_engine(url)
        row = {c.name: 0 for c in models.ForecastError.__table__.c
               if c.name not in ('id', 'created_at')}
        row.update(instance_uuid=fixtures.HOT, resource='cpu',
                   model='ensemble', issued_at=NOW + 3600,
                   created_at=models.utcnow(), abs_error=0.0, pinball=0.0)
        with engine.begin() as conn:
            conn.execute(sa.insert(models.ForecastError), [row])
        engine.dispose()
        before = self.snapshot(url)
        self.assertRaises(exception.ConcurrentUpdate, self.audit, store, 2)
        self.assertEqual(before, self.snapshot(url))
        store.dispose()
