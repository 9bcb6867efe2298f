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
import contextlib
import cProfile
import datetime
import functools
import gc
import io
import json
import multiprocessing
import os
import platform
import pstats
import resource as resource_mod
import subprocess
import sys
import time

import numpy as np
import psutil
from scipy import signal

from watcher_predictive.cmd import table
from watcher_predictive.profiler import base
from watcher_predictive.profiler import baselines
from watcher_predictive.profiler import engine
from watcher_predictive.profiler import ensemble
from watcher_predictive.profiler import history as history_mod

DAY = 86400
HOUR = 3600
GIB = 1024.0 ** 3
# The generated histories end on Monday 2026-01-05 00:00 UTC.
END = 1767571200
HORIZON = 12
MIN_HISTORY = 288

KINDS = ('office', 'web', 'batch', 'bursty', 'idle')
KIND_SHARE = (0.3, 0.2, 0.15, 0.1, 0.25)
BURSTS_PER_DAY = (0.3, 0.3, 0.3, 6.0, 0.05)
MAX_BURST_STEPS = 6
GAP_SHARE = 0.002
NEW_GUEST_SHARE = 0.01
CHUNK = 250


# -- synthetic telemetry ---------------------------------------------------

def telemetry(n_instances, days=14, step=300, resources=None, seed=0):
    """Seeded history of ``n_instances`` guests of mixed kinds.

    Office hours (weekdays, in the guest's time zone), web (a smooth daily
    wave), nightly batch jobs, bursty and idle guests; AR(1) noise, bursts
    of one to six steps, memory that follows CPU slowly (a tenth of the
    guests leak), disk with heavy-tailed noise and nightly backups, network
    one step behind CPU. 0.2 % of the samples are missing and 1 % of the
    guests were created less than a day ago. Generated in chunks of
    ``CHUNK`` guests, each from its own seed, so memory stays near the
    size of the result.
    """
    resources = tuple(resources or history_mod.RESOURCES)
    n_steps = days * DAY // step
    start = END - n_steps * step
    times = start + step * np.arange(n_steps, dtype=np.int64)
    values = {r: np.empty((n_instances, n_steps)) for r in resources}
    for first in range(0, n_instances, CHUNK):
        rng = np.random.default_rng([seed, first])
        chunk = _guests(rng, min(CHUNK, n_instances - first), times, step)
        for r in resources:
            values[r][first:first + CHUNK] = chunk[r]
    ids = ['bench-%05d' % i for i in range(n_instances)]
    return history_mod.History(instance_ids=ids, start=int(start),
                               step=step, values=values)


