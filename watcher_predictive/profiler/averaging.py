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

"""Historical averaging: last value, moving averages and a robust seasonal
profile, all learned incrementally.

Every model here keeps only running statistics, so ``update`` gives
exactly what fitting everything at once would (``UPDATE_EXACT``): a fit is
a replay of the series through the same update, step by step, vectorised
over instances.

Their own intervals are Gaussian, from a running mean of their absolute
one-step errors, widened with the horizon as suits each model. The
ensemble calibrates its intervals on what it observes; these are the
members' own, used alone or before the ensemble has calibrated.
"""

import numpy as np
from scipy import stats

from watcher_predictive import exception
from watcher_predictive.profiler import base

DAY = 86400
WEEK = 7 * DAY
# Mean absolute error to standard deviation, for Gaussian errors.
MAE_TO_SIGMA = np.sqrt(np.pi / 2)
# Weight of the latest error in the running mean absolute error.
ERROR_RATE = 0.02


class _RunningModel(base.ForecastModel):
    """Shared machinery: replayed fit, error scale, state."""

    STATE_VERSION = 1
    # Steps of history below which a model is a fallback for an instance.
    MIN_OBSERVED = 12

    def _params(self):
        return {}

    def _arrays(self):
        """Names of the per-instance state arrays (first axis: instances)."""
        return ()

    def _init(self, n):
        raise NotImplementedError

    def _step(self, t, values, seen):
        """Learn one grid step: ``values`` (n,), ``seen`` its non-NaN
        mask; ``t`` its epoch time. Returns the one-step forecast that was
        made for it before learning (n,).
        """
        raise NotImplementedError

    def _point(self, h):
        """Median forecast (n, h) from the current state."""
        raise NotImplementedError

    def _spread_growth(self, h):
        """Factor (h,) by which one-step error quantiles widen."""
        return np.ones(h)

    def fit(self, y, start, step):
        y = np.asarray(y, dtype=float)
        if y.ndim != 2:
            raise exception.InvalidParameter(
                name='y', value=y.shape,
                reason='expected an array shaped (instances, steps)')
        if step <= 0 or DAY % step:
            raise exception.InvalidParameter(
                name='step', value=step,
                reason='the step must divide a day (86400 s) evenly')
        self.step_ = int(step)
        self.end_ = int(start)
        n = y.shape[0]
        self.observed_ = np.zeros(n, dtype=int)
        self.error_scale_ = np.zeros(n)
        self.errors_seen_ = np.zeros(n, dtype=int)
        self._init(n)
        self.fallback_ = np.ones(n, dtype=bool)
        return self.update(y)

    def update(self, y_new):
        self.replay(y_new)
        return self

    def replay(self, y_new):
        """Learn ``y_new`` like :meth:`update`, and return the one-step
        forecasts made for each of its steps (NaN where there was none).
        """
        self._check_fitted()
        y_new = np.asarray(y_new, dtype=float)
        if y_new.ndim != 2 or y_new.shape[0] != self.observed_.size:
            raise exception.InvalidParameter(
                name='y_new', value=y_new.shape,
                reason='expected (%d instances, steps)' % self.observed_.size)
        forecasts = np.full(y_new.shape, np.nan)
        for i in range(y_new.shape[1]):
            values = y_new[:, i]
            seen = ~np.isnan(values)
            forecast = self._step(self.end_, values, seen)
            forecasts[:, i] = forecast
            ok = seen & ~np.isnan(forecast)
            # Running mean absolute one-step error; the first error of an
            # instance starts it.
            err = np.abs(np.where(ok, values - forecast, 0.0))
            rate = np.where(self.errors_seen_ > 0, ERROR_RATE, 1.0)
            self.error_scale_ += np.where(ok, rate * (err -
                                                      self.error_scale_), 0.0)
            self.errors_seen_ += ok
            self.observed_ += seen
            self.end_ += self.step_
        self.fallback_ = self.observed_ < self.MIN_OBSERVED
        return forecasts

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        levels = self._check_predict(h, levels)
        point = self._point(h)
        sigma = (MAE_TO_SIGMA * self.error_scale_)[:, None] * \
            self._spread_growth(h)[None, :]
        return gaussian_quantiles(point, sigma, levels)

    def get_state(self):
        self._check_fitted()
        return {'model': self.name, 'version': self.STATE_VERSION,
                'params': self._params(), 'step': self.step_,
                'end': self.end_,
                'instances': [self.instance_state(i)
                              for i in range(self.observed_.size)]}

    def instance_state(self, i):
        state = {'observed': int(self.observed_[i]),
                 'errors_seen': int(self.errors_seen_[i]),
                 'error_scale': float(self.error_scale_[i]),
                 'fallback': bool(self.fallback_[i])}
        for name in self._arrays():
            state[name] = np.asarray(getattr(self, name)[i]).tolist()
        return state

    @classmethod
    def from_state(cls, state):
        model = cls(**state.get('params', {}))
        model._check_state(state)
        rows = state['instances']
        model.step_ = int(state['step'])
        model.end_ = int(state['end'])
        model.observed_ = np.array([r['observed'] for r in rows], dtype=int)
        model.errors_seen_ = np.array([r['errors_seen'] for r in rows],
                                      dtype=int)
        model.error_scale_ = np.array([r['error_scale'] for r in rows],
                                      dtype=float)
        model.fallback_ = np.array([r['fallback'] for r in rows],
                                   dtype=bool)
        model._init(len(rows))
        for name in model._arrays():
            template = getattr(model, name)
            setattr(model, name, np.array(
                [r[name] for r in rows], dtype=template.dtype).reshape(
                    template.shape))
        return model


