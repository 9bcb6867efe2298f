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

"""Where instance history comes from.

``get_source`` builds the source named by ``[watcher_predictive]
telemetry_source``; every source implements
:class:`watcher_predictive.telemetry.base.TelemetrySource`.
"""

import functools

from oslo_log import log

from watcher_predictive import exception

LOG = log.getLogger(__name__)

SOURCES = ('gnocchi', 'prometheus', 'trace')


@functools.lru_cache(maxsize=4)
def _load_trace(path, trace_format, limit, step):
    from watcher_predictive.telemetry import trace
    if trace_format != trace.FORMAT:
        raise exception.InvalidParameter(
            name='[watcher_predictive] trace_format', value=trace_format,
            reason='the known trace format is %s' % trace.FORMAT)
    return trace.load_bitbrains(path, limit=limit, step=step)


def get_source(conf, osc=None, **kwargs):
    """The telemetry source configured in ``conf``.

    :param conf: an oslo.config object with the ``[watcher_predictive]``
        options registered
    :param osc: Watcher's ``OpenStackClients`` (Gnocchi only); a new one is
        made from watcher.conf when omitted
    :param kwargs: passed to the source. Gnocchi and Prometheus:
        ``max_gap``. Trace:
        ``mapping`` (instance uuid -> series id), ``offset`` (seconds;
        default: the trace ends now), ``limit`` (files read), ``step``.
    :raises InvalidParameter: unknown source or trace format, or no
        ``trace_path`` for the trace source
    """
    options = conf.watcher_predictive
    name = options.telemetry_source
    if name == 'gnocchi':
        from watcher_predictive.telemetry import gnocchi
        return gnocchi.GnocchiSource.from_config(conf, osc=osc, **kwargs)
    if name == 'prometheus':
        from watcher_predictive.telemetry import prometheus
        return prometheus.PrometheusSource.from_config(conf, **kwargs)
    if name == 'trace':
        from watcher_predictive.telemetry import trace
        if not options.trace_path:
            raise exception.InvalidParameter(
                name='[watcher_predictive] trace_path', value=None,
                reason='the trace source needs the folder or file to replay')
        history, _ = _load_trace(options.trace_path, options.trace_format,
                                 kwargs.pop('limit', None),
                                 kwargs.pop('step', 300))
        offset = kwargs.pop('offset', None)
        if offset is None:
            offset = trace.TraceSource.offset_ending_at(history)
        LOG.debug('Replaying %s series of %s with offset %s s',
                  len(history.instance_ids), options.trace_path, offset)
        return trace.TraceSource(history, offset=offset, **kwargs)
    raise exception.InvalidParameter(
        name='[watcher_predictive] telemetry_source', value=name,
        reason='known sources are %s' % ', '.join(SOURCES))
