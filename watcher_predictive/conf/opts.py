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

"""Entry point of ``oslo-config-generator --namespace watcher_predictive``."""

from watcher_predictive.conf import learning
from watcher_predictive.conf import predictive
from watcher_predictive.conf import profiler
from watcher_predictive.conf import throttle


def list_opts():
    # One group: the throttle, profiler-worker and learning options follow
    # the general ones.
    return [(predictive.GROUP, predictive.ALL_OPTS + throttle.THROTTLE_OPTS +
             profiler.PROFILER_OPTS + learning.LEARNING_OPTS)]
