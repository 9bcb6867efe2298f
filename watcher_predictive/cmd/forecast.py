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

"""``watcher-predictive forecast show``: what the plugin predicted for one
instance, and what it planned.

It reads watcher.conf as Watcher's own commands do (``--config-file``),
the latest forecast the strategy stored in the plugin's tables, the lull
and release probability that forecast implies, and the actions of
Watcher's action plans for the instance (read-only, from Watcher's
database). With ``--plot`` it draws them over the instance's recent
history: from the configured telemetry source when it answers, otherwise
from the medians of the earlier forecasts still stored, so that the plot
works on a host that cannot reach the telemetry service.
"""

import dataclasses
import json
import os
import sys
import warnings

import numpy as np

from watcher_predictive.anticipation import release
from watcher_predictive.anticipation import types
from watcher_predictive import exception
from watcher_predictive.plugins import parameters as audit_parameters
from watcher_predictive.profiler import base
from watcher_predictive.profiler import history as history_mod

# Earlier forecasts read for the fallback history: as many as are kept by
# default (``forecasts_kept_per_instance``).
EARLIER_FORECASTS = 48


@dataclasses.dataclass
class Inspection:
    """Everything ``forecast show`` prints or draws about one instance."""

    instance_uuid: str
    resource: str
    forecast: object
    """The latest :class:`storage.records.ForecastRecord`."""
    parameters: dict
    """Audit parameters that apply (the forecast's audit, else defaults)."""
    vcpus: float = None
    lull_probability: np.ndarray = None
    """P(CPU below the lull level) per forecast step, when known."""
    release_probability: float = None
    lull_window: tuple = None
    history: tuple = None
    """(timestamps, values) of the recent history, or None."""
    history_origin: str = ''
    actions: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    """Why something could not be shown, for the operator."""


def add_parser(subparsers):
    forecast = subparsers.add_parser(
        'forecast', help='Inspect the forecasts stored by the plugin.')
    sub = forecast.add_subparsers(dest='forecast_command', required=True)
    show = sub.add_parser(
        'show', help='Latest forecast of one instance, its predicted lull '
                     'and planned actions; optionally a plot.',
        description=__doc__.split('\n\n', 1)[1].strip())
    show.add_argument('instance', metavar='UUID', help='Instance UUID.')
    show.add_argument('--config-file', action='append', dest='config_files',
                      metavar='PATH',
                      help='watcher.conf to read (repeatable; default: '
                           'oslo.config\'s search, /etc/watcher/'
                           'watcher.conf).')
    show.add_argument('--resource', default='cpu',
                      choices=history_mod.RESOURCES,
                      help='Resource to show (default cpu).')
    show.add_argument('--vcpus', type=float,
                      help='vCPUs of the instance: with it the lull level '
                           'and the release probability are computed from '
                           'the forecast (CPU only).')
    show.add_argument('--history-hours', type=float, default=24.0,
                      help='Hours of history before the forecast to plot '
                           '(default 24).')
    show.add_argument('--plot', metavar='PNG',
                      help='Draw history, quantile bands, predicted lull '
                           'and planned actions into this PNG file (needs '
                           'the "plot" extra: matplotlib).')
    show.add_argument('--json', action='store_true',
                      help='Print one JSON object only.')
    show.set_defaults(func=show_command)
    return forecast


def load_config(config_files):
    """Parse watcher.conf into the global configuration, as Watcher does."""
    from watcher_predictive.cmd import demo
    demo._import_watcher()
    from oslo_config import cfg

    from watcher_predictive import conf as predictive_conf
    for path in config_files or ():
        if not os.path.isfile(path):
            raise exception.InvalidParameter(
                name='--config-file', value=path,
                reason='no such file; give the watcher.conf of this host')
    predictive_conf.register_opts(cfg.CONF)
    cfg.CONF([], project='watcher', default_config_files=config_files)
    return cfg.CONF


def _check_arguments(args):
    if args.vcpus is not None and not args.vcpus > 0:
        raise exception.InvalidParameter(
            name='--vcpus', value=args.vcpus,
            reason='give the instance\'s vCPUs, a positive number')
    if not 0 < args.history_hours <= 90 * 24:
        raise exception.InvalidParameter(
            name='--history-hours', value=args.history_hours,
            reason='give a number of hours between 0 and 2160 (90 days)')
    if args.vcpus is not None and args.resource != 'cpu':
        raise exception.InvalidParameter(
            name='--vcpus', value=args.vcpus,
            reason='the lull is defined on CPU; use it with --resource cpu')
    if args.plot:
        folder = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(folder):
            raise exception.InvalidParameter(
                name='--plot', value=args.plot,
                reason='the folder %s does not exist' % folder)


