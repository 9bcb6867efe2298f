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

"""Interface of the forecasting models of the Guest Behavior Profiler.

A model forecasts one resource for many instances at once. It follows the
fit/predict contract: ``fit(y, start, step)`` learns from an array shaped
``(instances, steps)`` and returns the model; ``predict(h, levels)`` is pure
(it never changes the model) and returns quantiles shaped
``(instances, h, len(levels))``. Fitted state lives in attributes ending in
``_`` and round-trips through versioned JSON-compatible dicts
(``get_state``/``from_state``), never pickle.
"""

import abc
import dataclasses

import numpy as np

from watcher_predictive import exception

DEFAULT_LEVELS = (0.05, 0.1, 0.5, 0.9, 0.95)


def check_levels(levels):
    levels = np.asarray(levels, dtype=float)
    if levels.ndim != 1 or levels.size == 0 or np.any(
            (levels <= 0) | (levels >= 1)) or np.any(np.diff(levels) <= 0):
        raise exception.InvalidParameter(
            name='levels', value=levels.tolist(),
            reason='quantile levels must be increasing and strictly between '
                   '0 and 1')
    return levels


@dataclasses.dataclass
class Forecast:
    """Predictive distribution of one resource for many instances."""

    instance_ids: tuple
    resource: str
    start: int
    """Epoch seconds of the first forecast step."""
    step: int
    levels: np.ndarray
    """Quantile levels, increasing, shape (q,)."""
    quantiles: np.ndarray
    """Shape (instances, horizon steps, q); non-decreasing along q."""
    model: str
    fallback: np.ndarray = None
    """Bool per instance: True where the model could not be fitted and a
    simpler one answered instead.
    """

    def __post_init__(self):
        self.instance_ids = tuple(self.instance_ids)
        self.levels = np.asarray(self.levels, dtype=float)
        if self.fallback is None:
            self.fallback = np.zeros(len(self.instance_ids), dtype=bool)

    @property
    def horizon_steps(self):
        return self.quantiles.shape[1]

    def timestamps(self):
        return self.start + self.step * np.arange(self.horizon_steps,
                                                  dtype=np.int64)

    def quantile(self, level):
        """Quantile array (instances, steps) at one of the forecast levels."""
        matches = np.flatnonzero(np.isclose(self.levels, level))
        if not matches.size:
            raise exception.InvalidParameter(
                name='level', value=level,
                reason='this forecast has levels %s' % self.levels.tolist())
        return self.quantiles[:, :, matches[0]]

    def probability_below(self, threshold):
        """P(value < threshold) per instance and step, from the quantiles.

        The CDF is interpolated linearly between the forecast quantiles and
        taken as 0 below the lowest quantile and 1 above the highest (the
        tails beyond the outer levels are not modelled). ``threshold``
        broadcasts against (instances, steps): a scalar, an (instances, 1)
        column or a full array.
        """
        threshold = np.broadcast_to(np.asarray(threshold, dtype=float),
                                    self.quantiles.shape[:2])
        q = self.quantiles
        levels = self.levels
        below = q < threshold[..., None]
        n_below = below.sum(axis=-1)
        prob = np.empty(q.shape[:2])
        prob[n_below == 0] = 0.0
        prob[n_below == len(levels)] = 1.0
        inner = (n_below > 0) & (n_below < len(levels))
        if np.any(inner):
            idx = n_below[inner]
            lo_q = np.take_along_axis(q[inner], (idx - 1)[:, None], 1)[:, 0]
            hi_q = np.take_along_axis(q[inner], idx[:, None], 1)[:, 0]
            lo_l, hi_l = levels[idx - 1], levels[idx]
            span = np.where(hi_q > lo_q, hi_q - lo_q, 1.0)
            frac = np.clip((threshold[inner] - lo_q) / span, 0.0, 1.0)
            prob[inner] = lo_l + frac * (hi_l - lo_l)
        return prob


class ForecastModel(metaclass=abc.ABCMeta):
    """One forecasting method, vectorised over instances.

    Fitted attributes every model sets: ``step_`` (grid step, s), ``end_``
    (epoch seconds after the last fitted step) and ``fallback_`` (bool per
    instance: True where the model could not use its full method, for
    example with too short a history, and answered with a simpler one).

    ``update(y_new)`` learns the steps that follow ``end_``. For a model
    with ``UPDATE_EXACT`` the result is the same as fitting everything at
    once; otherwise its forecasts after an update agree with a full fit
    within ``UPDATE_TOLERANCE`` (relative to the series' scale), because
    some of its parameters are re-estimated only by ``fit``.
    """

    name = None
    STATE_VERSION = 1
    UPDATE_EXACT = True
    UPDATE_TOLERANCE = 0.0
    # An attribute that exists once the model has been fitted or rebuilt.
    FITTED_ATTRIBUTE = 'step_'

    def _check_fitted(self):
        if not hasattr(self, self.FITTED_ATTRIBUTE):
            raise exception.PredictiveError(
                'The %s model has not been fitted: call fit() or '
                'from_state() first.' % self.name)

    def _check_predict(self, h, levels):
        """Checks shared by every ``predict``; returns the levels array."""
        self._check_fitted()
        levels = check_levels(levels)
        if h <= 0:
            raise exception.InvalidParameter(
                name='h', value=h,
                reason='the horizon must be at least one step')
        return levels

    @abc.abstractmethod
    def fit(self, y, start, step):
        """Learn from ``y`` shaped (instances, steps); NaN are gaps.

        :param start: epoch seconds of ``y[:, 0]``
        :param step: grid step in seconds
        :returns: self
        """

    def update(self, y_new):
        """Learn ``y_new`` (instances, steps), the steps after ``end_``.

        :returns: self
        """
        raise NotImplementedError(
            '%s does not support incremental updates' % type(self).__name__)

    @abc.abstractmethod
    def predict(self, h, levels=DEFAULT_LEVELS):
        """Quantiles (instances, h, len(levels)) for the h steps after the
        fitted data. Never changes the model.
        """

    @abc.abstractmethod
    def get_state(self):
        """Fitted state as a JSON-compatible dict with a ``version`` key."""

    @classmethod
    @abc.abstractmethod
    def from_state(cls, state):
        """Rebuild a fitted model from ``get_state()``'s output."""

    def _check_state(self, state):
        if state.get('model') != self.name or state.get(
                'version') != self.STATE_VERSION:
            raise exception.InvalidParameter(
                name='state', value={k: state.get(k) for k in (
                    'model', 'version')},
                reason='expected model %s version %d; re-profile the '
                       'instance' % (self.name, self.STATE_VERSION))
