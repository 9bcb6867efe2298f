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

"""The ``unthrottle`` action: lifts the throttles of a guest that are due.

Planned by the strategy at the end of each throttle's window (nothing else
lifts a throttle), or added by an operator. It reads the throttles of the
instance still applied from the plugin's ``predictive_throttle`` table and,
newest first, puts back the values each one replaced, with the driver
that applied it, on the host where the guest runs now (a live migration
takes a libvirt throttle along). It stops at a throttle whose own window
has not ended: a later throttle still wants the guest capped, and its own
``unthrottle`` lifts the whole stack. Lifting is never undone by
``revert``.
"""

from oslo_log import log
from watcher.applier.actions import base
from watcher.common import exception as watcher_exception
from watcher.common import nova_helper

from watcher_predictive import exception
from watcher_predictive.i18n import _
from watcher_predictive.plugins.actions import drivers
from watcher_predictive.plugins.actions import throttle
from watcher_predictive.plugins.actions import window

LOG = log.getLogger(__name__)


def due_throttles(applied, now):
    """The leading throttles of ``applied`` (newest first) whose window
    has ended by ``now``: the ones to lift, in order.
    """
    due = []
    for record in applied:
        if record.window_end is not None and record.window_end > now:
            break
        due.append(record)
    return due


class Unthrottle(window.WindowGatedAction, throttle.StoreMixin,
                 base.BaseAction):
    """Lifts the throttles of a server whose window has ended.

    The action schema::

        resource_id     str, required   instance UUID
        resource_name   str             instance name, informational
        host            str, required   host where it was throttled
        window_start    str, required   ISO 8601 UTC, the throttle's end
        window_end      str, required   ISO 8601 UTC, latest start
        release_probability, expected_benefit, reason  as every action

    Skipped when the instance has no throttle applied. When the instance
    is gone, its throttles are marked lifted (they went with the guest).
    """

    SCHEMA = window.with_window({
        'type': 'object',
        'properties': {
            'resource_id': {'type': 'string',
                            'pattern': window.UUID_PATTERN},
            'resource_name': {'type': 'string', 'minLength': 1},
            'host': {'type': 'string', 'minLength': 1},
        },
        'required': ['resource_id', 'host'],
    })

    def __init__(self, config, osc=None):
        super().__init__(config, osc=osc)
        # Injectable for tests: name -> driver; drivers.get_driver if None.
        self.get_driver = None
        self.store = None
        self.current_host = None

    @classmethod
    def get_name(cls):
        return 'unthrottle'

    @property
    def instance_uuid(self):
        return self.resource_id

    def _applied(self):
        store, owned = self._open_store()
        try:
            return store.applied_throttles(self.instance_uuid)
        finally:
            self._close_store(store, owned)

    def pre_condition(self):
        self.wait_for_window()
        try:
            applied = self._applied()
        except exception.StorageError as e:
            raise watcher_exception.ActionExecutionFailure(message=str(e))
        if not applied:
            raise watcher_exception.ActionSkipped(
                _('Instance %s has no throttle applied; there is nothing '
                  'to lift.') % self.instance_uuid)
        nova = nova_helper.NovaHelper()
        try:
            instance = nova.find_instance(self.instance_uuid)
        except watcher_exception.ComputeResourceNotFound:
            self._forget(applied)
            raise watcher_exception.ActionSkipped(
                _('Instance %s is gone, and its throttles with it; they are '
                  'marked lifted.') % self.instance_uuid)
        self.current_host = instance.host

    def _forget(self, applied):
        store, owned = self._open_store()
        try:
            for record in applied:
                store.mark_throttle_reverted(record.id)
        finally:
            self._close_store(store, owned)

    def execute(self):
        host = self.current_host or self.input_parameters['host']
        now = self.clock()
        store, owned = self._open_store()
        lifted = []
        try:
            applied = store.applied_throttles(self.instance_uuid)
            due = due_throttles(applied, now)
            for record in due:
                throttle.lift(store, record, host,
                              get_driver=self.get_driver or
                              drivers.get_driver)
                lifted.append(record.id)
        except exception.PredictiveError as e:
            raise watcher_exception.ActionExecutionFailure(
                message=_('%(error)s (lifted before the failure: '
                          '%(lifted)s)') % {'error': e,
                                            'lifted': lifted or 'none'})
        finally:
            self._close_store(store, owned)
        if len(due) < len(applied):
            LOG.info('Instance %s keeps throttle %s, whose window ends at '
                     '%s; it is lifted by its own unthrottle.',
                     self.instance_uuid, applied[len(due)].id,
                     window.iso(applied[len(due)].window_end))
        LOG.info('Throttles %s of instance %s lifted on host %s.', lifted,
                 self.instance_uuid, host)
        return True

    def revert(self):
        LOG.info('Unthrottle of instance %s is not reverted: a lifted '
                 'throttle is not applied again.', self.instance_uuid)
        return True

    def post_condition(self):
        pass

    def abort(self):
        return False

    def get_description(self):
        return ('Lift the throttles of a server once their window has '
                'ended, restoring the limits they replaced')
