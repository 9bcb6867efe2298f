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

"""``watcher-predictive accuracy`` and ``watcher-predictive profile show``.

Both read watcher.conf as Watcher's own commands do (``--config-file``,
else the default files of project ``watcher``) and the plugin's tables in
the database it names::

    watcher-predictive accuracy [--instance UUID] [--resource R] [--days 7]
    watcher-predictive profile show UUID [--json]
"""

import json
import math
import time
import warnings

from oslo_config import cfg

from watcher_predictive.cmd import table
from watcher_predictive.conf import learning as learning_conf
from watcher_predictive.conf import predictive
from watcher_predictive import exception
from watcher_predictive.learning import scoring
from watcher_predictive.storage import api
from watcher_predictive.storage import records

DAY = 86400
LEARNING_KEY = 'learning'


def _conf(config_files):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        from watcher.conf import db as watcher_db
        from watcher.conf import paths as watcher_paths
    conf = cfg.ConfigOpts()
    watcher_paths.register_opts(conf)
    watcher_db.register_opts(conf)
    predictive.register_opts(conf)
    learning_conf.register_opts(conf)
    args = []
    for path in config_files or ():
        args += ['--config-file', path]
    conf(args, project='watcher', prog='watcher-predictive',
         default_config_files=None if config_files else
         cfg.find_config_files(project='watcher'))
    return conf


def _store(args):
    conf = _conf(args.config_file)
    store = api.Store.from_config(conf, timeout=args.timeout)
    store.check_schema()
    return store


def _fmt(value, digits=4):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    return '%.*f' % (digits, value)


