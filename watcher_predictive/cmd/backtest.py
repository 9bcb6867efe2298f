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

"""``watcher-predictive backtest``: forecast accuracy on a recorded trace.

Rolling-origin evaluation: every hour of the
held-out last days, each model forecasts the horizon and then learns the
hour that follows. The plugin's models, the ensemble when there is one, and
the baselines (persistence, seasonal naive, statsmodels' ARIMA(2,1,1)) are
scored on the same points.
"""

import datetime
import json
import time

from watcher_predictive.cmd import progress as progress_mod
from watcher_predictive import exception
from watcher_predictive.profiler import history as history_mod

FORMATS = ('bitbrains', 'planetlab', 'wide')
ARIMA = 'statsmodels_arima'
DEFAULT_ARIMA_SAMPLE = 20
SEED = 0
# Capacity of each resource in the loaded shapes, for the lull threshold.
CAPACITY_KEYS = {'cpu': 'cpu_capacity', 'memory': 'memory_mb'}
COLUMNS = (('mae', 'MAE'), ('rmae_persistence', 'rMAE pers.'),
           ('rmae_seasonal_naive', 'rMAE s.naive'), ('pinball', 'Pinball'),
           ('coverage_80', 'Cov. 80%'), ('coverage_90', 'Cov. 90%'),
           ('lull_precision', 'Lull prec.'), ('lull_recall', 'Lull rec.'),
           ('series', 'Series'), ('seconds', 'Seconds'))


def add_parser(subparsers):
    parser = subparsers.add_parser(
        'backtest', help='Measure forecast accuracy on a recorded trace.',
        description=__doc__.split('\n\n', 1)[1].strip())
    parser.add_argument('--trace', required=True,
                        help='Trace file or folder.')
    parser.add_argument('--format', required=True, choices=FORMATS,
                        help='bitbrains: folder of N.csv.gz per VM; '
                             'planetlab: by_day folder of YYYYMMDD.csv (the '
                             'longest run of consecutive days is read); '
                             'wide: CSV with a timestamp or step column and '
                             'one CPU %% column per VM.')
    parser.add_argument('--horizon', type=int, default=3600,
                        help='Forecast horizon in seconds, a multiple of '
                             '300 (default 3600).')
    parser.add_argument('--holdout-days', type=float, default=7.0,
                        help='Days at the end of the trace forecast hour '
                             'by hour (default 7).')
    parser.add_argument('--limit', type=int,
                        help='Read only the first N series of the trace.')
    parser.add_argument('--models',
                        help='Comma-separated models to evaluate besides '
                             'persistence and seasonal_naive (always run); '
                             'default: all of the plugin\'s, the ensemble '
                             'and %s.' % ARIMA)
    parser.add_argument('--resource', default='cpu',
                        choices=history_mod.RESOURCES,
                        help='Resource to forecast (default cpu).')
    parser.add_argument('--lull-level', type=float, default=0.1,
                        help='Lull threshold as a share of the VM\'s '
                             'capacity (default 0.1: 10%% of its vCPUs).')
    parser.add_argument('--arima-sample', type=int,
                        default=DEFAULT_ARIMA_SAMPLE,
                        help='Evaluate %s on this many series drawn at '
                             'random (seed %d; default %d); 0 for all. Its '
                             'fit takes seconds per series.' % (
                                 ARIMA, SEED, DEFAULT_ARIMA_SAMPLE))
    parser.add_argument('--json', action='store_true',
                        help='Print one JSON object only.')
    progress_mod.add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def model_factories(text):
    """Name -> factory of the models ``--models`` asks for."""
    from watcher_predictive.profiler import backtest
    from watcher_predictive.profiler import baselines
    from watcher_predictive.profiler import registry
    names = registry.available() + [ARIMA] if text is None else [
        name.strip() for name in text.split(',') if name.strip()]
    known = registry.available() + [ARIMA] + list(backtest.REFERENCES)
    factories = {}
    for name in names:
        if name not in known:
            raise exception.InvalidParameter(
                name='--models', value=name,
                reason='choose among %s' % ', '.join(known))
        if name == ARIMA:
            factories[name] = baselines.StatsmodelsArima
        elif name not in backtest.REFERENCES:
            factories[name] = registry.factory(name)
    return factories


