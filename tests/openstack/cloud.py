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

"""A real OpenStack control plane on loopback, for end-to-end tests.

``OpenStackCloud`` runs, from the virtualenv the tests run in: Keystone,
Glance (file store), Placement, Neutron (API server only), Nova (API under
gunicorn, conductor, scheduler, and one ``nova-compute`` per host of
``config.COMPUTE_HOSTS`` with the fake live-migration driver), Gnocchi
(API; measures are aggregated on read, so no ``gnocchi-metricd``) with
Ceilometer's resource types and archive policies, and Watcher's API,
decision engine and applier, which load watcher-predictive from the
virtualenv. MariaDB and RabbitMQ are the machine's own: the cloud uses
databases named with its own prefix and a RabbitMQ virtual host of its own,
both created fresh and removed at the end.

Every process started is recorded (``run/<name>.pid`` and in memory) and
stopped by ``cleanup``, in a process group of its own so that gunicorn's
workers go with their master. Logs are under ``logs/``; ``cleanup`` removes
the whole folder only when asked to (a failed run keeps it).
"""

import grp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.openstack import clients
from tests.openstack import config

BIN = os.path.dirname(sys.executable)
HERE = os.path.dirname(os.path.abspath(__file__))
WSGI_APPS = {
    # name -> (service, application, argv, extra environment)
    'keystone': ('keystone', 'keystone.wsgi.api:application', 'keystone',
                 lambda L: {'OS_KEYSTONE_CONFIG_DIR': L.conf('keystone')}),
    'glance-api': ('glance', 'glance.wsgi.api:application', 'glance',
                   lambda L: {'OS_GLANCE_CONFIG_DIR': L.conf('glance')}),
    'placement': ('placement', 'placement.wsgi.api:application',
                  'placement',
                  lambda L: {'OS_PLACEMENT_CONFIG_DIR': L.conf('placement')}),
    'neutron-api': ('neutron', 'neutron.wsgi.api:application', 'neutron-api',
                    lambda L: {'OS_NEUTRON_CONFIG_DIR': L.conf('neutron'),
                               'WP_WSGI_CONFIGURE_MAPPERS': '1'}),
    'nova-api': ('nova', 'nova.wsgi.osapi_compute:application', 'nova-api',
                 lambda L: {'OS_NOVA_CONFIG_DIR': L.conf('nova'),
                            'OS_NOVA_CONFIG_FILES':
                            'api-paste.ini;nova.conf;nova-api.conf'}),
    'watcher-api': ('watcher', 'watcher.wsgi.api:application',
                    lambda L: 'watcher-api --config-file %s --log-file %s' % (
                        L.conf('watcher', 'watcher.conf'),
                        os.path.join(L.logs, 'watcher-api.log')),
                    lambda L: {}),
    'gnocchi-api': ('gnocchi', 'gnocchi.rest.wsgi:application',
                    lambda L: 'gnocchi-api --config-file %s' % L.conf(
                        'gnocchi', 'gnocchi.conf'),
                    lambda L: {}),
}


class CloudError(RuntimeError):
    pass


def _answers(url, timeout=2):
    try:
        urllib.request.urlopen(url, timeout=timeout)
        return True
    except urllib.error.HTTPError:
        return True     # 401, 300...: the server is up
    except OSError:
        return False


