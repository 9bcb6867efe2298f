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

"""Learned state under concurrency, on real MariaDB and PostgreSQL.

Two decision engines (two stores, each with its own connection pool) run
an audit of the same instances at the same moment, through the real
strategy: both load the profiles before either saves, so one save finds
the other's version and retries on top of it. Nothing either audit
learned may be lost, and no forecast may be scored twice. Databases are
made as in ``test_migrations`` (``tools/test-setup.sh``).
"""

import threading
from unittest import mock

import pytest
from watcher.decision_engine.loading import default as loading

from tests.functional.test_migrations import url  # noqa: F401 (fixture)
from tests.unit.plugins import test_strategy as fixtures
from tests.unit.plugins import test_strategy_learning as learning_fixtures
from watcher_predictive.storage import api
from watcher_predictive.storage import migration
from watcher_predictive.telemetry import trace

NOW = fixtures.NOW
IDS = learning_fixtures.IDS
# The fourth instance of the model replays a series chosen by its uuid.
ALL = IDS + [fixtures.FRESH]


def _strategy(store, history, hour):
    strategy = loading.DefaultStrategyLoader().load('predictive_anticipation')
    strategy._compute_model = fixtures.model()
    strategy.telemetry = trace.TraceSource(history, {u: u for u in IDS}, 0)
    strategy.store = store
    strategy.flavors = fixtures.FLAVORS
    strategy.clock = lambda: NOW + hour * 3600
    return strategy


def test_two_engines_learn_at_once_and_lose_nothing(url):  # noqa: F811
    if url.startswith('sqlite'):
        pytest.skip('SQLite serialises writers; the race needs a server')
    migration.upgrade(url)
    history = learning_fixtures.noisy_history()
    stores = [api.Store(url, timeout=30) for _ in range(2)]
    try:
        _strategy(stores[0], history, 0).execute(audit=mock.Mock(uuid='a0'))
        before = stores[0].load_profiles(ALL)
        assert set(before) == set(ALL)

        barrier = threading.Barrier(2, timeout=60)
        outcomes = []

        def audit(index):
            store = stores[index]
            real_load = store.load_profiles

            def load_together(ids):
                found = real_load(ids)
                if not outcomes:  # only the first load races
                    barrier.wait()
                return found
            try:
                with mock.patch.object(store, 'load_profiles',
                                       side_effect=load_together):
                    _strategy(store, history, 1).execute(
                        audit=mock.Mock(uuid='engine-%d' % index))
                outcomes.append(('saved', index))
            except Exception as error:  # reported by the assertion below
                outcomes.append(('error', repr(error)))
                barrier.abort()

        threads = [threading.Thread(target=audit, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert sorted(outcomes) == [('saved', 0), ('saved', 1)], outcomes

        after = stores[0].load_profiles(ALL)
        for uuid in ALL:
            # Both audits stored (one on top of the other) ...
            assert after[uuid].version == before[uuid].version + 2
            learned = after[uuid].state['learning']
            # ... and both counted, with the forecast of hour 0 scored
            # once, by whichever saved first.
            assert learned['audits'] == 3
            assert learned['resources']['cpu']['scored_until'] == NOW
        errors = stores[0].forecast_errors()
        keys = [(e.instance_uuid, e.resource, e.model, e.issued_at)
                for e in errors]
        assert len(keys) == len(set(keys))
        assert {e.issued_at for e in errors} == {NOW}
        ensemble = {(e.instance_uuid, e.resource) for e in errors
                    if e.model == 'ensemble'}
        assert ensemble == {(u, r) for u in ALL
                            for r in ('cpu', 'memory', 'disk', 'network')}
    finally:
        for store in stores:
            store.dispose()