def _guests(rng, n, times, step):
    t = times.size
    hour = (times % DAY) / HOUR
    weekend = ((times // DAY + 3) % 7) >= 5
    kind = rng.choice(len(KINDS), size=n, p=KIND_SHARE)
    vcpus = rng.choice([1, 2, 4, 8, 16], size=n,
                       p=[0.15, 0.35, 0.3, 0.15, 0.05])
    local = (hour[None, :] - rng.uniform(-3, 3, n)[:, None]) % 24
    office = (_rise(local - 8.0) * _rise(18.0 - local) *
              np.where(weekend, 0.25, 1.0))
    web = 0.5 * (1.0 - np.cos(2 * np.pi * (local - 4.0) / 24))
    job = ((local - rng.uniform(0, 4, n)[:, None]) % 24 <
           rng.uniform(1, 3, n)[:, None]).astype(float)
    k = kind[:, None]
    day_shape = np.select([k == 0, k == 1, k == 2], [office, web, job], 0.0)
    idle = kind == KINDS.index('idle')
    level = np.where(idle, rng.uniform(0.005, 0.03, n),
                     rng.uniform(0.03, 0.2, n))
    swing = np.where(idle, 0.0, rng.uniform(0.2, 0.7, n))
    noise = _ar1(rng, (n, t), 0.7) * (0.005 + 0.08 * level)[:, None]
    util = level[:, None] + swing[:, None] * day_shape + noise
    util = np.clip(np.maximum(util, _bursts(rng, kind, t, step)), 0.0, 1.0)

    memory_mb = vcpus * rng.choice([1024, 2048, 4096], size=n)
    follows = signal.lfilter([0.05], [1.0, -0.95], util, axis=1)
    leak = np.where(rng.random(n) < 0.1, rng.uniform(0.05, 0.25, n), 0.0)
    used = (rng.uniform(0.2, 0.6, n)[:, None] + 0.3 * follows +
            leak[:, None] * np.linspace(0.0, 1.0, t) +
            0.005 * rng.standard_normal((n, t)))
    disk_scale = rng.lognormal(np.log(2e5), 1.0, n)[:, None]
    disk = disk_scale * (0.05 + util) * rng.lognormal(0.0, 0.5, (n, t))
    backup = (rng.random(n) < 0.3)[:, None] & (np.abs(local - 2.5) < 0.5)
    net_scale = rng.lognormal(np.log(1e5), 1.2, n)[:, None]
    lagged = np.concatenate([util[:, :1], util[:, :-1]], axis=1)
    values = {
        'cpu': util * vcpus[:, None],
        'memory': memory_mb[:, None] * np.clip(used, 0.05, 1.0),
        'disk': disk + backup * 20 * disk_scale,
        'network': net_scale * (0.02 + lagged) * rng.lognormal(
            0.0, 0.3, (n, t)),
    }
    missing = rng.random((n, t)) < GAP_SHARE
    created = np.where(rng.random(n) < NEW_GUEST_SHARE,
                       rng.integers(t - MIN_HISTORY + 1, t - 12, n), 0)
    missing |= np.arange(t)[None, :] < created[:, None]
    for array in values.values():
        array[missing] = np.nan
    return values


def _rise(hours):
    """Smooth step from 0 to 1 around 0, over about an hour."""
    return 1.0 / (1.0 + np.exp(-4.0 * hours))


def _ar1(rng, shape, phi):
    white = rng.standard_normal(shape)
    return signal.lfilter([np.sqrt(1 - phi * phi)], [1.0, -phi], white,
                          axis=1)


def _bursts(rng, kind, t, step):
    """Utilisation during bursts (0 outside them), (instances, steps)."""
    n = kind.size
    chance = np.asarray(BURSTS_PER_DAY)[kind] * step / DAY
    starts = rng.random((n, t)) < chance[:, None]
    height = np.where(starts, rng.uniform(0.5, 1.0, (n, t)), 0.0)
    length = rng.integers(1, MAX_BURST_STEPS + 1, (n, t))
    lift = height.copy()
    for d in range(1, MAX_BURST_STEPS):
        lift[:, d:] = np.maximum(
            lift[:, d:], np.where(length > d, height, 0.0)[:, :-d])
    return lift


# -- measurements, each in its own process ---------------------------------

class _Timer(dict):
    """Seconds spent per phase, summed over calls, and by how much each
    phase raised the peak resident set (``rises``, GiB).
    """

    def __init__(self):
        super().__init__()
        self.rises = {}

    @contextlib.contextmanager
    def __call__(self, *phase):
        peak = _peak_rss()
        started = time.perf_counter()
        try:
            yield
        finally:
            self[phase] = self.get(phase, 0.0) + time.perf_counter() - started
            self.rises[phase] = self.rises.get(phase, 0.0) + (
                _peak_rss() - peak)


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


def _rss():
    return psutil.Process().memory_info().rss / GIB


def _peak_rss():
    # Linux reports ru_maxrss in KiB.
    usage = resource_mod.getrusage(resource_mod.RUSAGE_SELF).ru_maxrss
    return usage * 1024 / GIB


def _generate(config):
    started = time.perf_counter()
    history = telemetry(config['instances'], days=config['days'],
                        resources=history_mod.RESOURCES[
                            :config['resources']], seed=config['seed'])
    gc.collect()
    return history, time.perf_counter() - started


def measure_profile(config):
    before = _rss()
    history, generated = _generate(config)
    held = _rss()
    timer = _Timer()
    profiler = _TimedProfiler(timer, config['members'])
    # The burst baseline is a module function: wrap it. This process ends
    # with the measurement, so nothing else sees the wrapper.
    baseline = engine._slot_means

    def timed_baseline(*args):
        with timer('seasonal baseline', None):
            return baseline(*args)
    engine._slot_means = timed_baseline
    peak_before = _peak_rss()
    cpu_started = time.process_time()
    started = time.perf_counter()
    result = profiler.profile(history, HORIZON)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak = _peak_rss()
    phases = {}
    rises = {}
    per_resource = {}
    for (phase, label), seconds in timer.items():
        phases[phase] = phases.get(phase, 0.0) + seconds
        rises[phase] = rises.get(phase, 0.0) + timer.rises[phase, label]
        if label:
            per_resource.setdefault(label, {})[phase] = seconds
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


TASKS = {'profile': measure_profile, 'update': measure_update,
         'cprofile': measure_cprofile}


def _child(task, config, conn):
    try:
        conn.send(('ok', TASKS[task](config)))
    except BaseException as error:
        conn.send(('error', '%s: %s' % (type(error).__name__, error)))
    finally:
        conn.close()


def run_isolated(task, config, timeout):
    """Run one measurement in a fresh process; its result or an error."""
    context = multiprocessing.get_context('spawn')
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(task, config, sender))
    busy, own = _busy_cpu(), _own_cpu()
    started = time.perf_counter()
    process.start()
    sender.close()
    outcome = None
    while outcome is None:
        if receiver.poll(1.0):
            try:
                outcome = receiver.recv()
            except EOFError:
                outcome = ('error', 'the process ended without a result '
                           '(exit code %s)' % process.exitcode)
        elif time.perf_counter() - started > timeout:
            process.kill()
            outcome = ('error', 'stopped after %.0f s (--timeout)' % timeout)
        elif not process.is_alive() and not receiver.poll(0):
            outcome = ('error', 'the process ended without a result '
                       '(exit code %s)' % process.exitcode)
    process.join()
    elapsed = time.perf_counter() - started
    status, value = outcome
    if status != 'ok':
        value = {'error': value}
    value['elapsed_seconds'] = elapsed
    # CPU time of every other process, and time the hypervisor took.
    value['others_cpu_share'] = max(
        0.0, (_busy_cpu() - busy) - (_own_cpu() - own)) / elapsed
    return value


def _busy_cpu():
    """CPU-seconds the whole machine has spent busy, or stolen from it."""
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in (
        'user', 'nice', 'system', 'irq', 'softirq', 'steal'))


