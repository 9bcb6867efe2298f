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

"""Adaptive learning on a month of a real trace, learning on and off.

``python -m benchmarks.learning_replay [--trace DIR] [--instances 20]
[--days 30] [--json]`` replays the Bitbrains trace
(``../shared/traces/bitbrains_rnd_2013-8``) with one audit per simulated
hour (each profiling the last 7 days, as the strategy does) and prints,
for CPU one hour ahead, the first and last week's MAE, pinball loss and
interval coverage with learning on and off, and the last week's with a
"fresh" learner, started from an empty state at the start of the last
week on the same profiles (so that the last week is its first week of
learning: learning's first week against its fourth on the same data,
whatever the difficulty of the week); then the change-of-behaviour
replay: pairs of VMs spliced into one series, and the hours until the
error is back within 20 % of its pre-switch level. Figures are printed,
never judged.
"""

import argparse
import dataclasses
import json
import sys
import time

from watcher_predictive.cmd import demo
from watcher_predictive.learning import learner
from watcher_predictive.learning import replay
from watcher_predictive.telemetry import trace

WEEK = 7 * 86400


def week_figures(audits):
    out = {}
    first = audits[0].issued_at
    last = audits[-1].issued_at
    for name, chosen in (
            ('first_week', [a for a in audits if a.issued_at < first + WEEK]),
            ('last_week', [a for a in audits if a.issued_at > last - WEEK])):
        naive = replay.total(chosen, 'persistence')
        out['%s_persistence_mae' % name] = round(naive.mae, 5)
        tracks = ['on', 'off']
        fresh = [a.fresh is not None for a in chosen]
        if name == 'last_week' and any(fresh):
            if not all(fresh):
                raise ValueError('the fresh learner scored %d of the last '
                                 'week\'s %d audits; it must start at the '
                                 'first' % (sum(fresh), len(fresh)))
            tracks.append('fresh')
        for which in tracks:
            score = replay.total(chosen, which)
            out['%s_%s' % (name, which)] = {
                'audits': len(chosen), 'mae': round(score.mae, 5),
                'pinball': round(score.mean_pinball, 5),
                'coverage_80': round(score.coverage(80), 4),
                'coverage_90': round(score.coverage(90), 4),
                'lull_precision': round(score.lull_precision, 4),
                'lull_recall': round(score.lull_recall, 4),
                'mae_to_persistence': round(score.mae / naive.mae, 4)}
    return out


