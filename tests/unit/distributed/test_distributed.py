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

"""Profiling fanned out over oslo.messaging's in-process fake transport.

Real RPC server and client, real SQLite store, generated telemetry
replayed by the trace source; the workers are endpoints in this process.
"""

import sqlite3
import threading
import time
import uuid

import numpy as np
from oslo_config import cfg
import oslo_messaging as messaging
import pytest

from watcher_predictive.distributed import coordinator
from watcher_predictive.distributed import rpcapi
from watcher_predictive.distributed import service
from watcher_predictive.distributed import shard
from watcher_predictive.distributed import worker
from watcher_predictive import exception
from watcher_predictive.profiler import engine as profiler
from watcher_predictive.simulation import generated
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration
from watcher_predictive.telemetry import trace

STEP = 300
N = 14


@pytest.fixture(scope='module')
def history():
    hist, _ = generated.generate(n_instances=N, days=3, step=STEP,
                                 end=1_700_000_100 - 1_700_000_100 % STEP)
    # Two newcomers with a few hours of history only.
    for array in hist.values.values():
        array[-2:, :-24] = np.nan
    return hist


@pytest.fixture
def db(tmp_path):
    path = tmp_path / 'watcher.sqlite'
    migration.upgrade('sqlite:///%s' % path)
    return path


@pytest.fixture
def store(db):
    store = storage.Store('sqlite:///%s' % db, timeout=5)
    yield store
    store.dispose()


@pytest.fixture
def transport():
    # oslo.messaging registers its tracing options on the global object.
    transport = messaging.get_rpc_transport(cfg.CONF, url='fake:///')
    yield transport
    transport.cleanup()


class Workers:
    """RPC servers on the fake transport, stopped at the end."""

    def __init__(self, transport, topic):
        self.transport = transport
        self.topic = topic
        self.servers = []

    def start(self, endpoint, name):
        server = rpcapi.get_server(self.transport, self.topic, name,
                                   endpoint)
        server.start()
        self.servers.append(server)
        return server

    def stop(self):
        for server in self.servers:
            server.stop()
            server.wait()


@pytest.fixture
def workers(transport):
    workers = Workers(transport, 'profiler-%s' % uuid.uuid4().hex[:8])
    yield workers
    workers.stop()


def request_for(history, ids=None, audit_uuid='audit-1', end=None):
    end = history.end if end is None else end
    return shard.ShardRequest(
        instance_ids=list(history.instance_ids if ids is None else ids),
        start=end - 3 * 86400, end=end, step=STEP, horizon_steps=12,
        min_history_steps=288, audit_uuid=audit_uuid, issued_at=end)


def make_coordinator(workers, shard_size=4, attempts=2, timeout=30,
                     ping_timeout=5, concurrency=2):
    client = rpcapi.ProfilerClient(workers.transport, workers.topic,
                                   timeout=timeout, heartbeat_timeout=None)
    return coordinator.Coordinator(client, concurrency, shard_size,
                                   attempts, ping_timeout,
                                   transport='fake:///')


def shard_profiler(history, store, name='w1', fresh_age=900):
    source = trace.TraceSource(history, {u: u for u in
                                         history.instance_ids}, 0)
    return worker.ShardProfiler(source, store, fresh_age=fresh_age,
                                worker=name)


def counts(db):
    with sqlite3.connect(db) as conn:
        versions = dict(conn.execute(
            'SELECT instance_uuid, version FROM predictive_profile'))
        forecasts = conn.execute(
            'SELECT COUNT(*) FROM predictive_forecast').fetchone()[0]
    return versions, forecasts


def test_two_workers_give_what_one_process_gives(history, store, db,
                                                 workers):
    for name in ('w1', 'w2'):
        workers.start(rpcapi.ProfilerEndpoint(
            shard_profiler(history, store, name)), name)
    request = request_for(history)
    coordinator_ = make_coordinator(workers)
    result = coordinator_.profile(request)
    # The timeline of the shards: every one answered by a worker, after it
    # was sent, with the phases the worker timed.
    pieces = shard.shards(history.instance_ids, 4, at_least=2)
    assert [s['instances'] for s in coordinator_.last_shards] == [
        len(piece) for piece in pieces]
    for sent in coordinator_.last_shards:
        assert sent['worker'] in ('w1', 'w2')
        assert 0 <= sent['sent'] <= sent['answered']
        assert {'queued', 'reuse', 'telemetry', 'profile', 'store',
                'answer'} <= set(sent['seconds'])

    # The profiler pools some of its calibration over the instances it is
    # given, so each shard is compared with the same shard profiled here.
    horizon = 12 + worker.ShardProfiler(None, None).margin_steps(STEP)
    profiled = []
    for piece in shard.shards(history.instance_ids, 4):
        direct = profiler.Profiler(min_history_steps=288).profile(
            history.select(piece), horizon)
        rows = [result.profiled.index(u) for u in direct.profiled]
        profiled.extend(direct.profiled)
        for resource, fc in direct.forecasts.items():
            got = result.forecasts[resource]
            assert got.start == history.end and got.step == STEP
            np.testing.assert_allclose(got.quantiles[rows],
                                       fc.quantiles[:, :12], atol=1e-6)
            np.testing.assert_allclose(result.peaks[resource][rows],
                                       direct.peaks[resource])
    assert result.profiled == tuple(profiled)
    assert set(result.skipped) == set(history.instance_ids[-2:])
    assert result.skipped[history.instance_ids[-1]].kwargs[
        'required'] == 288
    versions, forecasts = counts(db)
    assert set(versions) == set(profiled)
    assert forecasts == len(profiled) * len(result.forecasts)