def _capacity(history, shapes, resource):
    key = CAPACITY_KEYS.get(resource)
    if key is None:
        return None
    values = [shapes.get(sid, {}).get(key) for sid in history.instance_ids]
    if any(value is None for value in values):
        return None
    return [float(value) for value in values]


def _utc(timestamp):
    return datetime.datetime.fromtimestamp(
        int(timestamp), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%MZ')


def summary(report, args, seconds, lull_level):
    """The JSON object the command prints."""
    samples = {name: {'series': n, 'of': len(report.instance_ids),
                      'seed': SEED} for name, n in report.samples.items()}
    return {
        'trace': args.trace, 'format': args.format,
        'resource': args.resource, 'horizon': report.horizon,
        'holdout_days': report.holdout_days, 'step': report.step,
        'lull_level': lull_level, 'series': len(report.instance_ids),
        'skipped': len(report.skipped), 'origins': int(report.origins.size),
        'first_origin': _utc(report.origins[0]),
        'last_origin': _utc(report.origins[-1]),
        'samples': samples, 'seconds': round(seconds, 3),
        'models': {name: scores.as_dict()
                   for name, scores in report.models.items()},
    }


def _cell(value):
    if value is None:
        return '-'
    if isinstance(value, float):
        return '%.4g' % value
    return str(value)


def render(result):
    """Plain-text report of ``summary()``'s object."""
    from watcher_predictive.cmd import table
    lines = [
        'Backtest of %s (%s), %s: %d series evaluated, %d skipped (less '
        'than a day of history before the holdout).' % (
            result['trace'], result['format'], result['resource'],
            result['series'], result['skipped']),
        '%d hourly origins from %s to %s (last %s days), horizon %d s on '
        'a %d s grid.' % (result['origins'], result['first_origin'],
                          result['last_origin'], result['holdout_days'],
                          result['horizon'], result['step'])]
    if result['lull_level'] is None:
        lines.append('Lulls: not scored (no capacity for this resource).')
    else:
        lines.append(
            'Lulls: below %g%% of capacity for at least 30 minutes within '
            'the horizon, per step; predicted from the 0.9 quantile.' % (
                100 * result['lull_level']))
    for name, sample in sorted(result['samples'].items()):
        lines.append('%s: evaluated on a random sample of %d of the %d '
                     'series (seed %d); --arima-sample 0 evaluates all.' % (
                         name, sample['series'], sample['of'],
                         sample['seed']))
    rows, failures = [], []
    for name, scores in result['models'].items():
        if scores['error']:
            failures.append('%s could not be evaluated: %s' % (
                name, scores['error']))
        rows.append([name] + [_cell(scores[key]) for key, _ in COLUMNS])
    lines.append(table.render(['Model'] + [title for _, title in COLUMNS],
                              rows))
    lines.extend(failures)
    lines.append('Total %.1f s.' % result['seconds'])
    return '\n'.join(lines)


def run(args):
    from watcher_predictive.profiler import backtest
    from watcher_predictive.telemetry import trace
    began = time.perf_counter()
    for name, value in (('--limit', args.limit),
                        ('--arima-sample', args.arima_sample)):
        if value is not None and value < (1 if name == '--limit' else 0):
            raise exception.InvalidParameter(
                name=name, value=value,
                reason='give a positive number of series%s' % (
                    '' if name == '--limit' else ', or 0 for all'))
    factories = model_factories(args.models)
    history, shapes = trace.load(args.trace, args.format, limit=args.limit)
    if args.resource not in history.values:
        raise exception.InvalidParameter(
            name='--resource', value=args.resource,
            reason='this trace holds only %s' % ', '.join(
                sorted(history.values)))
    capacity = _capacity(history, shapes, args.resource)
    lull_level = None if capacity is None else args.lull_level
    samples = {ARIMA: args.arima_sample} if args.arima_sample > 0 else {}

    progress = progress_mod.Progress.from_args('backtest', args)
    progress('%d series of %s read' % (len(history.instance_ids),
                                       args.trace))
    report = backtest.evaluate(
        history, factories, resource=args.resource, horizon=args.horizon,
        holdout_days=args.holdout_days, lull_level=lull_level,
        capacity=capacity, samples=samples, seed=SEED, progress=progress)
    result = summary(report, args, time.perf_counter() - began, lull_level)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(render(result))
    return 0
