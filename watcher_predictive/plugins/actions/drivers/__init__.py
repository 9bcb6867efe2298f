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

"""Throttle drivers, selected by ``[watcher_predictive] throttle_driver``."""

from watcher_predictive.plugins.actions.drivers import base
from watcher_predictive.plugins.actions.drivers import libvirt_driver
from watcher_predictive.plugins.actions.drivers import noop

DRIVERS = {
    noop.NoopThrottleDriver.name: noop.NoopThrottleDriver,
    libvirt_driver.LibvirtThrottleDriver.name:
        libvirt_driver.LibvirtThrottleDriver,
}


def get_driver(name, **kwargs):
    """An instance of the throttle driver called ``name``.

    :raises UnknownThrottleDriver:
    """
    try:
        driver_class = DRIVERS[name]
    except KeyError:
        raise base.UnknownThrottleDriver(name=name,
                                         known=', '.join(sorted(DRIVERS)))
    return driver_class(**kwargs)
