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

"""The ``noop`` throttle driver: records the throttle, touches nothing.

It does NOT change anything on the hypervisor: the guest keeps all its
vCPUs. It records each throttle (limits, previous limits, window end) in
the plugin's ``predictive_throttles`` table, so that plans, reverts and
the operator CLI behave as with a real driver, and says so in the log.
"""

from oslo_log import log

from watcher_predictive import exception
from watcher_predictive.plugins.actions.drivers import base

LOG = log.getLogger(__name__)


class NoopThrottleDriver(base.ThrottleDriver):
    """Records throttles in the plugin's tables; the hypervisor is untouched.

    :param store: a ``watcher_predictive.storage.api.Store``; built from
        watcher.conf on first use when None.
    """

    name = 'noop'

    def __init__(self, store=None):
        self._store = store
        self._owns_store = store is None

    @property
    def store(self):
        if self._store is None:
            from watcher_predictive.storage import api as storage
            self._store = storage.Store.from_config()
        return self._store

    def apply(self, instance_uuid, host, cpu_limit, *, window_end=None):
        try:
            active = self.store.active_throttle(instance_uuid)
            previous = {'cpu_limit': (active.limits.get('cpu_limit')
                                      if active is not None else None)}
            record_id = self.store.record_throttle(
                instance_uuid, host, self.name,
                limits={'cpu_limit': float(cpu_limit)}, previous=previous,
                window_end=window_end)
        except exception.StorageError as e:
            raise base.ThrottleApplyFailed(instance=instance_uuid, host=host,
                                           reason=str(e))
        LOG.info('noop throttle driver: recorded a limit of %s vCPUs for '
                 'instance %s on host %s (throttle %s); the hypervisor is '
                 'NOT changed.', cpu_limit, instance_uuid, host, record_id)
        return dict(previous, throttle_id=record_id)

    def restore(self, instance_uuid, host, previous):
        throttle_id = (previous or {}).get('throttle_id')
        if throttle_id is None:
            raise base.ThrottleRestoreFailed(
                instance=instance_uuid, host=host,
                reason='the previous limits carry no throttle_id; they '
                       'were not returned by the noop driver')
        try:
            self.store.mark_throttle_reverted(throttle_id)
        except exception.StorageError as e:
            raise base.ThrottleRestoreFailed(instance=instance_uuid,
                                             host=host, reason=str(e))
        LOG.info('noop throttle driver: throttle %s of instance %s on host '
                 '%s marked reverted (previous limit %s); the hypervisor is '
                 'NOT changed.', throttle_id, instance_uuid, host,
                 previous.get('cpu_limit'))

    def close(self):
        if self._owns_store and self._store is not None:
            self._store.dispose()
            self._store = None
