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

"""PrometheusSource against a real Prometheus holding real VM traces.

Three days of 22 Bitbrains VMs are written through the remote-write
receiver as sg-core exports Ceilometer's samples (``ceilometer_cpu``
nanoseconds, ``ceilometer_memory_usage``, per-disk and per-vNIC byte
counters), with the gaps and counter resets of the Gnocchi test. The source
must reconstruct the same rates as the Gnocchi source does.
"""

import math
import socket
import subprocess
import sys
import time
import uuid
import warnings

import numpy as np
from oslo_config import cfg
import pytest

from tests.functional.fixtures import gnocchi as gnocchi_fixture
from tests.functional.fixtures import prometheus as prometheus_fixture
from tests.functional import test_gnocchi_source as gnocchi_tests
from watcher_predictive import conf as predictive_conf
from watcher_predictive import exception
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration
from watcher_predictive import telemetry
from watcher_predictive.telemetry import incremental
from watcher_predictive.telemetry import prometheus

N_VMS = gnocchi_tests.N_VMS
DAYS = gnocchi_tests.DAYS
STEP = gnocchi_tests.STEP
MAX_GAP = gnocchi_tests.MAX_GAP
assert_matches = gnocchi_tests.assert_matches
# The same guests and days as the Gnocchi source's tests.
trace_history = gnocchi_tests.trace_history


@pytest.fixture(scope='module')
def server():
    fixture = prometheus_fixture.PrometheusFixture()
    fixture.setUp()
    yield fixture
    fixture.cleanUp()


@pytest.fixture(scope='module')
def loaded(server, trace_history):
    gaps, resets = gnocchi_tests.disturbances(trace_history)
    loaded = server.load_history(trace_history, gaps=gaps, resets=resets)
    return loaded, gnocchi_tests.expected(trace_history, gaps, resets,
                                          rate=False)


def first_vms(hist, n):
    return type(hist)(instance_ids=hist.instance_ids[:n], start=hist.start,
                      step=hist.step,
                      values={r: v[:n] for r, v in hist.values.items()})


def n_queries(n_instances, batch, start, end, span):
    pieces = math.ceil((end - start + MAX_GAP) / span)
    return math.ceil(n_instances / batch) * len(prometheus.METERS) * pieces


def test_reads_every_instance_like_the_trace(server, loaded):
    loaded, want = loaded
    source = prometheus.PrometheusSource(server.url, timeout=10,
                                         max_gap=MAX_GAP)
    absent = str(uuid.uuid4())
    out = source.fetch(loaded.instance_ids + [absent], loaded.start,
                       loaded.end, STEP)
    # One query per meter and day for all 23 instances.
    assert source.request_count == n_queries(23, 50, loaded.start,
                                             loaded.end, 86400) == 24
    assert out.instance_ids[-1] == absent and out.n_steps == DAYS * 288
    for resource in out.values:
        assert np.isnan(out.values[resource][-1]).all()
    assert_matches(out, want, rows=slice(0, N_VMS))
    # Most of the trace came back: the comparison is not vacuous.
    assert np.isfinite(out.values['cpu'][:N_VMS]).mean() > 0.95


def test_gaps_and_resets_are_nan_not_interpolated(server, loaded):
    loaded, want = loaded
    source = prometheus.PrometheusSource(server.url, max_gap=MAX_GAP)
    out = source.fetch(loaded.instance_ids[:4], loaded.start, loaded.end,
                       STEP)
    cpu = out.values['cpu']
    isnan = np.isnan(cpu)
    assert isnan[0, 100:125].all()                  # long gap, and after
    assert isnan[1, 200:202].all()                  # short gap
    assert not isnan[1, 202]                        # mean over the gap
    assert abs(cpu[1, 202] - want['cpu'][1, 202]) < 1e-9
    disk, network = out.values['disk'], out.values['network']
    assert np.isnan(disk[2, 300])                   # reset
    assert np.isfinite(disk[2, 301])
    assert np.isnan(network[3, [50, 700]]).all()
    assert_matches(out, {r: v[:4] for r, v in want.items()})


def test_batches_spans_and_partial_windows(server, loaded):
    loaded, want = loaded
    source = prometheus.PrometheusSource(server.url, batch_size=8,
                                         query_span=7 * 3600,
                                         max_gap=MAX_GAP)
    # A window starting mid-trace still has rates in its first cell; a
    # counter is differenced across the boundary of two queries.
    start = loaded.start + 400 * STEP
    out = source.fetch(loaded.instance_ids, start, loaded.end, STEP)
    assert source.request_count == n_queries(N_VMS, 8, start, loaded.end,
                                             7 * 3600)
    assert_matches(out, {r: v[:, 400:] for r, v in want.items()})


