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

"""Plain data of the Resource Anticipation Engine: what it is told about
the cluster, what it is asked to respect, and the actions it plans."""

import dataclasses
import datetime

MIGRATE = 'migrate'
RESIZE = 'resize'
THROTTLE = 'throttle'
ACTION_KINDS = (MIGRATE, RESIZE, THROTTLE)


@dataclasses.dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int


@dataclasses.dataclass(frozen=True)
class Host:
    name: str
    vcpus: float
    """CPU the guests can really use, in vCPU-equivalents: the host's
    cores less those reserved (predicted demand is compared with this)."""
    memory_mb: float
    """Memory that can be allocated to guests, in MiB (after the
    allocation ratio and the reservation, as Nova's placement counts it)."""
    disabled: bool = False
    vcpus_allocatable: float = None
    """vCPUs that can be allocated to guests (cores times the allocation
    ratio, less reserved); None means ``vcpus``."""


@dataclasses.dataclass(frozen=True)
class Instance:
    uuid: str
    name: str
    host: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    flavor_name: str = ''
    horizon: int = None
    """Seconds of forecast wanted for this instance; None means the audit's
    horizon (instance metadata may override it)."""


@dataclasses.dataclass
class PlanParameters:
    """Audit parameters that steer the engine (see the strategy schema)."""

    horizon: int = 3600
    step: int = 300
    lull_cpu: float = 0.10
    """A lull: CPU below this fraction of the instance's vCPUs."""
    release_threshold: float = 0.6
    """Minimum release probability for the engine to act on an instance."""
    task_duration: int = 600
    """Seconds a management task needs the guest to stay in its lull."""
    host_cpu_threshold: float = 0.8
    """A host is overloaded when its predicted CPU demand (at
    ``demand_quantile``) exceeds this fraction of its capacity."""
    demand_quantile: float = 0.9
    resize_max_usage: float = 0.3
    """Resize down when the predicted high quantile of CPU and memory stays
    below this fraction of the flavor."""
    burst_ratio: float = 2.0
    """A burster: predicted high quantile at least this many times its
    median."""
    actions_allowed: tuple = ACTION_KINDS
    max_actions: int = 20
    max_migrations_per_host: int = 2


@dataclasses.dataclass
class PlannedAction:
    kind: str
    instance_uuid: str
    instance_name: str
    source_host: str
    window_start: int
    """Epoch seconds (UTC) when the action may start."""
    window_end: int
    release_probability: float
    expected_benefit: float
    """Predicted overload removed (vCPU-seconds) for a migration or a
    throttle; vCPUs plus GiB returned for a resize."""
    reason: str
    destination_host: str = None
    flavor: str = None
    cpu_limit: float = None
    """Throttle: vCPUs the guest may use during the window."""
    task_id: str = None
    """The operator task this action carries out; None for the engine's
    own tasks."""

    @property
    def in_lull(self):
        return self.release_probability > 0.0


@dataclasses.dataclass(frozen=True)
class OperatorTask:
    """A task an operator queued (``watcher-predictive task add``)."""

    id: str
    instance_uuid: str
    kind: str
    """MIGRATE, RESIZE or THROTTLE."""
    deadline: int
    """Epoch seconds (UTC) by which the task must be done."""
    flavor: str | None = None
    """Target flavor name or id of a resize."""
    reason: str = ''


@dataclasses.dataclass
class Plan:
    actions: list
    release_probability: dict
    """Instance uuid -> release probability within the horizon."""
    lull_window: dict
    """Instance uuid -> (start, end) of its best predicted lull, or None."""
    host_demand: dict
    """Host name -> predicted CPU demand (vCPUs) per step, after the plan."""
    host_capacity: dict


def iso_utc(epoch_seconds):
    """``2026-11-25T10:05:00Z`` for an epoch time, the form actions carry."""
    return datetime.datetime.fromtimestamp(
        int(epoch_seconds), tz=datetime.timezone.utc).strftime(
            '%Y-%m-%dT%H:%M:%SZ')
