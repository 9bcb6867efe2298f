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

"""Bursts above the usual day, and correlations between resources.

Pure functions over arrays shaped ``(instances, steps)``, NaN for gaps.

A burst is a run of consecutive steps where a resource exceeds its
baseline (what the seasonal profile expected for those steps) by more than
``threshold`` robust deviations and by more than an absolute ``floor``. The
robust deviation of an instance is the MAD of its departures from the
baseline, scaled by 1.4826 to match a standard deviation for Gaussian
noise; departures are measured from their median, so a baseline that is
off by a constant does not create or hide bursts. A gap ends a burst.

Cross-correlations use, at every lag, the pairs of steps where both series
were observed (pairwise complete observations).
"""

import dataclasses

import numpy as np

from watcher_predictive import exception

DAY = 86400
HOUR = 3600
MAD_SCALE = 1.4826
MIN_PAIRS = 10
"""Fewest complete pairs for a correlation at one lag; fewer give NaN."""


@dataclasses.dataclass
class Bursts:
    """Bursts of one resource, one entry per instance."""

    count: np.ndarray
    """Number of bursts (int)."""
    per_day: np.ndarray
    """Bursts per observed day; NaN for an instance never observed."""
    mean_duration: np.ndarray
    """Mean duration in seconds; 0 without bursts."""
    max_duration: np.ndarray
    """Longest duration in seconds; 0 without bursts."""
    start_hours: np.ndarray
    """(instances, 24): number of bursts starting in each UTC hour."""
    probability_by_hour: np.ndarray
    """(instances, 24): share of the observed days on which a burst was
    under way during that UTC hour; NaN for an hour never observed.
    """
    limit: np.ndarray
    """Departure (in the resource's unit) above which a step was bursting.
    """


@dataclasses.dataclass
class CrossCorrelation:
    """Correlation of x(t) with y(t + lag), per instance and lag.

    A positive best lag means y follows x by that many steps.
    """

    lags: np.ndarray
    """(2 * max_lag + 1,) lags in steps, from -max_lag to max_lag."""
    values: np.ndarray
    """(instances, lags); NaN where fewer than MIN_PAIRS pairs or a series
    is constant.
    """
    best_lag: np.ndarray
    """Lag of the largest absolute correlation (the shortest lag among
    ties); 0 where every correlation is NaN.
    """
    best: np.ndarray
    """Correlation at ``best_lag``, signed; NaN where undefined."""


def _as_2d(name, array):
    array = np.asarray(array, dtype=float)
    if array.ndim != 2:
        raise exception.InvalidParameter(
            name=name, value=array.shape,
            reason='expected an array shaped (instances, steps)')
    return array


def _row_nanmedian(array):
    """``np.nanmedian(array, axis=1)`` of a 2-D array, NaN for an all-NaN
    row (an instance never observed).

    numpy takes it row by row in Python for long rows. Rows with the same
    number of observed values have their middle at the same ranks: one
    partition of all of them (NaN last) gives the same numbers as a sort,
    at a fraction of its cost.
    """
    n = array.shape[0]
    if array.shape[1] == 0:
        return np.full(n, np.nan)
    count = array.shape[1] - np.count_nonzero(np.isnan(array), axis=1)
    result = np.full(n, np.nan)
    if np.all(count == count[0]):
        groups = [(count[0], slice(None))]
    else:
        order = np.argsort(count, kind='stable')
        edges = np.flatnonzero(np.diff(count[order])) + 1
        groups = [(count[rows[0]], rows)
                  for rows in np.split(order, edges)]
    for size, rows in groups:
        if size == 0:
            continue
        low, high = (size - 1) // 2, size // 2
        ordered = np.partition(array[rows], (low, high), axis=1)
        result[rows] = (ordered[:, low] + ordered[:, high]) / 2
    return result


