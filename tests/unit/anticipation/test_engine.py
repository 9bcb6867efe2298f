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

import numpy as np
import pytest

from watcher_predictive.anticipation import engine
from watcher_predictive.anticipation import headroom
from watcher_predictive.anticipation import types
from watcher_predictive import exception
from watcher_predictive.profiler import base

STEP = 300
H = 12
LEVELS = [0.05, 0.1, 0.5, 0.9, 0.95]


def fc(rows, resource='cpu'):
    """Forecast from per-instance (median, spread) step arrays."""
    ids = [r[0] for r in rows]
    q = []
    for _, median, spread in rows:
        median = np.broadcast_to(np.asarray(median, dtype=float), (H,))
        q.append(np.stack([median + spread * z
                           for z in (-1.6, -1.3, 0, 1.3, 1.6)], axis=-1))
    return base.Forecast(instance_ids=ids, resource=resource, start=36000,
                         step=STEP, levels=LEVELS,
                         quantiles=np.maximum(np.array(q), 0), model='t')


def inst(uuid, host, vcpus=2, memory=2048):
    return types.Instance(uuid=uuid, name='vm-' + uuid, host=host,
                          vcpus=vcpus, memory_mb=memory, disk_gb=20)


FLAVORS = [types.Flavor('1', 'tiny', 1, 512, 1),
           types.Flavor('2', 'small', 1, 2048, 20),
           types.Flavor('3', 'medium', 2, 4096, 40),
           types.Flavor('4', 'large', 4, 8192, 80)]


def idle_then_busy():
    median = np.r_[np.full(4, 0.05), np.full(H - 4, 1.95)]
    return median


def test_migrates_off_predicted_overload_in_the_lull():
    hosts = [types.Host('hot', 4, 16384), types.Host('cool', 8, 16384)]
    instances = [inst('a', 'hot'), inst('b', 'hot'), inst('c', 'cool')]
    forecasts = {'cpu': fc([('a', idle_then_busy(), 0.02),
                            ('b', 1.8, 0.05), ('c', 0.5, 0.05)])}
    plan = engine.AnticipationEngine(types.PlanParameters(
        actions_allowed=('migrate',))).plan(hosts, instances, forecasts)
    assert len(plan.actions) == 1
    action = plan.actions[0]
    assert (action.kind, action.instance_uuid, action.destination_host) == (
        'migrate', 'a', 'cool')
    # The window is the lull of 'a': the first 2 steps (10 min task).
    assert action.window_start == 36000
    assert action.window_end == 36000 + 2 * STEP
    assert action.release_probability > 0.9
    assert action.expected_benefit > 0
    assert 'hot' in action.reason and 'idle' in action.reason
    # The move is booked: 'hot' now fits, 'cool' carries 'a'.
    assert np.all(plan.host_demand['hot'] <= plan.host_capacity['hot'])
    assert plan.host_demand['cool'][-1] > 2.0


def test_no_destination_means_no_migration_but_a_throttle():
    hosts = [types.Host('hot', 4, 16384), types.Host('full', 2, 16384)]
    bursty = np.r_[np.full(6, 0.3), np.full(H - 6, 0.6)]
    instances = [inst('a', 'hot'), inst('b', 'hot'), inst('c', 'full')]
    forecasts = {'cpu': fc([('a', bursty, 0.8), ('b', 2.2, 0.05),
                            ('c', 1.5, 0.05)])}
    plan = engine.AnticipationEngine(types.PlanParameters(
        release_threshold=0.0)).plan(hosts, instances, forecasts)
    kinds = [a.kind for a in plan.actions]
    assert 'migrate' not in kinds
    assert kinds == ['throttle']
    throttle = plan.actions[0]
    assert throttle.instance_uuid == 'a'
    assert 0 < throttle.cpu_limit < 0.6 + 1.3 * 0.8
    assert 'burst' in throttle.reason


