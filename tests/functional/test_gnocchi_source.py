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

"""GnocchiSource against a real Gnocchi 4.7.1 holding real VM traces.

Three days of 22 Bitbrains VMs are posted as Ceilometer would (cumulative
``cpu`` nanoseconds, ``memory.usage``, per-disk and per-vNIC byte counters),
with a long gap, a short gap and a counter reset inserted. The source must
read them back in a few requests and reconstruct the original rates.
"""

import dataclasses
import socket
import time
import urllib.parse
import uuid
import warnings

import numpy as np
import pytest

from tests.functional.fixtures import gnocchi as gnocchi_fixture
from tests import traces
from watcher_predictive.distributed import shard
from watcher_predictive.distributed import worker
from watcher_predictive import exception
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration
from watcher_predictive.telemetry import gnocchi
from watcher_predictive.telemetry import incremental
from watcher_predictive.telemetry import trace

N_VMS = 22
DAYS = 3
STEP = 300
MAX_GAP = 3 * STEP
TOLERANCE = {'cpu': 1e-9, 'memory': 1e-9, 'disk': 1e-3, 'network': 1e-3}


@pytest.fixture(scope='module')
def trace_history():
    path = traces.trace_path()
    if path is None:
        pytest.skip(traces.missing_message())
    hist, _ = trace.load_bitbrains(path, limit=N_VMS, step=STEP)
    # Days 5 to 8 of August 2013: weekdays with daily cycles.
    return gnocchi_fixture.history_window(hist, 4 * 288, DAYS * 288)


@pytest.fixture(scope='module')
def server(trace_history):
    fixture = gnocchi_fixture.GnocchiFixture()
    try:
        fixture._pg().close()
    except Exception as e:
        pytest.skip('PostgreSQL for the Gnocchi indexer is not reachable at '
                    '%s (%s); set WATCHER_PREDICTIVE_GNOCCHI_PG' % (
                        gnocchi_fixture.PG_URL, e))
    fixture.setUp()
    yield fixture
    fixture.cleanUp()


def disturbances(hist):
    ids, t = hist.instance_ids, hist.timestamps()
    gaps = {ids[0]: [(t[100], t[124])],     # 2 hours: longer than MAX_GAP
            ids[1]: [(t[200], t[202])]}     # 10 minutes: within MAX_GAP
    resets = {ids[2]: [t[300]], ids[3]: [t[50], t[700]]}
    return gaps, resets


def expected(hist, gaps, resets, rate=True):
    """What a correct source returns for what the fixture posted.

    A counter has no rate at its first sample; read through ``rate:mean``
    (``rate``), not at its second either, whose previous bucket is not
    read.
    """
    times = hist.timestamps()
    out = {}
    for resource, values in hist.values.items():
        out[resource] = np.full(values.shape, np.nan)
        for row, sid in enumerate(hist.instance_ids):
            posted = np.isfinite(values[row])
            for t0, t1 in gaps.get(sid, ()):
                posted &= ~((times >= t0) & (times < t1))
            cells = np.flatnonzero(posted)
            if resource == 'memory':
                out[resource][row, cells] = values[row, cells]
                continue
            reset = np.isin(cells, np.searchsorted(times, resets.get(sid,
                                                                     [])))
            ok = np.diff(cells, prepend=-MAX_GAP) * STEP <= MAX_GAP
            ok &= ~reset
            if rate:
                ok[1:2] = False
            out[resource][row, cells[ok]] = values[row, cells[ok]]
    return out


@pytest.fixture(scope='module')
def loaded(server, trace_history):
    gaps, resets = disturbances(trace_history)
    loaded = server.load_history(trace_history, gaps=gaps, resets=resets)
    return loaded, expected(trace_history, gaps, resets)


def count_requests(client):
    calls = []
    client.api.session.session.hooks['response'].append(
        lambda response, *args, **kwargs: calls.append(response.url))
    return calls


def assert_matches(history, want, rows=None):
    for resource, values in want.items():
        got = history.values[resource]
        if rows is not None:
            got = got[rows]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(values),
                                      err_msg=resource)
        np.testing.assert_allclose(got, values, rtol=1e-9,
                                   atol=TOLERANCE[resource],
                                   err_msg=resource)


