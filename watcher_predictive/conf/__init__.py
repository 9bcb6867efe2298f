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

"""Configuration options of watcher-predictive.

The options live in watcher.conf, next to Watcher's own. ``register_opts``
is idempotent, so every entry point (strategy, actions, CLI) may call it.
"""

from oslo_config import cfg

from watcher_predictive.conf import learning
from watcher_predictive.conf import predictive
from watcher_predictive.conf import profiler
from watcher_predictive.conf import throttle

CONF = cfg.CONF


def register_opts(conf=CONF):
    predictive.register_opts(conf)
    throttle.register_opts(conf)
    profiler.register_opts(conf)
    learning.register_opts(conf)


register_opts(CONF)
