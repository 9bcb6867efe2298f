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

import types

from oslo_config import cfg
import pytest

from tests.unit.telemetry import test_trace
from watcher_predictive.conf import predictive
from watcher_predictive import exception
from watcher_predictive import telemetry
from watcher_predictive.telemetry import gnocchi
from watcher_predictive.telemetry import trace


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    predictive.register_opts(conf)
    conf([])
    yield conf
    # The option group object is shared by every ConfigOpts it is
    # registered in, and so are its overrides.
    for opt in predictive.ALL_OPTS:
        conf.clear_override(opt.name, group=predictive.GROUP.name)


class FakeOsc:
    def __init__(self, client=None, error=None):
        self.client, self.error = client, error

    def gnocchi(self):
        if self.error:
            raise self.error
        return self.client


def test_gnocchi_source_uses_watcher_client_and_options(conf):
    conf.set_override('telemetry_timeout', 12, 'watcher_predictive')
    conf.set_override('gnocchi_batch_size', 7, 'watcher_predictive')
    client = types.SimpleNamespace(api=None)
    source = telemetry.get_source(conf, osc=FakeOsc(client), max_gap=600)
    assert isinstance(source, gnocchi.GnocchiSource)
    assert source.client is client
    assert (source.timeout, source.batch_size, source.max_gap) == (
        12.0, 7, 600)


def test_gnocchi_client_failure_is_telemetry_unavailable(conf):
    with pytest.raises(exception.TelemetryUnavailable, match='watcher.conf'):
        telemetry.get_source(conf, osc=FakeOsc(error=RuntimeError('x')))


def test_trace_source_from_options(conf, tmp_path):
    test_trace.write_vm(tmp_path, 1, [test_trace.row(0),
                                      test_trace.row(300)])
    conf.set_override('telemetry_source', 'trace', 'watcher_predictive')
    conf.set_override('trace_path', str(tmp_path), 'watcher_predictive')
    source = telemetry.get_source(conf, mapping={'vm': 'bitbrains-1'},
                                  offset=600)
    assert isinstance(source, trace.TraceSource)
    out = source.fetch(['vm'], 600, 1200, 300)
    assert out.values['cpu'].tolist() == [[0.5, 0.5]]


def test_trace_source_needs_a_path(conf):
    conf.set_override('telemetry_source', 'trace', 'watcher_predictive')
    with pytest.raises(exception.InvalidParameter, match='trace_path'):
        telemetry.get_source(conf)


def test_unknown_source_name():
    conf = types.SimpleNamespace(watcher_predictive=types.SimpleNamespace(
        telemetry_source='influxdb'))
    with pytest.raises(exception.InvalidParameter, match='influxdb'):
        telemetry.get_source(conf)
