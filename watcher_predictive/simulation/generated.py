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

"""Generated guest behaviour, for a first run where no trace is at hand.

Four kinds of guest, mixed: office-hours (busy by day, idle at night),
batch (a nightly job), idle-but-oversized, and bursty (short random
bursts over a low baseline). Seeded, so every run is the same.
"""

import numpy as np

from watcher_predictive.profiler import history as history_mod

DAY = 86400
KINDS = ('office', 'batch', 'oversized', 'bursty')


def generate(n_instances=24, days=7, step=300, end=None, seed=42):
    """History and shapes of ``n_instances`` generated guests.

    :returns: ``(History, shapes)`` as the trace readers return them:
        series ids ``gen-<n>``, ``shapes[id] = {'vcpus', 'memory_mb'}``.
    """
    rng = np.random.default_rng(seed)
    n_steps = days * DAY // step
    if end is None:
        end = n_steps * step
    start = end - n_steps * step
    times = start + step * np.arange(n_steps)
    hour = (times % DAY) / 3600.0
    ids = ['gen-%d' % (i + 1) for i in range(n_instances)]
    cpu = np.zeros((n_instances, n_steps))
    memory = np.zeros((n_instances, n_steps))
    shapes = {}
    for i, series_id in enumerate(ids):
        kind = KINDS[i % len(KINDS)]
        vcpus = int(rng.choice([2, 4, 8]))
        memory_mb = 1024 * int(rng.choice([4, 8, 16]))
        noise = rng.normal(0, 0.03, n_steps)
        if kind == 'office':
            busy = (hour >= 8 + i % 3) & (hour < 18)
            load = np.where(busy, 0.55, 0.04) + noise
        elif kind == 'batch':
            busy = (hour >= (1 + i % 4)) & (hour < (3 + i % 4))
            load = np.where(busy, 0.85, 0.03) + noise
        elif kind == 'oversized':
            load = 0.04 + 0.02 * np.sin(2 * np.pi * hour / 24) + noise / 3
        else:
            load = 0.1 + noise
            starts = rng.choice(n_steps, size=days * 6, replace=False)
            for s in starts:
                load[s:s + rng.integers(2, 6)] = rng.uniform(0.7, 1.0)
        cpu[i] = np.clip(load, 0, 1) * vcpus
        memory[i] = memory_mb * np.clip(0.3 + 0.4 * load + noise, 0.05, 1)
        shapes[series_id] = {'vcpus': vcpus, 'memory_mb': memory_mb}
    disk = cpu * 2e6
    network = cpu * 5e5
    return history_mod.History(
        instance_ids=ids, start=int(start), step=step,
        values={'cpu': cpu, 'memory': memory, 'disk': disk,
                'network': network}), shapes
