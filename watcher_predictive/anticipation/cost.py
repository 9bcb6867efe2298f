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

"""What a task costs, how sure a forecast is, and when nothing may run.

A live migration copies the guest's memory while the guest keeps writing
to it; the pages dirtied during a round are copied again in the next. With
a dirty rate ``r`` (as a share of the link bandwidth) the copied volume is
about ``memory / (1 - r)``. The dirty rate follows the guest's activity:
we take it as ``DIRTY_SHARE`` times its CPU use as a share of its vCPUs,
so the same guest costs several times more to move when busy than idle.
The replay measures the same proxy on what the guest really did, so the
engine's estimate and the reported cost are in one unit: GiB copied.
"""

import numpy as np

# Dirty rate, as a share of the migration bandwidth, of a guest at full
# CPU: a busy guest dirties pages almost as fast as they are copied.
DIRTY_SHARE = 0.8
# A resize is a cold migration and a reboot: counted as its memory plus a
# fixed amount for the reboot, in the same unit (GiB copied).
RESIZE_REBOOT_COST = 2.0


def migration_cost(memory_mb, cpu_share, memory_share=1.0):
    """Proxy of a live migration's cost, in GiB copied.

    :param memory_mb: memory of the guest (MiB)
    :param cpu_share: CPU use as a share of the vCPUs during the migration
        (array or scalar, in [0, 1])
    :param memory_share: share of the memory the guest uses (a guest that
        never touched its memory has little to copy)
    """
    share = np.clip(np.asarray(cpu_share, dtype=float), 0.0, 1.0)
    used = np.clip(np.asarray(memory_share, dtype=float), 0.05, 1.0)
    return memory_mb / 1024.0 * used / (1.0 - DIRTY_SHARE * share)


def resize_cost(memory_mb):
    return RESIZE_REBOOT_COST + memory_mb / 1024.0


def throttle_cost(denied_vcpu_seconds):
    """CPU a throttle denies the guest, in vCPU-hours (at least 0.01)."""
    return max(float(denied_vcpu_seconds) / 3600.0, 0.01)


def forecast_confidence(quantiles, levels, vcpus, fallback=None):
    """Confidence of each instance's forecast, in [0, 1].

    One minus the mean width of the central 80 % interval as a share of
    the vCPUs: a forecast that says "anything from idle to full" is worth
    nothing to plan on. A fallback forecast (its model could not be
    fitted) has confidence 0.
    """
    levels = np.asarray(levels, dtype=float)
    lo = int(np.argmin(np.abs(levels - 0.1)))
    hi = int(np.argmin(np.abs(levels - 0.9)))
    width = quantiles[:, :, hi] - quantiles[:, :, lo]
    vcpus = np.maximum(np.asarray(vcpus, dtype=float), 1e-6)
    confidence = 1.0 - np.clip(width.mean(axis=1) / vcpus, 0.0, 1.0)
    if fallback is not None:
        confidence = np.where(np.asarray(fallback, dtype=bool), 0.0,
                              confidence)
    return confidence


def blackout_mask(start, step, steps, windows):
    """Bool per step: True where the step overlaps a daily blackout.

    :param windows: (start, end) seconds after midnight UTC; ``end``
        before ``start`` wraps past midnight.
    """
    times = start + step * np.arange(steps, dtype=np.int64)
    mask = np.zeros(steps, dtype=bool)
    for begin, end in windows:
        for offset in range(0, step, 60):
            second = (times + offset) % 86400
            if begin <= end:
                mask |= (second >= begin) & (second < end)
            else:
                mask |= (second >= begin) | (second < end)
    return mask


def parse_blackout(text):
    """``'HH:MM-HH:MM'`` (UTC) -> (start, end) seconds after midnight."""
    from watcher_predictive import exception
    try:
        first, second = text.split('-')
        values = []
        for part in (first, second):
            hours, minutes = part.strip().split(':')
            hours, minutes = int(hours), int(minutes)
            if not (0 <= hours <= 24 and 0 <= minutes < 60) or (
                    hours == 24 and minutes):
                raise ValueError(part)
            values.append(hours * 3600 + minutes * 60)
    except (AttributeError, ValueError):
        raise exception.InvalidParameter(
            name='blackout_windows', value=text,
            reason='give daily UTC windows as HH:MM-HH:MM, for example '
                   '08:00-18:00 or 22:00-02:00')
    if values[0] == values[1]:
        raise exception.InvalidParameter(
            name='blackout_windows', value=text,
            reason='the window is empty; its start and end differ')
    return tuple(values)
