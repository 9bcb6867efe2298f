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

"""Irregular samples of many series onto one regular time grid.

Pure numpy, no OpenStack imports. Samples of many series travel together in
"long" form: three flat arrays of equal length, ``series`` (row of the
output, an integer), ``timestamps`` (epoch seconds, float) and ``values``.
Nothing needs to be sorted.

The grid is ``[start, end)`` with ``step`` seconds; cell ``k`` covers
``[start + k * step, start + (k + 1) * step)``.

Conventions shared by every source:

* A gauge (memory used, a throughput already averaged by the collector) is
  the mean of the samples falling in a cell; a cell without a sample is NaN.
* A rate computed from a cumulative counter belongs to the interval between
  two consecutive samples and is stamped at the end of that interval (the
  later sample), as Gnocchi's ``rate:*`` aggregates do. It then lands in the
  cell of that later sample.
* A negative difference means the counter restarted (guest reboot, migration,
  counter wrap). The rate of that one interval is dropped (NaN) rather than
  guessed as ``value_after / elapsed``: the usage between the previous sample
  and the restart is lost either way, and a plausible-looking but low value
  would bias forecasts more than a gap does.
* An interval longer than ``max_gap`` seconds is dropped too: what happened
  during a long gap is unknown and is never interpolated. A shorter gap
  yields the mean rate over the gap, in the cell after it; the cells inside
  the gap stay NaN.
"""

import numpy as np

from watcher_predictive import exception

DEFAULT_MAX_GAP_STEPS = 3
"""Default gap limit, in grid steps: three missed polls in a row."""


