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
over instances (:class:`.running.RunningModel`).

Their own intervals are Gaussian, from a running mean of their absolute
one-step errors, widened with the horizon as suits each model. The
ensemble calibrates its intervals on what it observes; these are the
members' own, used alone or before the ensemble has calibrated.
"""

import numpy as np

from watcher_predictive import exception
from watcher_predictive.profiler import running
from watcher_predictive.profiler import slot_profile

DAY = 86400
WEEK = 7 * DAY


class LastValue(running.RunningModel):
    """Persistence: the last observed value, held flat."""

    name = 'last_value'

    def _arrays(self):
        return ('last_',)

    def _init(self, n):
        self.last_ = np.full(n, np.nan)

    def _forecasts(self, values, seen):
        forecast, self.last_ = slot_profile.forward_fill(values, seen,
                                                         self.last_)
        return forecast

    def _point(self, h):
        last = np.nan_to_num(self.last_, nan=0.0)
        return np.repeat(last[:, None], h, axis=1)

    def _spread_growth(self, h):
        return np.sqrt(np.arange(1, h + 1))


class MovingAverage(running.RunningModel):
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


class ExponentialMovingAverage(running.RunningModel):
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
        level = self.level_
        fresh = seen & np.isnan(level)
        grow = seen & ~fresh
        self.level_ = np.where(fresh, values, np.where(
            grow, level + alpha * (values - level), level))
        return forecast

    def _point(self, h):
        level = np.nan_to_num(self.level_, nan=0.0)
        return np.repeat(level[:, None], h, axis=1)

    def _spread_growth(self, h):
        return np.sqrt(np.arange(1, h + 1))


def _slot_array(name):
    """A property showing a slot-major array of the shared recursion as
    (instances, slots), the layout of the state.
    """
    def get(self):
        return getattr(self.slots_, name).T

    def set(self, value):
        setattr(self.slots_, name, np.ascontiguousarray(np.asarray(
            value, dtype=getattr(self.slots_, name).dtype).T))
    return property(get, set)


class SeasonalProfile(running.RunningModel):
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

    def share(self, registry, count=True):
        """Learn the profile together with the other models given the
        same ``registry`` (a dict), which must learn the same history:
        the recursion then runs once for all of them. Every model sharing
        it is counted (``count``) before any of them is fitted.
        """
        self._registry = registry
        if count:
            registry['sharers'] = registry.get('sharers', 0) + 1

    def _init(self, n):
        registry = getattr(self, '_registry', None)
        key = (n, self.step_, self.day_half_life, self.clip)
        core = registry.get(key) if registry is not None else None
        if core is None or not core.can_share(self.end_):
            core = slot_profile.SlotRecursion(n, self.step_,
                                              self.day_half_life, self.clip)
            if registry is not None:
                core.remember = True
                core.users = registry.get('sharers', 1)
                registry[key] = core
        self.slots_ = core

    # Per-instance views of the slot-major arrays, (instances, slots).
    slot_mean_ = _slot_array('mean')
    slot_dev_ = _slot_array('dev')
    slot_seen_ = _slot_array('seen')
    weekday_ = _slot_array('weekday')
    weekday_seen_ = _slot_array('weekday_seen')

    def _forecasts(self, values, seen):
        return self.slots_.advance(values, self.end_)[0]

    def instance_states(self, profile=True):
        """``instance_state`` of every instance, in order."""
        return super().instance_states(
            skip=() if profile else SeasonalProfile._arrays(self))

    def instance_state(self, i, profile=True):
        """``profile=False`` leaves out the profile's arrays, for a model
        that shares them with another one already described.
        """
        return super().instance_state(
            i, skip=() if profile else SeasonalProfile._arrays(self))

    def baseline(self, start, n_steps):
        """The profile's slot means at ``n_steps`` steps from ``start``,
        (instances, steps), without weekday offsets.
        """
        times = start + self.step_ * np.arange(n_steps, dtype=np.int64)
        return self.slots_.mean[(times % DAY) // self.step_].T

    def _point(self, h):
        times = self.end_ + self.step_ * np.arange(h)
        slots = (times % DAY) // self.step_
        weekdays = (times // DAY + 3) % 7
        core = self.slots_
        # Day-of-week offsets count only once two weeks have been seen.
        weekly = (self.observed_ >= 2 * WEEK // self.step_)[:, None]
        offset = np.where(weekly, core.weekday[weekdays].T, 0.0)
        profile = core.mean[slots].T
        unseen = core.seen[slots].T == 0
        gaps = np.flatnonzero(unseen.any(axis=1))
        if gaps.size:
            # The mean of the slots seen, for the instances missing some.
            seen = core.seen[:, gaps] > 0
            total = np.where(seen, core.mean[:, gaps], 0.0).sum(axis=0)
            count = seen.sum(axis=0)
            fill = np.where(count > 0, total / np.maximum(count, 1), 0.0)
            profile[gaps] = np.where(unseen[gaps], fill[:, None],
                                     profile[gaps])
        return profile + offset


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

    def _forecasts(self, values, seen):
        _, before, after = self.slots_.advance(values, self.end_)
        forecast, self.last_ = slot_profile.forward_fill(values, seen,
                                                         self.last_)
        last_profile, self.last_profile_ = slot_profile.forward_fill(
            after, seen, self.last_profile_)
        # In place: the forecast is the last value plus the profile's
        # change since it was seen.
        np.subtract(before, last_profile, out=last_profile)
        forecast += np.nan_to_num(last_profile, copy=False)
        return forecast

    def _point(self, h):
        times = self.end_ + self.step_ * np.arange(h)
        slots = (times % DAY) // self.step_
        core = self.slots_
        ahead = np.where(core.seen[slots] > 0, core.mean[slots], np.nan).T
        change = np.nan_to_num(ahead - self.last_profile_[:, None])
        return np.nan_to_num(self.last_, nan=0.0)[:, None] + change

    def _spread_growth(self, h):
        return np.sqrt(np.arange(1, h + 1))
