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

"""Seasonal profile plus ARIMA on what it leaves.

The seasonal profile carries the daily (and weekly) shape; the ARIMA
models the departures from it, which are what make this hour unlike the
same hour of other days. Both are fitted for all instances at once.
"""

import numpy as np

from watcher_predictive.profiler import arima
from watcher_predictive.profiler import averaging
from watcher_predictive.profiler import base

# A small grid: the departures from a profile are short-memory, with level
# shifts that one difference absorbs.
DEFAULT_ORDERS = ((0, 0, 0), (1, 0, 0), (2, 0, 0), (1, 0, 1), (0, 1, 1),
                  (1, 1, 1))


class SeasonalARIMA(base.ForecastModel):
    name = 'seasonal_arima'
    STATE_VERSION = 1
    FITTED_ATTRIBUTE = 'arima_'
    UPDATE_EXACT = False
    UPDATE_TOLERANCE = arima.BatchedARIMA.UPDATE_TOLERANCE

    def __init__(self, orders=DEFAULT_ORDERS):
        self.orders = tuple(tuple(o) for o in orders)

    def share(self, registry):
        """Learn the seasonal profile with the other models given the same
        ``registry``; see ``averaging.SeasonalProfile.share``.
        """
        self._registry = registry
        registry['sharers'] = registry.get('sharers', 0) + 1

    def fit(self, y, start, step):
        self._fit_profile(np.asarray(y, dtype=float)[:, :0], start, step)
        departures = self._departures(y)
        self.arima_ = arima.BatchedARIMA(orders=self.orders).fit(
            departures, start, step)
        return self

    def fit_steps(self, values, seen, start, step):
        """:meth:`fit` on step-major values and their non-NaN mask, as
        :meth:`.running.RunningModel.fit_steps`.
        """
        self._fit_profile(values[:0].T, start, step)
        # The ARIMA works on (instances, steps), C ordered.
        departures = np.ascontiguousarray(
            (values - self.profile_.replay_steps(values, seen)).T)
        self.arima_ = arima.BatchedARIMA(orders=self.orders).fit(
            departures, start, step)
        return self

    def _fit_profile(self, empty, start, step):
        self.profile_ = averaging.SeasonalProfile()
        if getattr(self, '_registry', None) is not None:
            self.profile_.share(self._registry, count=False)
        self.profile_.fit(empty, start, step)

    def _departures(self, y):
        y = np.asarray(y, dtype=float)
        expected = self.profile_.replay(y)
        return y - expected

    def update_steps(self, values, seen):
        """:meth:`update` on step-major values and their non-NaN mask."""
        self._check_fitted()
        departures = values - self.profile_.replay_steps(values, seen)
        self.arima_.update(departures.T)
        return self

    def flush_errors(self):
        """Bring the profile's deferred error scale up to date."""
        self.profile_.flush_errors()

    def update(self, y_new):
        self._check_fitted()
        self.arima_.update(self._departures(y_new))
        return self

    @property
    def step_(self):
        return self.profile_.step_

    @property
    def end_(self):
        return self.profile_.end_

    @property
    def fallback_(self):
        return self.profile_.fallback_ | self.arima_.fallback_

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        levels = self._check_predict(h, levels)
        profile = self.profile_._point(h)
        departures = self.arima_.predict(h, levels)
        return np.sort(profile[:, :, None] + departures, axis=-1)

    def get_state(self):
        self._check_fitted()
        return {'model': self.name, 'version': self.STATE_VERSION,
                'params': {'orders': [list(o) for o in self.orders]},
                'profile': self.profile_.get_state(),
                'arima': self.arima_.get_state()}

    def instance_states(self, profile=True):
        """``instance_state`` of every instance, in order."""
        return [{'profile': p, 'arima': a} for p, a in zip(
            self.profile_.instance_states(profile),
            self.arima_.instance_states())]

    def instance_state(self, i, profile=True):
        return {'profile': self.profile_.instance_state(i, profile),
                'arima': self.arima_.instance_state(i)}

    @classmethod
    def from_state(cls, state):
        model = cls(**state.get('params', {}))
        model._check_state(state)
        model.profile_ = averaging.SeasonalProfile.from_state(
            state['profile'])
        model.arima_ = arima.BatchedARIMA.from_state(state['arima'])
        return model