def _own_cpu():
    """CPU-seconds of this process and of the children it has waited for."""
    return sum(usage.ru_utime + usage.ru_stime for usage in (
        resource_mod.getrusage(resource_mod.RUSAGE_SELF),
        resource_mod.getrusage(resource_mod.RUSAGE_CHILDREN)))


# -- figures ---------------------------------------------------------------

def summarise(n_instances, profile, update):
    """The headline figures of one size, from its two measurements."""
    figures = {'instances': n_instances}
    if 'error' not in profile:
        phases = profile['phases']
        figures.update(
            profiled=profile['profiled'],
            profile_seconds=profile['wall_seconds'],
            peak_rss_gib=profile['peak_rss_gib'],
            history_rss_gib=profile['history_rss_gib'],
            ensemble_seconds=phases.get('ensemble fit', 0.0) +
            phases.get('ensemble forecast', 0.0))
    if 'error' not in update:
        per = update['per_resource'].values()
        fit = sum(r['fit_seconds'] for r in per)
        incremental = sum(r['update_seconds'] for r in per)
        predict = sum(r['predict_seconds'] for r in per)
        figures.update(
            refit_seconds=fit + predict,
            update_seconds=incremental + predict,
            refit_update_ratio=(fit + predict) / (incremental + predict),
            fit_update_ratio=fit / incremental)
        arima = update['arima']
        if arima['series']:
            per_series = float(np.mean(arima['seconds']))
            figures.update(arima_seconds_per_series=per_series,
                           arima_median_seconds=float(
                               np.median(arima['seconds'])),
                           arima_extrapolated_seconds=per_series *
                           arima['population'])
    if 'arima_extrapolated_seconds' in figures and \
            'profile_seconds' in figures:
        figures['speedup_profile'] = (figures['arima_extrapolated_seconds'] /
                                      figures['profile_seconds'])
        figures['speedup_ensemble'] = (
            figures['arima_extrapolated_seconds'] /
            figures['ensemble_seconds'])
    return figures


def _cells(result):
    profile, update, figures = (result['profile'], result['update'],
                                result['figures'])

    def get(key, fmt):
        return fmt % figures[key] if key in figures else '-'

    cells = [
        '%d (%d skipped)' % (profile['profiled'], profile['skipped'])
        if 'error' not in profile else profile['error'],
        get('profile_seconds', '%.1f'),
        get('peak_rss_gib', '%.2f') + ' (history ' +
        get('history_rss_gib', '%.2f') + ', before profile() ' +
        ('%.2f)' % profile['peak_before_profile_gib']
         if 'error' not in profile else '-)'),
    ]
    if 'error' in profile:
        cells += ['-', '-']
    else:
        phases = profile['phases']
        rises = profile['peak_rise_gib']
        cells.append('\n'.join(
            '%s %.1f s, +%.2f GiB' % (phase, seconds, rises[phase])
            for phase, seconds in sorted(phases.items(),
                                         key=lambda item: -item[1])))
        cells.append('\n'.join(
            '%s %.1f + %.2f' % (r, v.get('ensemble fit', 0.0),
                                v.get('ensemble forecast', 0.0))
            for r, v in profile['ensemble_per_resource'].items()))
    if 'error' in update:
        cells += [update['error'], '-', '-', '-', '-']
    else:
        cells.append('\n'.join(
            '%s %.1f / %.3f + %.3f' % (r, v['fit_seconds'],
                                       v['update_seconds'],
                                       v['predict_seconds'])
            for r, v in update['per_resource'].items()))
        cells.append(get('refit_update_ratio', '%.0f') + ' (fit/update ' +
                     get('fit_update_ratio', '%.0f') + ')')
        arima = update['arima']
        cells.append(get('arima_seconds_per_series', '%.3f') +
                     ' (median ' + get('arima_median_seconds', '%.3f') +
                     ', %d series, %d fallbacks)' % (arima['series'],
                                                     arima['fallbacks']))
        cells.append(get('arima_extrapolated_seconds', '%.0f') +
                     ' for %d series' % arima['population'])
        cells.append(get('speedup_profile', '%.0f') + 'x (ensemble alone ' +
                     get('speedup_ensemble', '%.0f') + 'x)')
    return cells


