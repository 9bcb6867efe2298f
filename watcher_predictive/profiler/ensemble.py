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

"""The ensemble: one predictive distribution from several models.

Members forecast medians; the ensemble combines them with weights learned
online, per horizon step, and puts calibrated quantiles around the
combination.

* **Weights.** Every ``origin_every`` steps (one hour by default) the
  ensemble records each member's median forecast for the next
  ``horizon_steps``. Once those steps have been observed, each member's
  absolute error (divided by the instance's error scale, so that busy and
  idle guests count alike) updates the weights of that horizon step by
  exponentiated gradient with learning rate ``learning_rate``, mixed with a
  small uniform share so that no member is ever ruled out for good.
* **Gate.** The median the ensemble gives, per instance, is the last
  value's, unless the mixture (the weighted combination) or one member
  has had, over the recent scorings, a lower mean error than the last
  value (:mod:`.gate`; ``gate`` is the number of standard errors that
  advantage must reach, 0 by default, None to always give the mixture).
  Bitbrains CPU moves like a random walk with lasting jumps, and no model
  beats the last value on most of those guests: the gate keeps exactly
  the last value there, and the mixture where it has been better.
* **Calibration.** The errors of the combined median, divided by the
  instance's scale, give per horizon step an empirical distribution; its
  quantiles (an exponentially weighted average of each scoring's quantiles
  over all instances) are added to the combined median, times the scale.
  This is split-conformal calibration done online: the intervals cover
  what they claim on recent data, whatever the members' own intervals say.

The defaults (learning rate 10, discount 0.97 per hourly scoring, share
0.001) were chosen on the Bitbrains trace's third week, never on its last
week, which the backtest holds out; the gate's (z = 0, discount 0.99,
24 scorings at least, one choice per instance) on the week before that
last week, on the first 100 VMs and on VMs 101 to 300.

``fit`` fits the members on all but the last ``validation_days`` and
replays those days through ``update``, which learns weights and
calibration as it goes; ``update`` goes on doing the same. A member whose
parameters are re-estimated only by ``fit`` makes a fit and a fit followed
by updates differ slightly: hence ``UPDATE_EXACT = False``.
"""

import numpy as np

from watcher_predictive import exception
from watcher_predictive.profiler import averaging
from watcher_predictive.profiler import base
from watcher_predictive.profiler import combination
from watcher_predictive.profiler import ensemble_state
from watcher_predictive.profiler import gate as gate_mod

CALIBRATION_LEVELS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7,
                      0.8, 0.9, 0.95, 0.98, 0.99)


def default_members():
    """Name -> factory of the default members."""
    members = {
        'last_value': averaging.LastValue,
        'ema': averaging.ExponentialMovingAverage,
        'seasonal_persistence': averaging.SeasonalPersistence,
        'seasonal_profile': averaging.SeasonalProfile,
    }
    try:
        from watcher_predictive.profiler import composite
    except ImportError:  # the seasonal ARIMA member is optional
        return members
    members['seasonal_arima'] = composite.SeasonalARIMA
    return members


