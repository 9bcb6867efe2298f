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

"""The ``throttle`` action: caps what a guest may use in its window.

Planned for a guest predicted to burst while its host is predicted over
its CPU threshold, or queued by an operator. At ``window_start`` the driver
named in ``[watcher_predictive] throttle_driver`` caps the guest's vCPUs
(and, when asked, the throughput and operations of each of its disks) and
returns the values it replaced. They are stored in the plugin's
``predictive_throttle`` table before the action succeeds, so that
``revert`` and a later ``unthrottle`` action put exactly them back, from
any applier host, with the driver that applied them.
"""

from oslo_config import cfg
from oslo_log import log
from watcher.applier.actions import base
from watcher.common import exception as watcher_exception
from watcher.common import nova_helper

from watcher_predictive.conf import throttle as throttle_conf
from watcher_predictive import exception
from watcher_predictive.i18n import _
from watcher_predictive.plugins.actions import drivers
from watcher_predictive.plugins.actions.drivers import base as driver_base
from watcher_predictive.plugins.actions import window

LOG = log.getLogger(__name__)
CONF = cfg.CONF
# Seconds allowed to each statement on the plugin's tables.
STORE_TIMEOUT = 30


def open_store():
    from watcher_predictive.storage import api as storage
    return storage.Store.from_config(CONF, timeout=STORE_TIMEOUT)


def lift(store, record, host, get_driver=drivers.get_driver):
    """Put back the values a stored throttle replaced, and mark it so.

    :param host: where the guest runs now (a live migration takes the
        throttle along).
    :raises ThrottleError: nothing was marked.
    """
    driver = get_driver(record.driver)
    try:
        driver.restore(record.instance_uuid, host, record.previous)
    finally:
        driver.close()
    store.mark_throttle_reverted(record.id)
    LOG.info('Throttle %s of instance %s lifted on host %s (driver %s).',
             record.id, record.instance_uuid, host, record.driver)


class StoreMixin:
    """The plugin store of an action: injected, or opened and closed."""

    store = None

    def _open_store(self):
        if self.store is not None:
            return self.store, False
        return open_store(), True

    @staticmethod
    def _close_store(store, owned):
        if owned:
            store.dispose()


