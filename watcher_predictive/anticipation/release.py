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

"""Release probability and lull windows, from a predictive distribution.

An instance *releases* its CPU when its use falls below the lull level and
stays there long enough for a management task. From the forecast quantiles
we get, for every step, the probability that CPU is below the lull level.
For a window of several steps we take the smallest of those probabilities:
exact when the guest's deviations from its forecast persist across the
window (which is what busy and idle stretches do), and never more
optimistic than the least likely step. The release probability of an
instance is the best such window within its horizon, and that window is
its predicted lull.
"""

import numpy as np
from numpy.lib import stride_tricks

from watcher_predictive import exception


def lull_probability(cpu_forecast, vcpus, lull_level):
    """P(CPU below ``lull_level`` of the vCPUs), per instance and step.

    :param cpu_forecast: :class:`Forecast` of the ``cpu`` resource, in vCPUs
    :param vcpus: array (instances,) of allocated vCPUs
    :param lull_level: fraction of the vCPUs, in (0, 1]
    """
    if not 0 < lull_level <= 1:
        raise exception.InvalidParameter(
            name='lull_level', value=lull_level,
            reason='a fraction of the instance\'s vCPUs in (0, 1]')
    vcpus = np.asarray(vcpus, dtype=float)
    if np.any(vcpus <= 0):
        raise exception.InvalidParameter(
            name='vcpus', value=vcpus[vcpus <= 0].tolist(),
            reason='every instance needs at least one vCPU')
    return cpu_forecast.probability_below((vcpus * lull_level)[:, None])


def best_lull(probability, duration_steps, horizon_steps=None):
    """Release probability and start step of the best lull per instance.

    :param probability: (instances, steps) from :func:`lull_probability`
    :param duration_steps: steps the lull must last
    :param horizon_steps: optional (instances,) limit of each instance's
        horizon in steps; windows must end within it
    :returns: ``(release_probability, start_step)``, start_step is -1 where
        no window fits in the horizon
    """
    probability = np.asarray(probability, dtype=float)
    n, h = probability.shape
    duration_steps = int(duration_steps)
    if duration_steps < 1:
        raise exception.InvalidParameter(
            name='duration_steps', value=duration_steps,
            reason='a task lasts at least one step')
    if horizon_steps is None:
        horizon_steps = np.full(n, h)
    horizon_steps = np.minimum(np.asarray(horizon_steps, dtype=int), h)
    release = np.zeros(n)
    start = np.full(n, -1)
    if duration_steps > h or n == 0:
        return release, start
    windows = stride_tricks.sliding_window_view(
        probability, duration_steps, axis=1).min(axis=-1)
    # A window starting at s ends at s + duration; it must fit the horizon.
    starts = np.arange(windows.shape[1])
    fits = starts[None, :] + duration_steps <= horizon_steps[:, None]
    windows = np.where(fits, windows, -1.0)
    best = np.argmax(windows, axis=1)
    value = windows[np.arange(n), best]
    ok = value >= 0
    release[ok] = value[ok]
    start[ok] = best[ok]
    return release, start
