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

"""Operator tasks in the plugin's tables, on SQLite (MariaDB and
PostgreSQL: tests/functional/test_migrations.py)."""

import pytest

from watcher_predictive.anticipation import types
from watcher_predictive import exception
from watcher_predictive.storage import api
from watcher_predictive.storage import migration
from watcher_predictive.storage import tasks

NOW = 1_800_000_000
I1 = '6f1f6c2e-9a5b-4a8e-8a51-0c6f4bdfb3a1'
I2 = '7a2e3d4c-0000-4000-8000-000000000002'


@pytest.fixture
def store(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'watcher.sqlite')
    migration.upgrade(url)
    store = api.Store(url)
    yield store
    store.dispose()


@pytest.mark.parametrize('fields, name, says', [
    ((I1, 'evacuate', NOW + 60), '--kind', 'one of migrate, resize'),
    (('not-a-uuid', 'migrate', NOW + 60), '--instance', 'not a UUID'),
    (('{%s}' % I1, 'migrate', NOW + 60), '--instance', 'hyphenated form'),
    ((I1, 'resize', NOW + 60), '--flavor', 'a resize needs'),
    ((I1, 'resize', NOW + 60, '  '), '--flavor', 'a resize needs'),
    ((I1, 'resize', NOW + 60, 'm1 small'), '--flavor', 'without spaces'),
    ((I1, 'throttle', NOW + 60, 'm1.small'), '--flavor',
     'only a resize takes a flavor'),
    ((I1, 'migrate', NOW), '--deadline', 'already passed'),
    ((I1, 'migrate', NOW - 3600), '--deadline', 'already passed'),
    ((I1, 'migrate', 'soon'), '--deadline', 'epoch seconds'),
    ((I1, 'migrate', NOW + 60, None, 'x' * 3000), '--reason', 'at most'),
])
def test_bad_tasks_are_refused_by_name(store, fields, name, says):
    with pytest.raises(exception.InvalidParameter) as e:
        store.add_task(*fields, now=NOW)
    assert e.value.kwargs['name'] == name
    assert says in str(e.value)
    assert store.list_tasks() == []


def test_add_list_cancel(store):
    late = store.add_task(I1.upper(), 'migrate', NOW + 7200, now=NOW)
    soon = store.add_task(I2, 'resize', NOW + 600, flavor=' m1.small ',
                          reason='before the batch', now=NOW)
    assert (late.instance_uuid, late.state, late.flavor) == (
        I1, 'pending', None)
    assert (soon.flavor, soon.reason) == ('m1.small', 'before the batch')
    assert [t.id for t in store.list_tasks()] == [soon.id, late.id]
    assert store.get_task(soon.id) == soon

    cancelled = store.cancel_task(soon.id)
    assert cancelled.state == 'cancelled'
    with pytest.raises(tasks.TaskNotOpen) as e:
        store.cancel_task(soon.id)
    assert 'is cancelled' in str(e.value)
    with pytest.raises(tasks.TaskNotFound):
        store.cancel_task('11111111-1111-1111-1111-111111111111')
    assert [t.id for t in store.pending_tasks()] == [late.id]
    assert [t.id for t in store.list_tasks(['cancelled'])] == [soon.id]


def test_expire_claim_release(store):
    due = store.add_task(I1, 'throttle', NOW + 60, now=NOW)
    later = store.add_task(I2, 'migrate', NOW + 7200, now=NOW)
    assert store.expire_tasks(NOW + 30) == []
    assert store.expire_tasks(NOW + 60) == [due.id]
    assert store.get_task(due.id).state == 'expired'
    # Only pending tasks are claimed, once.
    assert store.claim_tasks([due.id, later.id], 'audit-1') == {later.id}
    assert store.claim_tasks([later.id], 'audit-2') == set()
    planned = store.get_task(later.id)
    assert (planned.state, planned.audit_uuid) == ('planned', 'audit-1')
    # Another audit cannot release it; its own can.
    store.release_tasks([later.id], 'audit-2')
    assert store.get_task(later.id).state == 'planned'
    store.release_tasks([later.id], 'audit-1')
    back = store.get_task(later.id)
    assert (back.state, back.audit_uuid) == ('pending', None)
    # A planned task is not expired: its action is in a plan.
    store.claim_tasks([later.id], 'audit-3')
    assert store.expire_tasks(NOW + 10 ** 6) == []


def test_engine_view(store):
    task = store.add_task(I2, 'resize', NOW + 600, flavor='m1.small',
                          reason='r', now=NOW)
    assert task.as_operator_task() == types.OperatorTask(
        id=task.id, instance_uuid=I2, kind='resize', deadline=NOW + 600,
        flavor='m1.small', reason='r')


def test_missing_table_is_a_storage_error(tmp_path):
    store = api.Store('sqlite:///%s' % (tmp_path / 'empty.sqlite'))
    try:
        with pytest.raises(exception.StorageError) as e:
            store.pending_tasks()
        assert 'predictive_task' in str(e.value)
    finally:
        store.dispose()