def inspect(conf, instance_uuid, resource='cpu', vcpus=None,
            history_hours=24.0, want_history=False, source=None):
    """Gather the latest forecast of ``instance_uuid`` and what goes with
    it; raises StorageError when the plugin's tables cannot be read.

    :param source: telemetry source for the history; built from ``conf``
        when None and ``want_history`` is set.
    """
    from watcher_predictive.cmd import watcher_db
    from watcher_predictive.storage import api as storage
    timeout = conf.watcher_predictive.telemetry_timeout
    store = storage.Store.from_config(conf, timeout=timeout)
    try:
        store.check_schema()
        stored = store.latest_forecasts(instance_uuid=instance_uuid,
                                        resource=resource,
                                        limit=EARLIER_FORECASTS)
    finally:
        store.dispose()
    if not stored:
        raise exception.StorageError(
            reason='no %s forecast of instance %s is stored in %s. An audit '
                   'of the predictive_anticipation strategy stores one for '
                   'every instance it profiles; check the UUID, that the '
                   'instance is in the audit scope and has at least '
                   'min_history of telemetry, and that no purge removed '
                   'it.' % (resource, instance_uuid, store.safe_url))
    latest = stored[0]
    found = Inspection(instance_uuid=instance_uuid, resource=resource,
                       forecast=latest,
                       parameters=audit_parameters.defaults(), vcpus=vcpus)
    watcher = watcher_db.WatcherDatabase.from_config(conf, timeout=timeout)
    try:
        if latest.audit_uuid:
            params = watcher.audit_parameters(latest.audit_uuid)
            if params is None:
                found.notes.append(
                    'audit %s is not in Watcher\'s database; the default '
                    'audit parameters are used' % latest.audit_uuid)
            else:
                found.parameters.update(params)
        found.actions = watcher.actions_of(instance_uuid)
    except exception.StorageError as e:
        found.notes.append('planned actions unavailable: %s' % e)
    finally:
        watcher.dispose()
    if vcpus is not None:
        _lull(found)
    if want_history:
        _history(found, conf, stored[1:], history_hours, source)
    return found


def as_forecast(record):
    """A :class:`profiler.base.Forecast` of one stored record."""
    quantiles = np.asarray(record.quantiles, dtype=float)[None, :, :]
    return base.Forecast(instance_ids=(record.instance_uuid,),
                         resource=record.resource, start=record.start,
                         step=record.step, levels=record.levels,
                         quantiles=quantiles, model=record.model)


