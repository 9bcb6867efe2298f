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

"""watcher-predictive on a real OpenStack cloud, through Watcher's API.

In order (the tests share the cloud and its history, and run in this
file's order): plan with ``predictive_anticipation`` and review the plan,
then queue an operator throttle task for a guest the plan leaves alone and
plan it with only throttles allowed; plan again with a short task so that
its windows end soon; an audit with Gnocchi stopped; Watcher's own
``workload_stabilization`` on the same cloud, printed beside ours; the
execution of both plans after one server was deleted (migrations, resize
and throttles checked in Nova, placement and the plugin's tables; an
unthrottle whose window opens beyond ``max_window_wait`` is skipped, one
whose window is open lifts its throttle); the short plan started after its
windows ended (every gated action skipped).
"""

import datetime
import json
import os
import subprocess
import sys
import time
import types

import pytest

from tests.openstack import config
from tests.openstack import workload
from watcher_predictive.cmd import demo
from watcher_predictive.plugins import cluster

GATED = ('predictive_migrate', 'predictive_resize', 'throttle')
# Every action type a plan of ours holds: each throttle is followed by the
# unthrottle that lifts it when its window ends.
ACTION_TYPES = GATED + ('unthrottle',)
STATE = {}


def _say(message):
    import sys
    sys.__stdout__.write('%s\n' % message)
    sys.__stdout__.flush()