def detect_bursts(y, baseline, start, step, threshold=5.0, floor=0.0,
                  min_steps=1):
    """Find the bursts of one resource of many instances.

    :param y: observed values (instances, steps), NaN for gaps
    :param baseline: expected values, broadcastable to ``y``
    :param start: epoch seconds (UTC) of ``y[:, 0]``
    :param step: grid step in seconds
    :param threshold: robust deviations a step must exceed the baseline by
    :param floor: absolute excess it must also exceed, in ``y``'s unit;
        with a flat history (deviation 0) only the floor applies
    :param min_steps: shortest run of steps counted as a burst
    :returns: ``Bursts``
    """
    y = _as_2d('y', y)
    try:
        baseline = np.broadcast_to(np.asarray(baseline, dtype=float),
                                   y.shape)
    except ValueError:
        raise exception.InvalidParameter(
            name='baseline', value=np.shape(baseline),
            reason='the baseline must broadcast to y, shaped %s' % (
                y.shape,))
    if step <= 0 or threshold < 0 or floor < 0 or min_steps < 1:
        raise exception.InvalidParameter(
            name='step/threshold/floor/min_steps',
            value=(step, threshold, floor, min_steps),
            reason='step must be positive, threshold and floor not '
                   'negative, min_steps at least 1')
    n, t = y.shape
    departure = y - baseline
    centre = _row_nanmedian(departure)
    excess = departure - centre[:, None]
    deviation = MAD_SCALE * _row_nanmedian(np.abs(excess))
    limit = np.maximum(threshold * np.nan_to_num(deviation), floor)
    bursting = np.nan_to_num(excess, nan=-np.inf) > limit[:, None]

    # Runs of bursting steps: +1 where one starts, -1 after it ends.
    padded = np.zeros((n, t + 2), dtype=np.int8)
    padded[:, 1:-1] = bursting
    change = np.diff(padded, axis=1)
    row, first = np.nonzero(change == 1)
    _, after = np.nonzero(change == -1)
    length = after - first
    keep = length >= min_steps
    row, first, length = row[keep], first[keep], length[keep]

    count = np.bincount(row, minlength=n)
    duration = length * float(step)
    total = np.bincount(row, weights=duration, minlength=n)
    mean_duration = total / np.maximum(count, 1)
    max_duration = np.zeros(n)
    np.maximum.at(max_duration, row, duration)
    observed = ~np.isnan(y)
    days = observed.sum(axis=1) * step / DAY
    with np.errstate(invalid='ignore', divide='ignore'):
        per_day = np.where(days > 0, count / days, np.nan)

    times = start + step * np.arange(t, dtype=np.int64)
    hour = (times % DAY) // HOUR
    start_hours = np.bincount(row * 24 + hour[first], minlength=n * 24)
    if keep.all():
        # Every run is long enough: the steps in bursts are those found.
        in_burst = bursting
    else:
        kept = np.zeros((n, t + 1), dtype=int)
        np.add.at(kept, (row, first), 1)
        np.add.at(kept, (row, first + length), -1)
        in_burst = np.cumsum(kept, axis=1)[:, :t] > 0
    probability = _probability_by_hour(in_burst, observed, times)
    return Bursts(count=count, per_day=per_day, mean_duration=mean_duration,
                  max_duration=max_duration,
                  start_hours=start_hours.reshape(n, 24),
                  probability_by_hour=probability, limit=limit)


def _probability_by_hour(in_burst, observed, times):
    """Share of the observed (day, hour) cells with a burst step in them."""
    n, t = in_burst.shape
    if t == 0:
        return np.full((n, 24), np.nan)
    day = times // DAY - times[0] // DAY
    cell = day * 24 + (times % DAY) // HOUR
    n_cells = (int(day[-1]) + 1) * 24
    flat = np.arange(n)[:, None] * n_cells + cell[None, :]
    seen = np.bincount(flat[observed], minlength=n * n_cells) > 0
    hit = np.bincount(flat[in_burst], minlength=n * n_cells) > 0
    seen = seen.reshape(n, -1, 24).sum(axis=1)
    hit = hit.reshape(n, -1, 24).sum(axis=1)
    return np.where(seen > 0, hit / np.maximum(seen, 1), np.nan)


def cross_correlation(x, y, max_lag):
    """Correlation of ``x(t)`` with ``y(t + lag)`` for every lag in
    ``[-max_lag, max_lag]``, per instance; a ``CrossCorrelation``.
    """
    x, y = _as_2d('x', x), _as_2d('y', y)
    if x.shape != y.shape:
        raise exception.InvalidParameter(
            name='y', value=y.shape,
            reason='x and y must have the same shape, %s' % (x.shape,))
    if int(max_lag) != max_lag or not 0 <= max_lag < max(x.shape[1], 1):
        raise exception.InvalidParameter(
            name='max_lag', value=max_lag,
            reason='give a whole number of steps from 0 to %d' % (
                x.shape[1] - 1))
    max_lag = int(max_lag)
    t = x.shape[1]
    lags = np.arange(-max_lag, max_lag + 1)
    values = np.full((x.shape[0], lags.size), np.nan)
    for k, lag in enumerate(lags):
        if lag >= 0:
            a, b = x[:, :t - lag], y[:, lag:]
        else:
            a, b = x[:, -lag:], y[:, :t + lag]
        values[:, k] = _pairwise_corr(a, b)
    # Largest |correlation|, the shortest lag winning ties.
    order = np.argsort(np.abs(lags), kind='stable')
    strength = np.nan_to_num(np.abs(values[:, order]), nan=-1.0)
    pick = order[np.argmax(strength, axis=1)]
    best = values[np.arange(values.shape[0]), pick]
    best_lag = np.where(np.isnan(best), 0, lags[pick])
    return CrossCorrelation(lags=lags, values=values, best_lag=best_lag,
                            best=best)


