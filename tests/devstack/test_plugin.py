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

"""The DevStack plugin, phase by phase, as stack.sh runs it.

bash sources ``devstack/settings`` then ``devstack/plugin.sh <mode>
<phase>`` with ``errexit`` on, as stack.sh does, after ``stubs.sh`` has
defined stand-ins for DevStack's functions that record their calls.
``iniset`` really writes watcher.conf, which oslo.config then reads with
the plugin's options, and ``watcher-predictive-db-manage`` is the real
command of this environment, run on an SQLite database: so the options
must be valid and the migrations must really run.
"""

import os
import subprocess
import sys

from oslo_config import cfg
import pytest

from watcher_predictive.conf import predictive
from watcher_predictive.storage import migration

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.path.dirname(sys.executable)
HEAD = ','.join(migration.head_revisions())
ALL_SERVICES = ('mysql,rabbit,key,watcher-api,watcher-decision-engine,'
                'watcher-applier')

SCRIPT = """
set -o errexit
source "$STUBS"
source "$PLUGIN_DIR/settings"
source "$PLUGIN_DIR/plugin.sh" "$@"
"""


class Stack:
    """A DevStack host: a DEST folder, a watcher.conf with an SQLite
    database, and the calls recorded so far.
    """

    def __init__(self, folder, services=ALL_SERVICES, plugins='watcher,'
                 'watcher-predictive', **settings):
        self.folder = folder
        self.conf = os.path.join(folder, 'watcher.conf')
        self.db_url = 'sqlite:///%s' % os.path.join(folder, 'watcher.sqlite')
        with open(self.conf, 'w') as f:
            f.write('[database]\nconnection = %s\n' % self.db_url)
        self.calls_file = os.path.join(folder, 'calls')
        open(self.calls_file, 'w').close()
        self.env = {
            'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
            'HOME': folder,
            'STUBS': os.path.join(HERE, 'stubs.sh'),
            'PLUGIN_DIR': os.path.join(REPO, 'devstack'),
            'CALLS': self.calls_file,
            'PYTHON': sys.executable,
            'DEST': folder,
            'WATCHER_PREDICTIVE_DIR': REPO,
            'WATCHER_CONF': self.conf,
            'WATCHER_BIN_DIR': BIN_DIR,
            'SERVICE_HOST': '192.0.2.10',
            'DATABASE_BACKENDS': 'mysql postgresql',
            'ENABLED_SERVICES': services,
            'DEVSTACK_PLUGINS': plugins,
        }
        self.env.update(settings)

    def run(self, mode, phase=None, check=True):
        """Run one phase; returns the calls it made."""
        before = len(self.calls())
        args = [mode] + ([phase] if phase else [])
        result = subprocess.run(
            ['bash', '-c', SCRIPT, 'plugin.sh'] + args, env=self.env,
            capture_output=True, text=True, timeout=120)
        if check and result.returncode:
            raise AssertionError('plugin.sh %s failed (%s):\n%s\n%s' % (
                ' '.join(args), result.returncode, result.stdout,
                result.stderr[-3000:]))
        self.result = result
        return self.calls()[before:]

    def calls(self):
        with open(self.calls_file) as f:
            return [tuple(line.rstrip('\n').split('\t')) for line in f]

    def options(self):
        conf = cfg.ConfigOpts()
        predictive.register_opts(conf)
        conf(['--config-file', self.conf], project='watcher',
             default_config_files=[], default_config_dirs=[])
        return conf.watcher_predictive


def _names(calls):
    return [c[0] for c in calls if c[0] not in ('echo_summary',
                                                'get_python_exec_prefix')]


@pytest.fixture
def stack(tmp_path):
    return Stack(str(tmp_path))


def test_full_stack_with_defaults(stack):
    install = stack.run('stack', 'install')
    assert _names(install) == ['setup_develop']
    assert install[-1] == ('setup_develop', REPO)

    post_config = stack.run('stack', 'post-config')
    assert {c[1:3] for c in post_config if c[0] == 'iniset'} == {
        (stack.conf, 'watcher_predictive')}
    written = {c[3]: c[4] for c in post_config if c[0] == 'iniset'}
    assert written == {'telemetry_source': 'gnocchi',
                       'telemetry_timeout': '30', 'history_days': '7'}
    options = stack.options()
    assert options.telemetry_source == 'gnocchi'
    assert options.telemetry_timeout == 30
    assert options.history_days == 7

    assert migration.version(stack.db_url) is None
    extra = stack.run('stack', 'extra')
    # The real db-manage created the tables and said so.
    assert migration.version(stack.db_url) == HEAD
    assert 'Plugin tables in' in stack.result.stdout
    assert _names(extra) == ['stop_process', 'run_process'] * 2
    extra = [c for c in extra if c[0] in ('stop_process', 'run_process')]
    services = ('watcher-decision-engine', 'watcher-applier')
    for (stop, start), service in zip(zip(extra[::2], extra[1::2]),
                                      services):
        assert stop == ('stop_process', service)
        assert start[:2] == ('run_process', service)
        command = start[2].split()
        assert command == [os.path.join(BIN_DIR, service), '--config-file',
                           stack.conf]
        assert os.access(command[0], os.X_OK), command[0]

    # Running extra again (./stack.sh after ./unstack.sh) is harmless.
    stack.run('stack', 'extra')
    assert migration.version(stack.db_url) == HEAD


