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

"""watcher-predictive-db-manage: the plugin's tables in the Watcher database.

Reads watcher.conf as Watcher's own commands do (``--config-file``, else
the default files of project ``watcher``) and uses
``[watcher_predictive] connection`` or, when unset, ``[database]
connection``. Watcher's own tables and ``alembic_version`` are never
touched::

    watcher-predictive-db-manage upgrade
    watcher-predictive-db-manage version
    watcher-predictive-db-manage purge --older-than 30
    watcher-predictive-db-manage downgrade --revision base
"""

import argparse
import sys
import warnings

from oslo_config import cfg
from oslo_log import log

from watcher_predictive.conf import learning as learning_conf
from watcher_predictive.conf import predictive
from watcher_predictive import exception
from watcher_predictive.storage import api
from watcher_predictive.storage import engine as storage_engine
from watcher_predictive.storage import migration

LOG = log.getLogger(__name__)

PROG = 'watcher-predictive-db-manage'
# Purge deletes whole tables' worth of old rows in one statement.
PURGE_TIMEOUT = 600


def _days(text):
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        raise argparse.ArgumentTypeError(
            '%r is not a number of days (an integer >= 0)' % text)
    return days


def _upgrade(conf, url):
    migration.upgrade(url, conf.command.revision)
    print('Plugin tables in %s are at revision %s.' % (
        storage_engine.safe_url(url), migration.version(url)))


def _downgrade(conf, url):
    migration.downgrade(url, conf.command.revision)
    print('Plugin tables in %s are at revision %s.' % (
        storage_engine.safe_url(url), migration.version(url)))


def _version(conf, url):
    print(migration.version(url))


def _purge(conf, url):
    store = api.Store.from_config(conf, timeout=PURGE_TIMEOUT)
    try:
        store.check_schema()
        forecasts, throttles = store.purge(conf.command.older_than)
        errors = store.purge_errors(conf.command.older_than)
    finally:
        store.dispose()
    print('Deleted %d forecast errors older than %d days.' % (
        errors, conf.command.older_than))
    print('Deleted %d forecasts and %d reverted throttles older than %d '
          'days from %s.' % (forecasts, throttles, conf.command.older_than,
                             store.safe_url))


def add_command_parsers(subparsers):
    parser = subparsers.add_parser(
        'upgrade', help='Create or upgrade the plugin tables.')
    parser.add_argument('--revision', default='head',
                        help='Alembic revision to upgrade to (default: '
                             'head).')
    parser.set_defaults(func=_upgrade)

    parser = subparsers.add_parser(
        'downgrade', help='Downgrade the plugin tables; "base" drops them '
                          'and everything the plugin learned.')
    parser.add_argument('--revision', default='base',
                        help='Alembic revision to downgrade to (default: '
                             'base).')
    parser.set_defaults(func=_downgrade)

    parser = subparsers.add_parser(
        'version', help='Print the revision of the plugin tables, or None '
                        'when they were never created.')
    parser.set_defaults(func=_version)

    parser = subparsers.add_parser(
        'purge', help='Delete forecasts issued, their errors scored, and '
                      'throttles reverted, more than DAYS days ago.')
    parser.add_argument('--older-than', dest='older_than', metavar='DAYS',
                        type=_days, required=True,
                        help='Age in days (an integer >= 0).')
    parser.set_defaults(func=_purge)


def _conf():
    # Watcher's own definition of [database] (and of the $state_path its
    # default connection uses), on a private object: main() may run more
    # than once in one process.
    with warnings.catch_warnings():
        # Importing watcher.conf imports eventlet, which warns that it is
        # deprecated: noise for an operator running this command.
        warnings.simplefilter('ignore')
        from watcher.conf import db as watcher_db
        from watcher.conf import paths as watcher_paths

    conf = cfg.ConfigOpts()
    watcher_paths.register_opts(conf)
    watcher_db.register_opts(conf)
    predictive.register_opts(conf)
    learning_conf.register_opts(conf)
    log.register_options(conf)
    conf.register_cli_opt(cfg.SubCommandOpt(
        'command', title='Commands', help='Available commands',
        handler=add_command_parsers))
    return conf


def main(argv=None):
    """Run the command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    conf = _conf()
    conf(argv, project='watcher', prog=PROG,
         default_config_files=cfg.find_config_files(project='watcher'),
         default_config_dirs=cfg.find_config_dirs(project='watcher'))
    log.setup(conf, 'watcher-predictive')
    try:
        url = api.configured_url(conf)
        conf.command.func(conf, url)
    except exception.StorageError as error:
        LOG.debug('%s %s failed', PROG, conf.command.name, exc_info=True)
        print('ERROR: %s' % error, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