class LastValue(_RunningModel):
    """Persistence: the last observed value, held flat."""

    name = 'last_value'

    def _arrays(self):
        return ('last_',)

    def _init(self, n):
        self.last_ = np.full(n, np.nan)

    def _step(self, t, values, seen):
        forecast = self.last_.copy()
        self.last_ = np.where(seen, values, self.last_)
        return forecast

    def _point(self, h):
        last = np.nan_to_num(self.last_, nan=0.0)
        return np.repeat(last[:, None], h, axis=1)

    def _spread_growth(self, h):
        return np.sqrt(np.arange(1, h + 1))


class MovingAverage(_RunningModel):
    """Simple moving average of the last ``window`` observed values."""

    name = 'moving_average'

    def __init__(self, window=12):
        if window < 1:
            raise exception.InvalidParameter(
                name='window', value=window,
                reason='average at least one value')
        self.window = int(window)

    def _params(self):
        return {'window': self.window}

    def _arrays(self):
        return ('buffer_', 'filled_', 'cursor_')

    def _init(self, n):
        self.buffer_ = np.zeros((n, self.window))
        self.filled_ = np.zeros(n, dtype=int)
        self.cursor_ = np.zeros(n, dtype=int)

    def _mean(self):
        with np.errstate(invalid='ignore', divide='ignore'):
            return np.where(self.filled_ > 0, self.buffer_.sum(axis=1) /
                            np.maximum(self.filled_, 1), np.nan)

    def _step(self, t, values, seen):
        forecast = self._mean()
        rows = np.flatnonzero(seen)
        self.buffer_[rows, self.cursor_[rows]] = values[rows]
        self.cursor_[rows] = (self.cursor_[rows] + 1) % self.window
        self.filled_[rows] = np.minimum(self.filled_[rows] + 1, self.window)
        return forecast

    def _point(self, h):
        mean = np.nan_to_num(self._mean(), nan=0.0)
        return np.repeat(mean[:, None], h, axis=1)

    def _spread_growth(self, h):
        return np.sqrt(1 + np.arange(h) / self.window)


class ExponentialMovingAverage(_RunningModel):
    """Exponential moving average with a half-life in seconds."""

    name = 'ema'

    def __init__(self, half_life=1800):
        if half_life <= 0:
            raise exception.InvalidParameter(
                name='half_life', value=half_life,
                reason='a positive number of seconds')
        self.half_life = half_life

    def _params(self):
        return {'half_life': self.half_life}

    def _arrays(self):
        return ('level_',)

    def _init(self, n):
        self.level_ = np.full(n, np.nan)

    def _step(self, t, values, seen):
        forecast = self.level_.copy()
        alpha = 1.0 - 0.5 ** (self.step_ / self.half_life)
        fresh = seen & np.isnan(self.level_)
        self.level_ = np.where(fresh, values, self.level_)
        grow = seen & ~fresh
        self.level_[grow] += alpha * (values[grow] - self.level_[grow])
        return forecast

    def _point(self, h):
        level = np.nan_to_num(self.level_, nan=0.0)
        return np.repeat(level[:, None], h, axis=1)

    def _spread_growth(self, h):
        return np.sqrt(np.arange(1, h + 1))


