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

"""Operator tasks in the plugin's tables: queue, claim, cancel, expire.

An operator queues a task (``watcher-predictive task add``); every audit
loads the pending ones, expires those whose deadline has passed, and hands
the others to the anticipation engine. A task the engine plans is claimed
by the audit (pending -> planned, with the audit's UUID) in a single
compare-and-set update, so that two concurrent audits never both plan it.
"""

import dataclasses
import datetime
import time
import uuid as uuid_mod

import sqlalchemy as sa

from watcher_predictive.anticipation import types
from watcher_predictive import exception
from watcher_predictive.storage import models

KINDS = (types.MIGRATE, types.RESIZE, types.THROTTLE)
MAX_REASON = 2048
MAX_FLAVOR = 255


class TaskNotFound(exception.StorageError):
    msg_fmt = ('There is no task %(id)s in %(url)s; "watcher-predictive '
               'task list --all" lists them.')


class TaskNotOpen(exception.PredictiveError):
    msg_fmt = ('Task %(id)s is %(state)s; only a pending or planned task '
               'can be cancelled.')


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    id: str
    instance_uuid: str
    kind: str
    flavor: str | None
    deadline: int
    reason: str
    state: str
    audit_uuid: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None

    def as_operator_task(self):
        """The engine's view of the task."""
        return types.OperatorTask(id=self.id,
                                  instance_uuid=self.instance_uuid,
                                  kind=self.kind, deadline=self.deadline,
                                  flavor=self.flavor, reason=self.reason)


def _from_row(row):
    return TaskRecord(
        id=row.id, instance_uuid=row.instance_uuid, kind=row.kind,
        flavor=row.flavor, deadline=int(row.deadline), reason=row.reason,
        state=row.state, audit_uuid=row.audit_uuid,
        created_at=row.created_at, updated_at=row.updated_at)


def canonical_uuid(value, name='--instance'):
    """The lower-case hyphenated form of a UUID; InvalidParameter if not.
    """
    try:
        parsed = uuid_mod.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        raise exception.InvalidParameter(
            name=name, value=value,
            reason='not a UUID; give the instance UUID as "openstack '
                   'server show" prints it, for example '
                   '6f1f6c2e-9a5b-4a8e-8a51-0c6f4bdfb3a1')
    if str(parsed) != str(value).strip().lower():
        # uuid.UUID also accepts forms Nova never prints (no hyphens,
        # braces, urn:uuid:); a typo there is more likely than intent.
        raise exception.InvalidParameter(
            name=name, value=value,
            reason='write the UUID in its hyphenated form, %s' % parsed)
    return str(parsed)


def check_task(instance_uuid, kind, deadline, flavor=None, reason='',
               now=None):
    """Checked, normalised fields of a new task.

    :raises InvalidParameter: naming the field, the value and the fix.
    """
    now = time.time() if now is None else now
    instance_uuid = canonical_uuid(instance_uuid)
    if kind not in KINDS:
        raise exception.InvalidParameter(
            name='--kind', value=kind,
            reason='the kind of task is one of %s' % ', '.join(KINDS))
    if kind == types.RESIZE:
        if flavor is None or not str(flavor).strip():
            raise exception.InvalidParameter(
                name='--flavor', value=flavor,
                reason='a resize needs the name or id of the flavor to '
                       'resize to ("openstack flavor list")')
        flavor = str(flavor).strip()
        if len(flavor) > MAX_FLAVOR or any(c.isspace() or not c.isprintable()
                                           for c in flavor):
            raise exception.InvalidParameter(
                name='--flavor', value=flavor,
                reason='a flavor name or id is at most %d printable '
                       'characters without spaces' % MAX_FLAVOR)
    elif flavor is not None:
        raise exception.InvalidParameter(
            name='--flavor', value=flavor,
            reason='only a resize takes a flavor; drop --flavor for a %s'
                   % kind)
    try:
        deadline = int(deadline)
    except (TypeError, ValueError):
        raise exception.InvalidParameter(
            name='--deadline', value=deadline,
            reason='the deadline is a time in epoch seconds')
    if deadline <= now:
        raise exception.InvalidParameter(
            name='--deadline', value=types.iso_utc(deadline),
            reason='it has already passed (now %s); give a time in the '
                   'future' % types.iso_utc(now))
    reason = str(reason or '')
    if len(reason) > MAX_REASON:
        raise exception.InvalidParameter(
            name='--reason', value=reason[:40] + '...',
            reason='at most %d characters' % MAX_REASON)
    return instance_uuid, kind, deadline, flavor, reason


