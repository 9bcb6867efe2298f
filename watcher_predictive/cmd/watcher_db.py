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

"""Read-only look at Watcher's own tables, for the inspection commands.

The commands run on any host with watcher.conf, outside Watcher's
services: Watcher's object layer would need its RPC and versioned-object
set-up for what are two plain queries. Only columns that Watcher's schema
has had since its first releases are read (``audits``, ``action_plans``,
``actions``), and soft-deleted rows are ignored as Watcher ignores them.
"""

import json

import sqlalchemy as sa

from watcher_predictive import exception
from watcher_predictive.storage import engine as storage_engine

_META = sa.MetaData()
AUDITS = sa.Table('audits', _META,
                  sa.Column('id', sa.Integer), sa.Column('uuid', sa.String),
                  sa.Column('parameters', sa.Text),
                  sa.Column('deleted', sa.Integer))
ACTION_PLANS = sa.Table('action_plans', _META,
                        sa.Column('id', sa.Integer),
                        sa.Column('uuid', sa.String),
                        sa.Column('state', sa.String),
                        sa.Column('deleted', sa.Integer))
ACTIONS = sa.Table('actions', _META,
                   sa.Column('id', sa.Integer), sa.Column('uuid', sa.String),
                   sa.Column('action_plan_id', sa.Integer),
                   sa.Column('action_type', sa.String),
                   sa.Column('input_parameters', sa.Text),
                   sa.Column('state', sa.String),
                   sa.Column('deleted', sa.Integer))


def _json(text, default):
    if text in (None, ''):
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


class WatcherDatabase:
    """Watcher's ``[database] connection``, read with a timeout.

    :param url: SQLAlchemy URL of Watcher's database.
    :param timeout: seconds allowed to connect and to run one query.
    """

    def __init__(self, url, timeout=30):
        self._url = storage_engine.parse_url(url)
        self.safe_url = storage_engine.safe_url(self._url)
        self._engine = storage_engine.create_engine(
            self._url, connect_timeout=timeout, statement_timeout=timeout)

    @classmethod
    def from_config(cls, conf, timeout=30):
        try:
            url = conf.database.connection
        except Exception:
            url = None
        if not url:
            raise exception.StorageError(
                reason='[database] connection (Watcher\'s database) is not '
                       'set in watcher.conf')
        return cls(url, timeout=timeout)

    def dispose(self):
        self._engine.dispose()

    def audit_parameters(self, audit_uuid):
        """The parameters of an audit, or None when it is not there."""
        query = sa.select(AUDITS.c.parameters).where(
            AUDITS.c.uuid == audit_uuid, AUDITS.c.deleted == 0)
        with storage_engine.wrap_errors('reading audit %s' % audit_uuid,
                                        self._url):
            with self._engine.connect() as conn:
                row = conn.execute(query).first()
        if row is None:
            return None
        params = _json(row.parameters, {})
        return params if isinstance(params, dict) else {}

    def actions_of(self, instance_uuid):
        """Actions of non-deleted plans whose resource is the instance,
        ordered by window start.
        """
        query = (sa.select(ACTIONS.c.uuid, ACTIONS.c.action_type,
                           ACTIONS.c.input_parameters, ACTIONS.c.state,
                           ACTION_PLANS.c.uuid.label('plan_uuid'),
                           ACTION_PLANS.c.state.label('plan_state'))
                 .join(ACTION_PLANS,
                       ACTIONS.c.action_plan_id == ACTION_PLANS.c.id)
                 .where(ACTIONS.c.deleted == 0, ACTION_PLANS.c.deleted == 0,
                        # Narrows the scan; the exact match is below.
                        ACTIONS.c.input_parameters.contains(instance_uuid)))
        with storage_engine.wrap_errors(
                'reading the actions of instance %s' % instance_uuid,
                self._url):
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
        found = []
        for row in rows:
            params = _json(row.input_parameters, {})
            if not isinstance(params, dict) or \
                    params.get('resource_id') != instance_uuid:
                continue
            found.append({'uuid': row.uuid, 'action_type': row.action_type,
                          'state': row.state,
                          'action_plan_uuid': row.plan_uuid,
                          'action_plan_state': row.plan_state,
                          'input_parameters': params})
        found.sort(key=lambda a: str(a['input_parameters'].get(
            'window_start', '')))
        return found
