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

"""Rolling-origin backtest of forecasting models on a recorded history.

Origins. Every ``every`` seconds (an hour by default), on the clock's full
hour, from the start of the held-out last ``holdout_days`` until the last
origin followed by a whole horizon of recorded data. A model is fitted
once on everything before the first origin; at each origin it forecasts
``horizon`` seconds, then learns the data up to the next origin with
``update``. A model without ``update`` is refitted at each origin on
everything before it (slower, same information). A model only ever receives
copies of the data before the origin: it cannot reach the future.

Series. One with fewer than ``min_history_days`` of observed samples before
the first origin is skipped and counted in ``Report.skipped``. A point
(series, origin, lead) is scored when its truth is recorded and the model
forecast it (no NaN); a model may be run on a sample of the series only.

Metrics, over the scored points:

* ``mae``: mean absolute error of the median forecast;
* ``rmae_persistence``, ``rmae_seasonal_naive``: the model's MAE divided by
  the baseline's MAE over the same points (below 1: better);
* ``pinball``: quantile (pinball) loss, mean over the levels 0.05, 0.1,
  0.5, 0.9, 0.95 and the points;
* ``coverage_80``, ``coverage_90``: share of points inside the 0.1-0.9 and
  0.05-0.95 forecast intervals (ends included);
* ``lull_precision``, ``lull_recall``: lulls are judged inside each forecast
  window (origin, series), per step. A step is in a true lull when it
  belongs to a run of at least ``lull_duration`` seconds (6 steps of
  5 minutes by default) of consecutive recorded values strictly below the
  series' lull threshold, the run counted within the window (a missing
  value breaks a run). A step is in a predicted lull when it belongs to
  such a run of the forecast's 0.9 quantile: a lull is predicted only when
  the model is 90% sure the use stays below the threshold, which is what a
  task placed in that lull needs. Over the scored steps, precision =
  TP / (TP + FP) and recall = TP / (TP + FN). NaN (no predicted, or no
  true, lull step) is reported as such.
"""

import dataclasses
import functools
import time

import numpy as np

from watcher_predictive import exception
from watcher_predictive.profiler import base
from watcher_predictive.profiler import baselines

LEVELS = base.DEFAULT_LEVELS
LULL_QUANTILE = 0.9
REFERENCES = ('persistence', 'seasonal_naive')
METRICS = ('mae', 'rmae_persistence', 'rmae_seasonal_naive', 'pinball',
           'coverage_80', 'coverage_90', 'lull_precision', 'lull_recall')


def _level(levels, level):
    matches = np.flatnonzero(np.isclose(levels, level))
    if not matches.size:
        raise exception.InvalidParameter(
            name='levels', value=list(levels),
            reason='the backtest needs the level %s' % level)
    return int(matches[0])


def _mean(values):
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float('nan')


def absolute_errors(truth, median):
    """|median - truth|, NaN where either is missing."""
    return np.abs(np.asarray(median, float) - np.asarray(truth, float))


def mae(truth, median):
    """Mean absolute error over the points where both are known."""
    return _mean(absolute_errors(truth, median))


def pinball(truth, quantiles, levels=LEVELS):
    """Mean pinball loss over the levels and the points where both the
    truth and every quantile are known. ``quantiles``: truth's shape plus
    one axis of levels.
    """
    truth = np.asarray(truth, float)[..., None]
    quantiles = np.asarray(quantiles, float)
    levels = np.asarray(levels, float)
    diff = truth - quantiles
    loss = np.maximum(levels * diff, (levels - 1) * diff).mean(axis=-1)
    return _mean(loss)


def coverage(truth, lower, upper):
    """Share of the known points with lower <= truth <= upper."""
    truth = np.asarray(truth, float)
    known = ~(np.isnan(truth) | np.isnan(lower) | np.isnan(upper))
    if not known.any():
        return float('nan')
    inside = (truth >= lower) & (truth <= upper)
    return float(inside[known].mean())


def in_runs(below, min_steps):
    """Steps that belong to a run of at least ``min_steps`` consecutive
    True values along the last axis.
    """
    below = np.asarray(below, bool)
    n = below.shape[-1]
    forward = np.zeros(below.shape, dtype=int)
    backward = np.zeros(below.shape, dtype=int)
    for k in range(n):
        before = forward[..., k - 1] if k else 0
        forward[..., k] = np.where(below[..., k], before + 1, 0)
    for k in range(n - 1, -1, -1):
        after = backward[..., k + 1] if k < n - 1 else 0
        backward[..., k] = np.where(below[..., k], after + 1, 0)
    return below & (forward + backward - 1 >= min_steps)


