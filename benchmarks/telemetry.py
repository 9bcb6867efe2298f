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

"""Seeded synthetic telemetry for the profiler benchmark.

The generator in ``watcher_predictive/simulation/generated.py`` derives
disk and network from CPU exactly; this one gives every resource its own
noise, bursts and gaps, closer to what the profiler meets in a cloud.
"""

import numpy as np
from scipy import signal

from watcher_predictive.profiler import history as history_mod

DAY = 86400
HOUR = 3600
# The generated histories end on Monday 2026-01-05 00:00 UTC.
END = 1767571200
# Guests younger than this many steps are skipped by the profiler; 1 % of
# the generated guests are.
MIN_HISTORY = 288
KINDS = ('office', 'web', 'batch', 'bursty', 'idle')
KIND_SHARE = (0.3, 0.2, 0.15, 0.1, 0.25)
BURSTS_PER_DAY = (0.3, 0.3, 0.3, 6.0, 0.05)
MAX_BURST_STEPS = 6
GAP_SHARE = 0.002
NEW_GUEST_SHARE = 0.01
CHUNK = 250


def telemetry(n_instances, days=14, step=300, resources=None, seed=0):
    """Seeded history of ``n_instances`` guests of mixed kinds.

    Office hours (weekdays, in the guest's time zone), web (a smooth daily
    wave), nightly batch jobs, bursty and idle guests; AR(1) noise, bursts
    of one to six steps, memory that follows CPU slowly (a tenth of the
    guests leak), disk with heavy-tailed noise and nightly backups, network
    one step behind CPU. 0.2 % of the samples are missing and 1 % of the
    guests were created less than a day ago. Generated in chunks of
    ``CHUNK`` guests, each from its own seed, so memory stays near the
    size of the result.
    """
    resources = tuple(resources or history_mod.RESOURCES)
    n_steps = days * DAY // step
    start = END - n_steps * step
    times = start + step * np.arange(n_steps, dtype=np.int64)
    values = {r: np.empty((n_instances, n_steps)) for r in resources}
    for first in range(0, n_instances, CHUNK):
        rng = np.random.default_rng([seed, first])
        chunk = _guests(rng, min(CHUNK, n_instances - first), times, step)
        for r in resources:
            values[r][first:first + CHUNK] = chunk[r]
    ids = ['bench-%05d' % i for i in range(n_instances)]
    return history_mod.History(instance_ids=ids, start=int(start),
                               step=step, values=values)


def _guests(rng, n, times, step):
    t = times.size
    hour = (times % DAY) / HOUR
    weekend = ((times // DAY + 3) % 7) >= 5
    kind = rng.choice(len(KINDS), size=n, p=KIND_SHARE)
    vcpus = rng.choice([1, 2, 4, 8, 16], size=n,
                       p=[0.15, 0.35, 0.3, 0.15, 0.05])
    local = (hour[None, :] - rng.uniform(-3, 3, n)[:, None]) % 24
    office = (_rise(local - 8.0) * _rise(18.0 - local) *
              np.where(weekend, 0.25, 1.0))
    web = 0.5 * (1.0 - np.cos(2 * np.pi * (local - 4.0) / 24))
    job = ((local - rng.uniform(0, 4, n)[:, None]) % 24 <
           rng.uniform(1, 3, n)[:, None]).astype(float)
    k = kind[:, None]
    day_shape = np.select([k == 0, k == 1, k == 2], [office, web, job], 0.0)
    idle = kind == KINDS.index('idle')
    level = np.where(idle, rng.uniform(0.005, 0.03, n),
                     rng.uniform(0.03, 0.2, n))
    swing = np.where(idle, 0.0, rng.uniform(0.2, 0.7, n))
    noise = _ar1(rng, (n, t), 0.7) * (0.005 + 0.08 * level)[:, None]
    util = level[:, None] + swing[:, None] * day_shape + noise
    util = np.clip(np.maximum(util, _bursts(rng, kind, t, step)), 0.0, 1.0)

    memory_mb = vcpus * rng.choice([1024, 2048, 4096], size=n)
    follows = signal.lfilter([0.05], [1.0, -0.95], util, axis=1)
    leak = np.where(rng.random(n) < 0.1, rng.uniform(0.05, 0.25, n), 0.0)
    used = (rng.uniform(0.2, 0.6, n)[:, None] + 0.3 * follows +
            leak[:, None] * np.linspace(0.0, 1.0, t) +
            0.005 * rng.standard_normal((n, t)))
    disk_scale = rng.lognormal(np.log(2e5), 1.0, n)[:, None]
    disk = disk_scale * (0.05 + util) * rng.lognormal(0.0, 0.5, (n, t))
    backup = (rng.random(n) < 0.3)[:, None] & (np.abs(local - 2.5) < 0.5)
    net_scale = rng.lognormal(np.log(1e5), 1.2, n)[:, None]
    lagged = np.concatenate([util[:, :1], util[:, :-1]], axis=1)
    values = {
        'cpu': util * vcpus[:, None],
        'memory': memory_mb[:, None] * np.clip(used, 0.05, 1.0),
        'disk': disk + backup * 20 * disk_scale,
        'network': net_scale * (0.02 + lagged) * rng.lognormal(
            0.0, 0.3, (n, t)),
    }
    missing = rng.random((n, t)) < GAP_SHARE
    created = np.where(rng.random(n) < NEW_GUEST_SHARE,
                       rng.integers(t - MIN_HISTORY + 1, t - 12, n), 0)
    missing |= np.arange(t)[None, :] < created[:, None]
    for array in values.values():
        array[missing] = np.nan
    return values


def _rise(hours):
    """Smooth step from 0 to 1 around 0, over about an hour."""
    return 1.0 / (1.0 + np.exp(-4.0 * hours))


def _ar1(rng, shape, phi):
    white = rng.standard_normal(shape)
    return signal.lfilter([np.sqrt(1 - phi * phi)], [1.0, -phi], white,
                          axis=1)


def _bursts(rng, kind, t, step):
    """Utilisation during bursts (0 outside them), (instances, steps)."""
    n = kind.size
    chance = np.asarray(BURSTS_PER_DAY)[kind] * step / DAY
    starts = rng.random((n, t)) < chance[:, None]
    height = np.where(starts, rng.uniform(0.5, 1.0, (n, t)), 0.0)
    length = rng.integers(1, MAX_BURST_STEPS + 1, (n, t))
    lift = height.copy()
    for d in range(1, MAX_BURST_STEPS):
        lift[:, d:] = np.maximum(
            lift[:, d:], np.where(length > d, height, 0.0)[:, :-d])
    return lift


# -- measurements, each in its own process ---------------------------------
