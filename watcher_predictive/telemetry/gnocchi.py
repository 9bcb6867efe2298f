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

"""Instance history from Gnocchi, as Ceilometer stores it.

Ceilometer's compute agent writes, per instance:

* resource type ``instance`` (id = instance uuid): ``cpu`` (cumulative
  nanoseconds of CPU time) and ``memory.usage`` (MiB, a gauge);
* ``instance_disk`` (attribute ``instance_id``), one per disk:
  ``disk.device.read.bytes`` and ``disk.device.write.bytes`` (cumulative);
* ``instance_network_interface`` (attribute ``instance_id``), one per vNIC:
  ``network.incoming.bytes`` and ``network.outgoing.bytes`` (cumulative).

One ``POST /v1/aggregates`` per resource type reads every metric of a batch
of instances: the search ``{"in": {<id attribute>: [...]}}`` selects the
resources, ``groupby`` the id attribute returns them per instance, and the
operations ``(metric (cpu rate:mean) (memory.usage mean))`` return every
series of every resource found. So a fetch costs three requests per
``gnocchi_batch_size`` instances.

A counter is read through ``rate:mean`` alone (its increase since the
previous sample, per bucket). Every bucket holding a sample has a
``rate:mean`` point but the counter's very first one, so the increase is
divided by the time since the previous ``rate:mean`` bucket: one
granularity in the usual case of one poll per bucket, the whole gap after
missed polls. The first point read of a series has no known previous
bucket and gives NaN: reading from ``max_gap`` before the window, that
loses one bucket of a counter that began inside the window, and nothing
otherwise (the counter's ``mean``, which would date its first sample,
would double what is parsed). This assumes the polling interval is not
shorter than the granularity (Ceilometer polls every 300 s by default; its
``-low`` policies keep 5-minute buckets). Where the archive policy has no
``rate:mean`` the ``mean`` of the counter is differentiated instead. Either
way, counter resets and gaps longer than ``max_gap`` give NaN (see
``grid``).
"""

import dataclasses
import datetime
import json
import urllib.parse

from gnocchiclient import exceptions as gnocchi_exc
from keystoneauth1 import exceptions as ks_exc
import numpy as np
from oslo_log import log
import requests

from watcher_predictive import exception
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.telemetry import base
from watcher_predictive.telemetry import grid

LOG = log.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Meter:
    metric: str
    resource: str
    """The ``History`` resource it contributes to."""
    cumulative: bool
    scale: float
    """Factor to the ``History`` unit (per second for counters)."""


@dataclasses.dataclass(frozen=True)
class ResourceKind:
    resource_type: str
    instance_attribute: str
    meters: tuple


KINDS = (
    ResourceKind('instance', 'id', (
        Meter('cpu', 'cpu', True, 1e-9),
        Meter('memory.usage', 'memory', False, 1.0))),
    ResourceKind('instance_disk', 'instance_id', (
        Meter('disk.device.read.bytes', 'disk', True, 1.0),
        Meter('disk.device.write.bytes', 'disk', True, 1.0))),
    ResourceKind('instance_network_interface', 'instance_id', (
        Meter('network.incoming.bytes', 'network', True, 1.0),
        Meter('network.outgoing.bytes', 'network', True, 1.0))),
)


class _UnknownAggregation(Exception):
    pass


class _NoCommonGranularity(Exception):
    pass


def _canonical(instance_id):
    return str(instance_id).strip().lower()


def _iso(epoch):
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).isoformat()


def _epoch(stamps):
    """Epoch seconds of Gnocchi's ISO 8601 UTC timestamps."""
    naive = [s[:-6] if s.endswith('+00:00') else s.rstrip('Z')
             for s in stamps]
    return np.array(naive, dtype='datetime64[us]').astype(np.int64) / 1e6


def pick_granularity(granularities, step):
    """The coarsest granularity that divides the grid step, else the
    finest one available.
    """
    dividing = [g for g in granularities if g <= step and step % g == 0]
    return max(dividing) if dividing else min(granularities)


class _Collector:
    """Series of one resource in long form, each tied to an output row."""

    def __init__(self):
        self.rows = []
        self.gauges, self.deltas, self.samples, self.counters = [], [], [], []

    def new_series(self, row):
        self.rows.append(row)
        return len(self.rows) - 1

    @staticmethod
    def _join(parts):
        if not parts:
            return np.empty(0, np.int64), np.empty(0), np.empty(0)
        return tuple(np.concatenate(a) for a in zip(*parts))

    def to_grid(self, n_rows, start, end, step, max_gap):
        rates = []
        if self.deltas:
            series, times, _ = self._join(self.samples)
            rates.append(grid.delta_rates(*self._join(self.deltas),
                                          series, times, max_gap))
        if self.counters:
            rates.append(grid.counter_rates(*self._join(self.counters),
                                            max_gap))
        series, times, values = self._join(self.gauges + rates)
        cells = grid.regularise_gauge(series, times, values, len(self.rows),
                                      start, end, step)
        return grid.sum_rows(cells, self.rows, n_rows)