class TaskQueries:
    """Operator task methods of ``storage.api.Store``."""

    def add_task(self, instance_uuid, kind, deadline, flavor=None,
                 reason='', now=None) -> TaskRecord:
        """Queue a task; returns it with its new id.

        :raises InvalidParameter: a field is wrong; nothing is stored.
        """
        instance_uuid, kind, deadline, flavor, reason = check_task(
            instance_uuid, kind, deadline, flavor, reason, now)
        values = {'id': str(uuid_mod.uuid4()),
                  'instance_uuid': instance_uuid, 'kind': kind,
                  'flavor': flavor, 'deadline': deadline, 'reason': reason,
                  'state': models.TASK_PENDING,
                  'created_at': models.utcnow()}
        with self._errors('add_task for instance %s' % instance_uuid):
            with self._engine.begin() as conn:
                conn.execute(sa.insert(models.OperatorTask).values(**values))
        return self.get_task(values['id'])

    def get_task(self, task_id) -> TaskRecord:
        """:raises StorageError: no task has that id."""
        task = models.OperatorTask
        with self._errors('get_task %s' % task_id):
            with self._engine.connect() as conn:
                row = conn.execute(sa.select(task)
                                   .where(task.id == str(task_id))).first()
        if row is None:
            raise TaskNotFound(id=task_id, url=self.safe_url)
        return _from_row(row)

    def list_tasks(self, states=None) -> list[TaskRecord]:
        """Tasks, soonest deadline first; only ``states`` when given."""
        task = models.OperatorTask
        query = sa.select(task).order_by(task.deadline, task.created_at,
                                         task.id)
        if states is not None:
            query = query.where(task.state.in_(list(states)))
        with self._errors('list_tasks'):
            with self._engine.connect() as conn:
                return [_from_row(row) for row in conn.execute(query)]

    def pending_tasks(self) -> list[TaskRecord]:
        return self.list_tasks([models.TASK_PENDING])

    def cancel_task(self, task_id) -> TaskRecord:
        """Cancel a pending or planned task.

        :raises TaskNotFound:
        :raises TaskNotOpen: it is already cancelled or expired; nothing
            is changed.
        """
        task = models.OperatorTask
        open_states = (models.TASK_PENDING, models.TASK_PLANNED)
        with self._errors('cancel_task %s' % task_id):
            with self._engine.begin() as conn:
                result = conn.execute(
                    sa.update(task)
                    .where(task.id == str(task_id),
                           task.state.in_(open_states))
                    .values(state=models.TASK_CANCELLED,
                            updated_at=models.utcnow()))
        record = self.get_task(task_id)
        if result.rowcount != 1:
            raise TaskNotOpen(id=task_id, state=record.state)
        return record

    def expire_tasks(self, now) -> list[str]:
        """Mark expired the pending tasks whose deadline is ``now`` or
        earlier; returns their ids.
        """
        task = models.OperatorTask
        now = int(now)
        with self._errors('expire_tasks'):
            with self._engine.begin() as conn:
                ids = conn.execute(
                    sa.select(task.id)
                    .where(task.state == models.TASK_PENDING,
                           task.deadline <= now)).scalars().all()
                if ids:
                    conn.execute(
                        sa.update(task)
                        .where(task.id.in_(ids),
                               task.state == models.TASK_PENDING)
                        .values(state=models.TASK_EXPIRED,
                                updated_at=models.utcnow()))
        return sorted(ids)

    def claim_tasks(self, task_ids, audit_uuid) -> set[str]:
        """Mark these pending tasks planned by ``audit_uuid``.

        :returns: the ids claimed; a task that another audit claimed, or
            that was cancelled, meanwhile is left out.
        """
        task = models.OperatorTask
        claimed = set()
        with self._errors('claim_tasks of audit %s' % audit_uuid):
            with self._engine.begin() as conn:
                for task_id in sorted(set(task_ids)):
                    result = conn.execute(
                        sa.update(task)
                        .where(task.id == task_id,
                               task.state == models.TASK_PENDING)
                        .values(state=models.TASK_PLANNED,
                                audit_uuid=audit_uuid,
                                updated_at=models.utcnow()))
                    if result.rowcount == 1:
                        claimed.add(task_id)
        return claimed

    def release_tasks(self, task_ids, audit_uuid):
        """Put back to pending the tasks ``audit_uuid`` claimed, when
        its plan could not be made after all.
        """
        task = models.OperatorTask
        with self._errors('release_tasks of audit %s' % audit_uuid):
            with self._engine.begin() as conn:
                conn.execute(
                    sa.update(task)
                    .where(task.id.in_(sorted(set(task_ids))),
                           task.state == models.TASK_PLANNED,
                           task.audit_uuid == audit_uuid)
                    .values(state=models.TASK_PENDING, audit_uuid=None,
                            updated_at=models.utcnow()))