def test_no_throttle_is_capped_at_or_above_the_guests_vcpus():
    # The high quantile of 'a' bursts to 2.55 vCPUs; the cap that would
    # bring 'hot' back under its threshold is 1.94 vCPUs: a real cap on
    # a 4-vCPU guest, none at all on a 1-vCPU guest, which cannot use
    # more than one.
    hosts = [types.Host('hot', 4, 16384), types.Host('full', 2, 16384)]
    bursty = np.r_[np.full(6, 0.3), np.full(H - 6, 0.6)]
    forecasts = {'cpu': fc([('a', bursty, 1.5), ('b', 1.2, 0.05),
                            ('c', 1.5, 0.05)])}
    for vcpus, limits in ((4, [1.94]), (1, [])):
        instances = [inst('a', 'hot', vcpus=vcpus),
                     inst('b', 'hot', vcpus=3), inst('c', 'full')]
        plan = engine.AnticipationEngine(types.PlanParameters(
            release_threshold=0.0)).plan(hosts, instances, forecasts)
        assert [a.cpu_limit for a in plan.actions
                if a.kind == types.THROTTLE] == limits


def test_resizes_an_oversized_idle_guest_to_a_real_flavor():
    hosts = [types.Host('h', 16, 65536)]
    instances = [inst('big', 'h', vcpus=4, memory=8192)]
    forecasts = {'cpu': fc([('big', 0.2, 0.05)]),
                 'memory': fc([('big', 1500.0, 100.0)], 'memory')}
    plan = engine.AnticipationEngine(types.PlanParameters()).plan(
        hosts, instances, forecasts, flavors=FLAVORS)
    assert [(a.kind, a.flavor) for a in plan.actions] == [
        ('resize', 'medium')]
    assert plan.actions[0].expected_benefit == pytest.approx(2 + 4.0)


def test_resize_respects_the_predicted_daily_peak():
    hosts = [types.Host('h', 16, 65536)]
    instances = [inst('big', 'h', vcpus=4, memory=8192)]
    forecasts = {'cpu': fc([('big', 0.2, 0.05)])}
    plan = engine.AnticipationEngine(types.PlanParameters()).plan(
        hosts, instances, forecasts, flavors=FLAVORS,
        peaks={'cpu': np.array([3.5])})
    assert plan.actions == []


def test_limits_are_respected():
    hosts = [types.Host('hot', 4, 65536), types.Host('a1', 16, 65536),
             types.Host('a2', 16, 65536)]
    instances = [inst('v%d' % i, 'hot') for i in range(6)]
    forecasts = {'cpu': fc([('v%d' % i, idle_then_busy(), 0.02)
                            for i in range(6)])}
    params = types.PlanParameters(actions_allowed=('migrate',),
                                  max_migrations_per_host=2)
    plan = engine.AnticipationEngine(params).plan(hosts, instances,
                                                  forecasts)
    assert len(plan.actions) == 2
    params = types.PlanParameters(actions_allowed=('migrate',),
                                  max_migrations_per_host=10, max_actions=3)
    plan = engine.AnticipationEngine(params).plan(hosts, instances,
                                                  forecasts)
    assert len(plan.actions) == 3
    assert len({a.instance_uuid for a in plan.actions}) == 3


def test_low_release_probability_is_not_acted_on():
    hosts = [types.Host('hot', 4, 16384), types.Host('cool', 8, 16384)]
    instances = [inst('a', 'hot'), inst('b', 'hot')]
    forecasts = {'cpu': fc([('a', 1.8, 0.05), ('b', 1.8, 0.05)])}
    plan = engine.AnticipationEngine(types.PlanParameters(
        actions_allowed=('migrate',))).plan(hosts, instances, forecasts)
    assert plan.actions == []
    assert plan.release_probability == {'a': 0.0, 'b': 0.0}


def test_unprofiled_instances_count_at_their_allocation():
    hosts = [types.Host('h', 4, 16384)]
    instances = [inst('a', 'h'), inst('new', 'h', vcpus=3)]
    forecasts = {'cpu': fc([('a', 0.5, 0.01)])}
    plan = engine.AnticipationEngine(types.PlanParameters(
        actions_allowed=())).plan(hosts, instances, forecasts)
    assert plan.host_demand['h'][0] == pytest.approx(3.5, abs=0.05)


