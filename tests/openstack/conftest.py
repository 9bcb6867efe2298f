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

"""The test cloud and the scenario's guests, shared by the tests here.

The cloud is brought up once per run and torn down at its end, failed or
not; a failed run keeps the configuration, state and logs of every service
(the folder is printed). ``WATCHER_PREDICTIVE_CLOUD_DIR`` chooses the
folder (default: ``watcher-predictive-cloud`` in the temporary folder);
``WATCHER_PREDICTIVE_KEEP_CLOUD_LOGS=1`` keeps it after a passing run too.
"""

import dataclasses
import os
import signal
import sys
import tempfile
import time

import pytest

from tests.openstack import cloud as cloud_mod
from tests.openstack import workload
from tests import traces

_FAILED = []


def _say(message):
    sys.__stdout__.write('%s\n' % message)
    sys.__stdout__.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        _FAILED.append(item.nodeid)


@pytest.fixture(scope='session')
def cloud():
    path = traces.trace_path()
    if path is None:
        pytest.skip(traces.missing_message())
    base = os.environ.get('WATCHER_PREDICTIVE_CLOUD_DIR') or os.path.join(
        tempfile.gettempdir(), 'watcher-predictive-cloud')
    stack = cloud_mod.OpenStackCloud(base, say=_say)

    def interrupted(signum, frame):
        # SIGTERM (a CI timeout) ends the run like Ctrl-C, so that pytest
        # tears the cloud down.
        raise KeyboardInterrupt('SIGTERM')
    signal.signal(signal.SIGTERM, interrupted)
    started = time.monotonic()
    try:
        stack.setup()
        _say('Cloud up in %.0f s' % (time.monotonic() - started))
        yield stack
    except BaseException:
        _FAILED.append('cloud set-up')
        raise
    finally:
        stack.cleanup(keep_logs=bool(_FAILED) or bool(
            os.environ.get('WATCHER_PREDICTIVE_KEEP_CLOUD_LOGS')))


@dataclasses.dataclass
class Scenario:
    servers: dict
    """Series id -> server (as booted)."""
    flavors: dict
    offset: int
    """Seconds added to the trace's timestamps."""


@pytest.fixture(scope='session')
def scenario(cloud):
    started = time.monotonic()
    conn = cloud.connection()
    flavors = workload.create_flavors(conn)
    image = workload.create_image(conn)
    servers = workload.boot_all(conn, image, flavors)
    booted = time.monotonic()
    for series, server in servers.items():
        expected = dict((g[0], g[1]) for g in workload.GUESTS)[series]
        assert server.compute_host == expected, (series, server)
    history = workload.load_trace(traces.trace_path())
    offset = workload.post_telemetry(cloud.gnocchi(timeout=120), servers,
                                     history)
    _say('%d servers booted in %.0f s; %d days of 5-minute telemetry '
         'posted in %.0f s' % (len(servers), booted - started,
                               workload.HISTORY_DAYS,
                               time.monotonic() - booted))
    return Scenario(servers=servers, flavors=flavors, offset=offset)