def lull_precision_recall(truth, upper, threshold, min_steps):
    """Precision and recall of predicted lull steps (module docstring).

    :param truth: recorded values (..., horizon steps), NaN if missing
    :param upper: the forecast quantile a lull is predicted from, same
        shape
    :param threshold: lull threshold, broadcastable to ``truth``
    """
    truth = np.asarray(truth, float)
    upper = np.asarray(upper, float)
    with np.errstate(invalid='ignore'):
        actual = in_runs(truth < threshold, min_steps)
        predicted = in_runs(upper < threshold, min_steps)
    scored = ~(np.isnan(truth) | np.isnan(upper))
    tp = np.sum(actual & predicted & scored)
    fp = np.sum(~actual & predicted & scored)
    fn = np.sum(actual & ~predicted & scored)
    precision = tp / (tp + fp) if tp + fp else float('nan')
    recall = tp / (tp + fn) if tp + fn else float('nan')
    return float(precision), float(recall)


def rolling_origins(start, n_steps, step, horizon, holdout_days, every=3600):
    """Grid indices of the forecast origins (module docstring)."""
    for name, value in (('horizon', horizon), ('every', every)):
        if value <= 0 or value % step:
            raise exception.InvalidParameter(
                name=name, value=value,
                reason='must be a positive multiple of the grid step '
                       '(%d s)' % step)
    if holdout_days <= 0:
        raise exception.InvalidParameter(
            name='holdout_days', value=holdout_days,
            reason='at least part of a day must be held out')
    end = start + n_steps * step
    first = max(int(np.ceil(end - holdout_days * 86400)), start)
    first = -(-first // every) * every
    times = np.arange(first, end - horizon + 1, every, dtype=np.int64)
    return ((times - start) // step).astype(int)


@dataclasses.dataclass
class Scores:
    mae: float = float('nan')
    rmae_persistence: float = float('nan')
    rmae_seasonal_naive: float = float('nan')
    pinball: float = float('nan')
    coverage_80: float = float('nan')
    coverage_90: float = float('nan')
    lull_precision: float = float('nan')
    lull_recall: float = float('nan')
    series: int = 0
    """Series with at least one scored point."""
    seconds: float = 0.0
    """Wall time of fitting, updating and forecasting."""
    refitted: bool = False
    """True when the model had no update and was refitted per origin."""
    error: str = None
    """Why the model could not be evaluated, when it could not."""

    def as_dict(self):
        """JSON-ready: NaN becomes None."""
        result = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float):
                value = None if np.isnan(value) else round(value, 6)
            result[field.name] = value
        return result


@dataclasses.dataclass
class Report:
    instance_ids: tuple
    """The evaluated series."""
    skipped: tuple
    """Series with too little history before the first origin."""
    origins: np.ndarray
    """Epoch seconds of the forecast origins."""
    horizon: int
    holdout_days: float
    step: int
    samples: dict
    """Model name -> number of series it was evaluated on, when sampled."""
    models: dict
    """Model name -> Scores, references first."""


def _forecasts(factory, y, origins, start, step, h):
    """Forecasts (series, origins, h, levels) of one model; seconds taken;
    whether it was refitted.
    """
    began = time.perf_counter()
    model = factory().fit(np.array(y[:, :origins[0]]), start, step)
    out = np.full((y.shape[0], origins.size, h, len(LEVELS)), np.nan)
    refitted = False
    for j, origin in enumerate(origins):
        if j and not refitted:
            try:
                model.update(np.array(y[:, origins[j - 1]:origin]))
            except NotImplementedError:
                refitted = True
        if j and refitted:
            model = factory().fit(np.array(y[:, :origin]), start, step)
        quantiles = np.asarray(model.predict(h, LEVELS), dtype=float)
        if quantiles.shape != out.shape[:1] + out.shape[2:]:
            raise exception.InvalidParameter(
                name='forecast shape', value=quantiles.shape,
                reason='expected (%d series, %d steps, %d levels)' % (
                    y.shape[0], h, len(LEVELS)))
        out[:, j] = quantiles
    return out, time.perf_counter() - began, refitted


def _score(truth, forecasts, threshold, min_steps):
    levels = np.asarray(LEVELS)
    known = ~np.any(np.isnan(forecasts), axis=-1)
    recorded, truth = truth, np.where(known, truth, np.nan)
    forecasts = np.where(known[..., None], forecasts, np.nan)
    lo80, hi80 = _level(levels, 0.1), _level(levels, 0.9)
    lo90, hi90 = _level(levels, 0.05), _level(levels, 0.95)
    errors = absolute_errors(truth, forecasts[..., _level(levels, 0.5)])
    scores = Scores(
        mae=_mean(errors),
        pinball=pinball(truth, forecasts, levels),
        coverage_80=coverage(truth, forecasts[..., lo80],
                             forecasts[..., hi80]),
        coverage_90=coverage(truth, forecasts[..., lo90],
                             forecasts[..., hi90]),
        series=int(np.sum(np.any(~np.isnan(errors), axis=(1, 2)))))
    if threshold is not None:
        scores.lull_precision, scores.lull_recall = lull_precision_recall(
            recorded, forecasts[..., _level(levels, LULL_QUANTILE)],
            threshold[:, None, None], min_steps)
    return scores, errors


def _ratio(errors, reference):
    both = ~(np.isnan(errors) | np.isnan(reference))
    denominator = reference[both].sum()
    if not both.any() or denominator == 0:
        return float('nan')
    return float(errors[both].sum() / denominator)


def evaluate(history, model_factories, resource='cpu', horizon=3600,
             holdout_days=7, lull_level=0.1, capacity=None,
             lull_duration=1800, every=3600, min_history_days=1.0,
             samples=None, seed=0, progress=None):
    """Backtest every model of ``model_factories`` on ``history``.

    :param model_factories: name -> zero-argument factory of a model with
        the ``base.ForecastModel`` contract. ``persistence`` and
        ``seasonal_naive`` are added when absent: they are the references.
    :param lull_level: lull threshold as a share of ``capacity``; when
        ``capacity`` is None, the threshold itself in the resource's
        units. None: no lull metrics.
    :param capacity: full-scale value of the resource, one number or one
        per instance of ``history`` (vCPUs for CPU in vCPUs, 100 for CPU
        in %); NaN where unknown (no lull metrics for that series).
    :param samples: model name -> number of series to evaluate it on, drawn
        at random (``seed``) among the evaluated series; the relative MAEs
        of a sampled model compare it on its series only.
    :param progress: called with a line of text as each model starts.
    :returns: a ``Report``
    """
    step = history.step
    y_all = history.resource(resource)
    h = horizon // step
    origins = rolling_origins(history.start, history.n_steps, step, horizon,
                              holdout_days, every)
    min_steps = max(int(np.ceil(lull_duration / step)), 1)
    min_observed = int(min_history_days * 86400 // step)
    observed = np.sum(~np.isnan(y_all[:, :origins[0]]), axis=1) if \
        origins.size else np.zeros(len(history.instance_ids), int)
    keep = np.flatnonzero(observed >= max(min_observed, 1))
    if not origins.size or not keep.size:
        raise exception.InvalidParameter(
            name='holdout_days', value=holdout_days,
            reason='the history (%d steps of %d s) leaves no series with '
                   '%s days before the holdout and a whole %d s horizon '
                   'in it; hold out fewer days or read a longer trace' % (
                       history.n_steps, step, min_history_days, horizon))
    y = y_all[keep]
    truth = y[:, origins[:, None] + np.arange(h)[None, :]]
    threshold = None
    if lull_level is not None:
        scale = np.ones(len(history.instance_ids)) if capacity is None \
            else np.broadcast_to(np.asarray(capacity, float),
                                 (len(history.instance_ids),))
        threshold = lull_level * scale[keep]

    factories = {
        'persistence': functools.partial(baselines.Persistence, max_lead=h),
        'seasonal_naive': baselines.SeasonalNaive,
    }
    factories.update(model_factories)
    sampled, scores, errors = {}, {}, {}
    for name, factory in factories.items():
        rows = np.arange(keep.size)
        wanted = (samples or {}).get(name)
        if wanted is not None and wanted < keep.size:
            # A fresh generator per model: the same seed and size give
            # the same series, whatever else is evaluated.
            rows = np.sort(np.random.default_rng(seed).choice(
                keep.size, size=int(wanted), replace=False))
            sampled[name] = int(wanted)
        if progress:
            progress('%s: %d series, %d origins' % (name, rows.size,
                                                    origins.size))
        try:
            forecasts, seconds, refitted = _forecasts(
                factory, y[rows], origins, history.start, step, h)
        except Exception as e:  # a broken model must not stop the others
            scores[name] = Scores(error='%s: %s' % (type(e).__name__, e))
            continue
        result, row_errors = _score(
            truth[rows], forecasts, None if threshold is None
            else threshold[rows], min_steps)
        result.seconds, result.refitted = seconds, refitted
        scores[name] = result
        errors[name] = np.full(truth.shape, np.nan)
        errors[name][rows] = row_errors
    for name, result in scores.items():
        if name not in errors:
            continue
        for reference in REFERENCES:
            if reference in errors:
                setattr(result, 'rmae_' + reference,
                        _ratio(errors[name], errors[reference]))
    return Report(
        instance_ids=tuple(history.instance_ids[i] for i in keep),
        skipped=tuple(history.instance_ids[i] for i in np.setdiff1d(
            np.arange(len(history.instance_ids)), keep)),
        origins=history.start + origins.astype(np.int64) * step,
        horizon=int(horizon), holdout_days=holdout_days, step=step,
        samples=sampled, models=scores)
