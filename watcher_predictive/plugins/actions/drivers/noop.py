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

"""The ``noop`` throttle driver: logs the throttle, touches nothing.

It does NOT change anything on the hypervisor: the guest keeps all its
vCPUs and disk bandwidth. The ``throttle`` and ``unthrottle`` actions
still record each throttle in the plugin's ``predictive_throttle`` table,
so that plans, reverts and the operator CLI behave as with a real driver.
Used by default, by tests and by development set-ups without libvirt.
"""

from oslo_log import log

from watcher_predictive.plugins.actions.drivers import base

LOG = log.getLogger(__name__)


class NoopThrottleDriver(base.ThrottleDriver):
    """Logs throttles; the hypervisor is untouched."""

    name = 'noop'

    def apply(self, instance_uuid, host, limits, *, window_end=None):
        LOG.info('noop throttle driver: instance %s on host %s would be '
                 'limited to %s; the hypervisor is NOT changed.',
                 instance_uuid, host, limits)
        # Nothing was replaced.
        return {}

    def restore(self, instance_uuid, host, previous):
        # Nothing was changed, whatever was recorded (earlier versions
        # recorded the limit the throttle replaced).
        LOG.info('noop throttle driver: throttle of instance %s on host %s '
                 'lifted (recorded previous values %s); the hypervisor is '
                 'NOT changed.', instance_uuid, host, previous)
