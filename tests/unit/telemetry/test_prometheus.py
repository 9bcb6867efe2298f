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

"""PrometheusSource's options, selectors and grid assembly.

Reading a real server (answers, errors, authentication, TLS) is tested in
tests/functional/test_prometheus_source.py.
"""

import numpy as np
from oslo_config import cfg
import pytest

from watcher_predictive.conf import predictive
from watcher_predictive import exception
from watcher_predictive import telemetry
from watcher_predictive.telemetry import prometheus

UUID = '0b6f5fd2-3c1e-4f57-9d4b-6f1d7c7e2a10'
OTHER = '5e1d2c3b-aaaa-4bbb-8ccc-0123456789ab'


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    predictive.register_opts(conf)
    conf([])
    conf.set_override('telemetry_source', 'prometheus', 'watcher_predictive')
    yield conf
    for opt in predictive.ALL_OPTS:
        conf.clear_override(opt.name, group=predictive.GROUP.name)


def test_defaults(conf):
    source = telemetry.get_source(conf)
    assert isinstance(source, prometheus.PrometheusSource)
    assert source.url == 'http://127.0.0.1:9090'
    assert (source.timeout, source.batch_size, source.query_span) == (
        30.0, 50, 86400)
    assert (source.instance_label, source.metric_prefix) == (
        'resource', 'ceilometer_')
    assert (source.auth, source.verify, source.cert) == (None, True, None)


def test_authentication_and_tls_options(conf):
    for name, value in [('prometheus_url', 'https://prom.example/p/'),
                        ('prometheus_username', 'watcher'),
                        ('prometheus_password', 's3cret'),
                        ('prometheus_cafile', '/etc/ca.pem'),
                        ('prometheus_certfile', '/etc/c.pem'),
                        ('prometheus_keyfile', '/etc/k.pem'),
                        ('telemetry_timeout', 7)]:
        conf.set_override(name, value, 'watcher_predictive')
    source = telemetry.get_source(conf)
    assert source.url == 'https://prom.example/p'
    assert source.auth == ('watcher', 's3cret')
    assert source.verify == '/etc/ca.pem'
    assert source.cert == ('/etc/c.pem', '/etc/k.pem')
    assert source.timeout == 7.0
    conf.set_override('prometheus_insecure', True, 'watcher_predictive')
    assert telemetry.get_source(conf).verify is False


def test_options_reject_bad_values(conf):
    with pytest.raises(ValueError):
        conf.set_override('prometheus_url', 'ftp://x', 'watcher_predictive')
    with pytest.raises(ValueError):
        conf.set_override('prometheus_instance_label', 'a-b',
                          'watcher_predictive')
    with pytest.raises(exception.InvalidParameter, match='prometheus_url'):
        prometheus.PrometheusSource('localhost:9090')


def meter(name):
    return next(m for m in prometheus.METERS if m.name == name)


def test_selectors():
    source = prometheus.PrometheusSource('http://p:9090')
    assert source._selector(meter('cpu'), [UUID, OTHER]) == (
        'ceilometer_cpu{resource=~"%s|%s"}' % (UUID, OTHER))
    assert source._selector(meter('disk_device_read_bytes'), [UUID]) == (
        'ceilometer_disk_device_read_bytes{resource=~".*(?:%s).*"}' % UUID)
    # Any instance id is matched literally, inside a valid PromQL string.
    odd = source._selector(meter('cpu'), ['a.b"c\\d|e'])
    assert odd == r'ceilometer_cpu{resource=~"a\\.b\"c\\\\d\\|e"}'


def test_owner_of_each_series():
    source = prometheus.PrometheusSource('http://p:9090')
    batch = [UUID, OTHER]
    nic = (('resource', 'instance-0000000a-%s-tap1' % OTHER),)
    assert source._owner(meter('network_incoming_bytes'), nic,
                         batch) == OTHER
    assert source._owner(meter('cpu'), (('resource', UUID.upper()),),
                         batch) == UUID
    # A CPU series must be the instance itself, not one of its devices.
    assert source._owner(meter('cpu'), (('resource', UUID + '-vda'),),
                         batch) is None
    assert source._owner(meter('cpu'), (('host', UUID),), batch) is None


def test_disks_add_up_and_split_cpu_series_average():
    times = np.arange(0, 1500, 300) + 7.0
    counter = np.arange(5) * 300.0
    samples = {
        (meter('disk_device_read_bytes'), UUID, (('resource', 'a'),)):
            [(times, counter)],
        (meter('disk_device_write_bytes'), UUID, (('resource', 'b'),)):
            [(times[:2], counter[:2]), (times[2:], 3 * counter[2:])],
        (meter('memory_usage'), UUID, (('host', 'x'),)):
            [(times, np.full(5, 100.0))],
        (meter('memory_usage'), UUID, (('host', 'y'),)):
            [(times, np.full(5, 300.0))],
    }
    out = prometheus.PrometheusSource._to_grid(
        samples, {UUID: 0, OTHER: 1}, 0, 1500, 300, 900)
    # 1 B/s from the first disk; the second's counter, read in two
    # queries, goes 0, 300, 1800, 2700, 3600: 1, 5, then 3 B/s, differenced
    # across the boundary of the two queries too.
    np.testing.assert_allclose(out['disk'][0], [np.nan, 2, 6, 4, 4])
    assert np.isnan(out['disk'][1]).all()
    np.testing.assert_allclose(out['memory'][0], [200] * 5)
    assert 'cpu' not in out
