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

"""The ``throttle`` action: caps the vCPUs a guest may use in its window.

Planned for a guest predicted to burst while its host is predicted over
its CPU threshold. The cap is applied at ``window_start`` by the driver
named in ``[watcher_predictive] throttle_driver``; it is meant to last
until ``window_end``, which the driver receives. ``revert`` puts the
previous limits back.
"""

from oslo_config import cfg
from oslo_log import log
from watcher.applier.actions import base
from watcher.common import exception as watcher_exception
from watcher.common import nova_helper

from watcher_predictive import exception
from watcher_predictive.i18n import _
from watcher_predictive.plugins.actions import drivers
from watcher_predictive.plugins.actions import window

LOG = log.getLogger(__name__)
CONF = cfg.CONF


class Throttle(window.WindowGatedAction, base.BaseAction):
    """Caps the vCPUs of a server on its host during its window.

    The action schema::

        resource_id     str, required   instance UUID
        resource_name   str             instance name, informational
        host            str, required   compute host the instance runs on
        cpu_limit       number > 0, required  vCPUs the guest may use
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
        },
        'required': ['resource_id', 'host', 'cpu_limit'],
    })

    def __init__(self, config, osc=None):
        super().__init__(config, osc=osc)
        # Injectable for tests; built from watcher.conf when None.
        self.driver = None
        self.previous = None

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
    def cpu_limit(self):
        return float(self.input_parameters.get('cpu_limit'))

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
        driver = self._get_driver()
        try:
            self.previous = driver.apply(
                self.instance_uuid, self.host, self.cpu_limit,
                window_end=int(self.window.end_ts))
        except exception.ThrottleError as e:
            raise watcher_exception.ActionExecutionFailure(message=str(e))
        finally:
            driver.close()
        LOG.info('Instance %s on host %s throttled to %s vCPUs until %s '
                 '(driver %s).', self.instance_uuid, self.host,
                 self.cpu_limit, window.iso(self.window.end), driver.name)
        return True

    def revert(self):
        if self.previous is None:
            LOG.info('Throttle of instance %s was not applied; nothing to '
                     'revert.', self.instance_uuid)
            return True
        driver = self._get_driver()
        try:
            driver.restore(self.instance_uuid, self.host, self.previous)
        finally:
            driver.close()
        self.previous = None
        return True

    def post_condition(self):
        pass

    def abort(self):
        # Applying a cap is immediate: there is nothing to interrupt.
        return False

    def get_description(self):
        return ('Cap the vCPUs a server may use on its host during its '
                'predicted contention window')