ROWS = (
    'instances profiled',
    'profile() wall, s',
    'peak RSS, GiB',
    'profile() phases:\ntime, rise of the peak',
    'ensemble per resource,\nfit + forecast, s',
    'ensemble alone:\nfit all but 1 h / update\n1 h + predict 12, s',
    'refit / update',
    'statsmodels ARIMA(2,1,1)\nfit + forecast, s/series',
    'ARIMA extrapolated, s',
    'profile() speed-up',
)


def render(report):
    results = report['results']
    headers = ['figure'] + ['%d instances' % r['figures']['instances']
                            for r in results]
    columns = [_cells(r) for r in results]
    rows = [[label] + [column[i] for column in columns]
            for i, label in enumerate(ROWS)]
    config = report['config']
    lines = ['Profiler speed, %s on %s' % (
                 report['date'], report['machine']['summary']),
             '%d days at %d s (%d steps), %d resources, horizon %d steps, '
             'ensemble members: %s' % (
                 config['days'], config['step'],
                 config['days'] * DAY // config['step'],
                 config['resources'], HORIZON,
                 ', '.join(report['members'])),
             table.render(headers, rows)]
    lines += report['notes']
    if report.get('cprofile'):
        lines += ['', 'cProfile of profile() on %d instances:' %
                  results[0]['figures']['instances'], report['cprofile']]
    return '\n'.join(lines)


def _contention(n_instances, measurements):
    """Notes where other processes took over a tenth of a CPU."""
    return ['%d instances, %s: other processes used %.0f %% of a CPU '
            'meanwhile' % (n_instances, name, 100 * share)
            for name, share in measurements
            if share > 0.1]


def environment():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(
        engine.__file__)))

    def git(*args):
        try:
            return subprocess.run(('git',) + args, cwd=repo, check=True,
                                  capture_output=True,
                                  text=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open('/proc/cpuinfo') as cpuinfo:
        for line in cpuinfo:
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / GIB
    import scipy
    import statsmodels
    return {
        'cpus': os.cpu_count(), 'cpu_model': model, 'memory_gib': memory,
        'python': platform.python_version(), 'numpy': np.__version__,
        'scipy': scipy.__version__, 'statsmodels': statsmodels.__version__,
        'commit': git('rev-parse', '--short', 'HEAD') or 'unknown',
        'profiler_changes': (git('status', '--porcelain', '--',
                                 'watcher_predictive/profiler')
                             or '').splitlines(),
        'summary': '%d CPUs (%s), %.0f GiB, Python %s, numpy %s' % (
            os.cpu_count(), model, memory, platform.python_version(),
            np.__version__),
    }


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
        'machine': environment(),
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
        profile = run_isolated('profile', config, args.timeout)
        _progress('%d instances: ensemble update and statsmodels ARIMA'
                  % n_instances)
        update = run_isolated('update', config, args.timeout)
        elapsed = profile['elapsed_seconds'] + update['elapsed_seconds']
        _progress('%d instances: %.0f s' % (n_instances, elapsed))
        for name, measured in (('profile()', profile),
                               ('update', update)):
            if 'error' in measured:
                report['notes'].append('%d instances, %s: %s' % (
                    n_instances, name, measured['error']))
        report['notes'] += _contention(n_instances, (
            ('profile()', profile['others_cpu_share']),
            ('update and ARIMA', update['others_cpu_share'])))
        report['results'].append({
            'figures': summarise(n_instances, profile, update),
            'profile': profile, 'update': update,
            'elapsed_seconds': elapsed})
        previous = (n_instances, elapsed)
    if args.cprofile:
        config = dict(report['config'], instances=args.instances[0])
        _progress('%d instances: cProfile' % args.instances[0])
        outcome = run_isolated('cprofile', config, args.timeout)
        report['cprofile'] = outcome.get('text', outcome.get('error'))
    text = render(report)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