class Ensemble(base.ForecastModel):
    name = 'ensemble'
    STATE_VERSION = 1
    FITTED_ATTRIBUTE = 'members_'
    UPDATE_EXACT = False
    # Forecasts after updates agree with a full fit within this share of
    # the series' standard deviation (the members' re-estimation).
    UPDATE_TOLERANCE = 0.5

    def __init__(self, members=None, horizon_steps=12, origin_every=12,
                 validation_days=7.0, learning_rate=10.0, discount=0.97,
                 calibration_rate=0.1, share=0.001, gate=0.0,
                 gate_discount=0.99, gate_min_scorings=24,
                 gate_by_step=False, reference='last_value'):
        if horizon_steps < 1 or origin_every < 1:
            raise exception.InvalidParameter(
                name='horizon_steps/origin_every',
                value=(horizon_steps, origin_every),
                reason='both must be at least one step')
        if not 0 < calibration_rate <= 1 or not 0 <= share < 1:
            raise exception.InvalidParameter(
                name='calibration_rate/share',
                value=(calibration_rate, share),
                reason='calibration_rate in (0, 1], share in [0, 1)')
        self.member_names = tuple(members or default_members())
        self.horizon_steps = int(horizon_steps)
        self.origin_every = int(origin_every)
        self.validation_days = float(validation_days)
        self.learning_rate = float(learning_rate)
        self.discount = float(discount)
        self.calibration_rate = float(calibration_rate)
        self.share = float(share)
        self.gate = None if gate is None else float(gate)
        self.gate_discount = float(gate_discount)
        self.gate_min_scorings = int(gate_min_scorings)
        self.gate_by_step = bool(gate_by_step)
        self.reference = reference
        if self.gate is not None:
            self._make_gate(0)

    def _params(self):
        return {'members': list(self.member_names),
                'horizon_steps': self.horizon_steps,
                'origin_every': self.origin_every,
                'validation_days': self.validation_days,
                'learning_rate': self.learning_rate,
                'discount': self.discount,
                'calibration_rate': self.calibration_rate,
                'share': self.share, 'gate': self.gate,
                'gate_discount': self.gate_discount,
                'gate_min_scorings': self.gate_min_scorings,
                'gate_by_step': self.gate_by_step,
                'reference': self.reference}

    def _make_gate(self, n):
        if self.reference not in self.member_names:
            raise exception.InvalidParameter(
                name='reference', value=self.reference,
                reason='the gate needs a reference among the members %s'
                       % ', '.join(self.member_names))
        return gate_mod.SignificanceGate(
            self.member_names.index(self.reference), self.gate,
            self.gate_discount, self.gate_min_scorings,
            self.gate_by_step).start(len(self.member_names) + 1, n,
                                     self.horizon_steps)

    def _factories(self):
        known = default_members()
        unknown = [m for m in self.member_names if m not in known]
        if unknown:
            raise exception.InvalidParameter(
                name='members', value=unknown,
                reason='known members are %s' % ', '.join(known))
        return [known[m] for m in self.member_names]

    # -- learning ----------------------------------------------------------

    def fit(self, y, start, step):
        y = np.asarray(y, dtype=float)
        if y.ndim != 2:
            raise exception.InvalidParameter(
                name='y', value=y.shape,
                reason='expected an array shaped (instances, steps)')
        n, t = y.shape
        k, h = len(self.member_names), self.horizon_steps
        validation = int(self.validation_days * 86400 // step)
        split = max(t - validation, min(t, 2 * 86400 // step))
        self.step_ = int(step)
        members = [f() for f in self._factories()]
        # Members built on the same seasonal profile learn it once.
        shared = {}
        for member in members:
            if hasattr(member, 'share'):
                member.share(shared)
        # Members that can learn step-major values share one transposed
        # copy of the history (and of every chunk ``update`` replays).
        head = y[:, :split]
        values = np.ascontiguousarray(head.T)
        seen = ~np.isnan(values)
        self.members_ = [
            m.fit_steps(values, seen, start, step)
            if hasattr(m, 'fit_steps') else m.fit(head, start, step)
            for m in members]
        del values, seen
        self.end_ = int(start + split * step)
        # Member-major, (members, instances, steps): every member's row is
        # contiguous. ``weights_`` and ``loss_`` show them (instances,
        # steps, members).
        self._weights = np.full((k, n, h), 1.0 / k)
        self._mix = self._weights
        self._loss = np.zeros((k, n, h))
        self._gate = None if self.gate is None else self._make_gate(n)
        self.calibration_ = np.zeros((h, len(CALIBRATION_LEVELS)))
        self.scale_ = np.zeros(n)
        self.scored_ = 0
        self.scored_instances_ = np.zeros(n, dtype=int)
        self.pending_ = []
        self.recent_ = np.full((n, h + self.origin_every), np.nan)
        self.update(y[:, split:])
        # Members that defer work on what they learnt catch up now, so
        # that a fitted ensemble holds nothing of its history.
        for member in self.members_:
            if hasattr(member, 'flush_errors'):
                member.flush_errors()
        return self

    def update(self, y_new):
        self._check_fitted()
        y_new = np.asarray(y_new, dtype=float)
        i = 0
        while i < y_new.shape[1]:
            index = self.end_ // self.step_
            if index % self.origin_every == 0:
                self._issue()
            chunk = self.origin_every - index % self.origin_every
            part = y_new[:, i:i + chunk]
            values = np.ascontiguousarray(part.T)
            seen = ~np.isnan(values)
            for member in self.members_:
                if hasattr(member, 'update_steps'):
                    member.update_steps(values, seen)
                else:
                    member.update(part)
            self._observe(part)
            self.end_ += part.shape[1] * self.step_
            i += part.shape[1]
        return self

    def _issue(self):
        """Record the members' medians for the next horizon."""
        medians = np.stack([m.predict(self.horizon_steps, (0.5,))[:, :, 0]
                            for m in self.members_])
        self.pending_.append([self.end_, medians])

    def _observe(self, part):
        """Keep the last values and score the forecasts they complete."""
        h = self.horizon_steps
        kept = self.recent_.shape[1]
        self.recent_ = np.concatenate([self.recent_, part], axis=1)[:, -kept:]
        now = self.end_ + part.shape[1] * self.step_
        still = []
        for issued, medians in self.pending_:
            offset = (now - issued) // self.step_
            if offset < h:
                still.append([issued, medians])
                continue
            # The kept values cover the last ``kept`` steps; a forecast is
            # complete at most ``origin_every`` steps before now.
            start = kept - offset
            self._score(medians, self.recent_[:, start:start + h])
        self.pending_ = still

    def _score(self, medians, truth):
        seen = ~np.isnan(truth)
        if not np.any(seen):
            return
        combined = combination.combine(self._weights, medians)
        error = truth - combined
        # Instance scale: running mean absolute error of the combination.
        abs_err = np.abs(np.where(seen, error, 0.0))
        counted = seen.sum(axis=1)
        has = counted > 0
        batch_scale = abs_err.sum(axis=1) / np.maximum(counted, 1)
        first = has & (self.scored_instances_ == 0)
        self.scale_[first] = batch_scale[first]
        later = has & ~first
        self.scale_[later] += 0.1 * (batch_scale[later] - self.scale_[later])
        self.scored_instances_[has] += 1
        scale = np.maximum(self.scale_, 1e-6)[:, None]
        # Weights, per instance and horizon step: exponential weights on
        # each member's discounted cumulative absolute error (scaled), so
        # that the members that have lately forecast this guest best at
        # this horizon dominate, and a change of behaviour is followed.
        member_loss = np.subtract(truth[None], medians)
        np.abs(member_loss, out=member_loss)
        member_loss /= scale[None]
        member_loss[np.isnan(member_loss)] = 0.0
        self._loss *= self.discount
        self._loss += member_loss
        if self._gate is not None:
            # The mixture is a candidate too, whatever the gate chose.
            mixed = np.abs(truth - combination.combine(
                self._mix, medians)) / scale
            mixed[np.isnan(mixed)] = 0.0
            self._gate.observe(np.concatenate([member_loss, mixed[None]]),
                               seen)
        self._weights = self._weights_from_loss()
        # Calibration: quantiles of the scaled errors per horizon step.
        z = np.where(seen, error / scale, np.nan)
        # A horizon step nobody observed is all-NaN: skipped below.
        batch = combination.column_quantiles(z, CALIBRATION_LEVELS)
        ok = ~np.isnan(batch[:, 0])
        rate = 1.0 if self.scored_ == 0 else self.calibration_rate
        self.calibration_[ok] += rate * (batch[ok] - self.calibration_[ok])
        self.scored_ += 1

    def _weights_from_loss(self):
        """The weights: the mixture's, or those the gate chose."""
        self._mix = self._mixture()
        if self._gate is None:
            return self._mix
        return self._gate.weights(self._mix)

    def _mixture(self):
        loss = self._loss
        k = loss.shape[0]
        weights = loss - np.minimum.reduce(loss, axis=0)
        weights *= -self.learning_rate
        np.exp(weights, out=weights)
        weights /= np.add.reduce(weights, axis=0)
        weights *= 1 - self.share
        weights += self.share / k
        return weights

    @property
    def weights_(self):
        """Weights (instances, horizon steps, members)."""
        return np.moveaxis(self._weights, 0, 2)

    @property
    def mixture_(self):
        """The mixture's weights (instances, horizon steps, members),
        whatever the gate chose.
        """
        return np.moveaxis(self._mix, 0, 2)

    @property
    def loss_(self):
        """Discounted losses (instances, horizon steps, members)."""
        return np.moveaxis(self._loss, 0, 2)

    # -- forecasting -------------------------------------------------------

    @property
    def fallback_(self):
        self._check_fitted()
        fallback = np.zeros(self.scale_.size, dtype=bool)
        for member in self.members_:
            if member.name == 'seasonal_profile':
                fallback |= member.fallback_
        return fallback | (self.scored_instances_ == 0)

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        levels = self._check_predict(h, levels)
        medians = np.stack([m.predict(h, (0.5,))[:, :, 0]
                            for m in self.members_])
        steps = np.minimum(np.arange(h), self.horizon_steps - 1)
        combined = combination.combine(self._weights[:, :, steps], medians)
        grid = np.asarray(CALIBRATION_LEVELS)
        table = np.sort(self.calibration_[steps], axis=1)
        # The combination is the median forecast: the calibrated spread is
        # centred on it (a pooled bias correction would move every guest
        # by what is typical of all of them).
        table -= np.stack([np.interp(0.5, grid, row) for row in table])[
            :, None]
        z = np.stack([np.interp(levels, grid, row) for row in table])
        # Beyond the calibrated horizon, widen as a random walk would.
        growth = np.sqrt(np.maximum(1.0, (np.arange(h) + 1) /
                                    self.horizon_steps))
        quantiles = combined[:, :, None] + self.scale_[:, None, None] * \
            z[None] * growth[None, :, None]
        uncalibrated = self.scored_instances_ == 0
        if np.any(uncalibrated):
            members = np.stack([m.predict(h, levels) for m in self.members_])
            quantiles[uncalibrated] = members[:, uncalibrated].mean(axis=0)
        return np.sort(np.maximum(quantiles, 0.0), axis=-1)

    def peak(self, level=0.95):
        """Predicted peak over the next day, per instance, at ``level``."""
        day = max(1, 86400 // self.step_)
        return self.predict(day, (level,))[:, :, 0].max(axis=1)

    # -- state -------------------------------------------------------------

    def instance_state(self, i):
        """What the profile of one instance keeps of this ensemble."""
        return {
            'weights': dict(zip(self.member_names,
                                self._weights[:, i].mean(axis=1).round(4)
                                .tolist())),
            'scale': float(self.scale_[i]),
            'scored': int(self.scored_instances_[i]),
            'fallback': bool(self.fallback_[i]),
            'members': self._member_states(i),
        }

    def instance_states(self):
        """``instance_state`` of every instance, in order, each array
        converted to lists once.
        """
        return ensemble_state.instance_states(self)

    def _member_states(self, i):
        return ensemble_state.member_states(self, i)

    def get_state(self):
        self._check_fitted()
        return ensemble_state.get_state(self)

    @classmethod
    def from_state(cls, state):
        model = cls(**dict(state.get('params', {})))
        model._check_state(state)
        return ensemble_state.restore(model, state)
