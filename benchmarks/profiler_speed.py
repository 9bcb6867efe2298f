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

"""Speed and memory of the Guest Behavior Profiler at cloud scale.

``python -m benchmarks.profiler_speed [--instances 1000,10000] [--days 14]
[--resources 4] [--arima-sample 20] [--json]`` prints, for every number of
instances:

* ``Profiler().profile(history, 12)``: wall time, peak resident memory, and
  where the time goes (ensemble fit and forecast per resource, per-instance
  states, seasonal baseline, Markov chain, bursts and correlations);
* the ensemble alone, per resource: fitted on the history minus its last
  hour, then ``update`` with that hour and ``predict(12)``; the ratio of
  the refit to the update;
* statsmodels' ARIMA(2,1,1) fitted and forecast per series on a seeded
  sample of series, extrapolated to every instance and resource, and how
  much faster the profiler is.

Every measurement runs in a fresh process (``spawn``) that generates the
telemetry itself, so that its peak resident set (``ru_maxrss``) is its own.
The figures are printed, never judged: there is no pass or fail.
"""

import argparse
import cProfile
import datetime
import functools
import gc
import io
import json
import pstats
import sys
import time

import numpy as np

from benchmarks import harness
from benchmarks import report as report_mod
from benchmarks import telemetry
from watcher_predictive.profiler import base
from watcher_predictive.profiler import baselines
from watcher_predictive.profiler import engine
from watcher_predictive.profiler import ensemble
from watcher_predictive.profiler import history as history_mod

DAY = 86400
HOUR = 3600
HORIZON = report_mod.HORIZON
MIN_HISTORY = telemetry.MIN_HISTORY


class _TimedEnsemble(ensemble.Ensemble):
    timer = None
    label = None

    def fit(self, y, start, step):
        with self.timer('ensemble fit', self.label):
            return super().fit(y, start, step)

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        # Both the horizon forecast and the day-ahead peak.
        with self.timer('ensemble forecast', self.label):
            return super().predict(h, levels)

    def instance_state(self, i):
        with self.timer('ensemble states', self.label):
            return super().instance_state(i)

    def instance_states(self):
        with self.timer('ensemble states', self.label):
            return super().instance_states()


class _TimedProfiler(engine.Profiler):
    """The profiler, timing its phases in ``timer``.

    ``profile`` builds one ensemble per resource, in the order of
    ``history.RESOURCES``: the factory labels them in that order.
    """

    def __init__(self, timer, members):
        super().__init__(min_history_steps=MIN_HISTORY,
                         model_factory=self._timed_ensemble)
        self.timer = timer
        self.members = members
        self.labels = iter(())

    def profile(self, history, horizon_steps):
        self.labels = iter([r for r in history_mod.RESOURCES
                            if r in history.values])
        return super().profile(history, horizon_steps)

    def _timed_ensemble(self, **params):
        model = _TimedEnsemble(members=self.members, **params)
        model.timer, model.label = self.timer, next(self.labels)
        return model

    def _markov(self, *args):
        with self.timer('markov chain', None):
            return super()._markov(*args)

    def _bursts(self, *args):
        with self.timer('bursts and correlations', None):
            return super()._bursts(*args)


def _generate(config):
    started = time.perf_counter()
    history = telemetry.telemetry(
        config['instances'], days=config['days'],
        resources=history_mod.RESOURCES[:config['resources']],
        seed=config['seed'])
    gc.collect()
    return history, time.perf_counter() - started


