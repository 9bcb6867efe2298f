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

"""Tables of the plugin in the Watcher database.

Every table is prefixed ``predictive_`` so that it never clashes with
Watcher's own; the schema is created and changed only by the migrations in
``watcher_predictive/storage/migration`` (which must stay in step with these
models: the migrations test compares them). JSON documents are stored as
text, so that SQLite, MySQL/MariaDB and PostgreSQL behave the same.
"""

import datetime

from oslo_utils import timeutils
from sqlalchemy import BigInteger
from sqlalchemy import DateTime
from sqlalchemy.dialects import mysql
from sqlalchemy import Float
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint

# MySQL's TEXT holds 64 KiB: profiler state and forecast quantiles of long
# horizons need more.
LongText = Text().with_variant(mysql.LONGTEXT(), 'mysql', 'mariadb')
# Forecasts are inserted every audit for every instance: a 32-bit key would
# run out. SQLite only autoincrements an INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), 'sqlite')
LongBlob = LargeBinary().with_variant(mysql.LONGBLOB(), 'mysql', 'mariadb')

TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}

THROTTLE_APPLIED = 'applied'
THROTTLE_REVERTED = 'reverted'
THROTTLE_STATES = (THROTTLE_APPLIED, THROTTLE_REVERTED)

# Operator tasks: waiting, in an action plan, withdrawn, or too late.
TASK_PENDING = 'pending'
TASK_PLANNED = 'planned'
TASK_CANCELLED = 'cancelled'
TASK_EXPIRED = 'expired'
TASK_STATES = (TASK_PENDING, TASK_PLANNED, TASK_CANCELLED, TASK_EXPIRED)


def utcnow() -> datetime.datetime:
    """Naive UTC, as Watcher stores its own timestamps."""
    return timeutils.utcnow()


class Base(DeclarativeBase):
    pass


class Profile(Base):
    """Learned state of one instance: what the profiler needs next audit."""

    __tablename__ = 'predictive_profile'
    __table_args__ = (
        UniqueConstraint('instance_uuid',
                         name='uniq_predictive_profile0instance_uuid'),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), nullable=False)
    # Versioned JSON document written by the profiler (json.dumps with
    # sort_keys), read back as a dict.
    state: Mapped[str] = mapped_column(LongText, nullable=False)
    # Epoch seconds of the end of the history already profiled.
    history_end: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Optimistic lock: every update checks it and increments it.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime, nullable=True, onupdate=utcnow)


class ProfileSummary(Base):
    """What an audit needs of a profile besides its forecast (daily peaks,
    fallback flags), small enough to read for every instance of a shard;
    the profile's state is far larger.
    """

    __tablename__ = 'predictive_profile_summary'
    __table_args__ = (
        UniqueConstraint('instance_uuid',
                         name='uniq_predictive_profile_summary0instance_uuid'),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), nullable=False)
    # The history_end of the profile it summarises.
    history_end: Mapped[int] = mapped_column(BigInteger, nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow)


class History(Base):
    """The gridded history last read for one instance, so that the next
    read asks telemetry only for what is new since ``history_end``.
    """

    __tablename__ = 'predictive_history'
    __table_args__ = (
        UniqueConstraint('instance_uuid',
                         name='uniq_predictive_history0instance_uuid'),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), nullable=False)
    # Epoch seconds of the first cell and after the last one; the grid
    # step in seconds.
    history_start: Mapped[int] = mapped_column(BigInteger, nullable=False)
    history_end: Mapped[int] = mapped_column(BigInteger, nullable=False)
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    # Comma-separated resources, in the order of the rows of ``cells``.
    resources: Mapped[str] = mapped_column(String(255), nullable=False)
    # zlib-compressed little-endian float32 (resources, steps) array.
    cells: Mapped[bytes] = mapped_column(LongBlob, nullable=False)
    updated_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow)


