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

"""The PNG of ``forecast show --plot``.

matplotlib is an optional extra (``pip install watcher-predictive[plot]``):
no service of the plugin needs it. The figure is drawn with the Agg canvas
directly, never through pyplot, so that no display and no global state are
involved, and written to a temporary file renamed into place: an
interrupted run never leaves a truncated PNG behind.
"""

import datetime
import os
import tempfile

import numpy as np

from watcher_predictive import exception

UNITS = {'cpu': 'vCPUs', 'memory': 'MiB', 'disk': 'bytes/s',
         'network': 'bytes/s'}


def _matplotlib():
    try:
        from matplotlib.backends import backend_agg
        from matplotlib import figure
    except ImportError as e:
        raise exception.InvalidParameter(
            name='--plot', value='matplotlib',
            reason='drawing needs matplotlib, which is not installed (%s); '
                   'install it with: pip install "watcher-predictive[plot]" '
                   '(or pip install matplotlib)' % e)
    return figure, backend_agg


def _dates(epochs):
    return [datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc)
            for t in epochs]


def _iso_to_epoch(text):
    try:
        return datetime.datetime.strptime(
            text, '%Y-%m-%dT%H:%M:%SZ').replace(
                tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


def _band(axes, times, quantiles, levels, low, high, alpha, label):
    levels = np.asarray(levels)
    lo = np.flatnonzero(np.isclose(levels, low))
    hi = np.flatnonzero(np.isclose(levels, high))
    if lo.size and hi.size:
        axes.fill_between(times, quantiles[:, lo[0]], quantiles[:, hi[0]],
                          step='post', color='tab:blue', alpha=alpha,
                          linewidth=0, label=label)
        return True
    return False


def draw(found, path):
    """Write the figure of an :class:`forecast.Inspection` to ``path``."""
    figure_mod, backend_agg = _matplotlib()
    record = found.forecast
    quantiles = np.asarray(record.quantiles, dtype=float)
    starts = record.start + record.step * np.arange(len(quantiles) + 1)
    # One extra edge so that the last step is drawn to its end.
    quantiles = np.vstack([quantiles, quantiles[-1:]])
    times = _dates(starts)

    fig = figure_mod.Figure(figsize=(11, 5), dpi=100)
    backend_agg.FigureCanvasAgg(fig)
    axes = fig.add_subplot(1, 1, 1)
    if found.history is not None:
        axes.plot(_dates(found.history[0]), found.history[1],
                  color='black', linewidth=1,
                  label='history: %s' % found.history_origin)
    _band(axes, times, quantiles, record.levels, 0.05, 0.95, 0.18,
          '90% interval')
    _band(axes, times, quantiles, record.levels, 0.1, 0.9, 0.3,
          '80% interval')
    median = int(np.argmin(np.abs(np.asarray(record.levels) - 0.5)))
    axes.step(times, quantiles[:, median], where='post', color='tab:blue',
              linewidth=1.5, label='median (q%g)' % record.levels[median])
    if found.vcpus is not None:
        axes.axhline(found.vcpus * found.parameters['lull_cpu'],
                     color='tab:green', linestyle=':', linewidth=1,
                     label='lull level')
    if found.lull_window is not None:
        begin, end = _dates(found.lull_window)
        axes.axvspan(begin, end, color='tab:green', alpha=0.2,
                     label='predicted lull (P=%.2f)'
                     % found.release_probability)
    drawn = 0
    for action in found.actions:
        params = action['input_parameters']
        begin = _iso_to_epoch(params.get('window_start'))
        end = _iso_to_epoch(params.get('window_end'))
        if begin is None or end is None:
            continue
        begin, end = _dates((begin, end))
        axes.axvspan(begin, end, facecolor='none', edgecolor='tab:red',
                     hatch='//', linewidth=1,
                     label='planned %s' % action['action_type']
                     if drawn == 0 else None)
        axes.annotate('%s %s' % (action['action_type'],
                                 action['state'].lower()),
                      xy=(begin, 1.0), xycoords=('data', 'axes fraction'),
                      xytext=(2, -24 - 12 * (drawn % 3)),
                      textcoords='offset points', fontsize=8,
                      color='tab:red')
        drawn += 1
    axes.axvline(_dates([record.start])[0], color='grey', linewidth=0.8)
    axes.set_title('%s of instance %s, forecast issued %s by %s' % (
        found.resource, found.instance_uuid, _dates([record.issued_at])[0]
        .strftime('%Y-%m-%d %H:%M UTC'), record.model), fontsize=10)
    axes.set_xlabel('time (UTC)')
    axes.set_ylabel('%s (%s)' % (found.resource,
                                 UNITS.get(found.resource, '')))
    if np.nanmin(quantiles) >= 0:
        # Usage is never negative: start at zero so levels read true.
        axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend(loc='upper left', bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path):
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(suffix='.png', dir=folder)
    os.close(handle)
    try:
        fig.savefig(temporary, format='png')
        os.replace(temporary, path)
    except OSError as e:
        raise exception.InvalidParameter(
            name='--plot', value=path,
            reason='the file could not be written (%s)' % e)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
