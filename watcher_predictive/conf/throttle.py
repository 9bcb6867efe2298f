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

"""Options of the throttle drivers, in ``[watcher_predictive]``.

Kept apart from the general options: only the ``throttle`` and
``unthrottle`` actions read them, on the applier's hosts.
"""

from oslo_config import cfg

from watcher_predictive.conf import predictive

THROTTLE_OPTS = [
    cfg.StrOpt('libvirt_uri_template',
               default='qemu+tls://{host}/system',
               help='libvirt connection URI of a compute host, with '
                    '{host} replaced by the host name Nova reports for '
                    'the instance (the hypervisor_hostname of its node). '
                    'For example qemu+tls://{host}/system or '
                    'qemu+ssh://nova@{host}/system. Used by the libvirt '
                    'throttle driver.'),
    cfg.IntOpt('libvirt_timeout',
               default=30, min=1, max=600,
               help='Seconds (1 to 600) allowed to connect to a compute '
                    'host\'s libvirt, and to each call on it; a host that '
                    'does not answer in time fails the throttle as '
                    'unreachable.'),
    cfg.IntOpt('libvirt_cpu_period',
               default=100000, min=1000, max=1000000,
               help='CFS scheduling period, in microseconds (1000 to '
                    '1000000: a millisecond to one second), set with the '
                    'quota of a throttled guest\'s vCPUs; the quota of '
                    'each vCPU is this period times the vCPUs allowed '
                    'divided by the guest\'s vCPUs.'),
    cfg.IntOpt('throttle_disk_bytes_sec',
               default=0, min=0, max=10 ** 12,
               help='Total disk throughput, in bytes per second (0 to '
                    '1000000000000), allowed '
                    'to each disk of a throttled guest for the strategy\'s '
                    'planned throttles; 0 (the default) leaves the disks '
                    'alone.'),
    cfg.IntOpt('throttle_disk_iops_sec',
               default=0, min=0, max=10 ** 7,
               help='Total number of disk I/O operations per second (0 to '
                    '10000000) allowed to each '
                    'disk of a throttled guest for the strategy\'s planned '
                    'throttles; 0 (the default) leaves the disks alone.'),
]


def register_opts(conf):
    predictive.register_opts(conf)
    conf.register_opts(THROTTLE_OPTS, group=predictive.GROUP_NAME)


def list_opts():
    return [(predictive.GROUP, THROTTLE_OPTS)]