def test_samples_on_the_boundary_of_two_queries(server, trace_history):
    # Samples exactly on the grid points, and so on the boundaries of the
    # one-hour pieces: each is read once, whatever the server's version
    # does with the start of a range.
    hist = first_vms(gnocchi_fixture.history_window(trace_history, 0, 288),
                     2)
    loaded = server.load_history(hist, jitter=0)
    source = prometheus.PrometheusSource(server.url, query_span=3600,
                                         max_gap=MAX_GAP)
    out = source.fetch(loaded.instance_ids, loaded.start, loaded.end, STEP)
    assert source.request_count == 6 * 25
    want = gnocchi_tests.expected(hist, {}, {}, rate=False)
    assert_matches(out, want)
    assert np.isfinite(out.values['disk'][:, 12::12]).all()


def test_instance_label_and_bare_names(server, trace_history):
    # Ceilometer's own publisher: bare meter names, label resource_id.
    hist = first_vms(gnocchi_fixture.history_window(trace_history, 0, 288),
                     3)
    loaded = server.load_history(hist, instance_label='resource_id',
                                 prefix='')
    want = gnocchi_tests.expected(hist, {}, {}, rate=False)
    wrong = prometheus.PrometheusSource(server.url, max_gap=MAX_GAP)
    out = wrong.fetch(loaded.instance_ids, loaded.start, loaded.end, STEP)
    assert all(np.isnan(v).all() for v in out.values.values())
    right = prometheus.PrometheusSource(
        server.url, instance_label='resource_id', metric_prefix='',
        max_gap=MAX_GAP)
    out = right.fetch(loaded.instance_ids, loaded.start, loaded.end, STEP)
    assert_matches(out, want)


def test_configured_source(server, loaded):
    loaded, want = loaded
    conf = cfg.ConfigOpts()
    predictive_conf.register_opts(conf)
    conf([], project='watcher', default_config_files=[],
         default_config_dirs=[])
    conf.set_override('telemetry_source', 'prometheus',
                      group='watcher_predictive')
    conf.set_override('prometheus_url', server.url + '/',
                      group='watcher_predictive')
    conf.set_override('prometheus_batch_size', 2,
                      group='watcher_predictive')
    source = telemetry.get_source(conf, max_gap=MAX_GAP)
    assert isinstance(source, prometheus.PrometheusSource)
    out = source.fetch(loaded.instance_ids[:3], loaded.start, loaded.end,
                       STEP)
    assert source.request_count == n_queries(3, 2, loaded.start,
                                             loaded.end, 86400)
    assert_matches(out, {r: v[:3] for r, v in want.items()})


# -- failures -----------------------------------------------------------

def test_second_read_asks_only_for_the_new_span(server, loaded, tmp_path):
    loaded, want = loaded
    url = 'sqlite:///%s' % (tmp_path / 'watcher.sqlite')
    migration.upgrade(url)
    source = prometheus.PrometheusSource(server.url, timeout=10,
                                         max_gap=MAX_GAP)
    reader = incremental.IncrementalSource(
        source, storage.Store(url, timeout=10), late_margin=600)
    shift = 72 * STEP
    reader.fetch(loaded.instance_ids, loaded.start, loaded.end - shift, STEP)
    before = source.request_count
    out = reader.fetch(loaded.instance_ids, loaded.start + shift, loaded.end,
                       STEP)
    # One short piece per meter, from the margin before the stored end.
    assert source.request_count - before == n_queries(
        N_VMS, 50, loaded.end - shift - 600, loaded.end, 86400) == 6
    assert reader.last_read['cells_read'] == N_VMS * (72 + 2)
    # The stored cells are float32: equal to seven significant digits.
    for resource, values in want.items():
        np.testing.assert_allclose(out.values[resource], values[:, 72:],
                                   rtol=1e-6, atol=gnocchi_tests.TOLERANCE[
                                       resource], equal_nan=True,
                                   err_msg=resource)


def fetch_one(url, timeout=2):
    source = prometheus.PrometheusSource(url, timeout=timeout)
    source.fetch([str(uuid.uuid4())], 0, 600, STEP)


def test_refused_connection_is_unavailable_quickly():
    url = 'http://127.0.0.1:%d' % prometheus_fixture.free_port()
    began = time.monotonic()
    with pytest.raises(exception.TelemetryUnavailable,
                       match='cannot connect to %s.*prometheus_url' % url):
        fetch_one(url)
    assert time.monotonic() - began < 5


def test_hung_server_times_out():
    # Accepts connections in the kernel backlog, never answers.
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen(8)
        began = time.monotonic()
        with pytest.raises(exception.TelemetryUnavailable,
                           match='no answer from .* within 1.0 s'):
            fetch_one('http://127.0.0.1:%d' % sock.getsockname()[1], 1)
        assert time.monotonic() - began < 5


def test_wrong_path_is_not_an_api_answer(server):
    # The real server answers 404 with a text page.
    with pytest.raises(exception.TelemetryUnavailable,
                       match='HTTP 404 .* not a Prometheus API answer'):
        fetch_one(server.url + '/elsewhere')


