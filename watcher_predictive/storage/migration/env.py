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

"""Alembic environment of the plugin's tables.

Run through ``watcher_predictive.storage.migration`` (which hands over an
open connection) or, for developers, through the ``alembic`` command with
``alembic.ini`` beside this file and ``-x url=<SQLAlchemy URL>``.
"""

from logging import config as logging_config

from alembic import context

from watcher_predictive.storage import engine as storage_engine
from watcher_predictive.storage import migration
from watcher_predictive.storage import models

config = context.config
if config.config_file_name is not None:
    # Only when run by the alembic command with alembic.ini: inside
    # Watcher or the db-manage command, logging is oslo.log's.
    logging_config.fileConfig(config.config_file_name,
                              disable_existing_loggers=False)

CONFIGURE_OPTS = {
    'target_metadata': models.Base.metadata,
    'version_table': migration.VERSION_TABLE,
    'include_name': migration.include_name,
    'compare_type': True,
    # SQLite cannot ALTER most things: let later revisions use batch mode.
    'render_as_batch': True,
}


def _url():
    url = (context.get_x_argument(as_dictionary=True).get('url')
           or config.get_main_option('sqlalchemy.url'))
    if not url:
        raise SystemExit('Give the database with -x url=<SQLAlchemy URL>.')
    return url


def run_migrations_offline():
    context.configure(url=_url(), literal_binds=True, **CONFIGURE_OPTS)
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection):
    context.configure(connection=connection, **CONFIGURE_OPTS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get('connection')
    if connection is not None:
        _run_on(connection)
        return
    engine = storage_engine.create_engine(_url(), statement_timeout=None)
    try:
        with engine.connect() as connection:
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
