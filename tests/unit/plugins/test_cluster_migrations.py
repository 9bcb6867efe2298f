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

"""The migration cool-down's read of Nova's migrations API, over HTTP.

The success path against a real Nova is in
``tests/openstack/test_scenario.py``; here the faults: Nova refusing the
connection, answering an error, and not answering in time, each with a
real openstacksdk connection and a real socket.
"""

import calendar
import json
import logging
import socket
import subprocess
import sys
import time
import types

from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
import openstack
import pytest

from watcher_predictive.plugins import cluster


def _epoch(text):
    return calendar.timegm(time.strptime(text, '%Y-%m-%dT%H:%M:%S'))


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _nova(port, timeout=5):
    sess = ks_session.Session(auth=noauth.NoAuth(), timeout=timeout)
    conn = openstack.connection.Connection(
        session=sess,
        compute_endpoint_override='http://127.0.0.1:%d/v2.1' % port,
        compute_api_version='2.59')
    return types.SimpleNamespace(connection=conn)


_SERVER = r"""
import http.server, json, sys, time, urllib.parse

status, body, delay = json.loads(sys.argv[1])


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, data):
        data = json.dumps(data).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path.rstrip('/') in ('', '/v2.1'):
            href = 'http://%s:%d/v2.1/' % self.server.server_address
            return self.reply(200, {'version': {
                'id': 'v2.1', 'status': 'CURRENT', 'version': '2.95',
                'min_version': '2.1', 'links': [
                    {'rel': 'self', 'href': href}]}})
        if url.path.endswith('/os-migrations'):
            print(json.dumps(urllib.parse.parse_qs(url.query)), flush=True)
            time.sleep(delay)
            return self.reply(status, body)
        return self.reply(404, {'itemNotFound': {'message': 'no'}})


httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
"""


class _Server:
    """Nova's version document, then ``body`` with ``status`` after
    ``delay`` seconds on ``/os-migrations``: a separate process, so that
    the test process's green threads (Watcher's tests patch eventlet in)
    do not schedule it.
    """

    def __init__(self, status=200, body=None, delay=0):
        self.process = subprocess.Popen(
            [sys.executable, '-c', _SERVER,
             json.dumps([status, body or {'migrations': []}, delay])],
            stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    def queries(self):
        self.process.kill()
        out, _ = self.process.communicate(timeout=10)
        return [json.loads(line) for line in out.splitlines() if line]

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=10)


@pytest.fixture
def serve():
    servers = []

    def start(**kwargs):
        servers.append(_Server(**kwargs))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def _migration(server_id, updated, created='2026-11-25T09:00:00.000000'):
    return {'id': 1, 'uuid': 'm-' + str(server_id), 'status': 'completed',
            'migration_type': 'live-migration', 'instance_uuid': server_id,
            'created_at': created, 'updated_at': updated,
            'source_compute': 'a', 'dest_compute': 'b'}


def test_lists_the_last_completed_live_migration_per_guest(serve):
    server = serve(body={'migrations': [
        _migration('g1', '2026-11-25T10:00:00.000000'),
        _migration('g1', '2026-11-25T11:30:00.000000'),
        _migration('g2', None, created='2026-11-25T10:15:00.000000'),
        _migration(None, '2026-11-25T10:00:00.000000')]})
    since = _epoch('2026-11-25T09:00:00')
    got = cluster.recent_live_migrations(_nova(server.port), since)
    # The latest of g1's two, g2's creation time as it has no update,
    # and nothing for the entry without a server.
    assert got == {'g1': _epoch('2026-11-25T11:30:00'),
                   'g2': _epoch('2026-11-25T10:15:00')}
    query, = server.queries()
    assert query['changes-since'] == ['2026-11-25T09:00:00Z']
    assert query['migration_type'] == ['live-migration']
    assert query['status'] == ['completed']


def test_connection_refused_means_no_cooldown(caplog):
    caplog.set_level(logging.WARNING)
    assert cluster.recent_live_migrations(
        _nova(_free_port()), time.time() - 3600) == {}
    assert 'Nova did not list the recent live migrations' in caplog.text
    assert 'no cool-down applies' in caplog.text


def test_an_error_from_nova_means_no_cooldown(serve, caplog):
    caplog.set_level(logging.WARNING)
    server = serve(status=500, body={
        'computeFault': {'code': 500, 'message': 'boom'}})
    assert cluster.recent_live_migrations(
        _nova(server.port), time.time() - 3600) == {}
    assert 'Nova did not list the recent live migrations' in caplog.text
    assert server.queries()


def test_a_nova_that_does_not_answer_times_out(serve, caplog):
    caplog.set_level(logging.WARNING)
    server = serve(delay=3)
    started = time.monotonic()
    assert cluster.recent_live_migrations(
        _nova(server.port, timeout=0.5),
        time.time() - 3600) == {}
    assert time.monotonic() - started < 2.5
    assert 'Nova did not list the recent live migrations' in caplog.text