class SeasonalProfile(_RunningModel):
    """Robust time-of-day profile with day-of-week offsets.

    Each time-of-day slot holds an exponentially weighted mean over days
    (``day_half_life`` days), of values clipped to ``clip`` running
    absolute deviations around it, so that an odd busy day moves the
    profile little. A day-of-week offset, learned the same way from what
    the time-of-day profile leaves, captures weekly cycles once a few weeks
    are seen. The forecast for a time is its slot plus its weekday offset.
    """

    name = 'seasonal_profile'
    MIN_OBSERVED = 288

    def __init__(self, day_half_life=7.0, clip=3.0):
        if day_half_life <= 0 or clip <= 0:
            raise exception.InvalidParameter(
                name='day_half_life/clip', value=(day_half_life, clip),
                reason='both must be positive')
        self.day_half_life = float(day_half_life)
        self.clip = float(clip)

    def _params(self):
        return {'day_half_life': self.day_half_life, 'clip': self.clip}

    def _arrays(self):
        return ('slot_mean_', 'slot_dev_', 'slot_seen_', 'weekday_',
                'weekday_seen_')

    def _init(self, n):
        slots = DAY // self.step_
        self.slot_mean_ = np.zeros((n, slots))
        self.slot_dev_ = np.zeros((n, slots))
        self.slot_seen_ = np.zeros((n, slots), dtype=int)
        self.weekday_ = np.zeros((n, 7))
        self.weekday_seen_ = np.zeros((n, 7), dtype=int)

    def _where(self, t):
        return int((t % DAY) // self.step_), int((t // DAY + 3) % 7)

    def _step(self, t, values, seen):
        slot, weekday = self._where(t)
        mean = self.slot_mean_[:, slot]
        dev = self.slot_dev_[:, slot]
        count = self.slot_seen_[:, slot]
        offset = self.weekday_[:, weekday]
        known = count > 0
        forecast = np.where(known, mean + offset, np.nan)
        alpha = 1.0 - 0.5 ** (1.0 / self.day_half_life)
        later = seen & known
        # The first few days of a slot are taken as they come; after that
        # a value far from the slot's mean counts only up to ``clip``
        # deviations.
        diff = np.where(later, values - mean, 0.0)
        limit = self.clip * np.maximum(dev, 1e-9)
        diff = np.where(count >= 3, np.clip(diff, -limit, limit), diff)
        first = seen & ~known
        self.slot_mean_[:, slot] = np.where(first, values,
                                            mean + alpha * diff)
        self.slot_dev_[:, slot] = dev + np.where(
            later, alpha * (np.abs(diff) - dev), 0.0)
        self.slot_seen_[:, slot] = count + seen
        # Weekday offset from what the time-of-day profile leaves.
        beta = 0.1 / (1.0 + self.weekday_seen_[:, weekday] / 288.0)
        self.weekday_[:, weekday] = offset + np.where(
            later, beta * (diff - offset), 0.0)
        self.weekday_seen_[:, weekday] += later
        return forecast

    def _point(self, h):
        times = self.end_ + self.step_ * np.arange(h)
        slots = (times % DAY) // self.step_
        weekdays = (times // DAY + 3) % 7
        # Day-of-week offsets count only once two weeks have been seen.
        weekly = (self.observed_ >= 2 * WEEK // self.step_)[:, None]
        offset = np.where(weekly, self.weekday_[:, weekdays], 0.0)
        profile = self.slot_mean_[:, slots]
        unseen = self.slot_seen_[:, slots] == 0
        if np.any(unseen):
            overall = np.where(self.slot_seen_ > 0, self.slot_mean_, np.nan)
            with np.errstate(all='ignore'):
                fill = np.nan_to_num(np.nanmean(overall, axis=1), nan=0.0)
            profile = np.where(unseen, fill[:, None], profile)
        return profile + offset


def gaussian_quantiles(point, sigma, levels):
    """Quantiles (n, h, q) of normal distributions around ``point``."""
    z = stats.norm.ppf(np.asarray(levels, dtype=float))
    return point[:, :, None] + np.asarray(sigma)[..., None] * z


class SeasonalPersistence(SeasonalProfile):
    """The last value, moved along the seasonal profile.

    Forecast for a later time: the last observed value plus the profile's
    change from the last observed time to that time, so that a guest whose
    day has a shape is predicted to follow it from where it is now.
    """

    name = 'seasonal_persistence'
    MIN_OBSERVED = 12

    def _arrays(self):
        return super()._arrays() + ('last_', 'last_profile_')

    def _init(self, n):
        super()._init(n)
        self.last_ = np.full(n, np.nan)
        self.last_profile_ = np.full(n, np.nan)

    def _step(self, t, values, seen):
        slot = self._where(t)[0]
        profile_now = np.where(self.slot_seen_[:, slot] > 0,
                               self.slot_mean_[:, slot], np.nan)
        forecast = self.last_ + np.nan_to_num(profile_now -
                                              self.last_profile_)
        super()._step(t, values, seen)
        self.last_ = np.where(seen, values, self.last_)
        self.last_profile_ = np.where(seen, self.slot_mean_[:, slot],
                                      self.last_profile_)
        return forecast

    def _point(self, h):
        times = self.end_ + self.step_ * np.arange(h)
        slots = (times % DAY) // self.step_
        ahead = np.where(self.slot_seen_[:, slots] > 0,
                         self.slot_mean_[:, slots], np.nan)
        change = np.nan_to_num(ahead - self.last_profile_[:, None])
        return np.nan_to_num(self.last_, nan=0.0)[:, None] + change

    def _spread_growth(self, h):
        return np.sqrt(np.arange(1, h + 1))
