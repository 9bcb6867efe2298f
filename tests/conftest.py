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

"""pytest set-up shared by every test of the plugin.

``watcher.tests.unit`` must be imported before anything imports a Watcher
strategy module: it selects oslo.service's threading backend (and
registers Watcher's versioned objects). Importing a strategy first lets
oslo.service pick the eventlet backend, after which the threading one can
no longer be selected (``BackendAlreadySelected``). pytest imports this
file before any test module, so the import comes first here.
"""

import watcher.tests.unit  # noqa: F401  (must stay the first import)

import copy  # noqa: E402
import logging  # noqa: E402

from oslo_config import cfg  # noqa: E402
import pecan  # noqa: E402
import pytest  # noqa: E402
from watcher.conf import db as watcher_db_conf  # noqa: E402


@pytest.fixture(autouse=True)
def pecan_defaults():
    """Start every test with pecan's default configuration.

    Watcher's unit ``TestCase`` clears pecan's global configuration when it
    ends (``pecan.set_config({}, overwrite=True)``); Watcher runs its unit
    and functional tests in separate processes, pytest runs them in one,
    and the Nova and Placement API emulators (pecan apps) then fail with
    ``'pecan.conf' object has no attribute 'app'``.
    """
    pecan.set_config(copy.deepcopy(pecan.configuration.DEFAULT),
                     overwrite=True)
    yield


@pytest.fixture(autouse=True)
def watcher_database_default():
    """Put back Watcher's ``[database] connection`` default after a test.

    Watcher sets it with ``set_default`` when ``watcher.conf`` is imported;
    its test bases end with ``cfg.CONF.reset()``, which drops every
    ``set_default``. Later tests in the same process would otherwise see
    no ``[database] connection`` at all.
    """
    yield
    watcher_db_conf.register_opts(cfg.CONF)


@pytest.fixture(autouse=True)
def _root_logging_handlers():
    """Remove the handlers a test added to the root logger.

    Commands under test set up oslo.log, which writes to the stream that
    was stderr then: pytest's capture, closed once the test ends.
    """
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