class GnocchiSource(base.TelemetrySource):
    """Reads many instances per request from Gnocchi's aggregates API.

    :param client: a gnocchiclient v1 client (Watcher's
        ``OpenStackClients().gnocchi()`` in production)
    :param timeout: seconds allowed to each request
    :param batch_size: instances per aggregates request
    :param max_gap: longest interval, in seconds, a counter rate may span;
        default three grid steps
    """

    name = 'gnocchi'

    def __init__(self, client, timeout=30, batch_size=50, max_gap=None):
        self.client = client
        self.timeout = float(timeout)
        self.batch_size = int(batch_size)
        self.max_gap = max_gap
        self.request_count = 0
        self._without_rate = set()
        session = getattr(getattr(client, 'api', None), 'session', None)
        if session is not None and getattr(session, 'timeout', 0) is None:
            # Authentication requests do not take the per-request timeout.
            session.timeout = self.timeout

    @classmethod
    def from_config(cls, conf, osc=None, **kwargs):
        """A source using the Gnocchi credentials of watcher.conf."""
        options = conf.watcher_predictive
        try:
            if osc is None:
                from watcher.common import clients
                osc = clients.OpenStackClients()
            client = osc.gnocchi()
        except Exception as e:
            raise exception.TelemetryUnavailable(
                source=cls.name, reason='no Gnocchi client could be built '
                                        'from watcher.conf (%s)' % e)
        return cls(client, timeout=options.telemetry_timeout,
                   batch_size=options.gnocchi_batch_size, **kwargs)

    def fetch(self, instance_ids, start, end, step):
        n_steps = grid.check_grid(start, end, step)
        instance_ids = list(instance_ids)
        max_gap = self.max_gap or grid.default_max_gap(step)
        keys = [_canonical(uuid) for uuid in instance_ids]
        unique = list(dict.fromkeys(keys))
        values = {r: np.full((len(unique), n_steps), np.nan)
                  for r in history_mod.RESOURCES}
        for first in range(0, len(unique), self.batch_size):
            # One batch at a time onto the grid, so that only its points
            # are held, whatever the number of instances.
            batch = unique[first:first + self.batch_size]
            row_of = {key: row for row, key in enumerate(batch)}
            collectors = {r: _Collector() for r in history_mod.RESOURCES}
            for kind in KINDS:
                for owner, meter, aggregates in self._read(
                        kind, batch, start - max_gap, end, step):
                    row = row_of.get(_canonical(owner))
                    if row is not None:
                        self._collect(collectors[meter.resource], row,
                                      meter, aggregates)
            for resource, collector in collectors.items():
                if collector.rows:
                    values[resource][first:first + len(batch)] = \
                        collector.to_grid(len(batch), start, end, step,
                                          max_gap)
            del collectors
        if keys != unique:
            rows = {key: row for row, key in enumerate(unique)}
            values = {r: a[[rows[key] for key in keys]]
                      for r, a in values.items()}
        LOG.debug('Read %s instances from Gnocchi (%s to %s, step %s s) in '
                  '%s requests so far', len(unique), start, end, step,
                  self.request_count)
        return history_mod.History(instance_ids=tuple(instance_ids),
                                   start=start, step=step, values=values)

    @staticmethod
    def _collect(collector, row, meter, aggregates):
        mean_times, mean_values = aggregates.get('mean',
                                                 (np.empty(0), np.empty(0)))
        series = collector.new_series(row)
        if not meter.cumulative:
            collector.gauges.append((np.full(mean_times.size, series),
                                     mean_times, mean_values * meter.scale))
            return
        if 'rate:mean' in aggregates:
            # The buckets holding a sample are the rate's own (see above).
            times, deltas = aggregates['rate:mean']
            collector.deltas.append((np.full(times.size, series), times,
                                     deltas * meter.scale))
            collector.samples.append((np.full(times.size, series), times,
                                      times))
        else:
            collector.counters.append((np.full(mean_times.size, series),
                                       mean_times, mean_values * meter.scale))

    # -- requests --------------------------------------------------------

    def _read(self, kind, ids, start, stop, step):
        """Yield ``(instance id, meter, {aggregation: (times, values)})``."""
        with_rate = kind.resource_type not in self._without_rate
        try:
            groups = self._aggregates(kind, kind.meters, with_rate, ids,
                                      start, stop)
        except _UnknownAggregation as e:
            if not with_rate:
                raise self._unavailable('metrics of %s lack the mean '
                                        'aggregation: %s' % (
                                            kind.resource_type, e))
            LOG.info('The archive policy of %s counters has no rate:mean; '
                     'differentiating their mean instead (%s)',
                     kind.resource_type, e)
            self._without_rate.add(kind.resource_type)
            yield from self._read(kind, ids, start, stop, step)
            return
        except _NoCommonGranularity as e:
            if len(kind.meters) == 1:
                raise self._unavailable(
                    'the %s metrics of these instances share no '
                    'granularity: %s' % (kind.meters[0].metric, e))
            LOG.debug('Metrics of %s share no granularity, reading them '
                      'one by one: %s', kind.resource_type, e)
            for meter in kind.meters:
                one = dataclasses.replace(kind, meters=(meter,))
                yield from self._read(one, ids, start, stop, step)
            return
        try:
            yield from _parse(groups, kind, step)
        except (TypeError, KeyError, ValueError, AttributeError,
                IndexError) as e:
            raise self._unavailable('malformed aggregates answer for %s '
                                    '(%s: %s)' % (kind.resource_type,
                                                  type(e).__name__, e))

    def _aggregates(self, kind, meters, with_rate, ids, start, stop):
        operations = ['metric']
        for meter in meters:
            operations.append([meter.metric, 'rate:mean'
                               if meter.cumulative and with_rate else 'mean'])
        query = urllib.parse.urlencode({
            'start': _iso(start), 'stop': _iso(stop), 'fill': 'dropna',
            'groupby': kind.instance_attribute})
        body = {'operations': operations,
                'resource_type': kind.resource_type,
                'search': {'in': {kind.instance_attribute: ids}}}
        response = self._post('v1/aggregates?' + query, body)
        status = response.status_code
        if status == 200:
            try:
                return response.json()
            except ValueError as e:
                raise self._unavailable('malformed aggregates answer: %s' % e)
        description = _description(response)
        lowered = description.lower()
        if status == 404 and 'unknown aggregation' in lowered:
            raise _UnknownAggregation(description)
        if status == 404 and 'metric' in lowered:
            # None of these instances has such a metric (yet).
            return []
        if status in (400, 404) and 'resource type' in lowered:
            LOG.warning('Gnocchi has no resource type %s; is Ceilometer '
                        'writing to it? (%s)', kind.resource_type,
                        description)
            return []
        if status == 400 and 'granularit' in lowered:
            raise _NoCommonGranularity(description)
        raise self._unavailable('HTTP %s on POST /v1/aggregates for %s: %s'
                                % (status, kind.resource_type, description))

    def _post(self, url, body):
        self.request_count += 1
        try:
            return self.client.api.post(
                url, data=json.dumps(body), timeout=self.timeout,
                raise_exc=False,
                headers={'Content-Type': 'application/json',
                         'Accept': 'application/json'})
        except (gnocchi_exc.ConnectionTimeout, ks_exc.ConnectTimeout,
                requests.Timeout) as e:
            raise self._unavailable('no answer within %s s (%s)' % (
                self.timeout, e))
        except (gnocchi_exc.ClientException, ks_exc.ClientException,
                requests.RequestException, OSError) as e:
            raise self._unavailable('%s: %s' % (type(e).__name__, e))

    def _unavailable(self, reason):
        return exception.TelemetryUnavailable(source=self.name, reason=reason)


