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

"""``watcher-predictive simulate``: replay a trace on a simulated cluster
under a policy, and measure what the policy did to it.

The guests of the trace are packed on ``--hosts`` hosts; after a warm-up
(what the predictive policy learns from), an audit runs every
``--audit-interval`` with the chosen policy and its plan is applied.
"""

import json

from watcher_predictive.cmd import audit_args
from watcher_predictive import exception

FORMATS = ('bitbrains', 'planetlab', 'wide')
LABELS = (
    ('overload_minutes', 'Overload minutes (host demand above its cores)'),
    ('migrations', 'Migrations'),
    ('migrations_in_lull', 'Migrations inside a real lull'),
    ('migration_cost', 'Migration cost proxy (GiB copied)'),
    ('resizes', 'Resizes'),
    ('throttled_minutes', 'Throttled minutes'),
    ('active_host_hours', 'Active host-hours'),
    ('resize_capped_minutes', 'Minutes a guest wanted more than its '
                              'resized flavor'),
)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        'simulate', help='Replay a trace on a simulated cluster under a '
                         'policy and measure overloads and migrations.',
        description=__doc__.split('\n\n', 1)[1].strip())
    parser.add_argument('--trace', required=True,
                        help='Trace file or folder.')
    parser.add_argument('--format', required=True, choices=FORMATS)
    parser.add_argument('--hosts', type=int, required=True,
                        help='Simulated compute hosts.')
    parser.add_argument('--policy', default='predictive',
                        choices=('predictive', 'reactive', 'none'),
                        help='predictive (this plugin), reactive (Watcher\'s '
                             'workload_balance and basic_consolidation) or '
                             'none (default predictive).')
    parser.add_argument('--audit-interval', type=int, default=900,
                        help='Seconds between audits, a multiple of 300 '
                             '(default 900).')
    parser.add_argument('--limit', type=int, default=100,
                        help='Guests read from the trace (default 100).')
    parser.add_argument('--skip', type=int, default=0,
                        help='Leave out the first N guests of the trace '
                             '(default 0), to replay another part of it.')
    parser.add_argument('--host-cores', type=int, default=16,
                        help='Physical cores per host (default 16).')
    parser.add_argument('--host-memory-gb', type=int, default=256,
                        help='Memory per host in GiB (default 256).')
    parser.add_argument('--cpu-ratio', type=float, default=4.0,
                        help='vCPU allocation ratio (default 4).')
    parser.add_argument('--warmup-days', type=float, default=7.0,
                        help='Days of trace before the first audit '
                             '(default 7; the predictive policy learns '
                             'from them).')
    parser.add_argument('--days', type=float,
                        help='Days replayed after the warm-up (default: '
                             'to the end of the trace).')
    parser.add_argument('--capped-telemetry', action='store_true',
                        help='Feed the predictive policy the CPU use a '
                             'throttled guest got (held at its cap), as '
                             'a real cloud measures it, instead of the '
                             'use the trace wanted.')
    parser.add_argument('--reactive-strategies',
                        default='workload_balance,basic_consolidation',
                        help='Watcher strategies the reactive policy runs, '
                             'comma-separated (default both).')
    parser.add_argument('--parameter', '-p', action='append',
                        type=audit_args.parameter, metavar='NAME=VALUE',
                        help='Audit parameter of the predictive policy '
                             '(also its host threshold for workload_balance)'
                             ', for example -p host_cpu_threshold=0.8.')
    parser.add_argument('--json', action='store_true',
                        help='Print one JSON object only.')
    parser.set_defaults(func=run)
    return parser


def settings(args):
    from watcher_predictive.plugins import parameters
    from watcher_predictive.simulation import replay
    values = audit_args.checked(args.parameter)
    params, _min_history = parameters.plan_parameters(values)
    strategies = tuple(s.strip() for s in args.reactive_strategies.split(
        ',') if s.strip())
    for name in strategies:
        if name not in ('workload_balance', 'basic_consolidation'):
            raise exception.InvalidParameter(
                name='--reactive-strategies', value=name,
                reason='choose workload_balance and/or basic_consolidation')
    for name, value in (('--hosts', args.hosts), ('--limit', args.limit),
                        ('--host-cores', args.host_cores)):
        if value < 1:
            raise exception.InvalidParameter(name=name, value=value,
                                             reason='give at least 1')
    return replay.Settings(
        hosts=args.hosts, host_cores=args.host_cores,
        host_memory_mb=args.host_memory_gb * 1024,
        cpu_ratio=args.cpu_ratio, audit_interval=args.audit_interval,
        warmup_days=args.warmup_days, days=args.days,
        reactive_strategies=strategies, params=params,
        capped_telemetry=args.capped_telemetry)


def render(result):
    from watcher_predictive.simulation import replay
    lines = ['Replay of %d guests on %d hosts over %s days, %d audits, '
             'policy %s%s.' % (
                 result['guests'], result['hosts'], result['days'],
                 result['audits'], result['policy'],
                 ' (%d guests did not fit and were left out)' %
                 result['dropped_guests'] if result['dropped_guests']
                 else '')]
    width = max(len(label) for _, label in LABELS)
    for key, label in LABELS:
        lines.append('  %-*s %s' % (width, label, result[key]))
    share = replay.lull_share(result)
    lines.append('  %-*s %s' % (width, 'Share of migrations in a lull (%)',
                                '-' if share is None else share))
    if result['migrations_by_source']:
        lines.append('  %-*s %s' % (width, 'Migrations by decision', ', '.join(
            '%s %d' % kv for kv in sorted(
                result['migrations_by_source'].items()))))
    if result.get('throttled_minutes_by_source'):
        lines.append('  %-*s %s' % (width, 'Throttled minutes by decision',
                                    ', '.join('%s %.0f' % kv for kv in sorted(
                                        result['throttled_minutes_by_source']
                                        .items()))))
    return '\n'.join(lines)


def run(args):
    from watcher_predictive.simulation import replay
    from watcher_predictive.telemetry import trace
    config = settings(args)
    if args.skip < 0:
        raise exception.InvalidParameter(
            name='--skip', value=args.skip, reason='give 0 or more')
    history, shapes = trace.load(args.trace, args.format,
                                 limit=args.limit + args.skip)
    work = replay.workload(history, shapes, skip=args.skip)
    result = replay.Replay(work, config, args.policy).run()
    result['lull_share'] = replay.lull_share(result)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(render(result))
    return 0
