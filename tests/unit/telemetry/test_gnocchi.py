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

"""GnocchiSource against a fake aggregates API (the real server is in the
functional tests)."""

import datetime
import json
import urllib.parse

from gnocchiclient import exceptions as gnocchi_exc
import numpy as np
import pytest

from watcher_predictive import exception
from watcher_predictive.telemetry import gnocchi

NAN = np.nan
T0 = 1700000100  # a multiple of 300


def iso(t):
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).isoformat()


class Response:
    def __init__(self, status, body):
        self.status_code = status
        self._body = body
        self.text = json.dumps(body)

    def json(self):
        return self._body


class FakeApi:
    """Answers POST /v1/aggregates from raw samples, one per 300 s bucket.

    ``samples``: resource type -> list of (instance id, resource id,
    metric, [(timestamp, value), ...]).
    """

    def __init__(self, samples, without_rate=(), granularity=300.0):
        self.samples = samples
        self.without_rate = set(without_rate)
        self.granularity = granularity
        self.calls = []
        self.fail = None

    def post(self, url, data, timeout, raise_exc, headers):
        assert raise_exc is False and timeout > 0
        body = json.loads(data)
        query = urllib.parse.parse_qs(url.partition('?')[2])
        self.calls.append((query, body))
        if self.fail:
            return self.fail()
        ops = body['operations']
        assert ops[0] == 'metric'
        kind = body['resource_type']
        attribute = query['groupby'][0]
        wanted = set(body['search']['in'][attribute])
        for _, aggregation in ops[1:]:
            if aggregation == 'rate:mean' and kind in self.without_rate:
                return Response(404, {'code': 404, 'description': {
                    'cause': 'Metrics with unknown aggregation',
                    'detail': [['x', 'rate:mean']]}})
        groups = {}
        for owner, resource_id, metric, points in self.samples.get(kind, ()):
            if owner not in wanted:
                continue
            measures = groups.setdefault(owner, {}).setdefault(
                resource_id, {})
            for name, aggregation in ops[1:]:
                if name != metric:
                    continue
                g = self.granularity
                out = []
                for i, (t, v) in enumerate(points):
                    bucket = iso(t // g * g)
                    if aggregation == 'mean':
                        out.append([bucket, g, v])
                    elif i:
                        out.append([bucket, g, v - points[i - 1][1]])
                measures.setdefault(metric, {})[aggregation] = out
        if not groups:
            return Response(404, {'code': 404, 'description':
                                  "Metric ['cpu'] does not exist"})
        return Response(200, [
            {'group': {attribute: owner}, 'measures': {'measures': m}}
            for owner, m in groups.items()])


class FakeClient:
    def __init__(self, api):
        self.api = api


def counter(rates, start=T0 - 900, step=300, jitter=5, skip=()):
    """One sample per bucket of a counter growing at ``rates``/s."""
    points, value = [], 1e6
    for i, rate in enumerate(rates):
        value += rate * step
        if i not in skip:
            points.append((start + i * step + jitter, value))
    return points


def test_reads_all_resources_in_three_requests_per_batch():
    ids = ['uuid-%d' % i for i in range(5)]
    samples = {'instance': [], 'instance_disk': [],
               'instance_network_interface': []}
    for i, uuid in enumerate(ids):
        samples['instance'] += [
            (uuid, uuid, 'cpu', counter([1e9 * (i + 1)] * 9)),
            (uuid, uuid, 'memory.usage',
             [(T0 + k * 300, 100.0 * i) for k in range(6)])]
        samples['instance_disk'] += [
            (uuid, uuid + 'vda', 'disk.device.read.bytes', counter([10] * 9)),
            (uuid, uuid + 'vda', 'disk.device.write.bytes',
             counter([30] * 9)),
            (uuid, uuid + 'vdb', 'disk.device.read.bytes', counter([5] * 9))]
        samples['instance_network_interface'] += [
            (uuid, uuid + 'tap', 'network.incoming.bytes', counter([1] * 9)),
            (uuid, uuid + 'tap', 'network.outgoing.bytes',
             counter([2] * 9))]
    api = FakeApi(samples)
    source = gnocchi.GnocchiSource(FakeClient(api), timeout=5, batch_size=3)
    out = source.fetch(ids + ['unknown'], T0, T0 + 1800, 300)
    assert len(api.calls) == 6 and source.request_count == 6
    query, body = api.calls[0]
    assert body['resource_type'] == 'instance'
    assert body['search'] == {'in': {'id': ids[:3]}}
    assert ['cpu', 'rate:mean'] in body['operations']
    assert query['fill'] == ['dropna']
    np.testing.assert_allclose(out.values['cpu'][:5, 0], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(out.values['memory'][2], [200] * 6)
    np.testing.assert_allclose(out.values['disk'][:5], 45.0)
    np.testing.assert_allclose(out.values['network'][:5], 3.0)
    for resource in out.values:
        assert np.isnan(out.values[resource][5]).all()


def test_gap_and_reset_in_rate_mean():
    rates = [2.0] * 12
    points = counter(rates, skip=(6, 7))       # two polls missed
    drop = points[3][1] - 10.0                 # counter restarted at 3
    points = points[:3] + [(t, v - drop) for t, v in points[3:]]
    api = FakeApi({'instance': [('a', 'a', 'cpu',
                                 [(t, v * 1e9) for t, v in points])]})
    source = gnocchi.GnocchiSource(FakeClient(api))
    out = source.fetch(['a'], T0, T0 + 2700, 300)
    # Cells from T0 are samples 3..11; sample 3 is the reset, 4 the
    # rebound (its delta is fine again), 6-7 missing, 8 spans 900 s.
    np.testing.assert_allclose(
        out.values['cpu'][0], [NAN, 2, 2, NAN, NAN, 2, 2, 2, 2])


def test_long_gap_is_nan():
    points = counter([1.0] * 12, skip=range(2, 9))
    api = FakeApi({'instance_disk': [('a', 'd', 'disk.device.read.bytes',
                                      points)]})
    out = gnocchi.GnocchiSource(FakeClient(api)).fetch(
        ['a'], T0, T0 + 2700, 300)
    np.testing.assert_allclose(out.values['disk'][0],
                               [NAN] * 6 + [NAN, 1, 1])


def test_falls_back_to_mean_without_rate_aggregation():
    samples = {'instance': [('a', 'a', 'cpu', counter([3e9] * 9))]}
    api = FakeApi(samples, without_rate={'instance'})
    source = gnocchi.GnocchiSource(FakeClient(api))
    out = source.fetch(['a'], T0, T0 + 1800, 300)
    np.testing.assert_allclose(out.values['cpu'][0], [3.0] * 6)
    # The first request failed and was retried without rate:mean; the
    # next fetch goes straight to mean.
    instance_calls = [b for _, b in api.calls
                      if b['resource_type'] == 'instance']
    assert len(instance_calls) == 2
    source.fetch(['a'], T0, T0 + 1800, 300)
    instance_calls = [b for _, b in api.calls
                      if b['resource_type'] == 'instance']
    assert len(instance_calls) == 3
    assert ['cpu', 'rate:mean'] not in instance_calls[-1]['operations']


def test_granularity_choice():
    assert gnocchi.pick_granularity({1.0, 60.0, 3600.0}, 300) == 60.0
    assert gnocchi.pick_granularity({300.0, 3600.0}, 300) == 300.0
    assert gnocchi.pick_granularity({3600.0}, 300) == 3600.0
    assert gnocchi.pick_granularity({1.0, 60.0, 3600.0}, 7200) == 3600.0


def test_finer_granularity_is_averaged_per_cell():
    points = [(T0 - 900 + k * 60, 1e6 + k * 60 * 4.0) for k in range(45)]
    api = FakeApi({'instance_network_interface': [
        ('a', 'n', 'network.incoming.bytes', points)]}, granularity=60.0)
    out = gnocchi.GnocchiSource(FakeClient(api)).fetch(
        ['a'], T0, T0 + 1800, 300)
    np.testing.assert_allclose(out.values['network'][0], [4.0] * 6)


def test_no_common_granularity_reads_metrics_one_by_one():
    api = FakeApi({'instance': [('a', 'a', 'memory.usage',
                                 [(T0, 5.0)])]})
    original = api.post

    def post(url, data, **kwargs):
        names = {name for name, _ in json.loads(data)['operations'][1:]}
        if len(names) > 1:
            return Response(400, {'code': 400, 'description': {
                'cause': 'Metrics can\'t being aggregated',
                'reason': 'No granularity match', 'detail': []}})
        return original(url, data, **kwargs)
    api.post = post
    out = gnocchi.GnocchiSource(FakeClient(api)).fetch(
        ['a'], T0, T0 + 600, 300)
    np.testing.assert_allclose(out.values['memory'][0], [5.0, NAN])


def raising(error):
    def fail():
        raise error
    return fail


@pytest.mark.parametrize('failure, reason', [
    (lambda: Response(503, {'code': 503, 'description': 'overloaded'}),
     'HTTP 503'),
    (lambda: Response(401, {'code': 401, 'description': 'who are you'}),
     'HTTP 401'),
    (raising(gnocchi_exc.ConnectionFailure(message='refused')), 'refused'),
    (raising(gnocchi_exc.ConnectionTimeout(message='read timed out')),
     'no answer within 5.0 s'),
    (lambda: Response(200, 'not a list'), 'malformed'),
])
def test_failures_raise_telemetry_unavailable(failure, reason):
    api = FakeApi({})
    api.fail = failure
    source = gnocchi.GnocchiSource(FakeClient(api), timeout=5)
    with pytest.raises(exception.TelemetryUnavailable) as error:
        source.fetch(['a'], T0, T0 + 600, 300)
    assert reason in str(error.value)
    assert 'gnocchi' in str(error.value)


def test_session_without_timeout_gets_one():
    class Session:
        timeout = None

    class Api(FakeApi):
        session = Session()
    gnocchi.GnocchiSource(FakeClient(Api({})), timeout=7)
    assert Api.session.timeout == 7.0
