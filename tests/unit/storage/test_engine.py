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

import pytest
from sqlalchemy import exc as sa_exc

from watcher_predictive import exception
from watcher_predictive.storage import engine


@pytest.mark.parametrize('url, expected', [
    ('sqlite:///x.db', {'timeout': 7}),
    ('mysql+pymysql://u:p@h/db', {
        'connect_timeout': 7, 'read_timeout': 7, 'write_timeout': 7,
        'init_command': "SET SESSION sql_mode = 'TRADITIONAL'"}),
    ('postgresql+psycopg2://u:p@h/db', {
        'connect_timeout': 7, 'options': '-c statement_timeout=7000'}),
    # What the operator wrote in the URL is kept.
    ('postgresql+psycopg2://u:p@h/db?connect_timeout=3', {
        'options': '-c statement_timeout=7000'}),
])
def test_every_connection_times_out(url, expected):
    created = engine.create_engine(url, connect_timeout=7,
                                   statement_timeout=7)
    assert engine._connect_args(created.url, 7, 7) == expected
    created.dispose()


def test_no_statement_timeout_for_migrations():
    url = engine.parse_url('postgresql://u:p@h/db')
    assert engine._connect_args(url, 30, None) == {'connect_timeout': 30}


def test_safe_url_hides_the_password():
    assert engine.safe_url('mysql+pymysql://watcher:pw@db/watcher') == (
        'mysql+pymysql://watcher:***@db/watcher')


class FakeDriverError(Exception):
    def __init__(self, *args, pgcode=None):
        super().__init__(*args)
        self.pgcode = pgcode


@pytest.mark.parametrize('orig, retryable', [
    (FakeDriverError(1213, 'Deadlock found'), True),
    (FakeDriverError('deadlock detected', pgcode='40P01'), True),
    (FakeDriverError('could not serialize', pgcode='40001'), True),
    (FakeDriverError(1062, 'Duplicate entry'), False),
    (FakeDriverError('unique violation', pgcode='23505'), False),
])
def test_lost_races_become_concurrent_update(orig, retryable):
    error = sa_exc.OperationalError('UPDATE ...', {}, orig)
    expected = (exception.ConcurrentUpdate if retryable
                else exception.StorageError)
    with pytest.raises(expected) as raised:
        with engine.wrap_errors('save_audit', 'mysql://u:secret@h/db'):
            raise error
    assert isinstance(raised.value, exception.StorageError)
    assert (type(raised.value) is exception.ConcurrentUpdate) == retryable
    assert 'save_audit on mysql://u:***@h/db' in str(raised.value)
    assert 'secret' not in str(raised.value)


def test_driver_message_is_cleaned_of_the_password():
    orig = FakeDriverError('access denied for u with password hunter2')
    error = sa_exc.OperationalError('SELECT 1', {}, orig)
    with pytest.raises(exception.StorageError) as raised:
        with engine.wrap_errors('load', 'mysql://u:hunter2@h/db'):
            raise error
    assert 'hunter2' not in str(raised.value)