def _description(response):
    try:
        body = response.json()
    except ValueError:
        return (response.text or '')[:500]
    if isinstance(body, dict):
        body = body.get('description', body)
    return json.dumps(body) if not isinstance(body, str) else body


def _parse(groups, kind, step):
    meters = {m.metric: m for m in kind.meters}
    parsed = []
    for group in groups:
        owner = group['group'][kind.instance_attribute]
        for by_metric in group['measures']['measures'].values():
            for metric, by_aggregation in by_metric.items():
                if metric in meters:
                    parsed.append((owner, meters[metric],
                                   _select(by_aggregation, step)))
    return parsed


def _select(by_aggregation, step):
    """Points of one metric at the granularity best for ``step``, as
    ``{aggregation: (times, values)}``.
    """
    granularities = {point[1] for points in by_aggregation.values()
                     for point in points}
    if not granularities:
        empty = (np.empty(0), np.empty(0))
        return {agg: empty for agg in by_aggregation}
    chosen = pick_granularity(granularities, step)
    selected = {}
    for aggregation, points in by_aggregation.items():
        points = [p for p in points if p[1] == chosen and p[2] is not None]
        stamps = _epoch([p[0] for p in points]) if points else np.empty(0)
        selected[aggregation] = (stamps, np.array([p[2] for p in points],
                                                  dtype=float))
    return selected
