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

"""Instance history from Prometheus, as Ceilometer's metrics reach it.

Ceilometer's samples arrive in Prometheus through sg-core (names prefixed
``ceilometer_``) or Ceilometer's own Prometheus publisher (bare names); a
meter name has its ``.`` replaced by ``_``:

* ``cpu`` (cumulative nanoseconds) and ``memory_usage`` (MiB, a gauge),
  one series per instance whose instance label (``resource`` by default,
  Watcher's ``instance_uuid_label``) is the instance UUID;
* ``disk_device_read_bytes`` / ``disk_device_write_bytes`` and
  ``network_incoming_bytes`` / ``network_outgoing_bytes`` (cumulative), one
  series per disk or vNIC whose instance label *contains* the UUID
  (``<uuid>-vda``, ``instance-0000000a-<uuid>-tap...``).

Raw samples are read, not PromQL ``rate()``: ``rate`` treats a decrease as
a counter restarting from zero and extrapolates over gaps, while every
source of the plugin follows the conventions of
:mod:`watcher_predictive.telemetry.grid` (a reset or a gap longer than
``max_gap`` gives NaN, never a guess). One instant query of a range
selector, ``metric{label=~"uuid1|uuid2|..."}[span]``, returns the samples
of up to ``batch_size`` instances over ``span`` seconds; the history is
read in such pieces, one query per meter and piece, so that no answer
grows with the length of the history.
"""

import dataclasses
import re

import numpy as np
from oslo_log import log
import requests

from watcher_predictive import exception
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.telemetry import base
from watcher_predictive.telemetry import grid

LOG = log.getLogger(__name__)

_LABEL_NAME = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*$')
_METRIC_PREFIX = re.compile(r'^[a-zA-Z_:]?[a-zA-Z0-9_:]*$')
_RE2_SPECIAL = re.compile(r'([\\.+*?()|\[\]{}^$])')


@dataclasses.dataclass(frozen=True)
class Meter:
    name: str
    """Metric name after the prefix."""
    resource: str
    """The ``History`` resource it contributes to."""
    cumulative: bool
    scale: float
    """Factor to the ``History`` unit (per second for counters)."""
    device: bool
    """One series per disk or vNIC, summed per instance."""


METERS = (
    Meter('cpu', 'cpu', True, 1e-9, False),
    Meter('memory_usage', 'memory', False, 1.0, False),
    Meter('disk_device_read_bytes', 'disk', True, 1.0, True),
    Meter('disk_device_write_bytes', 'disk', True, 1.0, True),
    Meter('network_incoming_bytes', 'network', True, 1.0, True),
    Meter('network_outgoing_bytes', 'network', True, 1.0, True),
)


def _canonical(instance_id):
    return str(instance_id).strip().lower()


def _regex_literal(text):
    """``text`` as an RE2 regular expression matching only itself."""
    return _RE2_SPECIAL.sub(r'\\\1', text)


def _promql_string(text):
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


