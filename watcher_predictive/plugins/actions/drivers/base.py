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

"""Interface of the drivers that throttle a guest on its compute host.

A driver caps what a guest may use on its compute host (vCPU time, and
optionally disk throughput and operations) and gives back the values it
replaced, as plain data. The ``throttle`` action stores them in the
plugin's ``predictive_throttle`` table; ``revert`` of that action, or a
later ``unthrottle`` action, gives them back to ``restore``, which puts
exactly those values back. Drivers keep no state between calls.
"""

import abc
import dataclasses

from watcher_predictive import exception


class ThrottleApplyFailed(exception.ThrottleError):
    msg_fmt = ('Throttle of instance %(instance)s on host %(host)s could '
               'not be applied: %(reason)s')


class ThrottleRestoreFailed(exception.ThrottleError):
    msg_fmt = ('Throttle of instance %(instance)s on host %(host)s could '
               'not be removed: %(reason)s. The guest may still be capped; '
               'check the host.')


class HostUnreachable(ThrottleApplyFailed):
    msg_fmt = ('Compute host %(host)s of instance %(instance)s is not '
               'reachable at %(uri)s: %(reason)s. Check that the host is up, '
               'that its libvirt accepts remote connections, and '
               '[watcher_predictive] libvirt_uri_template.')


class DomainNotFound(ThrottleApplyFailed):
    msg_fmt = ('Instance %(instance)s has no domain on compute host '
               '%(host)s (%(uri)s): %(reason)s. It may have been moved or '
               'deleted since the plan was made.')


class UnsupportedParameter(ThrottleApplyFailed):
    msg_fmt = ('The hypervisor of compute host %(host)s does not support '
               '%(parameter)s for instance %(instance)s: %(reason)s. '
               'Nothing was changed; remove that limit from the throttle '
               'or use a host whose hypervisor supports it.')


class UnknownThrottleDriver(exception.PredictiveError):
    msg_fmt = ('Throttle driver %(name)r is not available (known: '
               '%(known)s); set [watcher_predictive] throttle_driver in '
               'watcher.conf to one of them.')


class DriverDependencyMissing(exception.PredictiveError):
    msg_fmt = ('Throttle driver %(name)r needs the Python package '
               '%(package)s, which is not installed (%(reason)s). Install '
               'it on every applier host (pip install %(package)s, or the '
               'distribution package python3-libvirt), or set '
               '[watcher_predictive] throttle_driver = noop.')


@dataclasses.dataclass(frozen=True)
class ThrottleLimits:
    """What a throttle allows the guest; 0 or None leaves a resource alone.
    """

    cpu_limit: float
    """vCPUs the whole guest may use (1.5 = one and a half host CPUs)."""
    disk_bytes_sec: int = 0
    """Total read and write bytes per second allowed to each disk."""
    disk_iops_sec: int = 0
    """Total read and write operations per second allowed to each disk."""

    def __post_init__(self):
        if not self.cpu_limit or self.cpu_limit <= 0:
            raise exception.InvalidParameter(
                name='cpu_limit', value=self.cpu_limit,
                reason='a throttle allows a positive number of vCPUs')
        for name in ('disk_bytes_sec', 'disk_iops_sec'):
            value = getattr(self, name)
            if value is None or int(value) != value or value < 0:
                raise exception.InvalidParameter(
                    name=name, value=value,
                    reason='a disk limit is an integer >= 0 (0: no limit)')

    @property
    def limits_disks(self):
        return bool(self.disk_bytes_sec or self.disk_iops_sec)

    def as_dict(self):
        return dataclasses.asdict(self)


class ThrottleDriver(metaclass=abc.ABCMeta):
    """Applies and removes a throttle on one guest."""

    name: str = None

    @abc.abstractmethod
    def apply(self, instance_uuid: str, host: str, limits: ThrottleLimits,
              *, window_end: int | None = None) -> dict:
        """Throttle the guest to ``limits``.

        :param window_end: epoch seconds when the throttle should be
            lifted, for drivers that log or schedule its removal.
        :returns: the values replaced, which ``restore`` puts back; plain
            JSON-serialisable data, opaque to the caller.
        :raises ThrottleApplyFailed: (or a subclass) nothing was changed.
        """

    @abc.abstractmethod
    def restore(self, instance_uuid: str, host: str, previous: dict) -> None:
        """Put back the values ``apply`` returned.

        :raises ThrottleRestoreFailed:
        """

    def close(self) -> None:
        """Release what the driver holds (connections); harmless twice."""