def _pairwise_corr(a, b):
    both = ~(np.isnan(a) | np.isnan(b))
    pairs = both.sum(axis=1)
    count = np.maximum(pairs, 1)
    # A series constant over the pairs has no correlation; compare the
    # range, not the variance, which rounding leaves slightly above 0.
    constant = np.zeros(a.shape[0], dtype=bool)
    for series in (a, b):
        high = np.where(both, series, -np.inf).max(axis=1, initial=-np.inf)
        low = np.where(both, series, np.inf).min(axis=1, initial=np.inf)
        constant |= ~(high > low)
    a = np.where(both, a, 0.0)
    b = np.where(both, b, 0.0)
    a = np.where(both, a - (a.sum(axis=1) / count)[:, None], 0.0)
    b = np.where(both, b - (b.sum(axis=1) / count)[:, None], 0.0)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    valid = (pairs >= MIN_PAIRS) & ~constant & (denominator > 0)
    with np.errstate(invalid='ignore', divide='ignore'):
        corr = (a * b).sum(axis=1) / denominator
    return np.where(valid, np.clip(corr, -1.0, 1.0), np.nan)


def resource_correlations(history_values, max_lag, reference='cpu'):
    """Cross-correlation of ``reference`` with every other resource.

    :param history_values: resource -> array (instances, steps), as in
        ``History.values``
    :returns: dict resource -> ``CrossCorrelation``; a positive best lag
        means the resource follows ``reference``
    """
    if reference not in history_values:
        raise exception.InvalidParameter(
            name='reference', value=reference,
            reason='the history holds only %s' % ', '.join(
                sorted(history_values)))
    return {resource: cross_correlation(history_values[reference], values,
                                        max_lag)
            for resource, values in sorted(history_values.items())
            if resource != reference}


def _number(value):
    value = float(value)
    return None if np.isnan(value) else round(value, 6)


def _numbers(array):
    """:func:`_number` of every element, as (nested) lists."""
    if array.ndim > 1:
        return [_numbers(row) for row in array]
    return [None if v != v else round(v, 6) for v in array.tolist()]


def summarise(instance_ids, bursts=None, correlations=None, step=None):
    """JSON-compatible per-instance summary for the stored profile.

    :param bursts: resource -> ``Bursts``
    :param correlations: resource -> ``CrossCorrelation``, as returned by
        ``resource_correlations``
    :param step: grid step in seconds, to give lags in seconds too
    :returns: one dict per instance, NaN written as None
    """
    bursts, correlations = bursts or {}, correlations or {}
    # Every array is converted to Python numbers once, not per instance.
    found = {resource: list(zip(
        b.count.tolist(), _numbers(b.per_day), _numbers(b.mean_duration),
        _numbers(b.max_duration), b.start_hours.tolist(),
        _numbers(b.probability_by_hour)))
        for resource, b in sorted(bursts.items())}
    related = {resource: list(zip(
        _numbers(c.best), c.best_lag.tolist(),
        _numbers(c.values[:, c.lags.size // 2])))
        for resource, c in sorted(correlations.items())}
    summary = []
    for i, instance in enumerate(instance_ids):
        entry = {'instance': instance, 'bursts': {}, 'correlations': {}}
        for resource, rows in found.items():
            count, per_day, mean_s, max_s, hours, probability = rows[i]
            entry['bursts'][resource] = {
                'count': int(count),
                'per_day': per_day,
                'mean_duration_s': mean_s,
                'max_duration_s': max_s,
                'start_hours': [int(c) for c in hours],
                'probability_by_hour': probability,
            }
        for resource, rows in related.items():
            best, best_lag, at_zero = rows[i]
            defined = best is not None
            lag = int(best_lag) if defined else None
            entry['correlations'][resource] = {
                'correlation': best,
                'lag_steps': lag,
                'lag_s': lag * step if defined and step else None,
                'at_lag_0': at_zero,
            }
        summary.append(entry)
    return summary