def test_fetches_all_instances_in_three_requests(server, loaded):
    loaded, want = loaded
    assert loaded.end <= time.time() < loaded.end + 2 * STEP
    client = server.make_client()
    calls = count_requests(client)
    source = gnocchi.GnocchiSource(client, timeout=30, batch_size=50,
                                   max_gap=MAX_GAP)
    absent = str(uuid.uuid4())
    out = source.fetch(loaded.instance_ids + [absent], loaded.start,
                       loaded.end, STEP)
    assert len(calls) == 3 and all('/v1/aggregates' in c for c in calls)
    assert out.instance_ids[-1] == absent and out.n_steps == DAYS * 288
    for resource in out.values:
        assert np.isnan(out.values[resource][-1]).all()
    assert_matches(out, want, rows=slice(0, N_VMS))
    # Most of the trace came back: the comparison is not vacuous.
    assert np.isfinite(out.values['cpu'][:N_VMS]).mean() > 0.95


def test_gaps_and_resets_are_nan_not_interpolated(server, loaded):
    loaded, want = loaded
    source = gnocchi.GnocchiSource(server.make_client(), max_gap=MAX_GAP)
    ids = loaded.instance_ids[:4]
    out = source.fetch(ids, loaded.start, loaded.end, STEP)
    cpu = out.values['cpu']
    assert np.isnan(cpu[0, 100:125]).all()          # long gap, and after
    assert np.isnan(cpu[1, 200:202]).all()          # short gap
    np.testing.assert_allclose(cpu[1, 202], want['cpu'][1, 202])
    assert np.isfinite(cpu[1, 202])                 # mean over the gap
    assert np.isnan(out.values['disk'][2, 300])     # reset
    assert np.isfinite(out.values['disk'][2, 301])
    assert np.isnan(out.values['network'][3, [50, 700]]).all()
    assert_matches(out, {r: v[:4] for r, v in want.items()})


