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

"""Predicted demand and headroom of hosts, as a time-slotted ledger.

The ledger holds, for every host, the CPU demand predicted for each step of
the horizon (the sum of its instances' high quantiles: a conservative sum
that assumes the guests peak together) and its capacity. Every planned move
is booked in it, so the headroom promised to one task is not promised to
another.
"""

import numpy as np


class CapacityLedger:
    def __init__(self, hosts, horizon_steps, threshold):
        self.capacity = {h.name: h.vcpus * threshold for h in hosts}
        self.memory_capacity = {h.name: h.memory_mb for h in hosts}
        self.allocatable = {h.name: h.vcpus if h.vcpus_allocatable is None
                            else h.vcpus_allocatable for h in hosts}
        self.allocated = {h.name: 0.0 for h in hosts}
        self.disabled = {h.name for h in hosts if h.disabled}
        self.demand = {h.name: np.zeros(horizon_steps) for h in hosts}
        self.memory = {h.name: 0.0 for h in hosts}

    def book(self, host, demand, memory_mb=0.0, from_step=0, vcpus=0.0):
        """Add predicted demand from ``from_step`` on, and an allocation
        of ``memory_mb`` and ``vcpus``.
        """
        if host not in self.demand:
            return
        self.demand[host][from_step:] += np.asarray(demand)[from_step:]
        self.memory[host] += memory_mb
        self.allocated[host] += vcpus

    def release(self, host, demand, memory_mb=0.0, from_step=0, vcpus=0.0):
        self.book(host, -np.asarray(demand), -memory_mb, from_step, -vcpus)

    def overload(self, host):
        """vCPUs above capacity, per step (zero where it fits)."""
        return np.maximum(self.demand[host] - self.capacity[host], 0.0)

    def overloaded_hosts(self):
        """Hosts with a predicted overload, the worst first."""
        totals = {h: float(self.overload(h).sum()) for h in self.demand}
        return sorted((h for h, v in totals.items() if v > 0),
                      key=lambda h: -totals[h])

    def fits(self, host, demand, memory_mb, from_step=0, vcpus=0.0):
        if host in self.disabled or host not in self.demand:
            return False
        if self.memory[host] + memory_mb > self.memory_capacity[host]:
            return False
        if self.allocated[host] + vcpus > self.allocatable[host]:
            return False
        after = self.demand[host][from_step:] + np.asarray(demand)[from_step:]
        return bool(np.all(after <= self.capacity[host]))

    def min_headroom(self, host):
        return float(np.min(self.capacity[host] - self.demand[host]))