def accuracy_rows(errors, now, days):
    """(resource, model, day) -> summed Score; day 0 is the last day."""
    sums = {}
    for row in errors:
        day = int((now - row.issued_at) // DAY)
        if day >= days:
            continue
        key = (row.resource, row.model, day)
        score = scoring.Score(**{name: getattr(row, name)
                                 for name in records.SCORE_FIELDS})
        sums[key] = sums.get(key, scoring.Score()) + score
    return sums


def ensemble_weights(profiles, resource=None):
    """(resource, member) -> mean learned weight over the profiles."""
    totals, counts = {}, {}
    for record in profiles:
        learned = record.state.get(LEARNING_KEY) or {}
        for name, res in learned.get('resources', {}).items():
            if resource is not None and name != resource:
                continue
            for member, weight in res.get('weights', {}).items():
                totals[(name, member)] = totals.get((name, member), 0.0) + \
                    weight
                counts[(name, member)] = counts.get((name, member), 0) + 1
    return {key: totals[key] / counts[key] for key in totals}


def _accuracy(args):
    store = _store(args)
    try:
        now = int(time.time()) if args.now is None else args.now
        errors = store.forecast_errors(args.instance, args.resource,
                                       since=now - args.days * DAY)
        profiles = store.all_profiles() if args.instance is None else list(
            store.load_profiles([args.instance]).values())
    finally:
        store.dispose()
    if args.instance and not profiles and not errors:
        raise exception.InvalidParameter(
            name='--instance', value=args.instance,
            reason='no profile or scored forecast of this instance; check '
                   'the UUID, or wait for an audit to profile it')
    sums = accuracy_rows(errors, now, args.days)
    weights = ensemble_weights(profiles, args.resource)
    if args.json:
        print(json.dumps({
            'errors': [dict(resource=r, model=m, days_ago=d,
                            mae=s.mae, pinball=s.mean_pinball,
                            coverage_80=s.coverage(80),
                            coverage_90=s.coverage(90),
                            lull_precision=s.lull_precision,
                            lull_recall=s.lull_recall, steps=s.steps)
                       for (r, m, d), s in sorted(sums.items())],
            'weights': [dict(resource=r, model=m, weight=w)
                        for (r, m), w in sorted(weights.items())]},
            indent=2, sort_keys=True))
        return 0
    rows = []
    for (resource, model) in sorted({k[:2] for k in sums}):
        trend = [sums.get((resource, model, d)) for d in
                 range(args.days - 1, -1, -1)]
        total = sum((s for s in trend if s), scoring.Score())
        rows.append([resource, model, _fmt(total.mae),
                     ' '.join(_fmt(s.mae if s else None, 3)
                              for s in trend),
                     _fmt(total.mean_pinball), _fmt(total.coverage(80), 3),
                     _fmt(total.coverage(90), 3),
                     _fmt(total.lull_precision, 3),
                     _fmt(total.lull_recall, 3),
                     _fmt(weights.get((resource, model)), 3)])
    if not rows:
        print('No forecast was scored in the last %d days.' % args.days)
    else:
        print(table.render(
            ['Resource', 'Model', 'MAE', 'MAE per day (oldest first)',
             'Pinball', 'Cov 80', 'Cov 90', 'Lull P', 'Lull R',
             'Weight'], rows))
    return 0


def _hourly_shape(member_state, step):
    slots = None
    for key in ('slot_mean_', 'slot_mean'):
        slots = slots or (member_state or {}).get(key)
    if not slots:
        return None
    per_hour = max(1, 3600 // step)
    return [round(sum(slots[h * per_hour:(h + 1) * per_hour]) / per_hour, 4)
            for h in range(len(slots) // per_hour)]


def profile_summary(record, forecasts):
    state = record.state
    step = state.get('step', 300)
    learned = state.get(LEARNING_KEY) or {}
    out = {'instance': record.instance_uuid,
           'history_end': record.history_end, 'version': record.version,
           'resources': {}, 'markov': None,
           'bursts': state.get('bursts', {}),
           'correlations': state.get('correlations', {}),
           'latest_forecast': {}}
    for resource, model in sorted(state.get('models', {}).items()):
        members = model.get('members', {})
        res = learned.get('resources', {}).get(resource, {})
        arima = (res.get('arima') or {}).get('order') or (
            members.get('seasonal_arima', {}).get('arima', {}).get('order'))
        out['resources'][resource] = {
            'seasonal_shape_by_hour': _hourly_shape(
                members.get('seasonal_profile'), step),
            'arima_order': arima,
            'ensemble_weights': res.get('weights') or model.get('weights'),
            'interval_factors': {k: round(math.exp(v), 4) for k, v in
                                 res.get('calibration', {}).items()},
            'arima_reselections': (res.get('arima') or {}).get(
                'reselections')}
    markov = state.get('markov')
    if markov:
        counts = markov.get('counts') or []
        labels = markov.get('states') or []
        last = markov.get('last_state', -1)
        out['markov'] = {
            'states': labels,
            'last_state': labels[last] if 0 <= last < len(labels) else None,
            'transitions': markov.get('transitions'),
            'forgetting': markov.get('forgetting'),
            'next_state_probabilities': _row(counts, last, labels)}
    for forecast in forecasts:
        if forecast.resource in out['latest_forecast']:
            continue
        levels = forecast.levels
        out['latest_forecast'][forecast.resource] = {
            'issued_at': forecast.issued_at, 'start': forecast.start,
            'step': forecast.step, 'model': forecast.model,
            'levels': levels, 'quantiles': forecast.quantiles}
    return out


def _row(counts, last, labels):
    if not counts or not 0 <= last < len(counts):
        return None
    row = counts[last]
    total = sum(row) + len(row)
    return {label: round((c + 1) / total, 4) for label, c in zip(labels, row)}


def _profile_show(args):
    store = _store(args)
    try:
        found = store.load_profiles([args.uuid])
        forecasts = store.latest_forecasts(args.uuid, limit=16)
    finally:
        store.dispose()
    if args.uuid not in found:
        raise exception.InvalidParameter(
            name='UUID', value=args.uuid,
            reason='no profile of this instance is stored; check the UUID, '
                   'or wait for an audit that has it in scope')
    summary = profile_summary(found[args.uuid], forecasts)
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
        return 0
    print('Instance %s (profile version %s, history to %s)' % (
        summary['instance'], summary['version'],
        time.strftime('%Y-%m-%dT%H:%M:%SZ',
                      time.gmtime(summary['history_end']))))
    rows = []
    for resource, r in summary['resources'].items():
        shape = r['seasonal_shape_by_hour']
        # Two lines of twelve hours.
        text = '\n'.join(' '.join(_fmt(v, 2) for v in shape[k:k + 12])
                         for k in range(0, len(shape), 12)) if shape else '-'
        rows.append([resource, text,
                     r['arima_order'],
                     ', '.join('%s %.2f' % kv for kv in sorted(
                         (r['ensemble_weights'] or {}).items())),
                     r['interval_factors']])
    print(table.render(['Resource', 'Seasonal shape (hourly mean, 0-23 h '
                        'UTC)', 'ARIMA', 'Ensemble weights',
                        'Interval factors'], rows))
    if summary['markov']:
        m = summary['markov']
        print('Markov: state %s, %s transitions, forgetting %s; next: %s' % (
            m['last_state'], m['transitions'], m['forgetting'],
            m['next_state_probabilities']))
    for resource, b in sorted(summary['bursts'].items()):
        print('Bursts of %s: %s (%s per day, mean %s s)' % (
            resource, b.get('count'), b.get('per_day'),
            b.get('mean_duration_s')))
    for resource, c in sorted(summary['correlations'].items()):
        print('Correlation of CPU with %s: %s at lag %s s' % (
            resource, c.get('correlation'), c.get('lag_s')))
    for resource, f in sorted(summary['latest_forecast'].items()):
        median = scoring.level_index(f['levels'], 0.5)
        low, high = (scoring.level_index(f['levels'], 0.1),
                     scoring.level_index(f['levels'], 0.9))
        steps = ['%s [%s, %s]' % (_fmt(q[median], 3),
                                  _fmt(q[low], 3) if low is not None
                                  else '-',
                                  _fmt(q[high], 3) if high is not None
                                  else '-') for q in f['quantiles']]
        print('Forecast of %s from %s, every %d s, median [0.1, 0.9]: %s' % (
            resource, time.strftime('%H:%M:%SZ', time.gmtime(f['start'])),
            f['step'], '; '.join(steps)))
    return 0


def _common(parser):
    parser.add_argument('--config-file', action='append', metavar='PATH',
                        help='watcher.conf to read (repeatable; default: '
                             'the files Watcher reads).')
    parser.add_argument('--timeout', type=int, default=30,
                        help='Seconds allowed to connect to the database '
                             'and run one query (default 30).')
    parser.add_argument('--json', action='store_true',
                        help='Print JSON.')


def add_parsers(sub):
    """Register ``accuracy`` and ``profile show`` on the CLI's parser."""
    accuracy = sub.add_parser(
        'accuracy', help='Forecast error trends per model and the learned '
                         'ensemble weights, from the plugin\'s tables.')
    accuracy.add_argument('--instance', metavar='UUID')
    accuracy.add_argument('--resource',
                          choices=('cpu', 'memory', 'disk', 'network'))
    accuracy.add_argument('--days', type=int, default=7,
                          help='Days of scores shown (default 7).')
    accuracy.add_argument('--now', type=int, help=argparse_suppress())
    _common(accuracy)
    accuracy.set_defaults(func=_accuracy)

    profile = sub.add_parser('profile', help='Stored profiles.')
    profile_sub = profile.add_subparsers(dest='profile_command',
                                         required=True)
    show = profile_sub.add_parser(
        'show', help='Seasonal shape, ARIMA order, Markov states, bursts, '
                     'correlations and the latest forecast of an instance.')
    show.add_argument('uuid', metavar='UUID')
    _common(show)
    show.set_defaults(func=_profile_show)


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS
