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

"""``watcher-predictive task``: the operator's task queue."""

import json

import pytest

from watcher_predictive.cmd import cli
from watcher_predictive.cmd import tasks
from watcher_predictive import exception
from watcher_predictive.storage import api
from watcher_predictive.storage import migration

I1 = '6f1f6c2e-9a5b-4a8e-8a51-0c6f4bdfb3a1'
NOW = 1_800_000_000


@pytest.fixture
def conf_path(tmp_path):
    db_url = 'sqlite:///%s' % (tmp_path / 'watcher.sqlite')
    migration.upgrade(db_url)
    path = tmp_path / 'watcher.conf'
    path.write_text('[database]\nconnection = %s\n' % db_url)
    return path


def run(capsys, conf_path, *args):
    status = cli.main(['task'] + list(args) + ['--config-file',
                                               str(conf_path)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize('text, expected', [
    ('+90m', NOW + 5400), ('+2h', NOW + 7200), ('+1d', NOW + 86400),
    ('+30', NOW + 30), ('1800003600', 1_800_003_600),
    ('2027-01-15T08:00:00Z', 1_800_000_000),
    ('2027-01-15T09:00:00+01:00', 1_800_000_000),
    ('2027-01-15 08:00', 1_800_000_000),
])
def test_deadline_forms(text, expected):
    assert tasks.parse_deadline(text, now=NOW) == expected


@pytest.mark.parametrize('text', ['tomorrow', '+2w', '-1h', ''])
def test_bad_deadline_forms(text):
    with pytest.raises(exception.InvalidParameter) as e:
        tasks.parse_deadline(text, now=NOW)
    assert 'ISO 8601' in str(e.value)


def test_add_list_cancel(capsys, conf_path):
    status, out, err = run(capsys, conf_path, 'add', '--instance', I1,
                           '--kind', 'resize', '--flavor', 'm1.small',
                           '--deadline', '+2h', '--reason', 'batch',
                           '--json')
    # Only the command's own errors: a log handler another test left on
    # a closed stream may complain here.
    assert status == 0 and 'watcher-predictive: error' not in err, err
    [added] = json.loads(out)
    assert (added['kind'], added['flavor'], added['state']) == (
        'resize', 'm1.small', 'pending')

    status, out, _ = run(capsys, conf_path, 'list')
    assert status == 0
    assert '| %s | %s | resize |' % (added['id'], I1) in out

    status, out, _ = run(capsys, conf_path, 'cancel', added['id'])
    assert (status, out) == (0, 'Task %s cancelled.\n' % added['id'])
    assert run(capsys, conf_path, 'list')[1] == 'No task.\n'
    status, out, _ = run(capsys, conf_path, 'list', '--all', '--json')
    assert [t['state'] for t in json.loads(out)] == ['cancelled']

    status, _, err = run(capsys, conf_path, 'cancel', added['id'])
    assert status == 2
    assert 'is cancelled; only a pending or planned task' in err


def test_cancel_of_a_planned_task_names_its_audit(capsys, conf_path):
    store = api.Store.from_config(tasks._config([str(conf_path)]))
    try:
        task = store.add_task(I1, 'migrate', 2 ** 40)
        store.claim_tasks([task.id], 'audit-7')
    finally:
        store.dispose()
    status, out, _ = run(capsys, conf_path, 'cancel', task.id)
    assert status == 0
    assert 'planned by audit audit-7' in out
    assert 'openstack optimize actionplan cancel' in out


@pytest.mark.parametrize('args, says', [
    (['--instance', 'nope', '--kind', 'migrate', '--deadline', '+1h'],
     "Invalid value 'nope' for parameter --instance: not a UUID"),
    (['--instance', I1, '--kind', 'evacuate', '--deadline', '+1h'],
     "Invalid value 'evacuate' for parameter --kind"),
    (['--instance', I1, '--kind', 'resize', '--deadline', '+1h'],
     'parameter --flavor: a resize needs'),
    (['--instance', I1, '--kind', 'migrate', '--flavor', 'm1.tiny',
      '--deadline', '+1h'], 'only a resize takes a flavor'),
    (['--instance', I1, '--kind', 'migrate', '--deadline',
      '2020-01-01T00:00:00Z'],
     "'2020-01-01T00:00:00Z' for parameter --deadline: it has already "
     "passed"),
])
def test_bad_input_is_named_and_nothing_is_stored(capsys, conf_path, args,
                                                  says):
    status, out, err = run(capsys, conf_path, 'add', *args)
    assert status == 2 and out == ''
    assert says in err
    assert run(capsys, conf_path, 'list', '--all')[1] == 'No task.\n'


def test_unknown_task_and_missing_files(capsys, conf_path, tmp_path):
    status, _, err = run(capsys, conf_path, 'cancel',
                         '11111111-1111-1111-1111-111111111111')
    assert status == 2 and 'There is no task 1111' in err
    status, _, err = run(capsys, conf_path, 'cancel', 'x')
    assert status == 2 and 'parameter ID: not a UUID' in err
    status, _, err = run(capsys, tmp_path / 'nowhere.conf', 'list')
    assert status == 2 and "nowhere.conf' for parameter --config-file" in err
    empty = tmp_path / 'empty.conf'
    empty.write_text('[database]\nconnection = sqlite:///%s\n'
                     % (tmp_path / 'new.sqlite'))
    status, _, err = run(capsys, empty, 'list')
    assert status == 2
    assert 'watcher-predictive-db-manage upgrade' in err
