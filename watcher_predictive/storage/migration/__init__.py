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

"""Schema migrations of the plugin's tables.

The plugin's alembic environment lives beside Watcher's in the same
database but records its revision in its own table,
``predictive_alembic_version``, and only ever looks at tables prefixed
``predictive_``: Watcher's ``alembic_version`` and tables are never read
or changed.

New revisions, from the repository root::

    alembic -c watcher_predictive/storage/migration/alembic.ini \\
        -x url=sqlite:///dev.sqlite revision --autogenerate -m "..."
"""

import os

from alembic import command
from alembic import config as alembic_config
from alembic import script as alembic_script
from alembic import util as alembic_util
import sqlalchemy as sa

from watcher_predictive import exception
from watcher_predictive.storage import engine as storage_engine

VERSION_TABLE = 'predictive_alembic_version'
TABLE_PREFIX = 'predictive_'
# Migrations may rewrite large tables: no statement timeout, only a
# connect timeout.
CONNECT_TIMEOUT = 30


def include_name(name, type_, parent_names):
    """Alembic filter: the plugin owns only the ``predictive_`` tables."""
    if type_ == 'table':
        return name.startswith(TABLE_PREFIX) and name != VERSION_TABLE
    return True


def alembic_cfg(connection=None):
    """Programmatic alembic configuration of the plugin's environment.

    :param connection: SQLAlchemy connection the commands run on; ``env.py``
        uses it instead of opening its own.
    """
    config = alembic_config.Config()
    here = os.path.dirname(os.path.abspath(__file__))
    # ConfigParser interpolation: a literal '%' must be doubled.
    config.set_main_option('script_location', here.replace('%', '%%'))
    config.attributes['connection'] = connection
    return config


def head_revisions():
    """Revisions the installed plugin expects, as a sorted tuple."""
    scripts = alembic_script.ScriptDirectory.from_config(alembic_cfg())
    return tuple(sorted(scripts.get_heads()))


def known_revisions():
    scripts = alembic_script.ScriptDirectory.from_config(alembic_cfg())
    return {rev.revision for rev in scripts.walk_revisions()}


def current_revisions(connection):
    """Revisions recorded in the database; empty when never migrated.

    Read directly rather than through alembic's MigrationContext, which
    logs at INFO level every time: the strategy checks this every audit.
    """
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return ()
    table = sa.table(VERSION_TABLE, sa.column('version_num'))
    return tuple(sorted(connection.execute(
        sa.select(table.c.version_num)).scalars()))


def _run(url, operation, func):
    engine = storage_engine.create_engine(
        url, connect_timeout=CONNECT_TIMEOUT, statement_timeout=None)
    try:
        with storage_engine.wrap_errors(operation, url):
            # One transaction: on PostgreSQL a failed upgrade leaves
            # nothing behind (MySQL commits every DDL statement itself).
            with engine.begin() as connection:
                return func(connection)
    except alembic_util.CommandError as error:
        raise exception.StorageError(
            reason='%s of the plugin tables in %s failed: %s' % (
                operation, storage_engine.safe_url(url), error))
    finally:
        engine.dispose()


def upgrade(url, revision='head'):
    """Upgrade the plugin's tables in the database at ``url``."""
    def _upgrade(connection):
        command.upgrade(alembic_cfg(connection), revision or 'head')
    _run(url, 'upgrade to %s' % (revision or 'head'), _upgrade)


def downgrade(url, revision='base'):
    """Downgrade the plugin's tables; ``base`` drops all of them."""
    def _downgrade(connection):
        command.downgrade(alembic_cfg(connection), revision or 'base')
    _run(url, 'downgrade to %s' % (revision or 'base'), _downgrade)


def version(url):
    """Current revision of the plugin's tables, or None if never migrated.

    With several heads (branches), they are joined with commas.
    """
    revisions = _run(url, 'schema version', current_revisions)
    return ','.join(revisions) if revisions else None