def check_grid(start, end, step):
    """Validate a grid; returns the number of cells."""
    if step <= 0 or int(step) != step:
        raise exception.InvalidParameter(
            name='step', value=step,
            reason='the grid step must be a positive whole number of seconds')
    if start % step or end % step:
        raise exception.InvalidParameter(
            name='start/end', value=(start, end),
            reason='both must be multiples of the step (%s s); align them '
                   'with align_down()' % step)
    if end < start:
        raise exception.InvalidParameter(
            name='end', value=end, reason='end is before start %s' % start)
    return int((end - start) // step)


def align_down(timestamp, step):
    """The grid point at or before ``timestamp``."""
    return int(timestamp // step * step)


def align_up(timestamp, step):
    """The grid point at or after ``timestamp``."""
    return int(-(-timestamp // step) * step)


def default_max_gap(step):
    return DEFAULT_MAX_GAP_STEPS * step


def stack(series_list):
    """Long form of a list of ``(timestamps, values)`` pairs.

    Row ``i`` of the output is ``series_list[i]``.
    """
    sizes = [len(t) for t, _ in series_list]
    series = np.repeat(np.arange(len(series_list)), sizes)
    if not series_list:
        return series, np.empty(0), np.empty(0)
    timestamps = np.concatenate(
        [np.asarray(t, dtype=float) for t, _ in series_list])
    values = np.concatenate(
        [np.asarray(v, dtype=float) for _, v in series_list])
    return series, timestamps, values


def _long_arrays(series, timestamps, values):
    series = np.asarray(series, dtype=np.int64).ravel()
    timestamps = np.asarray(timestamps, dtype=float).ravel()
    values = np.asarray(values, dtype=float).ravel()
    if not series.size == timestamps.size == values.size:
        raise exception.InvalidParameter(
            name='series/timestamps/values',
            value=(series.size, timestamps.size, values.size),
            reason='the three arrays must have the same length')
    return series, timestamps, values


def regularise_gauge(series, timestamps, values, n_series, start, end, step):
    """Mean of the samples in each grid cell, NaN where there is none.

    :returns: float array ``(n_series, (end - start) // step)``
    """
    n_steps = check_grid(start, end, step)
    series, timestamps, values = _long_arrays(series, timestamps, values)
    cells = np.floor((timestamps - start) / step)
    keep = ((cells >= 0) & (cells < n_steps) & np.isfinite(values)
            & (series >= 0) & (series < n_series))
    flat = series[keep] * n_steps + cells[keep].astype(np.int64)
    size = n_series * n_steps
    sums = np.bincount(flat, weights=values[keep], minlength=size)
    counts = np.bincount(flat, minlength=size)
    with np.errstate(invalid='ignore', divide='ignore'):
        grid = sums / counts
    return grid.reshape(n_series, n_steps)


def _sorted_unique(series, timestamps, values):
    """Sort by (series, time); of duplicated timestamps keep the last."""
    order = np.lexsort((timestamps, series))
    series, timestamps, values = (
        series[order], timestamps[order], values[order])
    if series.size:
        last = np.ones(series.size, dtype=bool)
        last[:-1] = ((series[1:] != series[:-1])
                     | (timestamps[1:] != timestamps[:-1]))
        series, timestamps, values = (
            series[last], timestamps[last], values[last])
    return series, timestamps, values


def counter_rates(series, timestamps, values, max_gap):
    """Rates per second from the samples of cumulative counters.

    Samples with a non-finite value are ignored. Of samples sharing a
    timestamp the last one given wins.

    :returns: ``(series, timestamps, rates)`` in long form, one rate per
        interval, stamped at its end; NaN for a counter reset or an
        interval longer than ``max_gap`` seconds.
    """
    series, timestamps, values = _long_arrays(series, timestamps, values)
    finite = np.isfinite(values) & np.isfinite(timestamps)
    series, timestamps, values = _sorted_unique(
        series[finite], timestamps[finite], values[finite])
    if series.size < 2:
        return series[:0], timestamps[:0], values[:0]
    same = series[1:] == series[:-1]
    elapsed = np.diff(timestamps)
    delta = np.diff(values)
    with np.errstate(invalid='ignore', divide='ignore'):
        rates = delta / elapsed
    rates[(delta < 0) | (elapsed > max_gap)] = np.nan
    return series[1:][same], timestamps[1:][same], rates[same]


def delta_rates(series, timestamps, deltas, sample_series, sample_timestamps,
                max_gap):
    """Rates per second from counter differences stamped per bucket.

    This reads Gnocchi's ``rate:mean`` aggregate of a cumulative counter:
    each point is the increase since the previous sample, stamped at the
    start of the bucket holding the later sample. Its elapsed time is the
    distance to the previous bucket that holds a sample at all, given by
    the ``sample_*`` arrays (the buckets holding a sample: those of the
    ``rate:mean`` points themselves, or of the counter's ``mean``), so that
    a bucket after missed polls is divided by the whole gap. A point with
    no earlier sample, an interval longer than ``max_gap`` and a negative
    difference (counter reset) give NaN.

    :returns: ``(series, timestamps, rates)`` in long form
    """
    series, timestamps, deltas = _long_arrays(series, timestamps, deltas)
    sample_series, sample_timestamps, _ = _long_arrays(
        sample_series, sample_timestamps, np.zeros(np.size(sample_series)))
    if not series.size or not sample_series.size:
        return series, timestamps, np.full(series.size, np.nan)
    every = np.concatenate([timestamps, sample_timestamps])
    origin = every.min()
    width = every.max() - origin + 1.0
    sample_keys = sample_series * width + (sample_timestamps - origin)
    order = np.argsort(sample_keys, kind='stable')
    sample_keys = sample_keys[order]
    sample_series = sample_series[order]
    sample_timestamps = sample_timestamps[order]
    keys = series * width + (timestamps - origin)
    previous = np.searchsorted(sample_keys, keys, side='left') - 1
    clipped = np.clip(previous, 0, None)
    known = (previous >= 0) & (sample_series[clipped] == series)
    elapsed = np.where(known, timestamps - sample_timestamps[clipped], np.inf)
    with np.errstate(invalid='ignore', divide='ignore'):
        rates = deltas / elapsed
    rates[~known | (deltas < 0) | (elapsed > max_gap)] = np.nan
    return series, timestamps, rates


def regularise_counter(series, timestamps, values, n_series, start, end,
                       step, max_gap=None):
    """Cumulative counters as rates per second on the grid.

    Pass the samples from ``start - max_gap`` on, so that the first cell has
    a predecessor to be differenced with.
    """
    if max_gap is None:
        max_gap = default_max_gap(step)
    series, timestamps, rates = counter_rates(
        series, timestamps, values, max_gap)
    return regularise_gauge(series, timestamps, rates, n_series,
                            start, end, step)


def sum_rows(grid, groups, n_groups):
    """Add the rows of ``grid`` that share a group (for example the disks of
    one instance). A cell is NaN only when every row of the group is NaN
    there.
    """
    grid = np.asarray(grid, dtype=float)
    groups = np.asarray(groups, dtype=np.int64)
    total = np.zeros((n_groups, grid.shape[1]))
    seen = np.zeros((n_groups, grid.shape[1]), dtype=bool)
    np.add.at(total, groups, np.nan_to_num(grid, nan=0.0))
    np.logical_or.at(seen, groups, ~np.isnan(grid))
    total[~seen] = np.nan
    return total