class PrometheusSource(base.TelemetrySource):
    """Reads many instances per query from Prometheus' HTTP API.

    :param url: base URL of the server (``http://host:9090``)
    :param timeout: seconds allowed to each request
    :param instance_label: label holding the instance UUID
    :param metric_prefix: prefix of every metric name
    :param batch_size: instances per query
    :param query_span: seconds of raw samples per query
    :param auth: ``(user, password)`` for basic authentication, or None
    :param verify: ``requests``' TLS verification: True, False or the path
        of a CA bundle
    :param cert: client certificate: a path or ``(certfile, keyfile)``
    :param max_gap: longest interval, in seconds, a counter rate may span;
        default three grid steps
    :param session: a ``requests.Session`` to send the queries with
    """

    name = 'prometheus'

    def __init__(self, url, timeout=30, instance_label='resource',
                 metric_prefix='ceilometer_', batch_size=50,
                 query_span=86400, auth=None, verify=True, cert=None,
                 max_gap=None, session=None):
        if not url or not str(url).startswith(('http://', 'https://')):
            raise exception.InvalidParameter(
                name='[watcher_predictive] prometheus_url', value=url,
                reason='give the http:// or https:// URL of the Prometheus '
                       'server')
        if not _LABEL_NAME.match(instance_label or ''):
            raise exception.InvalidParameter(
                name='[watcher_predictive] prometheus_instance_label',
                value=instance_label,
                reason='a Prometheus label name is letters, digits and "_", '
                       'not starting with a digit')
        if not _METRIC_PREFIX.match(metric_prefix or ''):
            raise exception.InvalidParameter(
                name='[watcher_predictive] prometheus_metric_prefix',
                value=metric_prefix,
                reason='a metric name is letters, digits, "_" and ":"')
        for name, value in (('batch_size', batch_size),
                            ('query_span', query_span),
                            ('timeout', timeout)):
            if not value > 0:
                raise exception.InvalidParameter(
                    name=name, value=value, reason='must be positive')
        self.url = str(url).rstrip('/')
        self.timeout = float(timeout)
        self.instance_label = instance_label
        self.metric_prefix = metric_prefix or ''
        self.batch_size = int(batch_size)
        self.query_span = int(query_span)
        self.max_gap = max_gap
        self.request_count = 0
        self.session = session or requests.Session()
        # Given with every request: requests lets REQUESTS_CA_BUNDLE
        # override a session's own verify setting.
        self.auth, self.verify, self.cert = auth, verify, cert

    @classmethod
    def from_config(cls, conf, **kwargs):
        """A source configured by the ``prometheus_*`` options."""
        options = conf.watcher_predictive
        auth = None
        if options.prometheus_username:
            auth = (options.prometheus_username,
                    options.prometheus_password or '')
        verify = True
        if options.prometheus_insecure:
            verify = False
        elif options.prometheus_cafile:
            verify = options.prometheus_cafile
        cert = None
        if options.prometheus_certfile:
            cert = options.prometheus_certfile
            if options.prometheus_keyfile:
                cert = (options.prometheus_certfile,
                        options.prometheus_keyfile)
        return cls(options.prometheus_url,
                   timeout=options.telemetry_timeout,
                   instance_label=options.prometheus_instance_label,
                   metric_prefix=options.prometheus_metric_prefix,
                   batch_size=options.prometheus_batch_size,
                   query_span=options.prometheus_query_span,
                   auth=auth, verify=verify, cert=cert, **kwargs)

    def fetch(self, instance_ids, start, end, step):
        n_steps = grid.check_grid(start, end, step)
        instance_ids = list(instance_ids)
        max_gap = self.max_gap or grid.default_max_gap(step)
        keys = [_canonical(uuid) for uuid in instance_ids]
        unique = list(dict.fromkeys(keys))
        row_of = {key: row for row, key in enumerate(unique)}
        values = {r: np.full((len(unique), n_steps), np.nan)
                  for r in history_mod.RESOURCES}
        for first in range(0, len(unique), self.batch_size):
            batch = unique[first:first + self.batch_size]
            # One batch at a time, so that only its raw samples are held.
            cells = self._to_grid(self._read_batch(batch, start, end,
                                                   max_gap),
                                  {key: i for i, key in enumerate(batch)},
                                  start, end, step, max_gap)
            for resource, grid_cells in cells.items():
                values[resource][first:first + len(batch)] = grid_cells
        rows = [row_of[key] for key in keys]
        out = {r: values[r][rows] for r in history_mod.RESOURCES}
        LOG.debug('Read %s instances from Prometheus %s (%s to %s, step %s '
                  's) in %s queries so far', len(unique), self.url, start,
                  end, step, self.request_count)
        return history_mod.History(instance_ids=tuple(instance_ids),
                                   start=start, step=step, values=out)

    def _read_batch(self, batch, start, end, max_gap):
        """Raw samples of the instances of ``batch``, from ``start -
        max_gap`` (a predecessor for the first cell's rate) to ``end``, as
        ``{(meter, instance, labels): [(times, values), ...]}``: a series'
        pieces are kept together, so that a counter is differenced over the
        boundary between two queries too.
        """
        samples = {}
        for meter in METERS:
            for t0 in range(start - max_gap, end, self.query_span):
                t1 = min(t0 + self.query_span, end)
                for labels, times, values in self._query(meter, batch, t0,
                                                         t1):
                    owner = self._owner(meter, labels, batch)
                    if owner is not None:
                        samples.setdefault((meter, owner, labels),
                                           []).append((times, values))
        return samples

    def _owner(self, meter, labels, batch):
        value = _canonical(dict(labels).get(self.instance_label, ''))
        if not meter.device:
            return value if value in batch else None
        for key in batch:
            if key in value:
                return key
        return None

    @staticmethod
    def _to_grid(samples, row_of, start, end, step, max_gap):
        """Per resource, ``(rows, steps)``: means of the instance's series
        for CPU and memory (one series each, unless a relabelling split
        it), sums of its disks and vNICs.
        """
        parts = {}
        for index, ((meter, _, _), pieces) in enumerate(samples.items()):
            times = np.concatenate([t for t, _ in pieces])
            values = np.concatenate([v for _, v in pieces]) * meter.scale
            series = np.full(times.size, index)
            if meter.cumulative:
                series, times, values = grid.counter_rates(
                    series, times, values, max_gap)
            target = parts.setdefault(meter.resource, ([], [], []))
            target[0].append(series)
            target[1].append(times)
            target[2].append(values)
        n_rows = len(row_of)
        rows_of_series = np.array(
            [row_of[owner] for _, owner, _ in samples] or [0])
        device = {m.resource: m.device for m in METERS}
        out = {}
        for resource, (series, times, values) in parts.items():
            series = np.concatenate(series)
            times = np.concatenate(times)
            values = np.concatenate(values)
            if device[resource]:
                cells = grid.regularise_gauge(
                    series, times, values, len(samples), start, end, step)
                out[resource] = grid.sum_rows(cells, rows_of_series, n_rows)
            else:
                out[resource] = grid.regularise_gauge(
                    rows_of_series[series], times, values, n_rows, start,
                    end, step)
        return out

    # -- requests --------------------------------------------------------

    def _selector(self, meter, batch):
        alternatives = '|'.join(_regex_literal(key) for key in batch)
        if meter.device:
            pattern = '.*(?:%s).*' % alternatives
        else:
            pattern = alternatives
        return '%s%s{%s=~%s}' % (self.metric_prefix, meter.name,
                                 self.instance_label,
                                 _promql_string(pattern))

    def _query(self, meter, batch, t0, t1):
        """Raw samples of ``meter`` in ``[t0, t1)``, as a list of
        ``(labels, times, values)``; ``labels`` is a sorted tuple of pairs.
        """
        # One second more than the piece: Prometheus 3 excludes a range's
        # start, Prometheus 2 includes it.
        query = '%s[%ds]' % (self._selector(meter, batch), t1 - t0 + 1)
        data = self._get_data(query, t1)
        if data.get('resultType') != 'matrix':
            raise self._unavailable(
                'the answer to %s is a %r, not a matrix of samples' % (
                    query[:200], data.get('resultType')))
        found = []
        try:
            for item in data['result']:
                labels = tuple(sorted(item['metric'].items()))
                points = np.array(item['values'], dtype=float).reshape(-1, 2)
                times, values = points[:, 0], points[:, 1]
                # Each sample in exactly one piece.
                inside = (times >= t0) & (times < t1)
                found.append((labels, times[inside], values[inside]))
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            raise self._unavailable('malformed samples in the answer to %s '
                                    '(%s: %s)' % (query[:200],
                                                  type(e).__name__, e))
        return found

    def _get_data(self, query, at):
        """``data`` of the answer of ``/api/v1/query``."""
        url = self.url + '/api/v1/query'
        self.request_count += 1
        try:
            response = self.session.post(
                url, data={'query': query, 'time': '%d' % at},
                timeout=self.timeout, auth=self.auth, verify=self.verify,
                cert=self.cert)
        except requests.Timeout as e:
            raise self._unavailable('no answer from %s within %s s (%s)' % (
                url, self.timeout, e))
        except requests.exceptions.SSLError as e:
            raise self._unavailable(
                'TLS failure with %s (%s); check [watcher_predictive] '
                'prometheus_cafile, prometheus_certfile and '
                'prometheus_keyfile' % (url, e))
        except requests.ConnectionError as e:
            raise self._unavailable(
                'cannot connect to %s (%s); check [watcher_predictive] '
                'prometheus_url' % (url, e))
        except (requests.RequestException, OSError) as e:
            raise self._unavailable('%s on %s: %s' % (type(e).__name__,
                                                      url, e))
        if response.status_code in (401, 403):
            raise self._unavailable(
                'HTTP %s from %s: %s; check [watcher_predictive] '
                'prometheus_username and prometheus_password' % (
                    response.status_code, url,
                    (response.text or '').strip()[:200]))
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or 'status' not in body:
            raise self._unavailable(
                'HTTP %s from %s is not a Prometheus API answer (%s: %r); '
                'check [watcher_predictive] prometheus_url' % (
                    response.status_code, url,
                    response.headers.get('Content-Type'),
                    (response.text or '')[:200]))
        if body['status'] != 'success' or response.status_code != 200:
            raise self._unavailable(
                'HTTP %s from %s for query %s: %s: %s' % (
                    response.status_code, url, query[:200],
                    body.get('errorType'), body.get('error')))
        for warning in body.get('warnings') or ():
            LOG.warning('Prometheus warns about %s: %s', query[:200],
                        warning)
        data = body.get('data')
        if not isinstance(data, dict):
            raise self._unavailable('the answer of %s has no data: %r' % (
                url, str(body)[:200]))
        return data

    def _unavailable(self, reason):
        return exception.TelemetryUnavailable(source=self.name, reason=reason)