def month(path, instances, days, history_days, resources, skip=0,
          options=None, fresh=True, horizon_steps=12):
    history, flavors = trace.load_bitbrains(path, limit=skip + instances)
    history = history.select(history.instance_ids[skip:])
    steps_per_hour = 3600 // history.step
    first = int(history_days * 86400 // history.step)
    last = min(history.n_steps, int(days * 86400 // history.step)) - \
        steps_per_hour
    thresholds = {uuid: 0.1 * flavors[uuid]['vcpus']
                  for uuid in history.instance_ids}
    started = time.time()

    def progress(index, _states):
        if (index - first) % (24 * steps_per_hour) == 0:
            print('day %.0f of the trace' % (index * history.step / 86400),
                  file=sys.stderr, flush=True)

    # The last audit whose horizon the trace still holds; the fresh
    # learner starts with the last week before it.
    final = first + (min(last, history.n_steps - horizon_steps) - first) // \
        steps_per_hour * steps_per_hour
    fresh_after = history.start + final * history.step - WEEK \
        if fresh else None
    audits = replay.replay(history, first, last, history_days=history_days,
                           horizon_steps=horizon_steps,
                           lull_thresholds=thresholds, resources=resources,
                           on_audit=progress, options=options,
                           fresh_after=fresh_after)
    figures = week_figures(audits)
    figures['instances'] = len(history.instance_ids)
    figures['history_days'] = history_days
    figures['resources'] = list(resources)
    figures['audits'] = len(audits)
    figures['seconds'] = round(time.time() - started, 1)
    print(json.dumps(figures, sort_keys=True), file=sys.stderr, flush=True)
    return figures


def change_of_behaviour(path, pairs, history_days, resources,
                        days_after=4, options=None):
    history, _ = trace.load_bitbrains(path, limit=2 * pairs)
    ids = history.instance_ids
    switch = 9 * 86400 // history.step
    results = []
    for k in range(pairs):
        series = replay.splice(history, ids[2 * k], ids[2 * k + 1], switch)
        audits = replay.replay(series, switch - 2 * 288,
                               switch + days_after * 288,
                               history_days=history_days,
                               resources=resources, options=options)
        switch_time = series.start + switch * series.step
        hours, level = replay.recovery_hours(audits, switch_time)
        off_hours, _ = replay.recovery_hours(audits, switch_time,
                                             which='off')
        results.append({'first': ids[2 * k], 'then': ids[2 * k + 1],
                        'pre_switch_mae': round(level, 5),
                        'hours_to_recover_on': hours,
                        'hours_to_recover_off': off_hours})
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog='learning_replay',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--trace', help='Bitbrains folder (default: '
                        '$WATCHER_PREDICTIVE_TRACES/bitbrains_rnd_2013-8 or '
                        '../shared/traces/bitbrains_rnd_2013-8).')
    parser.add_argument('--instances', type=int, default=20)
    parser.add_argument('--skip', type=int, default=0,
                        help='VMs of the trace skipped before the '
                             '--instances replayed (default 0; the '
                             'settings were chosen with --skip 20).')
    parser.add_argument('--days', type=float, default=31)
    parser.add_argument('--pairs', type=int, default=5)
    parser.add_argument('--history-days', type=float, default=7,
                        help='Days of history each audit profiles '
                             '(default 7, as the strategy).')
    parser.add_argument('--resources', default='cpu,memory',
                        help='Resources profiled (default cpu,memory; '
                             'the Markov chain is over them).')
    parser.add_argument('--option', action='append', default=[],
                        metavar='NAME=VALUE',
                        help='A learning option (a field of '
                             'learning.learner.Options, VALUE in JSON, '
                             'e.g. gate=null), repeatable.')
    parser.add_argument('--skip-month', action='store_true')
    parser.add_argument('--no-fresh', action='store_true',
                        help='Without the fresh learner of the last week.')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    args.trace = demo.find_trace(args.trace)
    if args.trace is None:
        parser.error('no Bitbrains trace found; give --trace')
    resources = tuple(args.resources.split(','))
    options = learner.Options(**dict(
        parse_option(parser, text) for text in args.option))
    out = {'month': None if args.skip_month else month(
        args.trace, args.instances, args.days, args.history_days, resources,
        args.skip, options, fresh=not args.no_fresh),
        'change_of_behaviour': change_of_behaviour(
            args.trace, args.pairs, args.history_days, resources,
            options=options)
        if args.pairs > 0 else []}
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True))
        return 0
    if out['month']:
        print_month(out['month'])
    print_changes(out['change_of_behaviour'])
    return 0


def parse_option(parser, text):
    name, _, value = text.partition('=')
    fields = {f.name for f in dataclasses.fields(learner.Options)}
    if name not in fields:
        parser.error('unknown learning option %r in --option %r; one of %s'
                     % (name, text, ', '.join(sorted(fields))))
    try:
        return name, json.loads(value)
    except ValueError:
        parser.error('--option %r: the value must be JSON (e.g. 1.0, true, '
                     'null)' % text)


def print_month(m):
    print('Replay: %d VMs, %d hourly audits of %s days of %s, %.0f s' % (
        m['instances'], m['audits'], m['history_days'],
        '+'.join(m['resources']), m['seconds']))
    print('%-16s %8s %8s %7s %7s %7s %7s %7s' % (
        'CPU, 1 h ahead', 'MAE', 'pinball', 'cov80', 'cov90', 'lullP',
        'lullR', 'MAE/pers'))
    for key in ('first_week_off', 'first_week_on', 'last_week_off',
                'last_week_on', 'last_week_fresh'):
        f = m.get(key)
        if f is None:
            continue
        print('%-16s %8.5f %8.5f %7.3f %7.3f %7.3f %7.3f %7.3f' % (
            key, f['mae'], f['pinball'], f['coverage_80'], f['coverage_90'],
            f['lull_precision'], f['lull_recall'], f['mae_to_persistence']))
    print('persistence MAE: first week %.5f, last week %.5f' % (
        m['first_week_persistence_mae'], m['last_week_persistence_mae']))
    if 'last_week_fresh' in m:
        print('last week, MAE with learning since the start %.5f, with a '
              'learner started that week %.5f, off %.5f' % (
                  m['last_week_on']['mae'], m['last_week_fresh']['mae'],
                  m['last_week_off']['mae']))


def print_changes(changes):
    print('Change of behaviour (hours until MAE is back within 20 % of its '
          'pre-switch level):')
    for r in changes:
        print('  %s -> %s: learning on %s h, off %s h (pre-switch MAE %s)' % (
            r['first'], r['then'], r['hours_to_recover_on'],
            r['hours_to_recover_off'], r['pre_switch_mae']))


if __name__ == '__main__':
    raise SystemExit(main())
