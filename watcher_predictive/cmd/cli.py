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

"""``watcher-predictive``: the operator's command line."""

import argparse
import json
import sys
import warnings

from watcher_predictive.cmd import audit_args
from watcher_predictive.cmd import backtest
from watcher_predictive.cmd import forecast
from watcher_predictive.cmd import learning as learning_cmd
from watcher_predictive.cmd import progress
from watcher_predictive.cmd import simulate
from watcher_predictive.cmd import tasks
from watcher_predictive import exception


def _demo(args):
    from watcher_predictive.cmd import demo
    params = audit_args.checked(args.parameter)
    trace_path = None if args.generated else demo.find_trace(args.trace)
    if args.trace and trace_path is None:
        raise exception.InvalidParameter(
            name='--trace', value=args.trace,
            reason='no such folder; give the Bitbrains folder of per-VM '
                   'CSV files, or --generated')
    actions = demo.run(trace_path=trace_path, n_instances=args.instances,
                       n_hosts=args.hosts, host_cores=args.host_cores,
                       cpu_ratio=args.cpu_ratio,
                       holdout_days=args.holdout_days, parameters=params,
                       state_dir=args.state_dir,
                       out=(lambda *a: None) if args.json else print,
                       progress=progress.Progress.from_args('demo', args))
    if args.json:
        print(json.dumps(actions, indent=2, sort_keys=True))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog='watcher-predictive',
        description='Predictive optimization for OpenStack Watcher.')
    sub = parser.add_subparsers(dest='command', required=True)
    demo = sub.add_parser(
        'demo', help='Run a real audit in process on a simulated cluster '
                     'and print its action plan.')
    demo.add_argument('--trace', help='Bitbrains folder to replay (default: '
                      '$WATCHER_PREDICTIVE_TRACES/bitbrains_rnd_2013-8 or '
                      '../shared/traces/bitbrains_rnd_2013-8 when present).')
    demo.add_argument('--generated', action='store_true',
                      help='Use generated guests even when a trace exists.')
    demo.add_argument('--instances', type=int, default=40,
                      help='Guests to simulate (default 40).')
    demo.add_argument('--hosts', type=int, default=5,
                      help='Compute hosts to simulate (default 5).')
    demo.add_argument('--host-cores', type=int, default=24,
                      help='Physical cores per host (default 24).')
    demo.add_argument('--cpu-ratio', type=float, default=4.0,
                      help='vCPU allocation ratio (default 4.0).')
    demo.add_argument('--holdout-days', type=float, default=1.0,
                      help='Days at the end of the trace the audit does not '
                           'see (default 1).')
    demo.add_argument('--parameter', '-p', action='append',
                      type=audit_args.parameter,
                      metavar='NAME=VALUE',
                      help='Audit parameter, for example -p horizon=7200; '
                           'repeatable.')
    demo.add_argument('--state-dir', help='Folder for the SQLite database '
                      '(default: a new temporary folder).')
    demo.add_argument('--json', action='store_true',
                      help='Print the actions as JSON only.')
    progress.add_arguments(demo)
    demo.set_defaults(func=_demo)
    backtest.add_parser(sub)
    forecast.add_parser(sub)
    simulate.add_parser(sub)
    tasks.add_parser(sub)
    learning_cmd.add_parsers(sub)
    return parser


def main(argv=None):
    # Watcher's dependencies warn about their own deprecations on import;
    # that is noise on an operator's terminal.
    warnings.simplefilter('ignore', DeprecationWarning)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except exception.PredictiveError as e:
        print('watcher-predictive: error: %s' % e, file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
