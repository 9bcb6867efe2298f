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

"""Guests whose measured peaks collided are separated in their lulls."""

import numpy as np

from tests.unit.anticipation.test_engine import fc
from tests.unit.anticipation.test_engine import H
from tests.unit.anticipation.test_engine import inst
from watcher_predictive.anticipation import engine
from watcher_predictive.anticipation import types

DAY = 288  # 5-minute steps


def peak_at(hour, level=1.9, base=0.05):
    """A day of measured use: idle but for one hour at ``hour``."""
    y = np.full(DAY, base)
    y[hour * 12:(hour + 1) * 12] = level
    return y


def params(**kw):
    kw.setdefault('actions_allowed', ('migrate',))
    return types.PlanParameters(**kw)


def cluster():
    # 'a' and 'b' peaked together at 10:00 on 'h1' (3.8 vCPUs on a host
    # whose threshold is 3.2); 'c' peaks at 10:00 on 'h2', 'd' at 22:00 on
    # 'h3'. All are idle now and predicted to stay so for the horizon.
    hosts = [types.Host('h1', 4, 16384), types.Host('h2', 4, 16384),
             types.Host('h3', 4, 16384)]
    instances = [inst('a', 'h1'), inst('b', 'h1'), inst('c', 'h2'),
                 inst('d', 'h3')]
    forecasts = {'cpu': fc([(u, 0.05, 0.02) for u in 'abcd'])}
    history = {'a': peak_at(10), 'b': peak_at(10), 'c': peak_at(10),
               'd': peak_at(22)}
    return hosts, instances, forecasts, history


def test_colliding_guests_are_separated_where_peaks_do_not_meet():
    hosts, instances, forecasts, history = cluster()
    plan = engine.AnticipationEngine(params()).plan(
        hosts, instances, forecasts, history=history)
    # Nothing is predicted to overload within the horizon: only the
    # measured collision explains the move.
    assert len(plan.actions) == 1
    action = plan.actions[0]
    assert action.kind == types.MIGRATE
    assert action.source == types.SOURCE_COLLISION
    assert action.instance_uuid in ('a', 'b')
    assert action.source_host == 'h1'
    # 'h2' would take the same 10:00 collision; 'h3' peaks at 22:00.
    assert action.destination_host == 'h3'
    assert action.release_probability > 0.9
    assert action.window_start == 36000
    assert 'h1' in action.reason and 'h3' in action.reason
    task = [t for t in plan.tasks if t.source == types.SOURCE_COLLISION]
    assert len(task) == 1 and task[0].status == types.PLANNED
    assert task[0].benefit > 0


def test_no_history_or_window_zero_plans_nothing():
    hosts, instances, forecasts, history = cluster()
    assert not engine.AnticipationEngine(params()).plan(
        hosts, instances, forecasts).actions
    assert not engine.AnticipationEngine(params(collision_window=0)).plan(
        hosts, instances, forecasts, history=history).actions


def test_a_collision_that_would_only_move_is_left():
    hosts, instances, forecasts, history = cluster()
    # 'd' now peaks at 10:00 too: every destination would collide.
    history['d'] = peak_at(10)
    plan = engine.AnticipationEngine(params()).plan(
        hosts, instances, forecasts, history=history)
    assert plan.actions == []


def test_busy_guests_are_not_moved_for_a_past_collision():
    hosts, instances, forecasts, history = cluster()
    forecasts = {'cpu': fc([('a', 1.5, 0.05), ('b', 1.5, 0.05),
                            ('c', 0.05, 0.02), ('d', 0.05, 0.02)])}
    plan = engine.AnticipationEngine(params()).plan(
        hosts, instances, forecasts, history=history)
    assert [a for a in plan.actions
            if a.source == types.SOURCE_COLLISION] == []


def test_overload_migration_goes_where_peaks_do_not_collide():
    # 'a' is idle now and predicted to make 'h1' overload within the
    # horizon with 'b'; 'h2' and 'h3' have the same predicted headroom,
    # but 'a' peaked at 10:00 with 'c' on 'h2' yesterday.
    hosts = [types.Host('h1', 4, 16384), types.Host('h2', 4, 16384),
             types.Host('h3', 4, 16384)]
    instances = [inst('a', 'h1'), inst('b', 'h1'), inst('c', 'h2'),
                 inst('d', 'h3')]
    busy_later = np.r_[np.full(4, 0.05), np.full(H - 4, 1.9)]
    forecasts = {'cpu': fc([('a', busy_later, 0.02), ('b', 1.8, 0.05),
                            ('c', 0.3, 0.02), ('d', 0.3, 0.02)])}
    history = {'a': peak_at(10), 'b': np.full(DAY, 1.8),
               'c': peak_at(10, level=2.0), 'd': peak_at(22, level=2.0)}
    for window, wanted in ((86400, 'h3'), (0, 'h2')):
        plan = engine.AnticipationEngine(params(
            collision_window=window)).plan(hosts, instances, forecasts,
                                           history=history)
        moves = [(a.instance_uuid, a.destination_host, a.source)
                 for a in plan.actions]
        # Without the measured profiles the tie goes to the first host
        # of the most headroom, which is where 'a' collides.
        assert moves == [('a', wanted, types.SOURCE_OVERLOAD)]


