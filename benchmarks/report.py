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

"""Figures and the printed table of the profiler benchmark."""

import contextlib
import os
import platform
import subprocess

import numpy as np
import psutil

from watcher_predictive.cmd import table
from watcher_predictive.profiler import engine

DAY = 86400
GIB = 1024.0 ** 3
HORIZON = 12


def summarise(n_instances, profile, update):
    """The headline figures of one size, from its two measurements."""
    figures = {'instances': n_instances}
    if 'error' not in profile:
        phases = profile['phases']
        figures.update(
            profiled=profile['profiled'],
            profile_seconds=profile['wall_seconds'],
            profile_cpu_seconds=profile['cpu_seconds'],
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
        get('profile_seconds', '%.1f') + ' (CPU ' +
        get('profile_cpu_seconds', '%.1f') + ')',
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
    'profile() wall (CPU), s',
    'peak RSS, GiB',
    'profile() phases:\ntime (summed over\nthreads), rise of the peak',
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


def contention(n_instances, measurements):
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