def test_bad_parameters():
    with pytest.raises(exception.InvalidParameter, match='actions_allowed'):
        engine.AnticipationEngine(types.PlanParameters(
            actions_allowed=('reboot',)))
    with pytest.raises(exception.InvalidParameter, match='horizon'):
        engine.AnticipationEngine(types.PlanParameters(horizon=10))
    with pytest.raises(exception.InvalidParameter, match='cpu forecast'):
        engine.AnticipationEngine(types.PlanParameters()).plan([], [], {})


def test_ledger_never_promises_headroom_twice():
    ledger = headroom.CapacityLedger(
        [types.Host('d', 4, 4096, vcpus_allocatable=8)], 3, threshold=1.0)
    demand = np.array([1.5, 1.5, 1.5])
    assert ledger.fits('d', demand, 1024, vcpus=2)
    ledger.book('d', demand, 1024, vcpus=2)
    ledger.book('d', demand, 1024, vcpus=2)
    assert not ledger.fits('d', demand, 1024, vcpus=2)
    assert not ledger.fits('d', np.zeros(3), 3000)
    assert ledger.min_headroom('d') == pytest.approx(1.0)


# -- the task queue ----------------------------------------------------------

def _idle(uuid):
    return (uuid, 0.05, 0.02)


def test_operator_task_planned_in_first_lull_before_deadline():
    hosts = [types.Host('a', 8, 16384), types.Host('b', 8, 16384)]
    instances = [inst('x', 'a')]
    # Busy for 3 steps, then idle: the first lull opens at step 3.
    median = np.r_[np.full(3, 1.8), np.full(H - 3, 0.05)]
    forecasts = {'cpu': fc([('x', median, 0.02)])}
    op = types.OperatorTask(id='t-1', instance_uuid='x', kind='migrate',
                            deadline=36000 + H * STEP, reason='maintenance')
    plan = engine.AnticipationEngine(types.PlanParameters()).plan(
        hosts, instances, forecasts, operator_tasks=[op])
    [action] = plan.actions
    assert action.task_id == 't-1'
    assert action.destination_host == 'b'
    assert action.window_start == 36000 + 3 * STEP
    assert 'operator task t-1' in action.reason
    [task] = plan.tasks
    assert task.status == types.PLANNED and task.source == 'operator'


def test_operator_task_past_deadline_or_later_is_not_planned():
    hosts = [types.Host('a', 8, 16384), types.Host('b', 8, 16384)]
    busy = {'cpu': fc([('x', 1.8, 0.02)])}
    expired = types.OperatorTask('old', 'x', 'migrate', deadline=35000)
    later = types.OperatorTask('later', 'x', 'migrate',
                               deadline=36000 + 86400)
    plan = engine.AnticipationEngine(types.PlanParameters()).plan(
        hosts, [inst('x', 'a')], busy, operator_tasks=[expired, later])
    assert plan.actions == []
    status = {t.task_id: (t.status, t.note) for t in plan.tasks}
    assert status['old'][0] == types.EXPIRED
    assert status['later'][0] == types.DEFERRED
    assert 'later audit' in status['later'][1]


def test_engine_tasks_have_no_task_id():
    hosts = [types.Host('hot', 4, 16384), types.Host('cool', 8, 16384)]
    instances = [inst('a', 'hot'), inst('b', 'hot'), inst('c', 'cool')]
    forecasts = {'cpu': fc([('a', idle_then_busy(), 0.02),
                            ('b', 1.8, 0.05), ('c', 0.5, 0.05)])}
    plan = engine.AnticipationEngine(types.PlanParameters(
        actions_allowed=('migrate',))).plan(hosts, instances, forecasts)
    assert plan.actions and all(a.task_id is None for a in plan.actions)
    assert plan.overload_avoided > 0


def test_dry_run_plans_but_returns_no_action():
    hosts = [types.Host('hot', 4, 16384), types.Host('cool', 8, 16384)]
    instances = [inst('a', 'hot'), inst('b', 'hot'), inst('c', 'cool')]
    forecasts = {'cpu': fc([('a', idle_then_busy(), 0.02),
                            ('b', 1.8, 0.05), ('c', 0.5, 0.05)])}
    plan = engine.AnticipationEngine(types.PlanParameters(
        actions_allowed=('migrate',), dry_run=True)).plan(
            hosts, instances, forecasts)
    assert plan.actions == []
    assert [a.kind for a in plan.dry_run_actions] == ['migrate']