class Forecast(Base):
    """One issued forecast of one resource of one instance."""

    __tablename__ = 'predictive_forecast'
    __table_args__ = (
        # Its leading column also serves lookups by instance alone.
        Index('ix_predictive_forecast_instance_resource_issued',
              'instance_uuid', 'resource', 'issued_at'),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), nullable=False)
    audit_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    resource: Mapped[str] = mapped_column(String(16), nullable=False)
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    # Epoch seconds at which the forecast was made.
    issued_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Epoch seconds of the first forecast step, and the step in seconds.
    start: Mapped[int] = mapped_column(BigInteger, nullable=False)
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    # JSON list of the quantile levels, e.g. [0.1, 0.5, 0.9].
    levels: Mapped[str] = mapped_column(Text, nullable=False)
    # JSON list with one list of quantile values (one per level) per step.
    quantiles: Mapped[str] = mapped_column(LongText, nullable=False)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow)


class Throttle(Base):
    """A throttle applied by the ``throttle`` action, and its revert."""

    __tablename__ = 'predictive_throttle'
    __table_args__ = (
        Index('ix_predictive_throttle_instance_uuid', 'instance_uuid'),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), nullable=False)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    driver: Mapped[str] = mapped_column(String(32), nullable=False)
    action_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # JSON of the limits applied, e.g. {"cpu_quota_vcpus": 1.5}, and of the
    # values they replaced, so that a revert restores them.
    limits: Mapped[str] = mapped_column(Text, nullable=False)
    previous: Mapped[str] = mapped_column(Text, nullable=False)
    # THROTTLE_APPLIED or THROTTLE_REVERTED.
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    # Epoch seconds at which the throttle is meant to be lifted.
    window_end: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime, nullable=True, onupdate=utcnow)


class OperatorTask(Base):
    """A task an operator queued: migrate, resize or throttle an instance
    before a deadline, in the first predicted lull that suits it.
    """

    __tablename__ = 'predictive_task'
    __table_args__ = (
        Index('ix_predictive_task_state_deadline', 'state', 'deadline'),
        TABLE_ARGS,
    )

    # A UUID, so that an operator can name it before any database exists.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), nullable=False)
    # 'migrate', 'resize' or 'throttle'.
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # Target flavor of a resize; NULL for the other kinds.
    flavor: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Epoch seconds before which the task must be done.
    deadline: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    # One of TASK_STATES.
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    # The audit whose action plan holds the task, once planned.
    audit_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime, nullable=True, onupdate=utcnow)


class ForecastError(Base):
    """Score of one issued forecast of one model, once its time came.

    Sums and counts, not ratios, so that rows add up into any window.
    """

    __tablename__ = 'predictive_forecast_error'
    __table_args__ = (
        # One score per forecast and model; its leading columns serve
        # lookups by instance (and resource) and the per-instance bound.
        UniqueConstraint('instance_uuid', 'resource', 'model', 'issued_at',
                         name='uniq_predictive_forecast_error0forecast'),
        Index('ix_predictive_forecast_error_issued_at', 'issued_at'),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), nullable=False)
    resource: Mapped[str] = mapped_column(String(16), nullable=False)
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    # Epoch seconds: when the forecast was made, its first step, its step.
    issued_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    start: Mapped[int] = mapped_column(BigInteger, nullable=False)
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    steps: Mapped[int] = mapped_column(Integer, nullable=False)
    abs_error: Mapped[float] = mapped_column(Float, nullable=False)
    pinball: Mapped[float] = mapped_column(Float, nullable=False)
    inside_80: Mapped[int] = mapped_column(Integer, nullable=False)
    steps_80: Mapped[int] = mapped_column(Integer, nullable=False)
    inside_90: Mapped[int] = mapped_column(Integer, nullable=False)
    steps_90: Mapped[int] = mapped_column(Integer, nullable=False)
    lull_tp: Mapped[int] = mapped_column(Integer, nullable=False)
    lull_fp: Mapped[int] = mapped_column(Integer, nullable=False)
    lull_fn: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow)