def measure_profile(config):
    before = harness.rss()
    history, generated = _generate(config)
    held = harness.rss()
    timer = harness.Timer()
    profiler = _TimedProfiler(timer, config['members'])
    # The burst baseline is a module function: wrap it. This process ends
    # with the measurement, so nothing else sees the wrapper.
    baseline = engine._slot_means

    def timed_baseline(*args):
        with timer('seasonal baseline', None):
            return baseline(*args)
    engine._slot_means = timed_baseline
    peak_before = harness.peak_rss()
    cpu_started = time.process_time()
    started = time.perf_counter()
    result = profiler.profile(history, HORIZON)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak = harness.peak_rss()
    phases = {}
    rises = {}
    per_resource = {}
    for (phase, label), seconds in timer.items():
        phases[phase] = phases.get(phase, 0.0) + seconds
        rises[phase] = rises.get(phase, 0.0) + timer.rises[phase, label]
        if label:
            per_resource.setdefault(label, {})[phase] = seconds
    # The resources and the Markov chain run on threads: their phases
    # overlap, and what is left of the wall time is not "other" then.
    if sum(phases.values()) <= wall:
        phases['other'] = wall - sum(phases.values())
        rises['other'] = peak - peak_before - sum(rises.values())
    return {'profiled': len(result.profiled),
            'skipped': len(result.skipped),
            'generate_seconds': generated, 'wall_seconds': wall,
            'cpu_seconds': cpu,
            'peak_rss_gib': peak, 'history_rss_gib': held - before,
            'peak_before_profile_gib': peak_before,
            'phases': phases, 'peak_rise_gib': rises,
            'ensemble_per_resource': per_resource}


def measure_update(config):
    history, _ = _generate(config)
    rows = history.observed_steps('cpu') >= MIN_HISTORY
    last_hour = HOUR // history.step
    out = {}
    for resource in history.values:
        y = history.values[resource][rows]
        model = ensemble.Ensemble(members=config['members'],
                                  horizon_steps=HORIZON)
        started = time.perf_counter()
        model.fit(y[:, :-last_hour], history.start, history.step)
        fitted = time.perf_counter()
        model.update(y[:, -last_hour:])
        updated = time.perf_counter()
        model.predict(HORIZON)
        predicted = time.perf_counter()
        out[resource] = {'fit_seconds': fitted - started,
                         'update_seconds': updated - fitted,
                         'predict_seconds': predicted - updated}
        del model, y
    return {'per_resource': out, 'arima': _arima(config, history, rows)}


def _arima(config, history, rows):
    """statsmodels ARIMA(2,1,1) fit and forecast of sampled series."""
    resources = list(history.values)
    profiled = np.flatnonzero(rows)
    population = len(resources) * profiled.size
    rng = np.random.default_rng(config['seed'] + 1)
    picks = rng.choice(population, size=min(config['arima_sample'],
                                            population), replace=False)
    seconds = []
    cpu_seconds = []
    fallbacks = 0
    # Untimed warm-up: statsmodels is imported on the first fit.
    day = DAY // history.step
    baselines.StatsmodelsArima(order=(2, 1, 1)).fit(
        history.values[resources[0]][profiled[:1], -day:], history.start,
        history.step).predict(HORIZON)
    for pick in picks:
        resource = resources[pick // profiled.size]
        row = profiled[pick % profiled.size]
        series = history.values[resource][row:row + 1]
        cpu_started = time.process_time()
        started = time.perf_counter()
        model = baselines.StatsmodelsArima(order=(2, 1, 1)).fit(
            series, history.start, history.step)
        model.predict(HORIZON)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
        fallbacks += int(model.fallback_[0])
    return {'series': len(seconds), 'seconds': seconds,
            'cpu_seconds': cpu_seconds, 'fallbacks': fallbacks,
            'population': population}


def measure_cprofile(config):
    history, _ = _generate(config)
    profiler = engine.Profiler(
        min_history_steps=MIN_HISTORY,
        model_factory=functools.partial(ensemble.Ensemble,
                                        members=config['members']))
    recorder = cProfile.Profile()
    recorder.enable()
    profiler.profile(history, HORIZON)
    recorder.disable()
    text = io.StringIO()
    stats = pstats.Stats(recorder, stream=text).strip_dirs()
    stats.sort_stats('cumulative').print_stats(30)
    stats.sort_stats('tottime').print_stats(15)
    return {'text': text.getvalue()}


def _sizes(text):
    try:
        sizes = [int(part) for part in text.split(',') if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            'expected instance counts separated by commas, such as '
            '1000,10000; got %r' % text)
    return sizes


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.profiler_speed',
        description='Speed and memory of the Guest Behavior Profiler on '
                    'generated telemetry, against statsmodels ARIMA.')
    parser.add_argument('--instances', type=_sizes, default=[1000, 10000],
                        help='numbers of instances, comma separated')
    parser.add_argument('--days', type=int, default=14,
                        help='days of history at 300 s')
    parser.add_argument('--resources', type=int, default=4,
                        choices=range(1, 5),
                        help='resources profiled, in the order cpu, '
                             'memory, disk, network')
    parser.add_argument('--arima-sample', type=int, default=20,
                        help='series fitted with statsmodels ARIMA')
    parser.add_argument('--members', default=None,
                        help='ensemble members, comma separated (default: '
                             'every available one)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--timeout', type=float, default=1800.0,
                        help='seconds after which one measurement is '
                             'stopped and reported as such')
    parser.add_argument('--cprofile', action='store_true',
                        help='also run profile() on the first size under '
                             'cProfile and print its top functions')
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object on stdout (the table '
                             'goes to stderr)')
    return parser.parse_args(argv)


