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

"""Migrations and the store on SQLite, MariaDB/MySQL and PostgreSQL.

Every revision is walked up and down, the migrated schema is compared with
the models, Watcher's ``alembic_version`` must come out untouched, and the
store is exercised on the migrated schema. MariaDB and PostgreSQL are used
as OpenStack CI provides them (``tools/test-setup.sh``): user, password and
database ``openstack_citest``. Each test gets a fresh database, dropped
afterwards. An unreachable server skips its tests, unless
WATCHER_PREDICTIVE_REQUIRE_DATABASES is set (CI), which makes them fail.
"""

import os
import threading
import uuid

from alembic import autogenerate
from alembic import migration as alembic_migration
from alembic import script as alembic_script
import pytest
import sqlalchemy as sa

from watcher_predictive import exception
from watcher_predictive.storage import api
from watcher_predictive.storage import migration
from watcher_predictive.storage import models

ADMIN_URLS = {
    'mysql': os.environ.get(
        'WATCHER_PREDICTIVE_MYSQL_URL',
        'mysql+pymysql://openstack_citest:openstack_citest@127.0.0.1:3306/'
        'openstack_citest'),
    'postgresql': os.environ.get(
        'WATCHER_PREDICTIVE_POSTGRESQL_URL',
        'postgresql+psycopg2://openstack_citest:openstack_citest@'
        '127.0.0.1:5432/openstack_citest'),
}
NAMES = {'mysql': 'MariaDB/MySQL', 'postgresql': 'PostgreSQL'}
REQUIRED = bool(os.environ.get('WATCHER_PREDICTIVE_REQUIRE_DATABASES'))
WATCHER_REVISION = 'watcher_0001'
I1 = '11111111-1111-1111-1111-111111111111'
I2 = '22222222-2222-2222-2222-222222222222'


def _unavailable(backend, admin, error):
    message = ('%s at %s is not usable (%s); run tools/test-setup.sh as '
               'root to start it and create the openstack_citest user.' % (
                   NAMES[backend], admin.render_as_string(hide_password=True),
                   str(error).splitlines()[0]))
    if REQUIRED:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(params=['sqlite', 'mysql', 'postgresql'])
def url(request, tmp_path):
    """URL of a fresh, empty database of each backend."""
    backend = request.param
    if backend == 'sqlite':
        yield 'sqlite:///%s' % (tmp_path / 'watcher.sqlite')
        return
    admin = sa.engine.make_url(ADMIN_URLS[backend])
    engine = sa.create_engine(admin, isolation_level='AUTOCOMMIT',
                              connect_args={'connect_timeout': 5})
    name = 'predictive_test_%s' % uuid.uuid4().hex[:12]
    try:
        with engine.connect() as conn:
            if backend == 'mysql':
                conn.exec_driver_sql(
                    'CREATE DATABASE %s CHARACTER SET utf8mb4' % name)
            else:
                conn.exec_driver_sql('CREATE DATABASE %s' % name)
    except sa.exc.OperationalError as error:
        engine.dispose()
        _unavailable(backend, admin, error)
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            if backend == 'mysql':
                conn.exec_driver_sql('DROP DATABASE IF EXISTS %s' % name)
            else:
                conn.exec_driver_sql(
                    'DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)
        engine.dispose()


def _with_connection(url, func):
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            return func(conn)
    finally:
        engine.dispose()


def _create_watcher_version_table(url):
    def create(conn):
        conn.exec_driver_sql('CREATE TABLE alembic_version '
                             '(version_num VARCHAR(32) NOT NULL, '
                             'PRIMARY KEY (version_num))')
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('%s')"
                             % WATCHER_REVISION)
    _with_connection(url, create)


def _watcher_revisions(url):
    return _with_connection(url, lambda conn: conn.exec_driver_sql(
        'SELECT version_num FROM alembic_version').scalars().all())


def _plugin_tables(url):
    return _with_connection(url, lambda conn: sorted(
        name for name in sa.inspect(conn).get_table_names()
        if name.startswith(migration.TABLE_PREFIX)))


def _schema_differences(url):
    def compare(conn):
        context = alembic_migration.MigrationContext.configure(
            conn, opts={'include_name': migration.include_name,
                        'version_table': migration.VERSION_TABLE,
                        'compare_type': True})
        return autogenerate.compare_metadata(context, models.Base.metadata)
    return _with_connection(url, compare)


def test_walk_revisions_up_and_down(url):
    _create_watcher_version_table(url)
    scripts = alembic_script.ScriptDirectory.from_config(
        migration.alembic_cfg())
    revisions = list(reversed(list(scripts.walk_revisions())))
    assert revisions, 'no migration found'

    assert migration.version(url) is None
    for revision in revisions:
        migration.upgrade(url, revision.revision)
        assert migration.version(url) == revision.revision
    assert migration.version(url) == ','.join(migration.head_revisions())
    assert _schema_differences(url) == []
    assert _plugin_tables(url) == sorted(
        [migration.VERSION_TABLE] + list(models.Base.metadata.tables))

    for revision in reversed(revisions):
        target = revision.down_revision or 'base'
        migration.downgrade(url, target)
        assert migration.version(url) == (
            None if target == 'base' else target)
    assert _plugin_tables(url) == [migration.VERSION_TABLE]

    # Down and up again: downgrades leave nothing that blocks an upgrade.
    migration.upgrade(url)
    assert _schema_differences(url) == []
    assert _watcher_revisions(url) == [WATCHER_REVISION]


