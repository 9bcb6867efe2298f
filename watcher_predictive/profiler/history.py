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

"""Resource history of many instances on one regular time grid.

This is what every telemetry source produces and what every profiler model
consumes. Arrays are shaped ``(instances, steps)``; a missing sample is NaN.

Units, the same for every source:

* ``cpu``: vCPU-seconds used per second (1.0 = one vCPU fully busy);
* ``memory``: MiB used by the guest;
* ``disk``: bytes per second read plus written, all disks;
* ``network``: bytes per second received plus sent, all interfaces.
"""

import dataclasses

import numpy as np

from watcher_predictive import exception

RESOURCES = ('cpu', 'memory', 'disk', 'network')


@dataclasses.dataclass
class History:
    instance_ids: tuple
    start: int
    """Epoch seconds (UTC) of the first grid point; a multiple of step."""
    step: int
    """Grid step in seconds."""
    values: dict
    """Resource name -> float array (instances, steps), NaN where missing."""

    def __post_init__(self):
        self.instance_ids = tuple(self.instance_ids)
        if self.step <= 0:
            raise exception.InvalidParameter(
                name='step', value=self.step,
                reason='the grid step must be a positive number of seconds')
        n_steps = None
        for resource, array in self.values.items():
            if resource not in RESOURCES:
                raise exception.InvalidParameter(
                    name='resource', value=resource,
                    reason='known resources are %s' % ', '.join(RESOURCES))
            array = np.asarray(array, dtype=float)
            if array.ndim != 2 or array.shape[0] != len(self.instance_ids):
                raise exception.InvalidParameter(
                    name='values[%s]' % resource, value=array.shape,
                    reason='expected shape (%d instances, steps)' % len(
                        self.instance_ids))
            if n_steps is not None and array.shape[1] != n_steps:
                raise exception.InvalidParameter(
                    name='values[%s]' % resource, value=array.shape,
                    reason='every resource must cover the same steps')
            n_steps = array.shape[1]
            self.values[resource] = array

    @property
    def n_steps(self):
        for array in self.values.values():
            return array.shape[1]
        return 0

    @property
    def end(self):
        """Epoch seconds of the grid point after the last one."""
        return self.start + self.n_steps * self.step

    def timestamps(self):
        return self.start + self.step * np.arange(self.n_steps, dtype=np.int64)

    def resource(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise exception.InvalidParameter(
                name='resource', value=name,
                reason='this history holds only %s' % ', '.join(
                    sorted(self.values)))

    def select(self, instance_ids):
        """The history of a subset of the instances, in the given order."""
        index = {uuid: i for i, uuid in enumerate(self.instance_ids)}
        rows = [index[uuid] for uuid in instance_ids]
        return History(instance_ids=tuple(instance_ids), start=self.start,
                       step=self.step,
                       values={r: a[rows] for r, a in self.values.items()})

    def tail(self, n_steps):
        """The last ``n_steps`` grid points."""
        n_steps = min(n_steps, self.n_steps)
        skip = self.n_steps - n_steps
        return History(instance_ids=self.instance_ids,
                       start=self.start + skip * self.step, step=self.step,
                       values={r: a[:, skip:] for r, a in self.values.items()})

    def observed_steps(self, resource='cpu'):
        """Number of non-missing samples per instance."""
        return np.sum(~np.isnan(self.resource(resource)), axis=1)