# Prometheus' own error answers (an overloaded or misconfigured server, a
# proxy asking for credentials), which a healthy test server does not give,
# from a server in a subprocess: Watcher's harness may have monkey-patched
# this process' threads with eventlet.
_CANNED = """
import http.server, sys
status, body = int(sys.argv[1]), sys.argv[2].encode()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers['Content-Length']))
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.mark.parametrize('status,body,message', [
    (503, b'{"status":"error","errorType":"unavailable","error":"too many '
          b'queries"}', 'HTTP 503 .* unavailable: too many queries'),
    (422, b'{"status":"error","errorType":"execution","error":"query '
          b'processing would load too many samples"}',
     'HTTP 422 .*execution: query processing would load too many'),
    (401, b'Unauthorized', 'HTTP 401 .*prometheus_username'),
    (200, b'{"status":"success","data":{"resultType":"vector",'
          b'"result":[]}}', "a 'vector', not a matrix"),
    (200, b'{"status":"success","data":{"resultType":"matrix",'
          b'"result":[{"metric":{},"values":[[1,"x"]]}]}}',
     'malformed samples'),
    (200, b'{"status":"success"}', 'has no data'),
    (200, b'[1, 2]', 'not a Prometheus API answer'),
])
def test_error_answers_are_clear(status, body, message):
    server = subprocess.Popen(
        [sys.executable, '-c', _CANNED, str(status), body.decode()],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        port = int(server.stdout.readline())
        with pytest.raises(exception.TelemetryUnavailable, match=message):
            fetch_one('http://127.0.0.1:%d' % port)
    finally:
        server.kill()
        server.wait()
        server.stdout.close()


@pytest.mark.parametrize('kwargs,name', [
    ({'url': 'prometheus:9090'}, 'prometheus_url'),
    ({'instance_label': 'instance-uuid'}, 'prometheus_instance_label'),
    ({'metric_prefix': 'ceilo meter'}, 'prometheus_metric_prefix'),
    ({'batch_size': 0}, 'batch_size'),
])
def test_bad_parameters_are_named(kwargs, name):
    kwargs.setdefault('url', 'http://127.0.0.1:9090')
    with pytest.raises(exception.InvalidParameter, match=name):
        prometheus.PrometheusSource(**kwargs)


def test_stopped_prometheus_is_unavailable(server, loaded):
    loaded, _ = loaded
    source = prometheus.PrometheusSource(server.url, timeout=5)
    server.stop()
    began = time.monotonic()
    with pytest.raises(exception.TelemetryUnavailable, match='prometheus'):
        source.fetch(loaded.instance_ids, loaded.start, loaded.end, STEP)
    assert time.monotonic() - began < 10


# -- authentication and TLS ---------------------------------------------

@pytest.fixture(scope='module')
def secure(trace_history):
    """An https server with basic authentication, holding two VMs."""
    fixture = prometheus_fixture.PrometheusFixture(secure=True)
    fixture.setUp()
    hist = first_vms(gnocchi_fixture.history_window(trace_history, 0, 288),
                     2)
    try:
        loaded = fixture.load_history(hist)
    except BaseException:
        fixture.cleanUp()
        raise
    yield fixture, loaded, gnocchi_tests.expected(hist, {}, {}, rate=False)
    fixture.cleanUp()


def secure_conf(url, **options):
    conf = cfg.ConfigOpts()
    predictive_conf.register_opts(conf)
    conf([], project='watcher', default_config_files=[],
         default_config_dirs=[])
    options = dict(telemetry_source='prometheus', prometheus_url=url,
                   **options)
    for name, value in options.items():
        conf.set_override(name, value, group='watcher_predictive')
    return conf


def test_basic_auth_and_tls(secure):
    server, loaded, want = secure
    assert server.url.startswith('https://')
    conf = secure_conf(server.url, prometheus_username=server.auth[0],
                       prometheus_password=server.auth[1],
                       prometheus_cafile=server.cafile)
    source = telemetry.get_source(conf, max_gap=MAX_GAP)
    out = source.fetch(loaded.instance_ids, loaded.start, loaded.end, STEP)
    assert_matches(out, want)
    assert np.isfinite(out.values['cpu']).mean() > 0.95


@pytest.mark.parametrize('options,message', [
    ({'prometheus_password': 'wrong'},
     'HTTP 401 .*prometheus_username and prometheus_password'),
    ({'prometheus_username': None}, 'HTTP 401'),
    ({'prometheus_cafile': None}, 'TLS failure .*prometheus_cafile'),
])
def test_wrong_credentials_or_ca_are_clear(secure, options, message):
    server, loaded, _ = secure
    settings = dict(prometheus_username=server.auth[0],
                    prometheus_password=server.auth[1],
                    prometheus_cafile=server.cafile)
    settings.update(options)
    source = telemetry.get_source(secure_conf(server.url, **settings))
    with pytest.raises(exception.TelemetryUnavailable, match=message):
        source.fetch(loaded.instance_ids, loaded.start, loaded.end, STEP)


def test_insecure_skips_verification(secure):
    server, loaded, want = secure
    conf = secure_conf(server.url, prometheus_username=server.auth[0],
                       prometheus_password=server.auth[1],
                       prometheus_insecure=True)
    source = telemetry.get_source(conf, max_gap=MAX_GAP)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        out = source.fetch(loaded.instance_ids, loaded.start, loaded.end,
                           STEP)
    assert_matches(out, want)