@pytest.mark.parametrize('url', ['mysql'], indirect=True)
def test_mysql_tables_are_innodb_utf8mb4(url):
    migration.upgrade(url)
    rows = _with_connection(url, lambda conn: conn.execute(sa.text(
        'SELECT table_name, engine, table_collation '
        'FROM information_schema.tables '
        'WHERE table_schema = DATABASE() '
        "AND table_name LIKE 'predictive\\_%'")).all())
    assert len(rows) == len(models.Base.metadata.tables) + 1
    for name, engine, collation in rows:
        assert engine == 'InnoDB', name
        assert collation.startswith('utf8mb4'), name


def _forecast(instance, issued_at, quantiles=None, model='arima'):
    return api.ForecastRecord(
        instance_uuid=instance, resource='cpu', model=model,
        issued_at=issued_at, start=issued_at + 300, step=300,
        levels=[0.1, 0.5, 0.9],
        quantiles=quantiles or [[0.1, 0.5, 0.9]])


def test_store_on_migrated_schema(url):
    migration.upgrade(url)
    store = api.Store(url, timeout=10, forecasts_kept=2)
    try:
        store.check_schema()
        # Larger than MySQL's TEXT (64 KiB), and beyond the BMP.
        state = {'version': 1, 'note': 'r\u00e9seau \U0001F4C8',
                 'weights': [0.123456789] * 8000}
        many_steps = [[float(i), i + 0.5, i + 1.0] for i in range(4000)]
        store.save_audit('a1', [api.ProfileUpdate(I1, state, 100, None)],
                         [_forecast(I1, t, many_steps) for t in (1, 2, 3)])
        assert store.load_profiles([I1, I2]) == {
            I1: api.ProfileRecord(I1, state, 100, 1)}
        latest = store.latest_forecasts(I1)
        assert [f.issued_at for f in latest] == [3, 2]
        assert latest[0].quantiles == many_steps

        # A failure after the profile update leaves nothing written.
        with pytest.raises(exception.StorageError):
            store.save_audit('a2', [
                api.ProfileUpdate(I1, {'version': 1}, 200, 1),
                api.ProfileUpdate(I2, {'version': 1}, 200, None)],
                [_forecast(I1, 4), _forecast(I1, 5, model=None)])
        assert store.load_profiles([I1, I2])[I1].version == 1
        assert I2 not in store.load_profiles([I2])
        assert [f.issued_at for f in store.latest_forecasts()] == [3, 2]

        # A stale version is refused.
        store.save_audit('a3', [api.ProfileUpdate(I1, {'v': 3}, 300, 1)], [])
        with pytest.raises(exception.ConcurrentUpdate):
            store.save_audit('a4', [
                api.ProfileUpdate(I1, {'v': 4}, 400, 1)], [])
        assert store.load_profiles([I1])[I1].state == {'v': 3}

        throttle = store.record_throttle(I1, 'compute-1', 'noop',
                                         {'cpu_quota_vcpus': 1.5},
                                         {'cpu_quota_vcpus': None},
                                         window_end=2 ** 40)
        assert store.active_throttle(I1).window_end == 2 ** 40
        store.mark_throttle_reverted(throttle)
        assert store.active_throttle(I1) is None
        assert store.purge(0, now=2 ** 33) == (2, 1)
    finally:
        store.dispose()


@pytest.mark.parametrize('existing', [False, True])
def test_concurrent_audits_one_wins(url, existing):
    """Two audits save the same instance from the same loaded version."""
    migration.upgrade(url)
    stores = [api.Store(url, timeout=20) for _ in range(2)]
    if existing:
        stores[0].save_audit('a0', [api.ProfileUpdate(I1, {}, 1, None)], [])
    expected = 1 if existing else None
    barrier = threading.Barrier(2)
    outcomes = []

    def audit(index):
        barrier.wait()
        try:
            stores[index].save_audit(
                'audit-%d' % index,
                [api.ProfileUpdate(I2, {'by': index}, 2, None),
                 api.ProfileUpdate(I1, {'by': index}, 2, expected)],
                [_forecast(I1, 10 + index)])
            outcomes.append(('saved', index))
        except exception.ConcurrentUpdate:
            outcomes.append(('conflict', index))
        except Exception as error:  # reported by the assertion below
            outcomes.append(('error', repr(error)))

    threads = [threading.Thread(target=audit, args=(i,)) for i in (0, 1)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(kind for kind, _ in outcomes) == [
            'conflict', 'saved'], outcomes
        winner = [index for kind, index in outcomes if kind == 'saved'][0]
        profiles = stores[0].load_profiles([I1, I2])
        assert profiles[I1].state == profiles[I2].state == {'by': winner}
        assert profiles[I1].version == (2 if existing else 1)
        assert [f.issued_at for f in stores[0].latest_forecasts()] == [
            10 + winner]
    finally:
        for store in stores:
            store.dispose()
