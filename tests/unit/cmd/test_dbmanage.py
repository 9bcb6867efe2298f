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

import sqlite3
import time

import pytest

from watcher_predictive.cmd import dbmanage
from watcher_predictive.learning import learner
from watcher_predictive.learning import scoring
from watcher_predictive.storage import api
from watcher_predictive.storage import migration
from watcher_predictive.storage import models

HEAD = migration.head_revisions()[0]
I1 = '11111111-1111-1111-1111-111111111111'


@pytest.fixture
def setup(tmp_path):
    """watcher.conf pointing at a SQLite file that Watcher already uses."""
    db_path = tmp_path / 'watcher.sqlite'
    with sqlite3.connect(db_path) as conn:
        conn.execute('CREATE TABLE alembic_version '
                     '(version_num VARCHAR(32) NOT NULL PRIMARY KEY)')
        conn.execute("INSERT INTO alembic_version VALUES ('watcher0001')")
    conf_path = tmp_path / 'watcher.conf'
    conf_path.write_text('[database]\nconnection = sqlite:///%s\n' % db_path)
    return conf_path, db_path


def run(capsys, conf_path, *args):
    status = dbmanage.main(['--config-file', str(conf_path)] + list(args))
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return status, lines[-1] if lines else '', err


def tables(db_path):
    with sqlite3.connect(db_path) as conn:
        return sorted(name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))


def test_upgrade_version_downgrade(capsys, setup):
    conf_path, db_path = setup
    assert run(capsys, conf_path, 'version')[:2] == (0, 'None')

    status, out, _ = run(capsys, conf_path, 'upgrade')
    assert status == 0 and out.endswith('at revision %s.' % HEAD)
    assert run(capsys, conf_path, 'version')[:2] == (0, HEAD)
    assert tables(db_path) == sorted(
        ['alembic_version', 'predictive_alembic_version'] +
        list(models.Base.metadata.tables))
    assert {'predictive_forecast', 'predictive_profile',
            'predictive_throttle'} <= set(tables(db_path))
    # Upgrading again changes nothing.
    assert run(capsys, conf_path, 'upgrade', '--revision', 'head')[0] == 0

    status, out, _ = run(capsys, conf_path, 'downgrade')
    assert status == 0 and out.endswith('at revision None.')
    assert run(capsys, conf_path, 'version')[:2] == (0, 'None')
    assert tables(db_path) == ['alembic_version',
                               'predictive_alembic_version']
    # Watcher's own revision is never touched.
    with sqlite3.connect(db_path) as conn:
        assert conn.execute('SELECT version_num FROM alembic_version'
                            ).fetchall() == [('watcher0001',)]


def test_plugin_connection_wins(capsys, setup, tmp_path):
    conf_path, db_path = setup
    own = tmp_path / 'own.sqlite'
    conf_path.write_text(conf_path.read_text() + (
        '[watcher_predictive]\nconnection = sqlite:///%s\n' % own))
    assert run(capsys, conf_path, 'upgrade')[0] == 0
    assert 'predictive_profile' in tables(own)
    assert 'predictive_profile' not in tables(db_path)


def test_purge(capsys, setup):
    conf_path, db_path = setup
    run(capsys, conf_path, 'upgrade')
    store = api.Store('sqlite:///%s' % db_path)
    now = int(time.time())
    store.save_audit('a', [], [
        api.ForecastRecord(I1, 'cpu', 'arima', issued_at, issued_at, 300,
                           [0.5], [[1.0]])
        for issued_at in (now - 40 * 86400, now - 31 * 86400, now - 60)],
        errors=[learner.ErrorRecord(I1, 'cpu', 'ema', issued_at, issued_at,
                                    300, scoring.Score(steps=1))
                for issued_at in (now - 31 * 86400, now - 60)])
    store.dispose()

    status, out, _ = run(capsys, conf_path, 'purge', '--older-than', '30')
    assert status == 0
    with sqlite3.connect(db_path) as conn:
        assert conn.execute('SELECT issued_at FROM predictive_forecast_error'
                            ).fetchall() == [(now - 60,)]
    assert out.startswith('Deleted 2 forecasts and 0 reverted throttles '
                          'older than 30 days from sqlite:///')
    with sqlite3.connect(db_path) as conn:
        assert conn.execute('SELECT issued_at FROM predictive_forecast'
                            ).fetchall() == [(now - 60,)]


def test_purge_without_tables_tells_what_to_do(capsys, setup):
    conf_path, _ = setup
    status, _, err = run(capsys, conf_path, 'purge', '--older-than', '1')
    assert status == 1
    assert 'watcher-predictive-db-manage upgrade' in err


@pytest.mark.parametrize('args', [
    ['purge'], ['purge', '--older-than', '-1'], ['purge', '--older-than',
                                                 'week'], ['nosuchcommand']])
def test_invalid_arguments(capsys, setup, args):
    conf_path, _ = setup
    with pytest.raises(SystemExit) as raised:
        dbmanage.main(['--config-file', str(conf_path)] + args)
    assert raised.value.code == 2


def test_unknown_revision(capsys, setup):
    conf_path, _ = setup
    status, _, err = run(capsys, conf_path, 'upgrade', '--revision', 'abc')
    assert status == 1
    assert "Can't locate revision identified by 'abc'" in err
