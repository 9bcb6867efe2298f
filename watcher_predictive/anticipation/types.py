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

# Where a task in the queue comes from.
SOURCE_OVERLOAD = 'overload'
SOURCE_RIGHT_SIZE = 'right_size'
SOURCE_CONSOLIDATION = 'consolidation'
SOURCE_OPERATOR = 'operator'
SOURCE_COLLISION = 'collision'
SOURCE_MEASURED = 'measured_overload'
TASK_SOURCES = (SOURCE_OVERLOAD, SOURCE_RIGHT_SIZE, SOURCE_CONSOLIDATION,
                SOURCE_OPERATOR, SOURCE_COLLISION, SOURCE_MEASURED)

# What became of a task in one audit.
PLANNED = 'planned'
DEFERRED = 'deferred'
EXPIRED = 'expired'


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
    min_confidence: float = 0.0
    """Act only on instances whose forecast confidence (one minus the
    mean width of the 0.1-0.9 interval, as a share of the vCPUs; zero for
    a fallback forecast) reaches this value."""
    blackout_windows: tuple = ()
    """Daily (start, end) seconds after midnight UTC in which no action
    may run; end < start wraps past midnight."""
    dry_run: bool = False
    """Plan and report, but return no action."""
    consolidation_threshold: float = 0.0
    """Empty a host whose predicted demand stays below this fraction of
    its threshold capacity over the horizon (0 disables)."""
    resize_up_usage: float = 0.9
    """Resize up ahead of a predicted sustained peak: the median staying
    at or above this fraction of the vCPUs for ``sustained_steps``."""
    sustained_steps: int = 3
    deadline_near: int = 3600
    """Operator tasks due within this many seconds go first."""
    busy_migration: bool = False
    """When no guest of an overloaded host has a lull, migrate a busy one
    in its least busy window before the overload (costlier)."""
    busy_separation: bool = True
    """Separate colliding guests that have not idled for a task's length
    in the whole window while least busy (costlier, outside a lull);
    when off, such collisions are left to the throttles."""
    collision_window: int = 86400
    """Seconds of measured use in which guests whose peaks collided on
    a host are looked for, to be separated in their lulls (0 disables)."""
    separation_window: int = 0
    """Seconds of measured use in which the guests whose peaks collided
    on a host are looked for, to be separated in their lulls and kept
    apart by overload migrations (0: ``collision_window``; unused when
    ``collision_window`` is 0)."""
    separation_draws: int = 0
    """Copies of the separation window (of two days or more) in which
    each guest's days are rotated by a whole number of days, added to
    the measured window: guests whose peaks fell on different days are
    kept apart too (0: the measured window only)."""
    min_overload: float = 20.0
    """vCPU-minutes a host must be predicted to spend above its threshold
    over the horizon for the engine to relieve it: a forecast that only
    grazes the threshold is not worth a migration."""
    throttle_colliders: bool = False
    """When no migration and no burster relieve a host predicted to
    overload whose guests' peaks collided in the measured history, cap
    the colliding guests at their share of the threshold capacity."""
    migration_cooldown: int = 0
    """Seconds after a guest's last live migration in which the engine
    does not migrate it again on its own (operator tasks excepted)."""
    throttle_overloaded: int = 0
    """Seconds for which the busiest guests of a host measured over its
    threshold capacity in the last step, and predicted still over it, are
    capped at what brings it back under (0 disables): an overload the
    forecasts did not see coming, relieved before the other tasks."""


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
    source: str = SOURCE_OVERLOAD
    cost: float = 0.0
    """Predicted cost (see :mod:`cost`)."""

    @property
    def in_lull(self):
        return self.release_probability > 0.0


@dataclasses.dataclass(frozen=True)
class OperatorTask:
    """A task an operator queued (``watcher-predictive task add``).

    It is done in the first suitable lull of the instance before
    ``deadline``.
    """

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
    tasks: list = dataclasses.field(default_factory=list)
    """Every :class:`Task` of the queue, planned or not, in priority
    order."""
    dry_run_actions: list = dataclasses.field(default_factory=list)
    """In a dry run, the actions that would have been planned."""
    overload_avoided: float = 0.0
    """Predicted host overload (vCPU-seconds above the threshold)
    removed by the plan."""


@dataclasses.dataclass
class Task:
    """One entry of the task queue.

    ``priority`` is benefit times release probability over cost; tasks
    whose deadline is near go before any priority.
    """

    kind: str
    source: str
    instance_uuid: str
    benefit: float
    cost: float
    release_probability: float
    reason: str
    target: str = None
    """Destination host of a migration, flavor of a resize."""
    cpu_needed: float = 0.0
    """Peak vCPUs (at the demand quantile) the task books on its
    target."""
    memory_mb: float = 0.0
    deadline: int = None
    task_id: str = None
    status: str = DEFERRED
    note: str = ''
    """Why it was deferred or expired."""

    @property
    def priority(self):
        return (self.benefit * self.release_probability /
                max(self.cost, 1e-6))


def iso_utc(epoch_seconds):
    """``2026-11-25T10:05:00Z`` for an epoch time, the form actions carry."""
    return datetime.datetime.fromtimestamp(
        int(epoch_seconds), tz=datetime.timezone.utc).strftime(
            '%Y-%m-%dT%H:%M:%SZ')
