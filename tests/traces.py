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

"""Where the measured VM traces are, for tests and benchmarks.

The traces are not part of the repository: they live in ``shared/traces``
beside it (the repository root's parent), or wherever the environment
variable ``WATCHER_PREDICTIVE_TRACES`` points.
"""

import os

ENV_VAR = 'WATCHER_PREDICTIVE_TRACES'
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BITBRAINS = 'bitbrains_rnd_2013-8'


def traces_dir():
    """The traces folder, or None when it is absent."""
    candidates = [os.environ.get(ENV_VAR),
                  os.path.join(os.path.dirname(REPO_ROOT), 'shared',
                               'traces')]
    for candidate in candidates:
        if candidate and os.path.isdir(candidate):
            return candidate
    return None


def trace_path(name=BITBRAINS):
    """The path of one trace data set, or None when it is absent."""
    root = traces_dir()
    if root is None:
        return None
    path = os.path.join(root, name)
    return path if os.path.exists(path) else None


def missing_message(name=BITBRAINS):
    return ('trace %s not found: put the shared traces folder beside the '
            'repository (../shared/traces) or set %s to it' % (name, ENV_VAR))
