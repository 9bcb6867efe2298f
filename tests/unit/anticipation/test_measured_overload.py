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

"""A host measured over its threshold now, and predicted to stay so, has
its busiest guests throttled for a bounded time (``throttle_overloaded``).
"""

import numpy as np

from tests.unit.anticipation.test_engine import fc
from tests.unit.anticipation.test_engine import inst
from watcher_predictive.anticipation import engine
from watcher_predictive.anticipation import types


def params(**kw):
    kw.setdefault('actions_allowed', ('throttle',))
    kw.setdefault('collision_window', 0)
    return types.PlanParameters(**kw)


def cluster(now_a=2.0, now_b=1.9, predicted=1.8):
    # 'h1' has 4 cores (threshold 3.2): 'a' and 'b', 2 vCPUs each, used
    # ``now_a`` and ``now_b`` in the last step and are predicted at
    # ``predicted``; neither bursts above its usual level, so nothing
    # else in the engine acts.
    hosts = [types.Host('h1', 4, 16384), types.Host('h2', 4, 16384)]
    instances = [inst('a', 'h1'), inst('b', 'h1'), inst('c', 'h2')]
    forecasts = {'cpu': fc([('a', predicted, 0.05), ('b', predicted, 0.05),
                            ('c', 0.5, 0.05)])}
    history = {'a': np.r_[np.full(11, 0.5), now_a],
               'b': np.r_[np.full(11, 0.5), now_b],
               'c': np.full(12, 0.5)}
    return hosts, instances, forecasts, history


def test_a_host_overloaded_now_and_predicted_so_is_throttled():
    hosts, instances, forecasts, history = cluster()
    plan = engine.AnticipationEngine(params(throttle_overloaded=1800)).plan(
        hosts, instances, forecasts, history=history)
    # 3.9 vCPUs measured on a 3.2 threshold: 'a' (0.4 above its share of
    # 1.6) is capped first, at 2.0 - 0.7, but never below its share; 'b'
    # then takes the 0.3 left.
    assert sorted((a.instance_uuid, a.cpu_limit) for a in plan.actions) == [
        ('a', 1.6), ('b', 1.6)]
    for action in plan.actions:
        assert action.kind == types.THROTTLE
        assert action.source == types.SOURCE_MEASURED
        assert action.source_host == 'h1'
        # Bounded: from now for throttle_overloaded seconds, not the
        # whole horizon.
        assert (action.window_start, action.window_end) == (36000, 37800)
        assert 'measured at 122% of its CPU threshold' in action.reason
    demand = plan.host_demand['h1']
    assert np.all(demand[:6] <= plan.host_capacity['h1'] + 1e-9)
    assert np.all(demand[6:] > plan.host_capacity['h1'])


def test_only_the_guests_needed_are_capped():
    # 3.6 measured: capping 'a' at 2.0 - 0.4 brings the host under.
    hosts, instances, forecasts, history = cluster(now_a=2.0, now_b=1.6)
    plan = engine.AnticipationEngine(params(throttle_overloaded=900)).plan(
        hosts, instances, forecasts, history=history)
    assert [(a.instance_uuid, a.cpu_limit, a.window_end - a.window_start)
            for a in plan.actions] == [('a', 1.6, 900)]


def test_not_overloaded_now_or_not_predicted_so_is_not_throttled():
    on = params(throttle_overloaded=1800)
    # Predicted over the threshold, but measured under it now.
    hosts, instances, forecasts, history = cluster(now_a=1.0, now_b=1.0)
    assert not engine.AnticipationEngine(on).plan(
        hosts, instances, forecasts, history=history).actions
    # Measured over it now, but predicted back under it.
    hosts, instances, forecasts, history = cluster(predicted=1.0)
    assert not engine.AnticipationEngine(on).plan(
        hosts, instances, forecasts, history=history).actions
    # Off by default, and nothing without a measured history.
    hosts, instances, forecasts, history = cluster()
    assert not engine.AnticipationEngine(params()).plan(
        hosts, instances, forecasts, history=history).actions
    assert not engine.AnticipationEngine(on).plan(
        hosts, instances, forecasts).actions


def test_released_when_the_host_is_no_longer_overloaded():
    # The throttle ends with its window; the next audit, with the host
    # measured under its threshold, plans no new one, so the guests run
    # free again from the end of the first window.
    on = params(throttle_overloaded=1800)
    hosts, instances, forecasts, history = cluster()
    first = engine.AnticipationEngine(on).plan(
        hosts, instances, forecasts, history=history)
    assert {a.window_end for a in first.actions} == {37800}
    hosts, instances, forecasts, history = cluster(now_a=1.2, now_b=1.2)
    assert not engine.AnticipationEngine(on).plan(
        hosts, instances, forecasts, history=history).actions


def test_a_last_step_not_measured_yet_reads_the_one_before():
    hosts, instances, forecasts, history = cluster()
    history = {u: np.r_[y, np.nan] for u, y in history.items()}
    plan = engine.AnticipationEngine(params(throttle_overloaded=1800)).plan(
        hosts, instances, forecasts, history=history)
    assert sorted(a.instance_uuid for a in plan.actions) == ['a', 'b']