def test_prometheus_source(stack):
    stack.env.update(WATCHER_PREDICTIVE_TELEMETRY_SOURCE='prometheus',
                     WATCHER_PREDICTIVE_HISTORY_DAYS='3')
    calls = stack.run('stack', 'post-config')
    written = {c[3]: c[4] for c in calls if c[0] == 'iniset'}
    assert written['prometheus_url'] == 'http://192.0.2.10:9090'
    assert written['prometheus_instance_label'] == 'resource'
    options = stack.options()
    assert options.telemetry_source == 'prometheus'
    assert options.history_days == 3
    assert options.prometheus_url == 'http://192.0.2.10:9090'
    assert options.prometheus_metric_prefix == 'ceilometer_'


def test_empty_metric_prefix_and_own_database(stack, tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'plugin.sqlite')
    stack.env.update(WATCHER_PREDICTIVE_TELEMETRY_SOURCE='prometheus',
                     WATCHER_PREDICTIVE_PROMETHEUS_METRIC_PREFIX='',
                     WATCHER_PREDICTIVE_DATABASE_CONNECTION=url)
    stack.run('stack', 'post-config')
    options = stack.options()
    assert options.prometheus_metric_prefix == ''
    assert options.connection == url
    stack.run('stack', 'extra')
    assert migration.version(url) == HEAD
    assert migration.version(stack.db_url) is None


def test_compute_host_restarts_only_its_applier(tmp_path):
    stack = Stack(str(tmp_path), services='rabbit,watcher-applier')
    assert _names(stack.run('stack', 'install')) == ['setup_develop']
    extra = stack.run('stack', 'extra')
    # No database here: the controller creates the tables.
    assert migration.version(stack.db_url) is None
    assert [c[:2] for c in extra if c[0] != 'echo_summary'] == [
        ('stop_process', 'watcher-applier'),
        ('run_process', 'watcher-applier')]


def test_host_without_watcher_services_does_nothing(tmp_path):
    stack = Stack(str(tmp_path), services='rabbit,n-cpu')
    for phase in ('install', 'post-config', 'extra'):
        assert stack.run('stack', phase) == []


@pytest.mark.parametrize('mode,phase', [('stack', 'pre-install'),
                                        ('stack', 'test-config'),
                                        ('unstack', None), ('clean', None)])
def test_other_phases_do_nothing(stack, mode, phase):
    assert stack.run(mode, phase) == []


def test_without_watcher_plugin_dies_clearly(tmp_path):
    stack = Stack(str(tmp_path), plugins='watcher-predictive')
    calls = stack.run('stack', 'install', check=False)
    assert stack.result.returncode != 0
    assert calls[-1][0] == 'die'
    assert 'enable_plugin watcher' in ' '.join(calls[-1])
    assert 'setup_develop' not in _names(calls)


@pytest.mark.parametrize('settings,message', [
    ({'WATCHER_PREDICTIVE_TELEMETRY_SOURCE': 'influx'}, "'influx'"),
    ({'WATCHER_PREDICTIVE_TELEMETRY_SOURCE': 'trace'},
     'WATCHER_PREDICTIVE_TRACE_PATH')])
def test_bad_settings_die_clearly(stack, settings, message):
    stack.env.update(settings)
    calls = stack.run('stack', 'post-config', check=False)
    assert stack.result.returncode != 0
    assert calls[-1][0] == 'die' and message in ' '.join(calls[-1])


def test_trace_source(stack, tmp_path):
    stack.env.update(WATCHER_PREDICTIVE_TELEMETRY_SOURCE='trace',
                     WATCHER_PREDICTIVE_TRACE_PATH=str(tmp_path))
    stack.run('stack', 'post-config')
    options = stack.options()
    assert options.telemetry_source == 'trace'
    assert options.trace_path == str(tmp_path)