def never_idle_pair():
    # 'a' and 'b' have used 1.7 vCPUs each without a pause all day on
    # 'h1' (threshold 3.2): no lull will come; 'h2' is idle.
    hosts = [types.Host('h1', 4, 16384), types.Host('h2', 4, 16384)]
    instances = [inst('a', 'h1'), inst('b', 'h1'), inst('c', 'h2')]
    forecasts = {'cpu': fc([('a', 1.6, 0.02), ('b', 1.6, 0.02),
                            ('c', 0.05, 0.02)])}
    history = {'a': np.full(DAY, 1.7), 'b': np.full(DAY, 1.7),
               'c': np.full(DAY, 0.05)}
    return hosts, instances, forecasts, history


def test_a_guest_that_never_idles_is_moved_busy_when_no_lull_helps():
    hosts, instances, forecasts, history = never_idle_pair()
    plan = engine.AnticipationEngine(params(busy_separation=True)).plan(
        hosts, instances, forecasts, history=history)
    assert len(plan.actions) == 1
    action = plan.actions[0]
    assert action.source == types.SOURCE_COLLISION
    assert (action.source_host, action.destination_host) == ('h1', 'h2')
    assert 'has not idled' in action.reason
    assert action.release_probability < 0.1
    # A day not fully measured proves nothing: no busy move.
    short = {u: y[-DAY // 2:] for u, y in history.items()}
    assert not engine.AnticipationEngine(params(busy_separation=True)).plan(
        hosts, instances, forecasts, history=short).actions
    # One pause of a task's length in the day: wait for the lull instead.
    history['a'] = history['a'].copy()
    history['a'][100:102] = 0.01
    plan = engine.AnticipationEngine(params(busy_separation=True)).plan(
        hosts, instances, forecasts, history=history)
    assert [a.instance_uuid for a in plan.actions] in ([], ['b'])


def test_without_busy_separation_never_idle_colliders_are_throttled():
    # The guests of the test above, which never idle: with
    # busy_separation off neither is migrated; with the collision
    # throttle they are capped at their share instead.
    hosts, instances, forecasts, history = never_idle_pair()
    assert not engine.AnticipationEngine(params(
        busy_separation=False)).plan(
            hosts, instances, forecasts, history=history).actions
    allowed = ('migrate', 'throttle')
    for busy_separation, kinds in ((True, ['migrate']),
                                   (False, ['throttle', 'throttle'])):
        plan = engine.AnticipationEngine(params(
            actions_allowed=allowed, throttle_colliders=True,
            busy_separation=busy_separation)).plan(
                hosts, instances, forecasts, history=history)
        assert [a.kind for a in plan.actions] == kinds


def test_a_recently_migrated_guest_is_left_for_the_cooldown():
    hosts, instances, forecasts, history = cluster()
    # Both colliders were migrated to 'h1' 30 minutes before the audit.
    recent = {'a': 36000 - 1800, 'b': 36000 - 1800}
    for cooldown, moved in ((3600, 0), (1800, 1), (0, 1)):
        plan = engine.AnticipationEngine(params(
            migration_cooldown=cooldown)).plan(
                hosts, instances, forecasts, history=history,
                last_migrated=recent)
        assert len(plan.actions) == moved


def test_colliders_that_cannot_move_are_throttled_to_their_share():
    # 'a' and 'b' used 1.9 vCPUs each together all day on 'h1' (threshold
    # 3.2) and are predicted to again: no lull, no destination ('h2' is
    # full), and neither bursts above its usual level.
    hosts = [types.Host('h1', 4, 16384), types.Host('h2', 2, 16384)]
    instances = [inst('a', 'h1'), inst('b', 'h1'), inst('c', 'h2')]
    forecasts = {'cpu': fc([('a', 1.8, 0.05), ('b', 1.8, 0.05),
                            ('c', 1.5, 0.05)])}
    history = {'a': np.full(DAY, 1.9), 'b': np.full(DAY, 1.9),
               'c': np.full(DAY, 1.5)}
    allowed = ('migrate', 'throttle')
    plan = engine.AnticipationEngine(params(
        actions_allowed=allowed, throttle_colliders=False)).plan(
            hosts, instances, forecasts, history=history)
    assert plan.actions == []
    plan = engine.AnticipationEngine(params(
        actions_allowed=allowed, throttle_colliders=True)).plan(
            hosts, instances, forecasts, history=history)
    assert [a.kind for a in plan.actions] == ['throttle', 'throttle']
    assert {a.instance_uuid for a in plan.actions} == {'a', 'b'}
    for action in plan.actions:
        # Each is capped at half the threshold capacity (two 2-vCPU
        # guests on a 3.2-vCPU threshold), over the whole horizon.
        assert action.cpu_limit == 1.6
        assert action.window_end - action.window_start == H * 300
        assert 'peaked with its neighbours' in action.reason
    assert np.all(plan.host_demand['h1'] <= plan.host_capacity['h1'] + 1e-9)
    # Without the measured collision there is nothing to go on.
    assert not engine.AnticipationEngine(params(
        actions_allowed=allowed, throttle_colliders=True)).plan(
            hosts, instances, forecasts).actions


def test_a_daily_collision_the_forecast_misses_is_throttled():
    # 'a' and 'b' went over 'h1's threshold together exactly one day
    # before the next hour (the first steps of the window); the forecast
    # sees them idle, and every other host would take the collision.
    hosts, instances, forecasts, history = cluster()
    history = {u: np.roll(y, -120) for u, y in history.items()}
    history['d'] = history['c']
    allowed = ('migrate', 'throttle')
    assert not engine.AnticipationEngine(params(
        actions_allowed=allowed, throttle_colliders=False)).plan(
            hosts, instances, forecasts, history=history).actions
    plan = engine.AnticipationEngine(params(
        actions_allowed=allowed, throttle_colliders=True)).plan(
            hosts, instances, forecasts, history=history)
    assert sorted((a.kind, a.instance_uuid, a.cpu_limit)
                  for a in plan.actions) == [('throttle', 'a', 1.6),
                                             ('throttle', 'b', 1.6)]
    assert all(a.window_end - a.window_start == H * 300
               for a in plan.actions)
    assert 'together 24 h ago' in plan.actions[0].reason
    # Yesterday's collision at another hour says nothing of this one.
    history = {u: np.roll(y, 60) for u, y in history.items()}
    assert not engine.AnticipationEngine(params(
        actions_allowed=allowed, throttle_colliders=True)).plan(
            hosts, instances, forecasts, history=history).actions


def test_a_collision_days_ago_is_separated_with_a_longer_window():
    # 'a' and 'b' peaked together at 10:00 three days ago only (on the
    # two days since, neither peaked): the last day shows nothing.
    hosts, instances, forecasts, history = cluster()
    quiet = np.full(DAY, 0.05)
    history = {u: np.r_[y, quiet, quiet] for u, y in history.items()}
    history['d'] = np.r_[peak_at(22), peak_at(22), peak_at(22)]
    assert not engine.AnticipationEngine(params()).plan(
        hosts, instances, forecasts, history=history).actions
    plan = engine.AnticipationEngine(params(
        separation_window=3 * 86400)).plan(
            hosts, instances, forecasts, history=history)
    assert [(a.source, a.source_host, a.destination_host)
            for a in plan.actions] == [
                (types.SOURCE_COLLISION, 'h1', 'h3')]
    assert plan.actions[0].instance_uuid in ('a', 'b')
    assert 'in the last 72 h' in plan.actions[0].reason
    # A window shorter than the collision window changes nothing, and
    # a collision window of 0 still disables the rule.
    for kw in (dict(separation_window=3600),
               dict(separation_window=3 * 86400, collision_window=0)):
        assert not engine.AnticipationEngine(params(**kw)).plan(
            hosts, instances, forecasts, history=history).actions


def test_peaks_of_different_days_are_separated_with_rotated_days():
    # 'a' peaked at 10:00 on the first day, 'b' at 10:00 on the second:
    # never together, but nothing says they cannot meet.
    hosts, instances, forecasts, history = cluster()
    quiet = np.full(DAY, 0.05)
    history = {'a': np.r_[peak_at(10), quiet], 'b': np.r_[quiet, peak_at(10)],
               'c': np.r_[peak_at(10), peak_at(10)],
               'd': np.r_[peak_at(22), peak_at(22)]}
    two_days = params(separation_window=2 * 86400)
    assert not engine.AnticipationEngine(two_days).plan(
        hosts, instances, forecasts, history=history).actions
    plan = engine.AnticipationEngine(params(
        separation_window=2 * 86400, separation_draws=8)).plan(
            hosts, instances, forecasts, history=history)
    assert [(a.source, a.source_host, a.destination_host)
            for a in plan.actions] == [
                (types.SOURCE_COLLISION, 'h1', 'h3')]
    assert "days rotated" in plan.actions[0].reason
    # The same days are drawn at every audit.
    again = engine.AnticipationEngine(params(
        separation_window=2 * 86400, separation_draws=8)).plan(
            hosts, instances, forecasts, history=history)
    assert again.actions[0].instance_uuid == plan.actions[0].instance_uuid
    assert again.actions[0].expected_benefit == \
        plan.actions[0].expected_benefit