def _progress(message):
    print('profiler_speed: %s' % message, file=sys.stderr, flush=True)


def main(argv=None):
    args = parse_args(argv)
    members = args.members.split(',') if args.members else None
    report = {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%d %H:%M UTC'),
        'machine': report_mod.environment(),
        'config': {'days': args.days, 'step': 300,
                   'resources': args.resources, 'seed': args.seed,
                   'arima_sample': args.arima_sample, 'members': members,
                   'horizon_steps': HORIZON,
                   'min_history_steps': MIN_HISTORY},
        'members': list(ensemble.Ensemble(members=members).member_names),
        'results': [], 'notes': [], 'cprofile': '',
    }
    if report['machine']['profiler_changes']:
        report['notes'].append(
            'Measured with uncommitted changes in the profiler: %s' %
            ', '.join(report['machine']['profiler_changes']))
    previous = None
    for n_instances in args.instances:
        config = dict(report['config'], instances=n_instances)
        if previous:
            estimate = previous[1] * n_instances / previous[0]
            _progress('%d instances: about %.0f s if time grows linearly'
                      % (n_instances, estimate))
        _progress('%d instances: profile()' % n_instances)
        profile = harness.run_isolated(measure_profile, config, args.timeout)
        _progress('%d instances: ensemble update and statsmodels ARIMA'
                  % n_instances)
        update = harness.run_isolated(measure_update, config, args.timeout)
        elapsed = profile['elapsed_seconds'] + update['elapsed_seconds']
        _progress('%d instances: %.0f s' % (n_instances, elapsed))
        for name, measured in (('profile()', profile),
                               ('update', update)):
            if 'error' in measured:
                report['notes'].append('%d instances, %s: %s' % (
                    n_instances, name, measured['error']))
        report['notes'] += report_mod.contention(n_instances, (
            ('profile()', profile['others_cpu_share']),
            ('update and ARIMA', update['others_cpu_share'])))
        report['results'].append({
            'figures': report_mod.summarise(n_instances, profile, update),
            'profile': profile, 'update': update,
            'elapsed_seconds': elapsed})
        previous = (n_instances, elapsed)
    if args.cprofile:
        config = dict(report['config'], instances=args.instances[0])
        _progress('%d instances: cProfile' % args.instances[0])
        outcome = harness.run_isolated(measure_cprofile, config, args.timeout)
        report['cprofile'] = outcome.get('text', outcome.get('error'))
    text = report_mod.render(report)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