class OpenStackCloud(clients.CloudClients):
    """Brings the cloud up (``setup``) and down (``cleanup``).

    :param base: folder for configuration, state, logs and pid files
    :param say: prints progress (``print`` by default)
    """

    def __init__(self, base, say=print, **layout):
        self.layout = config.Layout(base=base, **layout)
        self.say = say
        self.processes = {}
        self.timings = {}
        self._t0 = time.monotonic()

    # -- processes -------------------------------------------------------

    def _log(self, name):
        return os.path.join(self.layout.logs, name + '.out')

    def start(self, name, argv, env=None):
        """Start a long-running process, recorded under ``name``."""
        log = open(self._log(name), 'ab')
        try:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                env=dict(os.environ, **(env or {})),
                cwd=os.path.join(self.layout.base, 'wsgi'))
        finally:
            log.close()
        self.processes[name] = process
        with open(os.path.join(self.layout.run, name + '.pid'), 'w') as f:
            f.write('%d\n' % process.pid)
        return process

    def start_wsgi(self, name):
        service, app, argv, env = WSGI_APPS[name]
        L = self.layout
        argv = argv(L) if callable(argv) else argv
        return self.start(name, [
            os.path.join(BIN, 'gunicorn'), '-b',
            '127.0.0.1:%d' % L.port(service), '-w', '1', '--threads', '4',
            '--timeout', '300', '--name', name, 'wsgi_shim:application'],
            env=dict(env(L), WP_WSGI_APP=app, WP_WSGI_ARGV=argv))

    def stop(self, *names, timeout=60):
        """Stop recorded processes (all when no name is given).

        SIGTERM to each process group first, so that they shut down side
        by side, then SIGKILL to what is left after ``timeout`` seconds.
        """
        names = names or tuple(reversed(list(self.processes)))
        stopping = []
        for name in names:
            process = self.processes.pop(name, None)
            if process is None:
                continue
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            stopping.append((name, process))
        deadline = time.monotonic() + timeout
        for name, process in stopping:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say('%s (pid %d) did not stop on SIGTERM; killing it'
                         % (name, process.pid))
            try:
                # Workers left behind by a master that exited.
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)
            pid_file = os.path.join(self.layout.run, name + '.pid')
            if os.path.exists(pid_file):
                os.unlink(pid_file)

    def log_size(self, name):
        path = os.path.join(self.layout.logs, name)
        return os.path.getsize(path) if os.path.exists(path) else 0

    def log_contains(self, name, text, since=0):
        """Whether a service's log holds ``text`` after byte ``since``."""
        with open(os.path.join(self.layout.logs, name), 'rb') as f:
            f.seek(since)
            return text.encode() in f.read()

    def stop_leftovers(self):
        """Stop what a previous, killed, run recorded and left running.

        Each ``run/*.pid`` names the leader of a process group; it is only
        signalled when it still runs in this cloud's folder (its working
        directory), so a reused process id is left alone.
        """
        run = self.layout.run
        if not os.path.isdir(run):
            return
        for name in sorted(os.listdir(run)):
            if not name.endswith('.pid'):
                continue
            try:
                with open(os.path.join(run, name)) as f:
                    pid = int(f.read().strip())
                cwd = os.readlink('/proc/%d/cwd' % pid)
                if cwd != os.path.join(self.layout.base, 'wsgi'):
                    continue
                os.killpg(pid, signal.SIGKILL)
                self.say('stopped %s (pid %d) left by a previous run'
                         % (name[:-4], pid))
            except (ValueError, OSError):
                pass

    def check_running(self):
        """Raise CloudError naming any recorded process that exited."""
        dead = {n: p.returncode for n, p in self.processes.items()
                if p.poll() is not None}
        if dead:
            raise CloudError('processes exited: %s; see %s' % (
                ', '.join('%s (%s)' % kv for kv in sorted(dead.items())),
                self.layout.logs))

    def run(self, *argv, timeout=300):
        """Run a command of the virtualenv to completion, logged."""
        started = time.monotonic()
        with open(os.path.join(self.layout.logs, 'commands.log'), 'ab') as log:
            log.write(('\n$ %s\n' % ' '.join(argv)).encode())
            log.flush()
            result = subprocess.run(
                [os.path.join(BIN, argv[0])] + list(argv[1:]), stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                timeout=timeout)
        if result.returncode:
            raise CloudError('%s failed (exit %d); see %s' % (
                ' '.join(argv), result.returncode,
                os.path.join(self.layout.logs, 'commands.log')))
        self.timings[' '.join(argv[:2])] = time.monotonic() - started

    def wait_http(self, url, timeout=120):
        deadline = time.monotonic() + timeout
        while not _answers(url):
            self.check_running()
            if time.monotonic() > deadline:
                raise CloudError('%s does not answer after %d s; see %s' % (
                    url, timeout, self.layout.logs))
            time.sleep(0.5)

    def _phase(self, name):
        now = time.monotonic()
        self.say('[%6.1f s] %s' % (now - self._t0, name))

    # -- bring-up --------------------------------------------------------

    def setup(self):
        L = self.layout
        self.stop_leftovers()
        if os.path.exists(L.base):
            shutil.rmtree(L.base)
        os.makedirs(os.path.join(L.base, 'wsgi'))
        shutil.copy(os.path.join(HERE, 'wsgi_shim.py'),
                    os.path.join(L.base, 'wsgi', 'wsgi_shim.py'))
        self._phase('RabbitMQ virtual host %s, databases %s*'
                    % (L.vhost, L.db_prefix))
        self.rabbitmq_vhost(create=True)
        self.databases(create=True)
        import gnocchi.rest
        config.write_all(L, sys.prefix, os.path.join(
            os.path.dirname(gnocchi.rest.__file__), 'api-paste.ini'))
        self._phase('database schemas')
        self.sync_databases()
        self._phase('services')
        self.start_services()
        self._phase('cloud up')

    def rabbitmq_vhost(self, create):
        vhost = self.layout.vhost
        ctl = shutil.which('rabbitmqctl') or '/usr/sbin/rabbitmqctl'
        commands = [[ctl, 'delete_vhost', vhost]]
        if create:
            commands += [[ctl, 'add_vhost', vhost],
                         [ctl, 'set_permissions', '-p', vhost, 'guest',
                          '.*', '.*', '.*']]
        for i, argv in enumerate(commands):
            result = subprocess.run(argv, capture_output=True, text=True,
                                    timeout=60)
            # Deleting a virtual host that does not exist is fine.
            if result.returncode and i:
                raise CloudError('%s failed: %s%s' % (
                    ' '.join(argv), result.stdout, result.stderr))

    def databases(self, create):
        connection = self._db_connection()
        try:
            with connection.cursor() as cursor:
                for name in config.DATABASES:
                    cursor.execute('DROP DATABASE IF EXISTS `%s%s`'
                                   % (self.layout.db_prefix, name))
                    if create:
                        cursor.execute(
                            'CREATE DATABASE `%s%s` CHARACTER SET utf8mb4'
                            % (self.layout.db_prefix, name))
        finally:
            connection.close()

    def sync_databases(self):
        L = self.layout
        K = ('--config-file', L.conf('keystone', 'keystone.conf'))
        N = ('--config-file', L.conf('nova', 'nova.conf'))
        W = ('--config-file', L.conf('watcher', 'watcher.conf'))
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        self.run('keystone-manage', *K, 'db_sync')
        for keys in ('fernet_setup', 'credential_setup'):
            self.run('keystone-manage', *K, keys, '--keystone-user', user,
                     '--keystone-group', group)
        self.run('keystone-manage', *K, 'bootstrap',
                 '--bootstrap-password', config.PASSWORD,
                 '--bootstrap-admin-url', L.auth_url,
                 '--bootstrap-internal-url', L.auth_url,
                 '--bootstrap-public-url', L.auth_url,
                 '--bootstrap-region-id', config.REGION)
        self.run('glance-manage', '--config-file',
                 L.conf('glance', 'glance-api.conf'), 'db_sync')
        self.run('placement-manage', '--config-file',
                 L.conf('placement', 'placement.conf'), 'db', 'sync')
        self.run('neutron-db-manage', '--config-file',
                 L.conf('neutron', 'neutron.conf'), '--config-file',
                 L.conf('neutron', 'plugins', 'ml2', 'ml2_conf.ini'),
                 'upgrade', 'heads')
        self.run('nova-manage', *N, 'api_db', 'sync')
        self.run('nova-manage', *N, 'cell_v2', 'map_cell0')
        self.run('nova-manage', *N, 'cell_v2', 'create_cell',
                 '--name', 'cell1')
        self.run('nova-manage', *N, 'db', 'sync')
        self.run('watcher-db-manage', *W, 'upgrade')
        self.run('watcher-predictive-db-manage', *W, 'upgrade')
        # 8 sacks instead of 128: the API aggregates on read, and fewer
        # sacks mean fewer files to scan.
        self.run('gnocchi-upgrade', '--config-file',
                 L.conf('gnocchi', 'gnocchi.conf'), '--sacks-number', '8')

    def start_services(self):
        L = self.layout
        N = ['--config-file', L.conf('nova', 'nova.conf')]
        W = ['--config-file', L.conf('watcher', 'watcher.conf')]
        self.start_wsgi('keystone')
        self.wait_http(L.auth_url)
        self.register_catalog()
        for name in ('glance-api', 'placement', 'neutron-api', 'nova-api',
                     'gnocchi-api'):
            self.start_wsgi(name)
        self.start('nova-conductor', [os.path.join(BIN, 'nova-conductor')]
                   + N)
        self.start('nova-scheduler', [os.path.join(BIN, 'nova-scheduler')]
                   + N)
        self.wait_http(L.url('placement'))
        for host in config.COMPUTE_HOSTS:
            self.start('nova-' + host, [os.path.join(BIN, 'nova-compute')]
                       + N + ['--config-file', L.conf('nova', host + '.conf')])
        self.start_wsgi('watcher-api')
        self.start('watcher-decision-engine',
                   [os.path.join(BIN, 'watcher-decision-engine')] + W)
        self.start('watcher-applier',
                   [os.path.join(BIN, 'watcher-applier')] + W)
        for service in ('glance', 'neutron', 'nova', 'watcher', 'gnocchi'):
            self.wait_http(L.url(service))
        self.wait_computes()
        self.run('nova-manage', *N, 'cell_v2', 'discover_hosts')
        self.create_ceilometer_schema()

    def start_gnocchi(self):
        self.start_wsgi('gnocchi-api')
        self.wait_http(self.layout.url('gnocchi'))

    def wait_computes(self, timeout=180):
        conn = self.connection()
        deadline = time.monotonic() + timeout
        while True:
            up = {s.host for s in conn.compute.services(binary='nova-compute')
                  if s.state == 'up'}
            providers = {p.name for p in conn.placement.resource_providers()}
            if up >= set(config.COMPUTE_HOSTS) and \
                    providers >= set(config.COMPUTE_HOSTS):
                return
            self.check_running()
            if time.monotonic() > deadline:
                raise CloudError('compute hosts up: %s, resource providers: '
                                 '%s after %d s; see %s' % (
                                     sorted(up), sorted(providers), timeout,
                                     self.layout.logs))
            time.sleep(1)

    # -- tear-down ---------------------------------------------------------

    def cleanup(self, keep_logs):
        """Stop every process, drop the databases and the virtual host.

        :param keep_logs: keep the folder (configuration, state, logs)
        """
        self._phase('stopping %d processes' % len(self.processes))
        try:
            self.stop()
        finally:
            for step in (lambda: self.databases(create=False),
                         lambda: self.rabbitmq_vhost(create=False)):
                try:
                    step()
                except Exception as e:
                    self.say('clean-up step failed: %s' % e)
            if keep_logs:
                self.say('Logs of every service kept in %s'
                         % self.layout.logs)
            else:
                shutil.rmtree(self.layout.base, ignore_errors=True)
