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

"""Interface of the drivers that apply a CPU throttle to a guest.

A driver caps the vCPUs a guest may use on its compute host and gives back
what it needs to undo the cap. The ``throttle`` action calls ``apply`` at
the start of its window and ``restore`` when Watcher reverts it.
"""

import abc

from watcher_predictive import exception


class ThrottleApplyFailed(exception.ThrottleError):
    msg_fmt = ('Throttle of instance %(instance)s on host %(host)s could '
               'not be applied: %(reason)s')


class ThrottleRestoreFailed(exception.ThrottleError):
    msg_fmt = ('Throttle of instance %(instance)s on host %(host)s could '
               'not be removed: %(reason)s. The guest may still be capped; '
               'check the host.')


class UnknownThrottleDriver(exception.PredictiveError):
    msg_fmt = ('Throttle driver %(name)r is not available (known: '
               '%(known)s); set [watcher_predictive] throttle_driver in '
               'watcher.conf to one of them.')


class ThrottleDriver(metaclass=abc.ABCMeta):
    """Applies and removes a CPU cap on one guest."""

    name: str = None

    @abc.abstractmethod
    def apply(self, instance_uuid: str, host: str, cpu_limit: float, *,
              window_end: int | None = None) -> dict:
        """Cap the guest at ``cpu_limit`` vCPUs.

        :param window_end: epoch seconds when the cap should be lifted, for
            drivers that record or schedule its removal.
        :returns: what ``restore`` needs to put the previous limits back;
            plain JSON-serialisable data, opaque to the caller.
        :raises ThrottleApplyFailed: nothing was changed.
        """

    @abc.abstractmethod
    def restore(self, instance_uuid: str, host: str, previous: dict) -> None:
        """Put back the limits ``apply`` returned.

        :raises ThrottleRestoreFailed:
        """

    def close(self) -> None:
        """Release what the driver holds (connections); harmless twice."""
