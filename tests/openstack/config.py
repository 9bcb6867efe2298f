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

"""Configuration files of the test cloud's services.

Everything listens on 127.0.0.1, on ports from ``port_base`` up (not the
usual ports, so that the test cloud never meets another OpenStack on the
machine), uses databases named ``<prefix><service>`` on the machine's
MariaDB and a RabbitMQ virtual host of its own.

Each compute host is Nova's ``fake.FakeLiveMigrateDriver``, which reports
1000 vCPUs and 800000 MiB; ``reserved_host_cpus`` and
``reserved_host_memory_mb`` leave ``HOST_VCPUS`` and ``HOST_MEMORY_MB``
usable, so that placement and Watcher see hosts of a realistic size that a
few busy guests can overload.
"""

import dataclasses
import os

PASSWORD = 'password'
REGION = 'RegionOne'
FAKE_DRIVER_VCPUS = 1000
FAKE_DRIVER_MEMORY_MB = 800000
HOST_VCPUS = 16
HOST_MEMORY_MB = 65536
COMPUTE_HOSTS = ('compute1', 'compute2')
# [watcher_predictive] max_window_wait of the test cloud, in seconds: longer
# than one 5-minute step, so that a window opening at the next step is
# waited for, and far shorter than the day an unthrottle may wait.
MAX_WINDOW_WAIT = 420
DATABASES = ('keystone', 'glance', 'placement', 'neutron', 'nova_api',
             'nova', 'nova_cell0', 'watcher', 'gnocchi')
# Service name -> (catalog type, offset from port_base, URL path).
SERVICES = {
    'keystone': ('identity', 0, '/v3'),
    'glance': ('image', 1, ''),
    'placement': ('placement', 2, ''),
    'neutron': ('network', 3, ''),
    'nova': ('compute', 4, '/v2.1'),
    'watcher': ('infra-optim', 5, ''),
    'gnocchi': ('metric', 6, ''),
}


@dataclasses.dataclass
class Layout:
    """Where the test cloud keeps everything, and how it is reached."""
    base: str
    port_base: int = 25000
    db_prefix: str = 'wpos_'
    db_url: str = ('mysql+pymysql://openstack_citest:openstack_citest'
                   '@127.0.0.1')
    rabbit_host: str = '127.0.0.1:5672'
    vhost: str = 'watcher_predictive_os'

    def port(self, service):
        return self.port_base + SERVICES[service][1]

    def url(self, service):
        return 'http://127.0.0.1:%d%s' % (self.port(service),
                                          SERVICES[service][2])

    @property
    def auth_url(self):
        return self.url('keystone')

    @property
    def etc(self):
        return os.path.join(self.base, 'etc')

    @property
    def logs(self):
        return os.path.join(self.base, 'logs')

    @property
    def run(self):
        return os.path.join(self.base, 'run')

    @property
    def state(self):
        return os.path.join(self.base, 'state')

    @property
    def transport_url(self):
        return 'rabbit://guest:guest@%s/%s' % (self.rabbit_host, self.vhost)

    def db(self, name):
        return '%s/%s%s?charset=utf8' % (self.db_url, self.db_prefix, name)

    def conf(self, *parts):
        return os.path.join(self.etc, *parts)


def _auth(layout, user):
    return ('auth_type = password\nauth_url = %s\n'
            'project_domain_name = Default\nuser_domain_name = Default\n'
            'project_name = service\nusername = %s\npassword = %s\n'
            'region_name = %s\n' % (layout.auth_url, user, PASSWORD, REGION))


def _authtoken(layout, user):
    return ('www_authenticate_uri = %s\n' % layout.auth_url +
            _auth(layout, user))


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return path


def _copy_paste(venv_etc, name, target):
    with open(os.path.join(venv_etc, name)) as f:
        return _write(target, f.read())


