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

"""``watcher-predictive task``: the operator's queue of tasks.

An operator asks for an instance to be migrated, resized or throttled
before a deadline; every audit of the ``predictive_anticipation``
strategy plans each pending task into the first predicted lull of its
instance that suits it, and marks it planned. A task whose deadline
passes before it is planned is marked expired. Reads watcher.conf (as
``watcher-predictive-db-manage`` does) for the database::

    watcher-predictive task add --instance UUID --kind resize \\
        --flavor m1.small --deadline 2026-11-26T06:00:00Z
    watcher-predictive task list [--all] [--json]
    watcher-predictive task cancel ID
"""

import argparse
import datetime
import json
import re
import time
import warnings

from oslo_config import cfg

from watcher_predictive.anticipation import types
from watcher_predictive.cmd import table
from watcher_predictive.conf import predictive
from watcher_predictive import exception
from watcher_predictive.storage import models
from watcher_predictive.storage import tasks as task_store

DELAY = re.compile(r'^\+(\d+)([smhd]?)$')
UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}
COLUMNS = ('id', 'instance_uuid', 'kind', 'flavor', 'deadline', 'state',
           'audit_uuid', 'reason')


def parse_deadline(text, now=None):
    """Epoch seconds of a deadline given as ISO 8601 UTC, epoch seconds
    or a delay from now (``+90m``, ``+2h``, ``+1d``).

    :raises InvalidParameter: the text is none of these.
    """
    now = time.time() if now is None else now
    text = str(text).strip()
    delay = DELAY.match(text)
    if delay:
        return int(now) + int(delay.group(1)) * UNITS[delay.group(2)]
    if text.isdigit():
        return int(text)
    try:
        when = datetime.datetime.fromisoformat(
            text[:-1] + '+00:00' if text.endswith(('Z', 'z')) else text)
    except ValueError:
        raise exception.InvalidParameter(
            name='--deadline', value=text,
            reason='give a UTC time in ISO 8601 (2026-11-26T06:00:00Z), '
                   'epoch seconds, or a delay from now such as +90m, +2h '
                   'or +1d')
    if when.tzinfo is None:
        # Watcher shows and stores its times in UTC.
        when = when.replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp())


def _config(files):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        from watcher.conf import db as watcher_db
        from watcher.conf import paths as watcher_paths
    conf = cfg.ConfigOpts()
    watcher_paths.register_opts(conf)
    watcher_db.register_opts(conf)
    predictive.register_opts(conf)
    try:
        conf([], project='watcher',
             default_config_files=files or cfg.find_config_files(
                 project='watcher'))
    except cfg.ConfigFilesNotFoundError as e:
        raise exception.InvalidParameter(
            name='--config-file', value=', '.join(e.config_files),
            reason='no such file; give the watcher.conf of this cloud')
    return conf


def open_store(args):
    """The store of the configured database, checked to be at head."""
    from watcher_predictive.storage import api
    store = api.Store.from_config(_config(args.config_file))
    try:
        store.check_schema()
    except exception.StorageError:
        store.dispose()
        raise
    return store


def _row(task):
    return {
        'id': task.id, 'instance_uuid': task.instance_uuid,
        'kind': task.kind, 'flavor': task.flavor or '',
        'deadline': types.iso_utc(task.deadline),
        'state': task.state, 'audit_uuid': task.audit_uuid or '',
        'reason': task.reason,
    }


def _print(tasks, as_json):
    rows = [_row(task) for task in tasks]
    if as_json:
        print(json.dumps(rows, indent=2, sort_keys=True))
    elif rows:
        print(table.render(COLUMNS, [[r[c] for c in COLUMNS]
                                     for r in rows]))
    else:
        print('No task.')


def _add(args):
    deadline = parse_deadline(args.deadline)
    store = open_store(args)
    try:
        task = store.add_task(args.instance, args.kind, deadline,
                              flavor=args.flavor, reason=args.reason)
    finally:
        store.dispose()
    _print([task], args.json)
    return 0


def _list(args):
    states = None if args.all else (models.TASK_PENDING,
                                    models.TASK_PLANNED)
    store = open_store(args)
    try:
        _print(store.list_tasks(states), args.json)
    finally:
        store.dispose()
    return 0


def _cancel(args):
    task_id = task_store.canonical_uuid(args.id, name='ID')
    store = open_store(args)
    try:
        before = store.get_task(task_id)
        store.cancel_task(task_id)
    finally:
        store.dispose()
    print('Task %s cancelled.' % task_id)
    if before.state == models.TASK_PLANNED:
        print('It was planned by audit %s: its action stays in that '
              'audit\'s action plan unless the plan is cancelled '
              '("openstack optimize actionplan cancel").'
              % before.audit_uuid)
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser(
        'task', help='Queue, list and cancel operator tasks.',
        description=__doc__.split('\n\n', 1)[1].split('::')[0].strip())
    commands = parser.add_subparsers(dest='task_command', required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--config-file', action='append', metavar='PATH',
                        help='watcher.conf to read (repeatable; default: '
                             'the files of project watcher, such as '
                             '/etc/watcher/watcher.conf).')
    common.add_argument('--json', action='store_true',
                        help='Print JSON instead of a table.')

    add = commands.add_parser(
        'add', parents=[common], help='Queue a task.')
    add.add_argument('--instance', required=True, metavar='UUID',
                     help='UUID of the instance.')
    add.add_argument('--kind', required=True, metavar='KIND',
                     help='migrate, resize or throttle.')
    add.add_argument('--flavor', help='Flavor name or id to resize to '
                                      '(resize only, and required there).')
    add.add_argument('--deadline', required=True, metavar='T',
                     help='When the task must be done by: UTC time in ISO '
                          '8601 (2026-11-26T06:00:00Z), epoch seconds, or '
                          'a delay from now (+90m, +2h, +1d).')
    add.add_argument('--reason', default='',
                     help='Why, shown with the planned action.')
    add.set_defaults(func=_add)

    listing = commands.add_parser(
        'list', parents=[common],
        help='List pending and planned tasks, soonest deadline first.')
    listing.add_argument('--all', action='store_true',
                         help='Include cancelled and expired tasks.')
    listing.set_defaults(func=_list)

    cancel = commands.add_parser(
        'cancel', parents=[common], help='Cancel a pending or planned '
                                         'task.')
    cancel.add_argument('id', metavar='ID', help='Task id (from "task '
                                                 'list").')
    cancel.set_defaults(func=_cancel)
    return parser