def _wait(get, done, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        obj = get()
        if obj.state in done:
            return obj
        if time.monotonic() > deadline:
            pytest.fail('%s still %s after %d s' % (what, obj.state,
                                                    timeout))
        time.sleep(2)


def _audit(watcher, template, parameters=None, timeout=300):
    audit = watcher.audit.create(audit_template_uuid=template.uuid,
                                 audit_type='ONESHOT',
                                 parameters=parameters or {})
    return _wait(lambda: watcher.audit.get(audit.uuid),
                 ('SUCCEEDED', 'FAILED', 'CANCELLED'), timeout,
                 'audit %s' % audit.uuid)


def _plan(watcher, audit):
    plans = watcher.action_plan.list(audit=audit.uuid, detail=True)
    assert len(plans) == 1, plans
    plan = watcher.action_plan.get(plans[0].uuid)
    actions = watcher.action.list(action_plan=plan.uuid, detail=True)
    return plan, [watcher.action.get(a.uuid) for a in actions]


def _epoch(text):
    return datetime.datetime.fromisoformat(
        text.replace('Z', '+00:00')).timestamp()


def _indicators(plan):
    return {i['name']: i['value'] for i in plan.efficacy_indicators or []}


def _template(watcher, name, goal, strategy):
    return watcher.audit_template.create(name=name, goal=goal,
                                         strategy=strategy)


MAIN_PARAMETERS = {
    # A horizon one step longer than the task: every lull, hence every
    # window, opens at once or at the next step, so the plan runs now.
    'task_duration': 1200, 'horizon': 1500}
# The audit placing the operator throttle: its window (4 steps) must end
# by the deadline, THROTTLE_TASK_DELAY from now, so that it starts at the
# 5-minute step the forecast starts at or at the next one.
THROTTLE_PARAMETERS = {'task_duration': 1200, 'horizon': 1800,
                       'actions_allowed': ['throttle']}
THROTTLE_TASK_DELAY = 22 * 60


def _show(title, plan, actions):
    _say('\n%s: action plan %s (%s):\n%s\nEfficacy indicators: %s' % (
        title, plan.uuid, plan.state, demo.format_actions(actions),
        _indicators(plan)))


def _check_action(action, task_id=None):
    p = action.input_parameters
    assert _epoch(p['window_end']) > time.time(), p
    assert _epoch(p['window_start']) < _epoch(p['window_end']), p
    assert 0 <= p['release_probability'] <= 1, p
    assert p['reason'], p
    if action.action_type == 'throttle':
        assert p['host'] == 'compute1', p
        if task_id and 'operator task %s' % task_id in p['reason']:
            pass
        else:
            assert 'burst' in p['reason'], p
        assert 0 < p['cpu_limit'] < 8, p


def _group(actions, task_id=None):
    """Actions by type, each checked; every throttle has its unthrottle."""
    by_type = {t: [] for t in ACTION_TYPES}
    for action in actions:
        assert action.action_type in by_type, action.action_type
        by_type[action.action_type].append(action)
        _check_action(action, task_id)
    lifts = {}
    for lift in by_type['unthrottle']:
        lifts.setdefault(lift.input_parameters['resource_id'], []).append(
            lift.input_parameters)
    for throttle in by_type['throttle']:
        p = throttle.input_parameters
        # The unthrottle opens when the throttle's window ends.
        assert any(u['window_start'] == p['window_end'] and
                   u['host'] == p['host']
                   for u in lifts.get(p['resource_id'], [])), (p, lifts)
    assert len(by_type['unthrottle']) == len(by_type['throttle']), \
        sorted((t, len(a)) for t, a in by_type.items())
    return by_type


def _tasks_cli(cloud, *args):
    """The plugin's ``task`` command on the cloud, as an operator runs it."""
    command = [os.path.join(os.path.dirname(sys.executable),
                            'watcher-predictive'), 'task'] + list(args) + [
        '--config-file', cloud.layout.conf('watcher', 'watcher.conf'),
        '--json']
    out = subprocess.run(command, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, (command, out.stdout, out.stderr)
    return json.loads(out.stdout)


def _queue_task(cloud, instance, kind, delay):
    [task] = _tasks_cli(cloud, 'add', '--instance', instance, '--kind', kind,
                        '--deadline', '+%dm' % (delay // 60),
                        '--reason', 'end-to-end scenario')
    assert task['state'] == 'pending', task
    return task


def test_predictive_plan(cloud, scenario):
    watcher = cloud.watcher()
    names = [s.name for s in watcher.strategy.list(
        goal='predictive_optimization')]
    assert 'predictive_anticipation' in names
    template = _template(watcher, 'wp-predictive', 'predictive_optimization',
                         'predictive_anticipation')
    started = time.monotonic()
    audit = _audit(watcher, template, MAIN_PARAMETERS)
    assert audit.state == 'SUCCEEDED', audit.status_message
    plan, actions = _plan(watcher, audit)
    _show('Predictive audit %s (%.0f s)' % (
        audit.uuid, time.monotonic() - started), plan, actions)
    assert plan.state == 'RECOMMENDED'

    by_type = _group(actions)
    assert by_type['predictive_migrate'] and by_type['predictive_resize'], \
        sorted((t, len(a)) for t, a in by_type.items())
    for migration in by_type['predictive_migrate']:
        p = migration.input_parameters
        # Off the predicted overloaded host, in a predicted lull.
        assert (p['source_node'], p['destination_node']) == (
            'compute1', 'compute2'), p
        assert p['release_probability'] >= 0.6, p
        assert 'compute1 predicted at' in p['reason'], p
    for resize in by_type['predictive_resize']:
        assert resize.input_parameters['flavor'] in workload.FLAVORS
        assert resize.input_parameters['release_probability'] >= 0.6

    indicators = _indicators(plan)
    assert indicators['instances_profiled'] == len(workload.GUESTS)
    assert indicators['instances_skipped_short_history'] == 0
    assert indicators['migrations_planned'] == len(
        by_type['predictive_migrate'])
    assert indicators['resizes_planned'] == len(by_type['predictive_resize'])
    assert indicators['throttles_planned'] == len(by_type['throttle'])
    assert indicators['tasks_in_predicted_lull'] == len(
        by_type['predictive_migrate']) + len(by_type['predictive_resize'])
    STATE.update(template=template, plan=plan, actions=actions,
                 by_type=by_type, throttle_plan=None)

    # Whether a bursting neighbour is throttled or migrated in its lull
    # depends on where "now" falls in its daily profile. The throttle is
    # exercised regardless through an operator task, for a compute1 guest
    # the main plan leaves alone.
    conn = cloud.connection()
    acted = {a.input_parameters['resource_id'] for a in actions}
    spare = [scenario.servers[series].id
             for series, host, _ in workload.GUESTS
             if host == 'compute1' and
             scenario.servers[series].id not in acted]
    assert spare, 'the main plan acts on every guest of compute1'
    instance = spare[-1]
    assert conn.compute.get_server(instance).compute_host == 'compute1'
    # The deadline leaves room for one window of the task's duration (4
    # steps) starting now or at the next step, so that the throttle runs
    # within max_window_wait of the plan's start.
    task = _queue_task(cloud, instance, 'throttle', THROTTLE_TASK_DELAY)
    audit = _audit(watcher, template, THROTTLE_PARAMETERS)
    assert audit.state == 'SUCCEEDED', audit.status_message
    plan, throttle_actions = _plan(watcher, audit)
    _show('Throttle-only audit %s, operator task %s' % (
        audit.uuid, task['id']), plan, throttle_actions)
    throttles = _group(throttle_actions, task['id'])
    assert not throttles['predictive_migrate']
    assert not throttles['predictive_resize']
    ours = [a for a in throttles['throttle']
            if 'operator task %s' % task['id'] in a.input_parameters['reason']]
    assert [a.input_parameters['resource_id'] for a in ours] == [instance], \
        [a.input_parameters for a in throttles['throttle']]
    assert _epoch(ours[0].input_parameters['window_start']) <= \
        time.time() + config.MAX_WINDOW_WAIT, ours[0].input_parameters
    assert _indicators(plan)['throttles_planned'] == len(
        throttles['throttle'])
    assert _indicators(plan)['operator_tasks_planned'] == 1
    [stored] = [t for t in _tasks_cli(cloud, 'list', '--all')
                if t['id'] == task['id']]
    assert (stored['state'], stored['audit_uuid']) == ('planned',
                                                       audit.uuid), stored
    STATE.update(throttle_plan=plan, throttle_actions=throttle_actions,
                 throttle_task=task, throttle_by_type=throttles)


def test_short_windows_plan(cloud, scenario):
    """A plan whose windows end at the next 5-minute boundary.

    It is started last, after they ended
    (``test_passed_windows_are_skipped``).
    """
    watcher = cloud.watcher()
    # A throttle's window spans the whole predicted contention: left out,
    # so that the wait for the windows' end stays short.
    audit = _audit(watcher, STATE['template'],
                   {'task_duration': 300, 'horizon': 600,
                    'actions_allowed': ['migrate', 'resize']})
    assert audit.state == 'SUCCEEDED', audit.status_message
    plan, actions = _plan(watcher, audit)
    assert actions, 'the short plan holds no action'
    STATE.update(short_plan=plan, short_actions=actions)


def _stored_state(cloud):
    connection = cloud.watcher_db()
    try:
        with connection.cursor() as cursor:
            cursor.execute('SELECT instance_uuid, version, history_end, '
                           'updated_at FROM predictive_profile '
                           'ORDER BY instance_uuid')
            profiles = cursor.fetchall()
            cursor.execute('SELECT COUNT(*), MAX(id) FROM '
                           'predictive_forecast')
            forecasts = cursor.fetchall()
    finally:
        connection.close()
    return profiles, forecasts


def test_gnocchi_stopped(cloud, scenario):
    before = _stored_state(cloud)
    assert before[0], 'no profile stored by the previous audits'
    watcher = cloud.watcher()
    log_start = cloud.log_size('watcher-decision-engine.log')
    cloud.stop('gnocchi-api')
    try:
        audit = _audit(watcher, STATE['template'], MAIN_PARAMETERS)
    finally:
        cloud.start_gnocchi()
    _say('\nAudit with Gnocchi stopped: %s, "%s"' % (
        audit.state, audit.status_message))
    assert audit.state == 'FAILED'
    # Watcher 17 does not copy an audit's failure into its status_message;
    # the decision engine logs it.
    message = 'Telemetry source gnocchi could not be read'
    assert cloud.log_contains('watcher-decision-engine.log', message,
                              since=log_start), message
    assert not watcher.action_plan.list(audit=audit.uuid)
    assert _stored_state(cloud) == before


def test_workload_stabilization_side_by_side(cloud, scenario):
    watcher = cloud.watcher()
    template = _template(watcher, 'wp-stabilization', 'workload_balancing',
                         'workload_stabilization')
    audit = _audit(watcher, template)
    assert audit.state == 'SUCCEEDED', audit.status_message
    plan, actions = _plan(watcher, audit)
    ours = STATE['actions']
    rows = max(len(ours), len(actions))
    lines = ['\n%-58s | %s' % ('predictive_anticipation (%d actions)'
                               % len(ours),
                               'workload_stabilization (%d actions)'
                               % len(actions))]
    names = {s.id: series for series, s in scenario.servers.items()}

    def describe(action):
        p = action.input_parameters
        if action.action_type == 'unthrottle':
            target = 'lifted from %s' % p.get('window_start')
        else:
            target = p.get('destination_node') or p.get('flavor') or \
                'cap %s vCPUs' % p.get('cpu_limit')
        return '%s %s -> %s' % (action.action_type,
                                names.get(p.get('resource_id'), '?'),
                                target)
    for i in range(rows):
        left = describe(ours[i]) if i < len(ours) else ''
        right = describe(actions[i]) if i < len(actions) else ''
        lines.append('%-58s | %s' % (left, right))
    _say('\n'.join(lines))


def _allocation_hosts(cloud, conn, server_id):
    providers = {p.id: p.name for p in conn.placement.resource_providers()}
    response = conn.session.get(
        cloud.layout.url('placement') + '/allocations/%s' % server_id,
        headers={'OpenStack-API-Version': 'placement 1.28'})
    return {providers[rp] for rp in response.json()['allocations']}


def _throttles(cloud):
    connection = cloud.watcher_db()
    try:
        with connection.cursor() as cursor:
            cursor.execute('SELECT instance_uuid, host, driver, limits, '
                           'state FROM predictive_throttle')
            return cursor.fetchall()
    finally:
        connection.close()


UNTHROTTLE_WAIT = 'beyond [watcher_predictive] max_window_wait'


def _check_executed(cloud, watcher, actions):
    """Every action SUCCEEDED but unthrottles: skipped when their window
    opens beyond max_window_wait, else SUCCEEDED and the throttle lifted.
    """
    throttles = _throttles(cloud)
    for action in actions:
        p = action.input_parameters
        if action.action_type != 'unthrottle':
            assert action.state == 'SUCCEEDED', (
                action.action_type, action.state, action.status_message)
            continue
        rows = [r for r in throttles if r[0] == p['resource_id']]
        if action.state == 'SKIPPED':
            assert UNTHROTTLE_WAIT in action.status_message, \
                action.status_message
            assert rows and all(r[4] == 'applied' for r in rows), rows
        else:
            assert action.state == 'SUCCEEDED', (action.state,
                                                 action.status_message)
            assert rows and all(r[4] == 'reverted' for r in rows), rows
    return throttles


def test_plan_executed_with_a_deleted_server(cloud, scenario):
    watcher = cloud.watcher()
    conn = cloud.connection()
    by_type = STATE['by_type']
    # The server of one resize is deleted between plan and execution.
    victim = by_type['predictive_resize'][-1]
    victim_id = victim.input_parameters['resource_id']
    conn.compute.delete_server(victim_id)
    conn.compute.wait_for_delete(conn.compute.get_server(victim_id),
                                 wait=120)
    if STATE['throttle_plan'] is not None:
        throttle_plan = STATE['throttle_plan']
        watcher.action_plan.start(throttle_plan.uuid)
        throttle_plan = _wait(
            lambda: watcher.action_plan.get(throttle_plan.uuid),
            ('SUCCEEDED', 'FAILED', 'CANCELLED'), 300,
            'action plan %s' % throttle_plan.uuid)
        assert throttle_plan.state == 'SUCCEEDED'
        executed = [watcher.action.get(a.uuid)
                    for a in STATE['throttle_actions']]
        _say('\nThrottle plan %s: %s; actions:\n%s' % (
            throttle_plan.uuid, throttle_plan.state,
            '\n'.join('  %-18s %-9s %s' % (a.action_type, a.state,
                                           a.status_message or '')
                      for a in executed)))
        throttles = _check_executed(cloud, watcher, executed)
        for action in STATE['throttle_by_type']['throttle']:
            p = action.input_parameters
            assert any(row[0] == p['resource_id'] and
                       row[1] == p['host'] and row[2] == 'noop' and
                       str(p['cpu_limit']) in row[3]
                       for row in throttles), throttles
    plan = STATE['plan']
    started = time.monotonic()
    started_at = time.time()
    watcher.action_plan.start(plan.uuid)
    plan = _wait(lambda: watcher.action_plan.get(plan.uuid),
                 ('SUCCEEDED', 'FAILED', 'CANCELLED'), 900,
                 'action plan %s' % plan.uuid)
    actions = {a.uuid: watcher.action.get(a.uuid)
               for a in STATE['actions']}
    _say('\nAction plan %s: %s in %.0f s; actions:\n%s' % (
        plan.uuid, plan.state, time.monotonic() - started,
        '\n'.join('  %-18s %-9s %s' % (a.action_type, a.state,
                                       a.status_message or '')
                  for a in actions.values())))
    assert plan.state == 'SUCCEEDED', plan.status_message

    skipped = actions[victim.uuid]
    assert skipped.state == 'SKIPPED'
    assert victim_id in skipped.status_message
    assert 'not found' in skipped.status_message
    others = [a for u, a in actions.items() if u != victim.uuid]
    throttles = _check_executed(cloud, watcher, others)

    for action in by_type['predictive_migrate']:
        p = action.input_parameters
        server = conn.compute.get_server(p['resource_id'])
        assert server.compute_host == p['destination_node']
        assert _allocation_hosts(cloud, conn, server.id) == {
            p['destination_node']}
        migrations = [m for m in conn.compute.migrations(
            instance_uuid=server.id) if m.migration_type == 'live-migration']
        assert [m.status for m in migrations] == ['completed']
        # A throttle still applied went along with its guest.
        assert all(row[1] == p['destination_node']
                   for row in _throttles(cloud)
                   if row[0] == p['resource_id'] and row[4] == 'applied'), \
            _throttles(cloud)
    # The migration cool-down reads these live migrations back from Nova's
    # migrations API, each at its completion time.
    recent = cluster.recent_live_migrations(
        types.SimpleNamespace(connection=conn), started_at - 120)
    for action in by_type['predictive_migrate']:
        server_id = action.input_parameters['resource_id']
        assert server_id in recent, recent
        assert started_at - 120 <= recent[server_id] <= time.time() + 120
    for action in by_type['predictive_resize']:
        if action.uuid == victim.uuid:
            continue
        p = action.input_parameters
        server = conn.compute.get_server(p['resource_id'])
        assert server.flavor.original_name == p['flavor']
        assert server.status == 'ACTIVE'
    for action in by_type['throttle']:
        p = action.input_parameters
        assert any(row[0] == p['resource_id'] and row[1] == p['host'] and
                   row[2] == 'noop' and str(p['cpu_limit']) in row[3]
                   for row in throttles), throttles

    # The indicators promised what ran.
    indicators = _indicators(plan)
    ran = [a for a in others
           if a.action_type not in ('throttle', 'unthrottle')]
    assert indicators['tasks_in_predicted_lull'] == len(ran) + 1


def test_passed_windows_are_skipped(cloud, scenario):
    watcher = cloud.watcher()
    conn = cloud.connection()
    plan = STATE['short_plan']
    actions = STATE['short_actions']
    last_end = max(_epoch(a.input_parameters['window_end'])
                   for a in actions)
    wait = last_end - time.time() + 1
    if wait > 0:
        _say('\nWaiting %.0f s for the short plan\'s windows to end' % wait)
        time.sleep(wait)
    before = {s.id: (s.compute_host, s.flavor.original_name)
              for s in conn.compute.servers()}
    watcher.action_plan.start(plan.uuid)
    plan = _wait(lambda: watcher.action_plan.get(plan.uuid),
                 ('SUCCEEDED', 'FAILED', 'CANCELLED'), 300,
                 'action plan %s' % plan.uuid)
    actions = [watcher.action.get(a.uuid) for a in actions]
    _say('Short plan %s: %s\n%s' % (plan.uuid, plan.state, '\n'.join(
        '  %-18s %-9s %s' % (a.action_type, a.state, a.status_message)
        for a in actions)))
    for action in actions:
        assert action.state == 'SKIPPED', action
        assert 'skipped rather than executed late' in action.status_message
    after = {s.id: (s.compute_host, s.flavor.original_name)
             for s in conn.compute.servers()}
    assert after == before