def test_batches_and_partial_windows(server, loaded):
    loaded, want = loaded
    client = server.make_client()
    calls = count_requests(client)
    source = gnocchi.GnocchiSource(client, batch_size=10, max_gap=MAX_GAP)
    # A window starting mid-trace still has rates in its first cell.
    start = loaded.start + 400 * STEP
    out = source.fetch(loaded.instance_ids, start, loaded.end, STEP)
    assert len(calls) == 9
    assert_matches(out, {r: v[:, 400:] for r, v in want.items()})
    # An hourly grid averages the 5-minute buckets of each hour.
    hour_start = -(-start // 3600) * 3600
    hours = (loaded.end - hour_start) // 3600
    coarse = source.fetch(loaded.instance_ids[5:7], hour_start,
                          hour_start + hours * 3600, 3600)
    first = (hour_start - loaded.start) // STEP
    hourly = want['memory'][5:7, first:first + hours * 12]
    with np.errstate(all='ignore'), warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        hourly = np.nanmean(hourly.reshape(2, hours, 12), axis=2)
    np.testing.assert_allclose(coarse.values['memory'], hourly)


def test_counters_without_rate_aggregation(server, trace_history):
    # Counters kept under a policy without rate:mean are differentiated
    # from their mean.
    policies = {m: 'ceilometer-low' for m in gnocchi_fixture.SPLIT}
    policies['cpu'] = 'ceilometer-low'
    loaded, posted = server.load_trace(n_vms=2, days=1, policies=policies)
    source = gnocchi.GnocchiSource(server.make_client(), max_gap=MAX_GAP)
    out = source.fetch(loaded.instance_ids, loaded.start, loaded.end, STEP)
    assert {'instance', 'instance_disk',
            'instance_network_interface'} <= source._without_rate
    assert_matches(out, expected(posted, {}, {}, rate=False))


def test_watcher_openstack_clients_reach_the_server(server, loaded):
    loaded, want = loaded
    from watcher.common import clients
    from watcher import conf as watcher_conf
    import watcher_predictive.conf  # noqa: F401 (registers our options)
    conf = server.configure_watcher(watcher_conf.CONF)
    source = gnocchi.GnocchiSource.from_config(
        conf, osc=clients.OpenStackClients(), max_gap=MAX_GAP)
    out = source.fetch(loaded.instance_ids[:3], loaded.start, loaded.end,
                       STEP)
    assert source.request_count == 3
    assert_matches(out, {r: v[:3] for r, v in want.items()})


def test_second_audit_reads_only_the_new_span(server, loaded, tmp_path):
    """An audit six hours after the first reads six hours and a margin,
    and profiles the instances as a full read does.
    """
    loaded, _ = loaded
    client = server.make_client()
    calls = []
    client.api.session.session.hooks['response'].append(
        lambda response, *args, **kwargs: calls.append((
            urllib.parse.parse_qs(urllib.parse.urlparse(
                response.url).query)['start'][0], len(response.content))))
    source = gnocchi.GnocchiSource(client, max_gap=MAX_GAP)
    urls = ['sqlite:///%s' % (tmp_path / name)
            for name in ('incremental.sqlite', 'full.sqlite')]
    for url in urls:
        migration.upgrade(url)
    stores = [storage.Store(url, timeout=10) for url in urls]
    reader = incremental.IncrementalSource(source, stores[0],
                                           late_margin=600)
    shift = 72 * STEP
    first = shard.ShardRequest(
        instance_ids=loaded.instance_ids, start=loaded.start,
        end=loaded.end - shift, step=STEP, horizon_steps=12,
        min_history_steps=288)
    audits = worker.ShardProfiler(reader, stores[0], fresh_age=0)
    audits.profile(first)
    full_bytes = sum(size for _, size in calls)
    calls.clear()
    second = dataclasses.replace(first, start=first.start + shift,
                                 end=loaded.end)
    got = audits.profile(second)
    # Three requests (one per resource type), all from the margin and the
    # longest counter gap before the first audit's end.
    assert [start for start, _ in calls] == [
        gnocchi._iso(first.end - 600 - MAX_GAP)] * 3
    assert reader.last_read['incremental'] == N_VMS
    assert sum(size for _, size in calls) < full_bytes / 5
    stored = stores[0].load_histories(loaded.instance_ids, STEP)
    fresh = source.fetch(loaded.instance_ids, second.start, second.end, STEP)
    for resource, values in fresh.values.items():
        merged = np.stack([stored[uuid].values[resource]
                           for uuid in loaded.instance_ids])
        np.testing.assert_allclose(merged, values, rtol=1e-6, atol=1e-9,
                                   equal_nan=True, err_msg=resource)
    want = worker.ShardProfiler(source, stores[1], fresh_age=0).profile(
        second)
    assert got['instances'] == want['instances'] and got['instances']
    for resource, forecast in want['forecasts'].items():
        np.testing.assert_allclose(
            got['forecasts'][resource]['quantiles'], forecast['quantiles'],
            rtol=1e-3, atol=1e-4, err_msg=resource)
        np.testing.assert_allclose(got['peaks'][resource],
                                   want['peaks'][resource], rtol=1e-3,
                                   atol=1e-4, err_msg=resource)
    for store in stores:
        store.dispose()


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def client_for(endpoint):
    from gnocchiclient import auth
    from gnocchiclient import client
    from keystoneauth1 import session
    return client.Client('1', session=session.Session(
        auth=auth.GnocchiBasicPlugin(user='admin', endpoint=endpoint)))


def test_refused_connection_is_unavailable_quickly():
    source = gnocchi.GnocchiSource(
        client_for('http://127.0.0.1:%d' % free_port()), timeout=2)
    began = time.monotonic()
    with pytest.raises(exception.TelemetryUnavailable, match='gnocchi'):
        source.fetch([str(uuid.uuid4())], 0, 600, STEP)
    assert time.monotonic() - began < 5


def test_hung_server_times_out():
    # Accepts connections in the kernel backlog, never answers.
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen(8)
        source = gnocchi.GnocchiSource(
            client_for('http://127.0.0.1:%d' % sock.getsockname()[1]),
            timeout=1)
        began = time.monotonic()
        with pytest.raises(exception.TelemetryUnavailable,
                           match='no answer within 1.0 s'):
            source.fetch([str(uuid.uuid4())], 0, 600, STEP)
        assert time.monotonic() - began < 5


def test_stopped_gnocchi_is_unavailable(server, loaded):
    loaded, _ = loaded
    source = gnocchi.GnocchiSource(server.make_client(), timeout=5)
    server.stop('api')
    began = time.monotonic()
    with pytest.raises(exception.TelemetryUnavailable):
        source.fetch(loaded.instance_ids, loaded.start, loaded.end, STEP)
    assert time.monotonic() - began < 10
