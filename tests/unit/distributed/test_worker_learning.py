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

"""A profiler worker learns from the stored forecasts as an audit does."""

import sqlite3

import pytest

from watcher_predictive.distributed import shard
from watcher_predictive.distributed import worker
from watcher_predictive.learning import learner
from watcher_predictive.simulation import generated
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration
from watcher_predictive.telemetry import trace

STEP = 300
HOUR = 3600


@pytest.fixture(scope='module')
def history():
    hist, _ = generated.generate(n_instances=4, days=4, step=STEP,
                                 end=1_700_000_100 - 1_700_000_100 % STEP)
    return hist


@pytest.fixture
def store(tmp_path):
    path = tmp_path / 'watcher.sqlite'
    migration.upgrade('sqlite:///%s' % path)
    store = storage.Store('sqlite:///%s' % path, timeout=5)
    store.path = path
    yield store
    store.dispose()


def request_at(history, end):
    return shard.ShardRequest(
        instance_ids=list(history.instance_ids), start=end - 3 * 86400,
        end=end, step=STEP, horizon_steps=12, min_history_steps=288,
        audit_uuid='audit-%d' % end, issued_at=end)


def error_rows(store):
    with sqlite3.connect(store.path) as conn:
        return conn.execute(
            'SELECT COUNT(*) FROM predictive_forecast_error').fetchone()[0]


@pytest.mark.parametrize('learning', [learner.Options(warm_start=True),
                                      learner.Options(), None])
def test_every_profiling_cycle_learns(history, store, learning):
    source = trace.TraceSource(history, {u: u for u in
                                         history.instance_ids}, 0)
    shard_profiler = worker.ShardProfiler(source, store, fresh_age=0,
                                          learning=learning)
    ends = [history.end - 2 * HOUR, history.end - HOUR, history.end]
    for end in ends:
        shard_profiler.profile(request_at(history, end))
    profiles = store.load_profiles(history.instance_ids)
    learned = {u: p.state.get('learning') for u, p in profiles.items()}
    if learning is None:
        assert set(learned.values()) == {None}
        assert error_rows(store) == 0
        return
    uuid = history.instance_ids[0]
    cpu = learned[uuid]['resources']['cpu']
    assert learned[uuid]['audits'] == 3
    # The first cycle's forecast (an hour and the worker's margin) was
    # scored by the last one.
    assert cpu['scored_until'] == ends[0]
    assert error_rows(store) > 0
    if not learning.warm_start:
        assert not cpu.get('model'), cpu.get('model')
        return
    # The ensemble stored at the first cycle was continued, not refitted.
    assert cpu['model']['end'] == ends[2]
    assert cpu['model']['scored'] >= 2
