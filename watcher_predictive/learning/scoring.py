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

"""Scores of issued forecasts against what was then observed.

A score is kept as sums and counts (``Score``), never as ratios, so that
scores of several forecasts add up exactly into rolling windows and into
the per-model trends ``watcher-predictive accuracy`` prints.

* MAE of the median and mean pinball loss over the forecast's levels;
* coverage of the central 80 % and 90 % intervals (levels 0.1-0.9 and
  0.05-0.95) when the forecast has those levels;
* lull precision and recall: a step is a *predicted* lull when the 0.9
  quantile is under the lull threshold and an *actual* lull when the
  observed value is, both within runs of at least ``min_lull_steps``
  (a lull shorter than a task is no lull).
"""

import dataclasses

import numpy as np

LULL_QUANTILE = 0.9
INTERVALS = {80: (0.1, 0.9), 90: (0.05, 0.95)}


@dataclasses.dataclass
class Score:
    """Sums over the scored steps of one or more forecasts."""
    steps: int = 0
    abs_error: float = 0.0
    pinball: float = 0.0
    inside_80: int = 0
    steps_80: int = 0
    inside_90: int = 0
    steps_90: int = 0
    lull_tp: int = 0
    lull_fp: int = 0
    lull_fn: int = 0

    def __add__(self, other):
        return Score(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                        for f in dataclasses.fields(self)})

    @property
    def mae(self):
        return self.abs_error / self.steps if self.steps else float('nan')

    @property
    def mean_pinball(self):
        return self.pinball / self.steps if self.steps else float('nan')

    def coverage(self, nominal):
        inside = getattr(self, 'inside_%d' % nominal)
        steps = getattr(self, 'steps_%d' % nominal)
        return inside / steps if steps else float('nan')

    @property
    def lull_precision(self):
        predicted = self.lull_tp + self.lull_fp
        return self.lull_tp / predicted if predicted else float('nan')

    @property
    def lull_recall(self):
        actual = self.lull_tp + self.lull_fn
        return self.lull_tp / actual if actual else float('nan')

    def as_dict(self):
        return dataclasses.asdict(self)


def level_index(levels, level):
    """Index of ``level`` in ``levels``, or None."""
    matches = np.flatnonzero(np.isclose(np.asarray(levels, float), level))
    return int(matches[0]) if matches.size else None


def pinball_loss(truth, quantiles, levels):
    """Pinball loss per step, averaged over the levels.

    :param truth: (..., steps)
    :param quantiles: (..., steps, levels)
    """
    diff = np.asarray(truth, float)[..., None] - np.asarray(quantiles, float)
    levels = np.asarray(levels, float)
    return np.maximum(levels * diff, (levels - 1) * diff).mean(axis=-1)


def runs_of(mask, min_steps):
    """Steps of ``mask`` (1-D) inside runs of at least ``min_steps``."""
    mask = np.asarray(mask, bool)
    out = np.zeros_like(mask)
    start = None
    for i, value in enumerate(np.append(mask, False)):
        if value and start is None:
            start = i
        elif not value and start is not None:
            if i - start >= min_steps:
                out[start:i] = True
            start = None
    return out


def score(truth, quantiles, levels, lull_threshold=None, min_lull_steps=1):
    """Score one forecast of one series.

    :param truth: (steps,) observed values, NaN where missing
    :param quantiles: (steps, levels) forecast quantiles
    :param levels: the quantile levels, increasing
    :param lull_threshold: value under which the guest is idle, or None
        to skip the lull scores
    :returns: a Score over the steps where the truth is known
    """
    truth = np.asarray(truth, float)
    quantiles = np.asarray(quantiles, float)
    n = min(truth.shape[0], quantiles.shape[0])
    truth, quantiles = truth[:n], quantiles[:n]
    known = ~np.isnan(truth) & ~np.isnan(quantiles).any(axis=1)
    result = Score()
    if not known.any():
        return result
    median = level_index(levels, 0.5)
    y, q = truth[known], quantiles[known]
    result.steps = int(known.sum())
    center = q[:, median] if median is not None else q.mean(axis=1)
    result.abs_error = float(np.abs(y - center).sum())
    result.pinball = float(pinball_loss(y, q, levels).sum())
    for nominal, (low, high) in INTERVALS.items():
        lo, hi = level_index(levels, low), level_index(levels, high)
        if lo is None or hi is None:
            continue
        setattr(result, 'inside_%d' % nominal,
                int(((y >= q[:, lo]) & (y <= q[:, hi])).sum()))
        setattr(result, 'steps_%d' % nominal, result.steps)
    upper = level_index(levels, LULL_QUANTILE)
    if lull_threshold is not None and upper is not None:
        with np.errstate(invalid='ignore'):
            actual = runs_of(truth < lull_threshold, min_lull_steps)
            predicted = runs_of(quantiles[:, upper] < lull_threshold,
                                min_lull_steps)
        result.lull_tp = int((actual & predicted & known).sum())
        result.lull_fp = int((~actual & predicted & known).sum())
        result.lull_fn = int((actual & ~predicted & known).sum())
    return result