def test_a_shard_done_twice_changes_nothing(history, store, db):
    profiler_ = shard_profiler(history, store)
    request = request_for(history, history.instance_ids[:6])
    first = profiler_.profile(request)
    before = counts(db)
    second = profiler_.profile(request)
    assert counts(db) == before
    assert (first['profiled_now'], second['profiled_now']) == (6, 0)
    assert second['reused'] == 6
    for resource, forecast in first['forecasts'].items():
        np.testing.assert_allclose(second['forecasts'][resource][
            'quantiles'], forecast['quantiles'], atol=1e-6)
        assert second['peaks'][resource] == pytest.approx(
            first['peaks'][resource])


def test_concurrent_duplicates_store_one_profile(history, store, db):
    request = request_for(history, history.instance_ids[:4])
    one, two = shard_profiler(history, store), shard_profiler(history,
                                                              store)
    threads = [threading.Thread(target=p.profile, args=(request,))
               for p in (one, two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions, forecasts = counts(db)
    assert versions == {uuid_: 1 for uuid_ in request.instance_ids}
    assert forecasts == 4 * 4


def test_a_shard_sent_to_a_busy_worker_waits_its_turn(history, store):
    one = shard_profiler(history, store)
    requests = [request_for(history, history.instance_ids[:4]),
                request_for(history, history.instance_ids[4:8])]
    results = [None, None]

    def run(i):
        results[i] = one.profile(requests[i])
    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One shard at a time: whichever came second waited for the other.
    assert max(r['seconds']['queued'][0] for r in results) > 0
    assert all(r['profiled_now'] == 4 for r in results)


def test_a_fresh_profile_is_reused_shifted_and_an_old_one_redone(
        history, store):
    ids = history.instance_ids[:3]
    profiler_ = shard_profiler(history, store, fresh_age=900)
    first = profiler_.profile(request_for(history, ids))
    later = profiler_.profile(request_for(history, ids,
                                          end=history.end + STEP))
    assert (later['reused'], later['start']) == (3, history.end + STEP)
    # The stored forecast, one step on.
    stored = store.latest_forecasts(ids[0], 'cpu', limit=1)[0]
    np.testing.assert_allclose(later['forecasts']['cpu']['quantiles'][0],
                               stored.quantiles[1:13], atol=1e-6)
    assert first['forecasts']['cpu']['quantiles'][0][1:] == \
        later['forecasts']['cpu']['quantiles'][0][:-1]
    # Older than fresh_age: profiled again from telemetry.
    stale = profiler_.profile(request_for(history, ids,
                                          end=history.end + 4 * STEP))
    assert (stale['reused'], stale['profiled_now']) == (0, 3)


def test_refresh_profiles_the_instances_a_worker_was_sent(history, store):
    source_end = history.end
    clock = [source_end + 10]
    profiler_ = shard_profiler(history, store, fresh_age=0)
    refresher = service.Refresher(profiler_, shard_size=4,
                                  clock=lambda: clock[0])
    refresher.remember(request_for(history, history.instance_ids[:5],
                                   end=source_end - STEP))
    assert refresher.known() == 5
    assert refresher.refresh() == 5
    profiles = store.load_profiles(history.instance_ids[:5])
    assert {p.history_end for p in profiles.values()} == {source_end}
    # Nothing new since: the second refresh stores nothing new.
    versions = {u: p.version for u, p in profiles.items()}
    refresher.refresh()
    assert {u: p.version for u, p in store.load_profiles(
        history.instance_ids[:5]).items()} == versions


def test_no_worker_fails_clearly_within_the_ping_timeout(history,
                                                         workers):
    started = time.monotonic()
    with pytest.raises(exception.ProfilerUnavailable) as caught:
        make_coordinator(workers, ping_timeout=1).profile(
            request_for(history))
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert workers.topic in message and 'profiler_workers = 0' in message
    assert 'no answer to a ping within 1 s' in message


class HangsOnce:
    """A worker that hangs on its first shard (a stuck process)."""

    def __init__(self, real, release):
        self.real = real
        self.release = release
        self.hung = 0

    def ping(self, context):
        return {'worker': 'hangs'}

    def profile_shard(self, context, request):
        if not self.hung:
            self.hung += 1
            self.release.wait(30)
        return self.real.profile_shard(context, request)


def test_an_unanswered_shard_is_sent_again(history, store, workers):
    release = threading.Event()
    endpoint = HangsOnce(rpcapi.ProfilerEndpoint(
        shard_profiler(history, store, 'w1')), release)
    endpoint.target = rpcapi.ProfilerEndpoint.target
    workers.start(endpoint, 'w1')
    try:
        result = make_coordinator(workers, shard_size=7, timeout=2,
                                  attempts=3).profile(request_for(history))
    finally:
        release.set()
    assert endpoint.hung == 1
    assert len(result.profiled) == N - 2


def test_a_shard_unanswered_every_time_fails_the_audit(history, workers):
    release = threading.Event()

    class Hangs:
        target = rpcapi.ProfilerEndpoint.target

        def ping(self, context):
            return {'worker': 'hangs'}

        def profile_shard(self, context, request):
            release.wait(30)

    workers.start(Hangs(), 'w1')
    try:
        with pytest.raises(exception.ProfilerUnavailable) as caught:
            make_coordinator(workers, shard_size=50, timeout=1,
                             attempts=2).profile(request_for(history))
    finally:
        release.set()
    assert 'went unanswered 2 times' in str(caught.value)


def test_a_worker_error_fails_the_audit_with_its_reason(history, store,
                                                        workers):
    class Unreachable:
        def fetch(self, *args):
            raise exception.TelemetryUnavailable(
                source='gnocchi', reason='connection refused')

    workers.start(rpcapi.ProfilerEndpoint(worker.ShardProfiler(
        Unreachable(), store)), 'w1')
    with pytest.raises(exception.ProfilerWorkerError) as caught:
        make_coordinator(workers).profile(request_for(history))
    assert 'connection refused' in str(caught.value)
    assert store.load_profiles(history.instance_ids) == {}


def test_bad_requests_are_refused_with_the_value():
    with pytest.raises(exception.InvalidParameter, match='start/end/step'):
        shard.ShardRequest(instance_ids=['a'], start=0, end=301, step=300,
                           horizon_steps=1, min_history_steps=1)
    with pytest.raises(exception.InvalidParameter, match='same version'):
        shard.ShardRequest.from_dict({'instance_ids': [], 'colour': 1})
    with pytest.raises(exception.InvalidParameter, match='shard size'):
        shard.shards(['a'], 0)


def test_the_transport_is_described_without_its_password():
    conf = cfg.ConfigOpts()
    from watcher_predictive import conf as predictive_conf
    predictive_conf.register_opts(conf)
    conf([], project='watcher-predictive-test', default_config_files=[])
    conf.set_override('profiler_transport_url',
                      'rabbit://guest:s3cret@10.0.0.5:5672/cloud',
                      group='watcher_predictive')
    described = rpcapi.describe_transport(conf)
    assert described == 'rabbit://10.0.0.5:5672/cloud'
    assert 's3cret' not in described


def test_the_service_answers_on_its_topic_and_stops(history, store):
    from watcher_predictive import conf as predictive_conf
    predictive_conf.register_opts(cfg.CONF)
    topic = 'profiler-%s' % uuid.uuid4().hex[:8]
    overrides = {'profiler_transport_url': 'fake:///',
                 'profiler_topic': topic, 'profiler_refresh_interval': 1}
    for name, value in overrides.items():
        cfg.CONF.set_override(name, value, group='watcher_predictive')
    try:
        worker_service = service.ProfilerService(
            cfg.CONF, source_factory=lambda: trace.TraceSource(
                history, {u: u for u in history.instance_ids}, 0),
            store_factory=lambda: store, host='worker-x')
        worker_service.start()
        client = rpcapi.ProfilerClient(worker_service.transport, topic,
                                       timeout=30, heartbeat_timeout=None)
        assert client.ping(5) == {'worker': 'worker-x'}
        answer = client.profile_shard(request_for(
            history, history.instance_ids[:2]))
        assert answer['instances'] == list(history.instance_ids[:2])
        assert worker_service.refresher.known() == 2
        worker_service.stop()
        worker_service.wait()
        assert worker_service.transport is None
    finally:
        for name in overrides:
            cfg.CONF.clear_override(name, group='watcher_predictive')


@pytest.mark.parametrize('n,size,at_least,sizes', [
    (10, 4, 1, [4, 4, 2]),
    (1001, 1000, 1, [501, 500]),
    (1000, 1000, 2, [500, 500]),
    (10000, 1000, 2, [1000] * 10),
    (3, 1000, 4, [1, 1, 1]),
    (0, 5, 2, []),
])
def test_shards_are_balanced_and_keep_every_worker_busy(n, size, at_least,
                                                        sizes):
    ids = ['i%d' % k for k in range(n)]
    pieces = shard.shards(ids, size, at_least=at_least)
    assert [len(p) for p in pieces] == sizes
    assert [i for p in pieces for i in p] == ids