def test_blackout_keeps_tasks_out_of_its_hours():
    hosts = [types.Host('hot', 4, 16384), types.Host('cool', 8, 16384)]
    instances = [inst('a', 'hot'), inst('b', 'hot'), inst('c', 'cool')]
    forecasts = {'cpu': fc([('a', idle_then_busy(), 0.02),
                            ('b', 1.8, 0.05), ('c', 0.5, 0.05)])}
    # The forecast starts at 10:00 UTC (36000 s); the lull is 10:00-10:20.
    plan = engine.AnticipationEngine(types.PlanParameters(
        actions_allowed=('migrate',),
        blackout_windows=((36000, 36000 + 3600),))).plan(
            hosts, instances, forecasts)
    assert plan.actions == []


def test_low_confidence_forecasts_are_not_acted_on():
    hosts = [types.Host('hot', 4, 16384), types.Host('cool', 8, 16384)]
    instances = [inst('a', 'hot'), inst('b', 'hot'), inst('c', 'cool')]
    forecasts = {'cpu': fc([('a', idle_then_busy(), 0.6),
                            ('b', 1.8, 0.6), ('c', 0.5, 0.05)])}
    params = dict(actions_allowed=('migrate',), release_threshold=0.0)
    assert engine.AnticipationEngine(types.PlanParameters(**params)).plan(
        hosts, instances, forecasts).actions
    assert not engine.AnticipationEngine(types.PlanParameters(
        min_confidence=0.5, **params)).plan(
            hosts, instances, forecasts).actions


def test_consolidation_empties_a_lightly_used_host():
    hosts = [types.Host('light', 8, 16384), types.Host('used', 8, 16384),
             types.Host('empty', 8, 16384)]
    instances = [inst('x', 'light'), inst('y', 'used'), inst('z', 'used')]
    forecasts = {'cpu': fc([_idle('x'), ('y', 1.0, 0.05),
                            ('z', 1.0, 0.05)])}
    plan = engine.AnticipationEngine(types.PlanParameters(
        consolidation_threshold=0.3, actions_allowed=('migrate',))).plan(
            hosts, instances, forecasts)
    [action] = plan.actions
    assert action.source == types.SOURCE_CONSOLIDATION
    assert (action.instance_uuid, action.destination_host) == ('x', 'used')
    assert 'switched off' in action.reason


def test_near_deadline_operator_task_takes_the_headroom_first():
    # One slot of headroom on 'b': the operator task due soon gets it,
    # before the overload relief of host 'hot'.
    hosts = [types.Host('hot', 4, 16384), types.Host('b', 3, 16384)]
    instances = [inst('a', 'hot'), inst('o', 'hot'), inst('w', 'hot')]
    forecasts = {'cpu': fc([('a', 0.05, 0.02), ('o', 0.05, 0.02),
                            ('w', 3.5, 0.05)])}
    op = types.OperatorTask('due', 'o', 'migrate', deadline=36000 + 1800)
    plan = engine.AnticipationEngine(types.PlanParameters(
        actions_allowed=('migrate',), max_migrations_per_host=1)).plan(
            hosts, instances, forecasts, operator_tasks=[op])
    assert [a.task_id for a in plan.actions] == ['due']


def test_an_overload_that_only_grazes_the_threshold_is_left():
    # 'hot' (threshold 3.2) is predicted at 3.3 vCPUs for the last 8
    # steps: 0.1 vCPU over for 40 minutes, 4 vCPU-minutes.
    hosts = [types.Host('hot', 4, 16384), types.Host('cool', 8, 16384)]
    instances = [inst('a', 'hot'), inst('b', 'hot'), inst('c', 'cool')]
    a = np.r_[np.full(4, 0.05), np.full(H - 4, 1.5)]
    forecasts = {'cpu': fc([('a', a, 0.0), ('b', 1.8, 0.0),
                            ('c', 0.5, 0.0)])}
    for minimum, moved in ((0.0, 1), (3.9, 1), (4.1, 0)):
        plan = engine.AnticipationEngine(types.PlanParameters(
            actions_allowed=('migrate',), min_overload=minimum)).plan(
                hosts, instances, forecasts)
        assert len(plan.actions) == moved
