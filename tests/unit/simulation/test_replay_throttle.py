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

"""In a replay, the throttles of a host measured over its threshold are
bounded and stop being renewed once the host calms down."""

import numpy as np

from watcher_predictive.anticipation import types
from watcher_predictive.simulation import replay

STEP = 300
DAY = 86400 // STEP


def burst_workload():
    # Two 2-vCPU guests, idle for three days but for a collision on the
    # third, from 10:00 to 12:00, both at their full allocation.
    rng = np.random.default_rng(7)
    cpu = 0.1 + rng.uniform(0, 0.05, (2, 3 * DAY))
    burst = slice(2 * DAY + 120, 2 * DAY + 144)
    cpu[:, burst] = 2.0
    shapes = {u: {'vcpus': 2, 'memory_mb': 2048} for u in ('a', 'b')}
    return replay.Workload(ids=['a', 'b'], start=0, step=STEP, cpu=cpu,
                           memory=None, shapes=shapes), burst


def run(seconds):
    work, burst = burst_workload()
    settings = replay.Settings(
        hosts=1, host_cores=2, cpu_ratio=4, warmup_days=2, days=1,
        params=types.PlanParameters(actions_allowed=('throttle',),
                                    throttle_overloaded=seconds))
    r = replay.Replay(work, settings, 'predictive')
    return r.run(), r.throttles, burst


def test_measured_overload_is_throttled_then_released():
    off, throttles, _ = run(0)
    assert off['overload_minutes'] >= 100
    assert not [t for t in throttles if t[4] == types.SOURCE_MEASURED]
    on, throttles, burst = run(1800)
    measured = [t for t in throttles if t[4] == types.SOURCE_MEASURED]
    assert measured
    assert on['overload_minutes'] < 0.5 * off['overload_minutes']
    assert on['throttled_minutes_by_source'][types.SOURCE_MEASURED] > 0
    for _row, begin, end, limit, _source in measured:
        # Bounded to throttle_overloaded, at the guest's share of the
        # threshold capacity (1.6 vCPUs shared by two equal guests).
        assert end - begin <= 1800 // STEP
        assert limit == 0.8
        # Started while the host was over its threshold, and released at
        # the latest one window after the collision ended.
        assert burst.start < begin <= burst.stop
        assert end <= burst.stop + 1800 // STEP


def test_capped_telemetry_measures_throttled_guests_at_their_caps():
    work, burst = burst_workload()
    results = {}
    for capped in (False, True):
        settings = replay.Settings(
            hosts=1, host_cores=2, cpu_ratio=4, warmup_days=2, days=1,
            capped_telemetry=capped,
            params=types.PlanParameters(actions_allowed=('throttle',),
                                        throttle_overloaded=1800))
        r = replay.Replay(work, settings, 'predictive')
        results[capped] = r.run()
        in_force = [(row, step, limit)
                    for row, begin, end, limit, _source in r.throttles
                    for step in range(begin, min(end, r.last))]
        assert in_force
        for row, step, limit in in_force:
            wanted = work.cpu[row, step]
            if capped:
                # What the policy measured: the use the guest got.
                assert r.measured[row, step] == min(wanted, limit)
            else:
                assert r.measured[row, step] == wanted
    # The trace itself is left as it was, whatever was measured.
    assert np.all(work.cpu[:, burst] == 2.0)
    # The policy that sees the caps lifts them on a host that looks calm,
    # so the collision it caps goes on longer than with the wanted use.
    assert results[True]['overload_minutes'] > \
        results[False]['overload_minutes']