def write_all(layout, venv_prefix, gnocchi_paste):
    """Write every service's configuration under ``layout.etc``.

    :param venv_prefix: ``sys.prefix`` of the virtualenv holding the
        services (their paste files are installed under its ``etc``)
    :param gnocchi_paste: path of Gnocchi's own ``api-paste.ini``
    """
    L = layout
    for d in (L.logs, L.run, os.path.join(L.run, 'lock'), L.state):
        os.makedirs(d, exist_ok=True)
    lock = os.path.join(L.run, 'lock')
    logs = L.logs

    _write(L.conf('keystone', 'keystone.conf'), (
        '[DEFAULT]\nlog_file = %(logs)s/keystone.log\n'
        '[database]\nconnection = %(db)s\n'
        '[token]\nprovider = fernet\n'
        '[fernet_tokens]\nkey_repository = %(etc)s/fernet-keys\n'
        '[fernet_receipts]\nkey_repository = %(etc)s/fernet-keys\n'
        '[credential]\nkey_repository = %(etc)s/credential-keys\n') % {
            'logs': logs, 'db': L.db('keystone'),
            'etc': L.conf('keystone')})

    _copy_paste(os.path.join(venv_prefix, 'etc', 'glance'),
                'glance-api-paste.ini', L.conf('glance',
                                               'glance-api-paste.ini'))
    images = os.path.join(L.state, 'images')
    _write(L.conf('glance', 'glance-api.conf'), (
        '[DEFAULT]\nlog_file = %(logs)s/glance-api.log\n'
        'enabled_backends = fs:file\n'
        '[database]\nconnection = %(db)s\n'
        '[glance_store]\ndefault_backend = fs\n'
        '[fs]\nfilesystem_store_datadir = %(images)s\n'
        '[os_glance_staging_store]\n'
        'filesystem_store_datadir = %(images)s/staging\n'
        '[os_glance_tasks_store]\n'
        'filesystem_store_datadir = %(images)s/tasks\n'
        '[paste_deploy]\nflavor = keystone\nconfig_file = %(paste)s\n'
        '[oslo_concurrency]\nlock_path = %(lock)s\n'
        '[keystone_authtoken]\n') % {
            'logs': logs, 'db': L.db('glance'), 'images': images,
            'paste': L.conf('glance', 'glance-api-paste.ini'),
            'lock': lock} + _authtoken(L, 'glance'))

    _write(L.conf('placement', 'placement.conf'), (
        '[DEFAULT]\nlog_file = %s/placement.log\n'
        '[placement_database]\nconnection = %s\n'
        '[api]\nauth_strategy = keystone\n[keystone_authtoken]\n') % (
            logs, L.db('placement')) + _authtoken(L, 'placement'))

    _copy_paste(os.path.join(venv_prefix, 'etc', 'neutron'),
                'api-paste.ini', L.conf('neutron', 'api-paste.ini'))
    _write(L.conf('neutron', 'neutron.conf'), (
        '[DEFAULT]\ncore_plugin = ml2\nservice_plugins =\n'
        'auth_strategy = keystone\ntransport_url = %(rabbit)s\n'
        'log_file = %(logs)s/neutron-api.log\n'
        'api_paste_config = %(paste)s\nstate_path = %(state)s/neutron\n'
        'api_workers = 1\nrpc_workers = 0\n'
        'notify_nova_on_port_status_changes = false\n'
        'notify_nova_on_port_data_changes = false\n'
        '[database]\nconnection = %(db)s\n'
        '[oslo_concurrency]\nlock_path = %(lock)s\n'
        '[keystone_authtoken]\n') % {
            'rabbit': L.transport_url, 'logs': logs,
            'paste': L.conf('neutron', 'api-paste.ini'), 'state': L.state,
            'db': L.db('neutron'), 'lock': lock} + _authtoken(L, 'neutron'))
    # No mechanism driver: servers are booted without networks; Nova only
    # asks Neutron for the (empty) lists of ports and security groups.
    _write(L.conf('neutron', 'plugins', 'ml2', 'ml2_conf.ini'), (
        '[ml2]\ntype_drivers = flat\ntenant_network_types =\n'
        'mechanism_drivers =\nextension_drivers = port_security\n'
        '[ml2_type_flat]\nflat_networks = *\n'))

    _copy_paste(os.path.join(venv_prefix, 'etc', 'nova'), 'api-paste.ini',
                L.conf('nova', 'api-paste.ini'))
    _write(L.conf('nova', 'nova.conf'), (
        '[DEFAULT]\ntransport_url = %(rabbit)s\n'
        'compute_driver = fake.FakeLiveMigrateDriver\nmy_ip = 127.0.0.1\n'
        'state_path = %(state)s/nova\nlog_dir = %(logs)s\n'
        'reserved_host_cpus = %(rcpu)d\n'
        'reserved_host_memory_mb = %(rmem)d\n'
        '[api]\nauth_strategy = keystone\n'
        '[wsgi]\napi_paste_config = %(paste)s\n'
        '[api_database]\nconnection = %(api_db)s\n'
        '[database]\nconnection = %(db)s\n'
        '[conductor]\nworkers = 1\n'
        '[scheduler]\nworkers = 1\ndiscover_hosts_in_cells_interval = 10\n'
        '[glance]\nregion_name = %(region)s\n'
        '[oslo_concurrency]\nlock_path = %(lock)s\n'
        '[oslo_messaging_notifications]\ndriver = messagingv2\n'
        # Watcher keeps its cluster model fresh from versioned
        # notifications only.
        '[notifications]\nnotification_format = versioned\n'
        'notify_on_state_change = vm_and_task_state\n'
        '[vnc]\nenabled = false\n'
        # The scenario's guests hold more than the default 20 cores.
        '[quota]\ncores = -1\ninstances = -1\nram = -1\n') % {
            'rabbit': L.transport_url, 'state': L.state, 'logs': logs,
            'rcpu': FAKE_DRIVER_VCPUS - HOST_VCPUS,
            'rmem': FAKE_DRIVER_MEMORY_MB - HOST_MEMORY_MB,
            'paste': L.conf('nova', 'api-paste.ini'),
            'api_db': L.db('nova_api'), 'db': L.db('nova'),
            'region': REGION, 'lock': lock} +
        '[keystone_authtoken]\n' + _authtoken(L, 'nova') +
        '[service_user]\nsend_service_user_token = true\n' +
        _auth(L, 'nova') + '[placement]\n' + _auth(L, 'placement') +
        '[neutron]\n' + _auth(L, 'nova'))
    _write(L.conf('nova', 'nova-api.conf'),
           '[DEFAULT]\nlog_file = %s/nova-api.log\n' % logs)
    for host in COMPUTE_HOSTS:
        _write(L.conf('nova', host + '.conf'), (
            '[DEFAULT]\nhost = %s\nlog_file = %s/nova-%s.log\n'
            'state_path = %s/%s\n') % (host, logs, host, L.state, host))

    _write(L.conf('watcher', 'watcher.conf'), (
        '[DEFAULT]\ntransport_url = %(rabbit)s\nlog_dir = %(logs)s\n'
        '[api]\nhost = 127.0.0.1\nport = %(port)d\n'
        '[database]\nconnection = %(db)s\n'
        '[collector]\ncollector_plugins = compute\n'
        '[oslo_messaging_notifications]\ndriver = messagingv2\n'
        '[oslo_concurrency]\nlock_path = %(lock)s\n'
        '[placement]\nregion_name = %(region)s\n'
        '[gnocchi_client]\nregion_name = %(region)s\n'
        '[watcher_predictive]\ntelemetry_timeout = 10\n'
        'window_poll_interval = 2\nhistory_days = 3\n'
        'throttle_driver = noop\n'
        # An unthrottle whose window opens later than this is skipped
        # rather than holding its plan for up to a day.
        'max_window_wait = %(max_wait)d\n') % {
            'max_wait': MAX_WINDOW_WAIT,
            'rabbit': L.transport_url, 'logs': logs,
            'port': L.port('watcher'), 'db': L.db('watcher'),
            'lock': lock, 'region': REGION} +
        '[keystone_authtoken]\n' + _authtoken(L, 'watcher') +
        '[watcher_clients_auth]\n' + _auth(L, 'watcher') +
        '[nova]\n' + _auth(L, 'watcher'))

    # Gnocchi's keystonemiddleware reads its own copy of the configuration
    # (oslo_config_project = gnocchi); point it at ours.
    out = []
    in_authtoken = False
    with open(gnocchi_paste) as f:
        for line in f:
            out.append(line)
            if line.startswith('[filter:keystone_authtoken]'):
                in_authtoken = True
            elif in_authtoken and line.startswith('oslo_config_project'):
                out.append('oslo_config_file = %s\n' %
                           L.conf('gnocchi', 'gnocchi.conf'))
                in_authtoken = False
    _write(L.conf('gnocchi', 'api-paste.ini'), ''.join(out))
    _write(L.conf('gnocchi', 'gnocchi.conf'), (
        '[DEFAULT]\nlog_dir = %(logs)s\n'
        '[api]\nauth_mode = keystone\npaste_config = %(paste)s\n'
        '[indexer]\nurl = %(db)s\n'
        '[storage]\ndriver = file\nfile_basepath = %(state)s/gnocchi\n'
        '[incoming]\ndriver = file\nfile_basepath = %(state)s/gnocchi\n'
        '[keystone_authtoken]\n') % {
            'logs': logs, 'paste': L.conf('gnocchi', 'api-paste.ini'),
            'db': L.db('gnocchi'), 'state': L.state} +
        _authtoken(L, 'gnocchi'))
