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

"""Shared machinery of the historical averaging models (:mod:`.averaging`):
a fit is a replay of the series through ``update``, and every model keeps
a running mean of its absolute one-step errors for its own intervals.

A model learns steps through ``_forecasts`` (steps, instances), step-major
so that every step is one contiguous row; the default walks ``_step``
step by step, models that can do better override it.
"""

import numpy as np
from scipy import stats

from watcher_predictive import exception
from watcher_predictive.profiler import base

DAY = 86400
# Mean absolute error to standard deviation, for Gaussian errors.
MAE_TO_SIGMA = np.sqrt(np.pi / 2)
# Weight of the latest error in the running mean absolute error.
ERROR_RATE = 0.02
# Steps whose errors are weighed at once (bounds the temporaries).
ERROR_BLOCK = 288
# Instances whose errors are weighed at once.
ERROR_COLUMNS = 1024


class RunningModel(base.ForecastModel):
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
        self._start(y.shape[0], start, step)
        return self.update(y)

    def fit_steps(self, values, seen, start, step):
        """:meth:`fit` on step-major ``values`` (steps, instances), C
        ordered, and their non-NaN mask ``seen``: several models learning
        the same history share one transposed copy of it.
        """
        if step <= 0 or DAY % step:
            raise exception.InvalidParameter(
                name='step', value=step,
                reason='the step must divide a day (86400 s) evenly')
        self._start(values.shape[1], start, step)
        self.replay_steps(values, seen)
        return self

    def _start(self, n, start, step):
        self.step_ = int(step)
        self.end_ = int(start)
        self.observed_ = np.zeros(n, dtype=int)
        self.error_scale_ = np.zeros(n)
        self.errors_seen_ = np.zeros(n, dtype=int)
        self._init(n)
        self.fallback_ = np.ones(n, dtype=bool)

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
        # Step-major: every step is one contiguous row.
        values = np.ascontiguousarray(y_new.T)
        return self.replay_steps(values, ~np.isnan(values)).T

    def update_steps(self, values, seen):
        """:meth:`update` with step-major ``values`` (steps, instances), C
        ordered, and their non-NaN mask ``seen``; see :meth:`fit_steps`.
        """
        self.replay_steps(values, seen)
        return self

    def replay_steps(self, values, seen):
        """:meth:`replay` of step-major ``values`` and their mask; the
        forecasts are step-major too. Neither array is modified (the
        values are kept until their errors are weighed).
        """
        self._check_fitted()
        if values.ndim != 2 or values.shape[1] != self.observed_.size:
            raise exception.InvalidParameter(
                name='values', value=values.shape,
                reason='expected (steps, %d instances)' %
                       self.observed_.size)
        forecasts = self._forecasts(values, seen)
        # The error scale is brought up to date by blocks of a day: the
        # ensemble replays its validation days an hour at a time, and
        # asks only for medians meanwhile, which do not depend on it.
        self._pending.append((values, forecasts))
        self._pending_steps += values.shape[0]
        if self._pending_steps >= ERROR_BLOCK:
            self.flush_errors()
        self.observed_ += seen.sum(axis=0)
        self.end_ += values.shape[0] * self.step_
        self.fallback_ = self.observed_ < self.MIN_OBSERVED
        return forecasts

    def _forecasts(self, values, seen):
        """Learn ``values`` (steps, instances), the first at ``end_``, and
        return the one-step forecast of every step (steps, instances).
        """
        forecasts = np.empty_like(values)
        for k in range(values.shape[0]):
            forecasts[k] = self._step(self.end_ + k * self.step_, values[k],
                                      seen[k])
        return forecasts

    @property
    def error_scale_(self):
        self.flush_errors()
        return self._error_scale

    @error_scale_.setter
    def error_scale_(self, value):
        self.flush_errors()
        self._error_scale = value

    @property
    def errors_seen_(self):
        self.flush_errors()
        return self._errors_seen

    @errors_seen_.setter
    def errors_seen_(self, value):
        self.flush_errors()
        self._errors_seen = value

    def flush_errors(self):
        """Weigh the errors of the steps learnt since the last time."""
        pending = getattr(self, '_pending', None)
        if pending is None:
            self._pending, self._pending_steps = [], 0
        if not pending:
            return
        self._pending, self._pending_steps = [], 0
        if len(pending) == 1:
            values, forecasts = pending[0]
        else:
            values = np.concatenate([v for v, _ in pending])
            forecasts = np.concatenate([f for _, f in pending])
        del pending
        n = values.shape[1]
        # Written by blocks into new arrays (the old ones may be shared).
        self._error_scale = np.array(self._error_scale, dtype=float)
        self._errors_seen = np.array(self._errors_seen, dtype=int)
        for begin in range(0, values.shape[0], ERROR_BLOCK):
            block = slice(begin, begin + ERROR_BLOCK)
            # By blocks of instances too, so that the temporaries stay
            # in the caches (every instance is weighed on its own).
            for first in range(0, n, ERROR_COLUMNS):
                cols = slice(first, first + ERROR_COLUMNS)
                self._track_errors(values[block, cols],
                                   forecasts[block, cols], cols)

    def _track_errors(self, values, forecasts, cols=slice(None)):
        """Running mean absolute one-step error, over (steps, instances).

        Step by step it is ``scale += rate * (error - scale)`` at every
        step with an error, the rate 1 for an instance's first error and
        ``ERROR_RATE`` after: the closed form below weighs each error by
        its rate times ``(1 - ERROR_RATE)`` to the number of errors after
        it, without a loop over steps. ``values`` and ``forecasts`` are
        the instances ``cols`` (a slice) of the state's.
        """
        if values.shape[0] == 0:
            return
        error = np.subtract(values, forecasts)
        np.abs(error, out=error)
        ok = ~np.isnan(error)
        # Errors after each step, as indices into a table of powers.
        # (A running sum row by row: numpy accumulates along the first
        # axis of a C-ordered array one strided column at a time.)
        after = np.empty(ok.shape, dtype=np.intp)
        after[0] = ok[0]
        for k in range(1, ok.shape[0]):
            np.add(after[k - 1], ok[k], out=after[k])
        total = after[-1].copy()
        np.subtract(total, after, out=after)
        keep = 1.0 - ERROR_RATE
        powers = keep ** np.arange(values.shape[0] + 1)
        weight = powers.take(after)
        del after
        weight *= ERROR_RATE
        error[~ok] = 0.0
        summed = np.einsum('ij,ij->j', weight, error)
        seen_before = self._errors_seen[cols]
        fresh = (seen_before == 0) & (total > 0)
        if np.any(fresh):
            # An instance's first error counts with rate 1, not
            # ERROR_RATE.
            new = np.flatnonzero(fresh)
            first = np.argmax(ok[:, new], axis=0)
            summed[new] += (1.0 - ERROR_RATE) * powers[total[new] - 1] * \
                error[first, new]
        prior = np.where(fresh, 0.0,
                         powers.take(total) * self._error_scale[cols])
        self._error_scale[cols] = prior + summed
        self._errors_seen[cols] = seen_before + total

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        levels = self._check_predict(h, levels)
        point = self._point(h)
        if np.all(np.asarray(levels) == 0.5):
            # The median is the point forecast, whatever the error scale.
            return np.repeat(point[:, :, None], np.size(levels), axis=2)
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

    def instance_states(self, skip=()):
        """``instance_state`` of every instance, in order: the arrays are
        converted to lists once, not instance by instance.
        """
        columns = {'observed': self.observed_.tolist(),
                   'errors_seen': self.errors_seen_.tolist(),
                   'error_scale': self.error_scale_.tolist(),
                   'fallback': self.fallback_.tolist()}
        for name in self._arrays():
            if name not in skip:
                columns[name] = np.asarray(getattr(self, name)).tolist()
        return _rows(columns)

    def instance_state(self, i, skip=()):
        state = {'observed': int(self.observed_[i]),
                 'errors_seen': int(self.errors_seen_[i]),
                 'error_scale': float(self.error_scale_[i]),
                 'fallback': bool(self.fallback_[i])}
        for name in self._arrays():
            if name in skip:
                continue
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


def _rows(columns):
    """One dict per instance from a dict of per-instance lists."""
    keys = tuple(columns)
    return [dict(zip(keys, row)) for row in zip(*columns.values())]


def gaussian_quantiles(point, sigma, levels):
    """Quantiles (n, h, q) of normal distributions around ``point``."""
    z = stats.norm.ppf(np.asarray(levels, dtype=float))
    return point[:, :, None] + np.asarray(sigma)[..., None] * z
