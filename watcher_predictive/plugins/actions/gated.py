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

"""Watcher's live migration and resize, each gated by its window.

Watcher's ``migrate`` and ``resize`` schemas forbid extra properties, so
the window cannot ride along in their parameters: these subclasses extend
the schemas with the window parameters and wait for the window in
``pre_condition`` before running Watcher's own checks and code.
"""

from oslo_log import log
from watcher.applier.actions import migration
from watcher.applier.actions import resize

from watcher_predictive import exception
from watcher_predictive.plugins.actions import throttle
from watcher_predictive.plugins.actions import window

LOG = log.getLogger(__name__)


def _parent_schema(action_class):
    # Watcher declares the schema as an instance property that reads no
    # instance state.
    return action_class.schema.fget(None)


def _migrate_schema():
    schema = window.with_window(_parent_schema(migration.Migrate),
                                required=['destination_node'])
    properties = schema['properties']
    properties['migration_type'] = {'type': 'string', 'enum': ['live']}
    # The strategy booked capacity on this host for the window: Nova's
    # scheduler must not pick another one.
    properties['destination_node'] = {'type': 'string', 'minLength': 1}
    properties['source_node'] = {'type': 'string', 'minLength': 1}
    properties['resource_name'] = {'type': 'string', 'minLength': 1}
    properties['resource_id'] = {'type': 'string',
                                 'pattern': window.UUID_PATTERN}
    return schema


def _resize_schema():
    schema = window.with_window(_parent_schema(resize.Resize))
    schema['properties']['flavor'] = {'type': 'string', 'minLength': 1}
    schema['properties']['resource_id'] = {'type': 'string',
                                           'pattern': window.UUID_PATTERN}
    return schema


class _Gated(window.WindowGatedAction):
    """Wait for the window, then run Watcher's own action."""

    def pre_condition(self):
        self.wait_for_window()
        super().pre_condition()

    def execute(self):
        # Watcher's migrate and resize return None when Nova raised; the
        # applier wants exactly True for success.
        return super().execute() is True


class GatedLiveMigrate(_Gated, throttle.StoreMixin, migration.Migrate):
    """Live-migrates a server within its planned window.

    Parameters: those of Watcher's ``migrate`` action with
    ``migration_type`` ``live`` and ``destination_node`` required, plus
    ``window_start`` and ``window_end`` (ISO 8601 UTC, required),
    ``release_probability``, ``expected_benefit`` and ``reason``.

    The action waits for ``window_start``; it is skipped when
    ``window_end`` has passed, when the server is gone or no longer on
    ``source_node``.

    A throttle goes along with a live-migrated guest (libvirt migrates the
    domain's live tuning): once the migration succeeded, the throttles of
    the server still applied are recorded on ``destination_node``.
    """

    SCHEMA = _migrate_schema()

    def execute(self):
        done = super().execute()
        if done:
            self._move_throttles()
        return done

    def _move_throttles(self):
        host = self.input_parameters['destination_node']
        try:
            store, owned = self._open_store()
            try:
                moved = store.move_throttles(self.instance_uuid, host)
            finally:
                self._close_store(store, owned)
        except exception.PredictiveError as e:
            # The migration happened: it is not failed for a record.
            # ``unthrottle`` asks Nova where the guest runs anyway.
            LOG.warning('Instance %s migrated to %s, but its throttles '
                        'could not be recorded there: %s',
                        self.instance_uuid, host, e)
            return
        if moved:
            LOG.info('%d throttle(s) of instance %s now recorded on %s.',
                     moved, self.instance_uuid, host)

    @classmethod
    def get_name(cls):
        return 'predictive_migrate'

    @classmethod
    def check_parameters(cls, params):
        if params.get('destination_node') == params.get('source_node'):
            raise exception.ActionParameterError(
                action=cls.get_name(), name='destination_node',
                value=params.get('destination_node'),
                reason='the destination is the source node')

    def get_description(self):
        return ('Live-migrate a server from source_node to destination_node '
                'within its predicted lull window')


class GatedResize(_Gated, resize.Resize):
    """Resizes a server to a flavor within its planned window.

    Parameters: those of Watcher's ``resize`` action (``resource_id``,
    ``flavor``), plus ``window_start`` and ``window_end`` (ISO 8601 UTC,
    required), ``release_probability``, ``expected_benefit`` and
    ``reason``. Waits for ``window_start``; skipped when ``window_end``
    has passed or the server is gone.
    """

    SCHEMA = _resize_schema()

    @classmethod
    def get_name(cls):
        return 'predictive_resize'

    def get_description(self):
        return ('Resize a server to the given flavor within its predicted '
                'lull window')
