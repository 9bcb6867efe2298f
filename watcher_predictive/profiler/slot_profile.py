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

"""The robust time-of-day profile recursion, shared by several models.

The seasonal profile, the seasonal persistence, the seasonal ARIMA's
baseline and the bursts' baseline all learn the same profile from the
same history. :class:`SlotRecursion` runs it once: each model asks it to
``advance`` over the steps it is learning, and a model asking for steps
that another one has just learnt gets the recorded result instead of a
second pass. Models that share it are linked by the ensemble (see
``SeasonalProfile.share``); alone, each model has its own.

The arrays are slot-major, ``(slots, instances)``: one step reads and
writes one contiguous row per array, where instance-major arrays would
touch one cache line per instance. Within one UTC day every step has its
own slot and the same weekday, so the slot statistics of consecutive steps
of a day are updated at once, ``(steps, instances)``, by up to
``STEPS_AT_ONCE`` steps; only the weekday offsets, which every step of the
day updates, are followed step by step.
The arithmetic is the one of the step-by-step recursion, element by
element, so results do not depend on how the steps are grouped.
"""

import numpy as np

from watcher_predictive import exception

DAY = 86400
# Steps of a day updated at once: enough to vectorise, few enough that
# the temporaries of many instances stay in the caches (a whole day of
# 10,000 instances is 23 MB per array, and takes twice as long).
STEPS_AT_ONCE = 12


class SlotRecursion:
    """Slot means, deviations and weekday offsets of many instances."""

    def __init__(self, n, step, day_half_life, clip):
        slots = DAY // step
        self.step = int(step)
        self.day_half_life = float(day_half_life)
        self.clip = float(clip)
        self.mean = np.zeros((slots, n))
        self.dev = np.zeros((slots, n))
        self.seen = np.zeros((slots, n), dtype=int)
        self.weekday = np.zeros((7, n))
        self.weekday_seen = np.zeros((7, n), dtype=int)
        self.end = None
        # Shared recursions remember their last result for the models
        # that ask for the same steps next.
        self.remember = False
        self._last = None
        # Models sharing it: once all but the first have read the last
        # result, it is dropped (it is the size of the steps learnt).
        self.users = 1
        self._hits = 0

    def can_share(self, start):
        """Whether a model starting at ``start`` can learn through it."""
        return self.end is None or self.end == start or (
            self._last is not None and self._last[0] == start)

    def advance(self, values, start):
        """Learn ``values`` (steps, instances), the first at ``start``.

        :returns: ``(forecast, before, after)``, each (steps, instances):
            the profile's forecast of every step made before learning it
            (slot mean plus weekday offset, NaN for a slot never seen),
            the slot mean before the step (NaN if never seen), and after.
        """
        m = values.shape[0]
        if self.end is None:
            self.end = int(start)
        if m == 0:
            empty = np.empty((0, self.mean.shape[1]))
            return empty, empty, empty
        last = self._last
        if last is not None and last[0] == start and last[1] == m:
            self._hits += 1
            if self._hits >= self.users - 1:
                self._last = None
            return last[2]
        if start != self.end:
            raise exception.PredictiveError(
                'The seasonal profile has learnt up to %s, not %s: models '
                'sharing it must learn the same steps in turn.' % (
                    self.end, start))
        forecast = np.empty_like(values)
        before = np.empty_like(values)
        after = np.empty_like(values)
        i = 0
        while i < m:
            t = self.end
            slot = (t % DAY) // self.step
            count = min(m - i, DAY // self.step - slot, STEPS_AT_ONCE)
            self._day(values[i:i + count], slot, int((t // DAY + 3) % 7),
                      forecast[i:i + count], before[i:i + count],
                      after[i:i + count])
            self.end += count * self.step
            i += count
        if self.remember and self.users > 1:
            self._last = (int(start), m, (forecast, before, after))
            self._hits = 0
        return forecast, before, after

    def _day(self, values, slot, weekday, forecast, before, after):
        """Steps of one UTC day: consecutive slots, one weekday."""
        rows = slice(slot, slot + values.shape[0])
        mean = self.mean[rows]
        dev = self.dev[rows]
        count = self.seen[rows]
        seen = ~np.isnan(values)
        known = count > 0
        alpha = 1.0 - 0.5 ** (1.0 / self.day_half_life)
        later = seen & known
        # The first few days of a slot are taken as they come; after that
        # a value far from the slot's mean counts only up to ``clip``
        # deviations.
        diff = np.where(later, values - mean, 0.0)
        limit = self.clip * np.maximum(dev, 1e-9)
        diff = np.where(count >= 3, np.clip(diff, -limit, limit), diff)
        first = seen & ~known
        before[:] = np.where(known, mean, np.nan)
        new_mean = np.where(first, values, mean + alpha * diff)
        after[:] = new_mean
        self.mean[rows] = new_mean
        self.dev[rows] = dev + np.where(later, alpha * (np.abs(diff) - dev),
                                        0.0)
        self.seen[rows] = count + seen
        # Weekday offset from what the time-of-day profile leaves, step by
        # step: every step of the day moves it.
        offset = self.weekday[weekday].copy()
        offset_seen = self.weekday_seen[weekday].copy()
        beta = np.empty_like(offset)
        move = np.empty_like(offset)
        for k in range(values.shape[0]):
            # ``before`` is NaN where the slot was never seen.
            np.add(before[k], offset, out=forecast[k])
            # beta = 0.1 / (1 + seen / 288); the offset moves by
            # beta * (diff - offset) where the step was learnt (diff is
            # 0 elsewhere, and so is the move).
            np.divide(offset_seen, 288.0, out=beta)
            beta += 1.0
            np.divide(0.1, beta, out=beta)
            np.subtract(diff[k], offset, out=move)
            move *= beta
            move *= later[k]
            offset += move
            offset_seen += later[k]
        self.weekday[weekday] = offset
        self.weekday_seen[weekday] = offset_seen


def forward_fill(values, seen, initial):
    """Per column of ``values`` (steps, instances), the last value where
    ``seen`` strictly before each step, ``initial`` before the first.

    Returns it and the last value seen up to the end (the next
    ``initial``). Every step is the step before shifted down, except
    after a gap, where the value before it is carried on: only the steps
    after a gap are walked through, one contiguous row each.
    """
    m = values.shape[0]
    out = np.empty_like(values)
    if m == 0:
        return out, np.array(initial, dtype=values.dtype)
    out[0] = initial
    out[1:] = values[:-1]
    gap = ~seen
    for k in np.flatnonzero(gap[:-1].any(axis=1)):
        np.copyto(out[k + 1], out[k], where=gap[k])
    return out, np.where(seen[-1], values[-1], out[-1])