def _lull(found):
    forecast = as_forecast(found.forecast)
    params = found.parameters
    probability = release.lull_probability(
        forecast, [found.vcpus], params['lull_cpu'])
    duration = max(1, -(-params['task_duration'] // forecast.step))
    value, start = release.best_lull(probability, duration)
    found.lull_probability = probability[0]
    found.release_probability = float(value[0])
    if start[0] >= 0:
        begin = forecast.start + int(start[0]) * forecast.step
        found.lull_window = (begin, begin + duration * forecast.step)


def _history(found, conf, earlier, hours, source):
    from watcher_predictive import telemetry
    from watcher_predictive.telemetry import grid
    step = found.forecast.step
    end = grid.align_down(found.forecast.start, step)
    start = end - grid.align_down(int(hours * 3600), step)
    try:
        with warnings.catch_warnings():
            # Watcher's client modules warn about their dependencies'
            # deprecations when first imported: noise for the operator.
            warnings.simplefilter('ignore')
            source = source or telemetry.get_source(conf)
        history = source.fetch([found.instance_uuid], start, end, step)
        values = history.values[found.resource][0]
        if np.isfinite(values).any():
            found.history = (history.timestamps(), values)
            found.history_origin = 'telemetry (%s)' % (
                source.name or type(source).__name__)
            return
        found.notes.append('the telemetry source has no %s measures of '
                           'this instance in the last %g hours' % (
                               found.resource, hours))
    except exception.PredictiveError as e:
        found.notes.append('history not read from telemetry: %s' % e)
    # Earlier forecasts: the median of their first step is the closest
    # thing to a measure the plugin keeps.
    points = sorted((r.start, r.quantiles[0][_median_index(r.levels)])
                    for r in earlier if start <= r.start < end)
    if points:
        times, values = zip(*points)
        found.history = (np.asarray(times), np.asarray(values, dtype=float))
        found.history_origin = ('first-step medians of %d earlier stored '
                                'forecasts' % len(points))


def _median_index(levels):
    return int(np.argmin(np.abs(np.asarray(levels) - 0.5)))


def to_dict(found):
    record = found.forecast
    return {
        'instance_uuid': found.instance_uuid, 'resource': found.resource,
        'model': record.model, 'audit_uuid': record.audit_uuid,
        'issued_at': types.iso_utc(record.issued_at),
        'step': record.step, 'levels': list(record.levels),
        'steps': [{'start': types.iso_utc(record.start + k * record.step),
                   'quantiles': list(values),
                   'lull_probability': None if found.lull_probability is None
                   else round(float(found.lull_probability[k]), 4)}
                  for k, values in enumerate(record.quantiles)],
        'vcpus': found.vcpus,
        'lull_cpu': found.parameters['lull_cpu'],
        'task_duration': found.parameters['task_duration'],
        'release_probability': found.release_probability,
        'lull_window': None if found.lull_window is None else [
            types.iso_utc(t) for t in found.lull_window],
        'history_origin': found.history_origin or None,
        'history_points': 0 if found.history is None
        else int(np.isfinite(found.history[1]).sum()),
        'actions': found.actions, 'notes': found.notes}


def render(found):
    from watcher_predictive.cmd import table
    record = found.forecast
    data = to_dict(found)
    lines = ['Forecast of %s for instance %s' % (found.resource,
                                                 found.instance_uuid),
             'issued %s by audit %s, model %s, %d steps of %d s' % (
                 data['issued_at'], record.audit_uuid or '-', record.model,
                 len(record.quantiles), record.step)]
    headers = ['Step start (UTC)'] + ['q%g' % level
                                      for level in record.levels]
    if found.lull_probability is not None:
        headers.append('P(lull)')
    rows = [[step['start']] + ['%.4g' % v for v in step['quantiles']] + (
        [] if step['lull_probability'] is None
        else ['%.2f' % step['lull_probability']]) for step in data['steps']]
    lines.append(table.render(headers, rows))
    level = 'CPU below %g of the vCPUs for %d s' % (
        found.parameters['lull_cpu'], found.parameters['task_duration'])
    if found.vcpus is None:
        lines.append('Lull (%s): give --vcpus N to compute the release '
                     'probability from this forecast.' % level)
    elif found.lull_window is None:
        lines.append('No lull fits in the horizon (%s).' % level)
    else:
        lines.append('Predicted lull %s to %s, release probability %.2f '
                     '(%s, %g vCPUs).' % (
                         data['lull_window'][0], data['lull_window'][1],
                         found.release_probability, level, found.vcpus))
    if found.actions:
        lines.append('Planned actions:')
        for action in found.actions:
            params = action['input_parameters']
            lines.append('  %s %s (%s) in plan %s (%s): window %s to %s, '
                         'release probability %s' % (
                             action['uuid'], action['action_type'],
                             action['state'], action['action_plan_uuid'],
                             action['action_plan_state'],
                             params.get('window_start'),
                             params.get('window_end'),
                             params.get('release_probability')))
            lines.append('      reason: %s' % params.get('reason'))
    else:
        lines.append('No planned action for this instance.')
    for note in found.notes:
        lines.append('Note: %s' % note.rstrip('.') + '.')
    return '\n'.join(lines)


def show_command(args):
    _check_arguments(args)
    conf = load_config(args.config_files)
    found = inspect(conf, args.instance, resource=args.resource,
                    vcpus=args.vcpus, history_hours=args.history_hours,
                    want_history=bool(args.plot))
    if args.plot:
        from watcher_predictive.cmd import forecast_plot
        forecast_plot.draw(found, args.plot)
    if args.json:
        print(json.dumps(to_dict(found), indent=2, sort_keys=True))
    else:
        print(render(found))
        if args.plot:
            print('Plot written to %s' % args.plot)
    sys.stdout.flush()
    return 0