class Throttle(window.WindowGatedAction, StoreMixin, base.BaseAction):
    """Caps the vCPUs (and disk I/O) of a server on its host in its window.

    The action schema::

        resource_id     str, required   instance UUID
        resource_name   str             instance name, informational
        host            str, required   compute host the instance runs on
        cpu_limit       number > 0, required  vCPUs the guest may use
        disk_bytes_sec  integer >= 0    bytes/s allowed to each disk
                                        (0: disks left alone)
        disk_iops_sec   integer >= 0    operations/s allowed to each disk
        window_start    str, required   ISO 8601 UTC
        window_end      str, required   ISO 8601 UTC
        release_probability  number in [0, 1]
        expected_benefit     number
        reason               str

    Skipped when the window has ended, or when the server is gone, no
    longer on ``host`` or not ACTIVE.
    """

    SCHEMA = window.with_window({
        'type': 'object',
        'properties': {
            'resource_id': {'type': 'string',
                            'pattern': window.UUID_PATTERN},
            'resource_name': {'type': 'string', 'minLength': 1},
            'host': {'type': 'string', 'minLength': 1},
            'cpu_limit': {'type': 'number', 'exclusiveMinimum': 0},
            'disk_bytes_sec': {'type': 'integer', 'minimum': 0},
            'disk_iops_sec': {'type': 'integer', 'minimum': 0},
        },
        'required': ['resource_id', 'host', 'cpu_limit'],
    })

    def __init__(self, config, osc=None):
        super().__init__(config, osc=osc)
        throttle_conf.register_opts(CONF)
        # Injectable for tests; built from watcher.conf when None.
        self.driver = None
        self.store = None
        # Row of predictive_throttle written by execute().
        self.throttle_id = None

    @classmethod
    def get_name(cls):
        return 'throttle'

    @property
    def instance_uuid(self):
        return self.resource_id

    @property
    def host(self):
        return self.input_parameters.get('host')

    @property
    def limits(self):
        params = self.input_parameters
        return driver_base.ThrottleLimits(
            cpu_limit=float(params.get('cpu_limit')),
            disk_bytes_sec=int(params.get('disk_bytes_sec', 0)),
            disk_iops_sec=int(params.get('disk_iops_sec', 0)))

    def _get_driver(self):
        if self.driver is None:
            self.driver = drivers.get_driver(
                CONF.watcher_predictive.throttle_driver)
        return self.driver

    def pre_condition(self):
        self.wait_for_window()
        nova = nova_helper.NovaHelper()
        try:
            instance = nova.find_instance(self.instance_uuid)
        except watcher_exception.ComputeResourceNotFound:
            raise watcher_exception.ActionSkipped(
                _('Instance %s not found; there is nothing to '
                  'throttle.') % self.instance_uuid)
        if instance.host != self.host:
            raise watcher_exception.ActionSkipped(
                _('Instance %(instance)s is on host %(current)s, not on '
                  '%(host)s where its throttle was planned.') % {
                    'instance': self.instance_uuid, 'current': instance.host,
                    'host': self.host})
        if instance.status != 'ACTIVE':
            raise watcher_exception.ActionSkipped(
                _('Instance %(instance)s is %(status)s, not ACTIVE; there is '
                  'no CPU use to throttle.') % {
                    'instance': self.instance_uuid,
                    'status': instance.status})

    def execute(self):
        limits = self.limits
        try:
            driver = self._get_driver()
            store, owned = self._open_store()
        except exception.PredictiveError as e:
            raise watcher_exception.ActionExecutionFailure(message=str(e))
        try:
            previous = driver.apply(self.instance_uuid, self.host, limits,
                                    window_end=int(self.window.end_ts))
            self.throttle_id = self._record(store, driver, limits, previous)
        except exception.PredictiveError as e:
            raise watcher_exception.ActionExecutionFailure(message=str(e))
        finally:
            driver.close()
            self._close_store(store, owned)
        LOG.info('Instance %s on host %s throttled to %s until %s (driver '
                 '%s, throttle %s).', self.instance_uuid, self.host, limits,
                 window.iso(self.window.end), driver.name, self.throttle_id)
        return True

    def _record(self, store, driver, limits, previous):
        """Store the throttle; lift it again when it cannot be stored.

        A cap nobody knows about would never be lifted.
        """
        try:
            return store.record_throttle(
                self.instance_uuid, self.host, driver.name,
                limits=limits.as_dict(), previous=previous,
                window_end=int(self.window.end_ts))
        except exception.StorageError as e:
            try:
                driver.restore(self.instance_uuid, self.host, previous)
                undone = 'the throttle was lifted again'
            except exception.ThrottleError as restore_error:
                undone = ('lifting it again failed too (%s): the guest '
                          'stays capped until its previous values %r are '
                          'restored by hand' % (restore_error, previous))
            raise exception.ThrottleError(
                instance=self.instance_uuid, host=self.host,
                reason='it could not be recorded (%s); %s' % (e, undone))

    def revert(self):
        if self.throttle_id is None:
            LOG.info('Throttle of instance %s was not applied; nothing to '
                     'revert.', self.instance_uuid)
            return True
        store, owned = self._open_store()
        try:
            records = [r for r in store.applied_throttles(self.instance_uuid)
                       if r.id == self.throttle_id]
            if not records:
                LOG.info('Throttle %s of instance %s was already lifted.',
                         self.throttle_id, self.instance_uuid)
            else:
                lift(store, records[0], self.host,
                     get_driver=self._driver_named)
        finally:
            self._close_store(store, owned)
        self.throttle_id = None
        return True

    def _driver_named(self, name):
        # The injected driver when it is the one that applied the throttle.
        if self.driver is not None and self.driver.name == name:
            return self.driver
        return drivers.get_driver(name)

    def post_condition(self):
        pass

    def abort(self):
        # Applying a cap is immediate: there is nothing to interrupt.
        return False

    def get_description(self):
        return ('Cap the vCPUs (and disk I/O) a server may use on its host '
                'during its predicted contention window')
