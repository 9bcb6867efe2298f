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

"""The ``openstack optimize`` commands of the operator guide, for real.

A demo audit leaves Watcher's tables (goals, strategies, an audit, its
action plan) in SQLite; Watcher's own API server (``watcher-api-wsgi``)
serves that database, without Keystone (``enable_authentication =
false``, every policy open), and the guide's commands run through the
OpenStack client with python-watcherclient's plugin. No decision engine
or applier runs: audits stay PENDING, a started plan is PENDING.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SCOPE = os.path.join(ROOT, 'etc', 'examples', 'audit-template-scope.yaml')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _wait(url, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError('watcher-api-wsgi exited with %s'
                                 % process.returncode)
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError('watcher-api-wsgi did not answer on %s in %s s'
                         % (url, timeout))


@pytest.fixture(scope='module')
def api(tmp_path_factory):
    for tool in ('watcher-api-wsgi', 'openstack'):
        if not os.path.exists(os.path.join(BIN, tool)):
            pytest.skip('%s is not installed (python-watcher, '
                        'python-watcherclient)' % tool)
    state = tmp_path_factory.mktemp('api')
    demo = subprocess.run(
        [sys.executable, '-m', 'watcher_predictive.cmd.cli', 'demo',
         '--generated', '--instances', '12', '--hosts', '3', '--host-cores',
         '8', '--state-dir', str(state), '--json', '--quiet'],
        capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    (state / 'policy.yaml').write_text('"admin_api": "@"\n'
                                       '"admin_or_service_api": "@"\n')
    port = _free_port()
    conf = state / 'api.conf'
    conf.write_text('\n'.join([
        '[DEFAULT]', 'enable_authentication = false',
        'transport_url = fake://',
        '[database]', 'connection = sqlite:///%s' % (state /
                                                     'watcher.sqlite'),
        '[oslo_policy]', 'policy_file = %s' % (state / 'policy.yaml'),
        'enforce_scope = false', 'enforce_new_defaults = false', '']))
    log = open(state / 'api.log', 'w')
    process = subprocess.Popen(
        [os.path.join(BIN, 'watcher-api-wsgi'), '--host', '127.0.0.1',
         '--port', str(port), '--', '--config-file', str(conf)],
        stdout=log, stderr=subprocess.STDOUT)
    endpoint = 'http://127.0.0.1:%d' % port
    try:
        _wait(endpoint + '/v1/goals', process)
        yield {'endpoint': endpoint, 'actions': json.loads(demo.stdout)}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def optimize(api, *args, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    result = subprocess.run(
        [os.path.join(BIN, 'openstack'), '--os-auth-type', 'none',
         '--os-endpoint', api['endpoint'], 'optimize'] + list(args),
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def as_json(api, *args):
    return json.loads(optimize(api, *args, '-f', 'json').stdout)


def test_goal_and_strategy_are_listed(api):
    goals = [g['Name'] for g in as_json(api, 'goal', 'list')]
    strategies = [s['Name'] for s in as_json(api, 'strategy', 'list')]
    assert 'predictive_optimization' in goals
    assert 'predictive_anticipation' in strategies


def test_audit_template_and_audits_of_the_walkthrough(api):
    template = as_json(api, 'audittemplate', 'create', 'predictive',
                       'predictive_optimization', '--strategy',
                       'predictive_anticipation', '--scope', SCOPE)
    assert template['Strategy'] == 'predictive_anticipation'
    assert 'compute-maintenance-1' in json.dumps(template['Audit Scope'])

    oneshot = as_json(api, 'audit', 'create', '-a', 'predictive')
    assert oneshot['Parameters']['horizon'] == 3600   # the defaults
    continuous = as_json(api, 'audit', 'create', '-a', 'predictive', '-t',
                         'CONTINUOUS', '-i', '3600', '-p', 'horizon=7200',
                         '-p', 'release_threshold=0.7', '-p',
                         'max_actions=10')
    assert continuous['Audit Type'] == 'CONTINUOUS'
    params = continuous['Parameters']
    assert (params['horizon'], params['release_threshold'],
            params['max_actions']) == (7200, 0.7, 10)
    kinds = as_json(api, 'audit', 'create', '-a', 'predictive', '-p',
                    'actions_allowed=["migrate", "throttle"]')
    assert kinds['Parameters']['actions_allowed'] == ['migrate', 'throttle']


def test_out_of_bounds_parameter_is_refused(api):
    result = optimize(api, 'audit', 'create', '-a', 'predictive', '-p',
                      'horizon=60', check=False)
    assert result.returncode != 0
    assert 'horizon' in result.stderr and 'HTTP 400' in result.stderr


def test_review_and_start_the_plan(api):
    audits = [a for a in as_json(api, 'audit', 'list')
              if a['Name'] == 'predictive-demo-audit']
    assert len(audits) == 1
    plans = as_json(api, 'actionplan', 'list', '--audit', audits[0]['UUID'])
    assert [p['State'] for p in plans] == ['RECOMMENDED']
    plan = plans[0]['UUID']
    shown = as_json(api, 'actionplan', 'show', plan)
    names = {i['name'] for i in shown['Efficacy indicators']}
    assert {'instances_profiled', 'tasks_in_predicted_lull'} <= names
    actions = as_json(api, 'action', 'list', '--action-plan', plan,
                      '--detail')
    assert sorted(a['UUID'] for a in actions) == sorted(
        a['uuid'] for a in api['actions'])
    for action in actions:
        for key in ('window_start', 'window_end', 'release_probability',
                    'reason'):
            assert key in action['Parameters'], (action['UUID'], key)
    started = as_json(api, 'actionplan', 'start', plan)
    assert started['State'] == 'PENDING'
