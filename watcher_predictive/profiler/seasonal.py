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

"""Moving average around a robust time-of-day seasonal profile.

For every instance the model learns:

* ``profile_``: the median of each time-of-day slot over the days seen
  (robust to the odd busy day), the daily cycle;
* ``level_``: an exponential moving average of what the profile leaves, the
  instance's current departure from its usual day; forecasts carry it
  forward, decaying with ``half_life`` seconds, so that a guest busier than
  usual now is predicted busier than usual for the next hour or so;
* the empirical quantiles of the one-step errors (``near_error_``) and of
  the departures from the profile (``far_error_``). A forecast's quantiles
  move from the first to the second as the horizon grows, which is how the
  interval widens with the horizon.

With less than ``min_days`` of history the profile cannot be trusted: the
model falls back to a flat profile (the median of everything seen) and
reports it in ``fallback_``.
"""

import warnings

import numpy as np

from watcher_predictive import exception
from watcher_predictive.profiler import base

DAY = 86400


def _rows_nanmedian(array, axis):
    # An all-NaN slot is expected (a slot never observed); it is filled in
    # by the caller, so numpy's warning about it is noise.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        return np.nanmedian(array, axis=axis)


class SeasonalMovingAverage(base.ForecastModel):
    name = 'seasonal_ma'
    STATE_VERSION = 1
    FITTED_ATTRIBUTE = 'profile_'
    ERROR_LEVELS = tuple(np.round(np.linspace(0.01, 0.99, 99), 2))

    def __init__(self, half_life=3600, span=3600, min_days=1.0):
        if half_life <= 0 or span <= 0 or min_days <= 0:
            raise exception.InvalidParameter(
                name='half_life/span/min_days',
                value=(half_life, span, min_days),
                reason='all must be positive')
        self.half_life = half_life
        self.span = span
        self.min_days = min_days

    # -- fitting -----------------------------------------------------------

    def _slots(self, start, step, n_steps):
        times = start + step * np.arange(n_steps, dtype=np.int64)
        return (times % DAY) // step

    def fit(self, y, start, step):
        y = np.asarray(y, dtype=float)
        if y.ndim != 2:
            raise exception.InvalidParameter(
                name='y', value=y.shape,
                reason='expected an array shaped (instances, steps)')
        if DAY % step:
            raise exception.InvalidParameter(
                name='step', value=step,
                reason='the step must divide a day (86400 s) evenly')
        n, t = y.shape
        n_slots = DAY // step
        self.step_ = int(step)
        self.end_ = int(start + t * step)
        slots = self._slots(start, step, t)
        observed = ~np.isnan(y)
        overall = _rows_nanmedian(y, axis=1)
        overall = np.where(np.isnan(overall), 0.0, overall)

        # Median of each time-of-day slot: lay the series out as
        # (instances, days, slots), NaN-padded, and take the median over
        # days.
        offset = int(slots[0]) if t else 0
        n_days = -(-(offset + t) // n_slots) if t else 0
        grid = np.full((n, max(n_days, 1) * n_slots), np.nan)
        grid[:, offset:offset + t] = y
        grid = grid.reshape(n, max(n_days, 1), n_slots)
        profile = _rows_nanmedian(grid, axis=1)
        profile = np.where(np.isnan(profile), overall[:, None], profile)

        days_seen = observed.sum(axis=1) * step / DAY
        self.fallback_ = days_seen < self.min_days
        profile[self.fallback_] = overall[self.fallback_, None]
        self.profile_ = profile

        # Departures from the profile, their moving average, and the
        # one-step errors of "profile + decayed moving average".
        departure = y - profile[:, slots] if t else y
        alpha = 1.0 - np.exp(-np.log(2.0) * step / self.span)
        decay = self._decay(1)
        level = np.zeros(n)
        near = np.full((n, t), np.nan)
        for i in range(t):
            column = departure[:, i]
            seen = ~np.isnan(column)
            near[seen, i] = column[seen] - level[seen] * decay
            level = np.where(seen, level + alpha * (column - level),
                             level * decay)
        self.level_ = level
        self.near_error_ = self._error_quantiles(near)
        self.far_error_ = self._error_quantiles(departure)
        self.observed_ = observed.sum(axis=1)
        return self

    def _decay(self, steps):
        return np.power(0.5, np.asarray(steps) * self.step_ / self.half_life)

    def _error_quantiles(self, errors):
        levels = np.asarray(self.ERROR_LEVELS)
        n = errors.shape[0]
        result = np.zeros((n, levels.size))
        has_data = np.any(~np.isnan(errors), axis=1)
        if np.any(has_data):
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', RuntimeWarning)
                result[has_data] = np.nanquantile(
                    errors[has_data], levels, axis=1).T
        return result

    # -- forecasting -------------------------------------------------------

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        levels = self._check_predict(h, levels)
        steps = np.arange(1, h + 1)
        slots = self._slots(self.end_, self.step_, h)
        decay = self._decay(steps)
        point = self.profile_[:, slots] + self.level_[:, None] * decay
        near = self._at_levels(self.near_error_, levels)
        far = self._at_levels(self.far_error_, levels)
        weight = decay[None, :, None]
        spread = weight * near[:, None, :] + (1 - weight) * far[:, None, :]
        # The far errors are departures from the profile alone; the point
        # forecast already carries part of them in its level term, so centre
        # the spread on the point forecast, not on the profile.
        spread -= (1 - weight) * self._at_levels(
            self.far_error_, [0.5])[:, None, :]
        quantiles = np.maximum(point[:, :, None] + spread, 0.0)
        return np.sort(quantiles, axis=-1)

    def peak(self, level=0.95):
        """Predicted daily peak per instance: the busiest slot of the
        profile plus the ``level`` quantile of the departures from it.
        """
        self._check_fitted()
        far = self._at_levels(self.far_error_, [0.5, level])
        return np.maximum(self.profile_.max(axis=1) + far[:, 1] - far[:, 0],
                          0.0)

    def _at_levels(self, table, levels):
        """Interpolate the stored error quantiles at other levels."""
        grid = np.asarray(self.ERROR_LEVELS)
        position = np.interp(levels, grid, np.arange(grid.size))
        lower = np.floor(position).astype(int)
        upper = np.minimum(lower + 1, grid.size - 1)
        frac = position - lower
        return table[:, lower] * (1 - frac) + table[:, upper] * frac

    # -- state -------------------------------------------------------------

    def get_state(self):
        self._check_fitted()
        return {
            'model': self.name, 'version': self.STATE_VERSION,
            'params': {'half_life': self.half_life, 'span': self.span,
                       'min_days': self.min_days},
            'step': self.step_, 'end': self.end_,
            'instances': [self.instance_state(i)
                          for i in range(len(self.level_))],
        }

    def instance_state(self, i):
        return {
            'profile': self.profile_[i].round(6).tolist(),
            'level': float(self.level_[i]),
            'near_error': self.near_error_[i].round(6).tolist(),
            'far_error': self.far_error_[i].round(6).tolist(),
            'fallback': bool(self.fallback_[i]),
            'observed': int(self.observed_[i]),
        }

    @classmethod
    def from_state(cls, state):
        model = cls(**state.get('params', {}))
        model._check_state(state)
        rows = state['instances']
        model.step_ = int(state['step'])
        model.end_ = int(state['end'])
        n_slots = DAY // model.step_
        model.profile_ = np.array([r['profile'] for r in rows],
                                  dtype=float).reshape(len(rows), n_slots)
        model.level_ = np.array([r['level'] for r in rows], dtype=float)
        width = len(cls.ERROR_LEVELS)
        model.near_error_ = np.array([r['near_error'] for r in rows],
                                     dtype=float).reshape(len(rows), width)
        model.far_error_ = np.array([r['far_error'] for r in rows],
                                    dtype=float).reshape(len(rows), width)
        model.fallback_ = np.array([r['fallback'] for r in rows], dtype=bool)
        model.observed_ = np.array([r['observed'] for r in rows], dtype=int)
        return model
