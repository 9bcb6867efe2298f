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

"""Engines with timeouts, and database errors turned into StorageError.

Shared by the store and the migration helpers. Every connection gets a
connect timeout, and a statement timeout when one is asked for, so that an
audit never hangs on an unreachable or locked database.
"""

import contextlib

import sqlalchemy
from sqlalchemy import exc as sa_exc

from watcher_predictive import exception

# SQLSTATE of PostgreSQL deadlocks and serialization failures, and the
# MySQL/MariaDB error number of a deadlock: the transaction lost a race
# against a concurrent writer and may be retried from the start.
_PG_RETRYABLE = ('40P01', '40001')
_MYSQL_DEADLOCK = 1213

UPGRADE_HINT = ('Check that the database is reachable with that URL and '
                'that the plugin schema is current '
                '("watcher-predictive-db-manage upgrade").')


def parse_url(url):
    """Parse a SQLAlchemy URL without ever echoing it (it holds a password)."""
    if isinstance(url, sqlalchemy.engine.URL):
        return url
    try:
        return sqlalchemy.engine.make_url(url)
    except (sa_exc.ArgumentError, TypeError, ValueError):
        scheme = str(url).split(':', 1)[0] if url else url
        raise exception.StorageError(
            reason='the database connection is not a valid SQLAlchemy URL '
                   '(scheme %r); expected for example '
                   'mysql+pymysql://user:password@host/watcher. Fix '
                   '[watcher_predictive] connection or [database] '
                   'connection in watcher.conf.' % (scheme,))


def safe_url(url):
    """The URL as text with its password masked, for messages and logs."""
    return parse_url(url).render_as_string(hide_password=True)


def _connect_args(url, connect_timeout, statement_timeout):
    backend = url.get_backend_name()
    given = set(url.query)
    args = {}
    if backend == 'sqlite':
        # Seconds to wait for a lock held by another writer.
        args['timeout'] = statement_timeout or connect_timeout
    elif backend in ('mysql', 'mariadb'):
        args['connect_timeout'] = connect_timeout
        if statement_timeout:
            args['read_timeout'] = statement_timeout
            args['write_timeout'] = statement_timeout
        # Refuse (instead of truncating) values that do not fit, as
        # oslo.db does for Watcher's own tables.
        args['init_command'] = "SET SESSION sql_mode = 'TRADITIONAL'"
    elif backend == 'postgresql':
        args['connect_timeout'] = connect_timeout
        if statement_timeout:
            args['options'] = '-c statement_timeout=%d' % (
                statement_timeout * 1000)
    # Parameters written in the URL by the operator win.
    return {key: value for key, value in args.items() if key not in given}


def create_engine(url, connect_timeout=30, statement_timeout=30):
    """An engine whose connections time out.

    :param url: SQLAlchemy URL (text or ``sqlalchemy.engine.URL``).
    :param connect_timeout: seconds to wait for a connection.
    :param statement_timeout: seconds one statement (or, on SQLite, one
        lock) may take; ``None`` leaves the server default (migrations).
    """
    parsed = parse_url(url)
    try:
        return sqlalchemy.create_engine(
            parsed,
            connect_args=_connect_args(parsed, connect_timeout,
                                       statement_timeout),
            pool_pre_ping=True,
            pool_recycle=3600)
    except sa_exc.NoSuchModuleError:
        raise exception.StorageError(
            reason='%s names a database dialect that SQLAlchemy does not '
                   'know; use mysql+pymysql://, postgresql+psycopg2:// or '
                   'sqlite://.' % safe_url(parsed))
    except ImportError as error:
        raise exception.StorageError(
            reason='the database driver for %s is not installed (%s); '
                   'install it on this host.' % (safe_url(parsed), error))


def is_retryable(error):
    """Whether a DBAPI error says that a concurrent transaction won."""
    orig = getattr(error, 'orig', None)
    if getattr(orig, 'pgcode', None) in _PG_RETRYABLE:
        return True
    args = getattr(orig, 'args', ())
    return bool(args) and args[0] == _MYSQL_DEADLOCK


def describe(error, url):
    """The driver's own message of a database error, without password."""
    url = parse_url(url)
    orig = getattr(error, 'orig', None)
    text = str(orig if orig is not None else error).strip()
    password = url.password
    if password:
        text = text.replace(str(password), '***')
    return text


@contextlib.contextmanager
def wrap_errors(operation, url):
    """Turn any SQLAlchemy error of ``operation`` into a StorageError.

    Deadlocks and serialization failures become ConcurrentUpdate, so the
    caller reloads and retries as for a lost optimistic lock.
    """
    url = parse_url(url)
    try:
        yield
    except sa_exc.SQLAlchemyError as error:
        if isinstance(error, sa_exc.DBAPIError) and is_retryable(error):
            raise exception.ConcurrentUpdate(
                message='%s on %s lost a race with a concurrent transaction '
                        '(%s); nothing was written, reload and retry.' % (
                            operation, safe_url(url), describe(error, url)),
                what=operation, expected=None, found=None, attempts=0)
        raise exception.StorageError(
            reason='%s on %s failed: %s. %s' % (
                operation, safe_url(url), describe(error, url),
                UPGRADE_HINT)) from error
