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

"""The ``predictive_weight`` planner.

Watcher's ``weight`` planner fails an audit (``KeyError``) on an action
type missing from its weights, so the strategy selects this subclass, which
knows the plugin's action types as well as Watcher's own.

Order: by time first. Watcher's ``weight`` planner chains every type
after the previous one, so one action waiting for its window would hold
back every action of the next type, even one whose window opens earlier
and closes before the wait ends. This planner orders the actions by the
start of their window (actions without a window, Watcher's own types,
first), and among actions whose windows open together by weight:
``throttle`` before ``predictive_migrate`` (a throttle that frees capacity
on a host comes before the migrations onto it), then
``predictive_resize``, then ``unthrottle`` (whose window opens when its
throttle's closes). Consecutive actions of one type in that order run
side by side, up to that type's ``parallelization`` (each waits for its
own window); each such group starts when the group before it has
finished.
"""

import networkx as nx
from oslo_log import log
from watcher.common import utils
from watcher.decision_engine.planner import weight

from watcher_predictive import exception
from watcher_predictive.plugins.actions import window

LOG = log.getLogger(__name__)

PREDICTIVE_WEIGHTS = {
    # Between Watcher's 'delete' (33) and 'migrate' (30); weights must be
    # unique, they name the group an action belongs to.
    'throttle': 32,
    'predictive_migrate': 31,
    # Just before Watcher's 'resize' (20).
    'predictive_resize': 21,
    # Its window opens when its throttle's closes, so it is ordered by
    # time; among actions starting together, after the resizes.
    'unthrottle': 19,
}

PREDICTIVE_PARALLELIZATION = {
    'throttle': 4,
    'predictive_migrate': 2,
    'predictive_resize': 2,
    'unthrottle': 4,
}


class PredictiveWeightPlanner(weight.WeightPlanner):
    """Weight planner that knows the predictive action types.

    Options in ``[watcher_planners.predictive_weight]``: ``weights`` and
    ``parallelization``, as for Watcher's ``weight`` planner. Their
    defaults are Watcher's plus the predictive types. When an operator
    sets either option without naming every action type, the missing types
    keep their default, so an incomplete configuration cannot fail an
    audit.
    """

    action_weights = dict(weight.WeightPlanner.action_weights,
                          **PREDICTIVE_WEIGHTS)
    parallelization = dict(weight.WeightPlanner.parallelization,
                           **PREDICTIVE_PARALLELIZATION)

    def __init__(self, config=None):
        # The loader passes a Struct of the options; accept a plain dict
        # (or nothing) too.
        super().__init__(utils.Struct(config or {}))
        self.config.weights = self._complete(
            'weights', self.config.get('weights'), self.action_weights)
        self.config.parallelization = self._complete(
            'parallelization', self.config.get('parallelization'),
            self.parallelization)
        self._warn_on_shared_weights(self.config.weights)

    @classmethod
    def get_name(cls):
        return 'predictive_weight'

    def compute_action_graph(self, sorted_weighted_actions):
        weights = {}
        actions = []
        for action_weight, group in sorted_weighted_actions:
            for action in group:
                weights[action.uuid] = action_weight
                actions.append(action)
        actions.sort(key=lambda a: (_window_start(a), -weights[a.uuid]))
        graph = nx.DiGraph()
        previous = []
        current = []
        for action in actions:
            limit = max(1, int(self.config.parallelization.get(
                action.action_type, 1)))
            joins = (current and len(current) < limit
                     and current[0].action_type == action.action_type)
            if not joins:
                if current:
                    previous = current
                current = []
            graph.add_node(action)
            for parent in previous:
                graph.add_edge(parent, action)
                action.parents.append(parent.uuid)
            current.append(action)
        return graph

    @staticmethod
    def _complete(option, configured, defaults):
        """Defaults for the types missing from ``configured``, as ints.

        Values read from watcher.conf by a ``DictOpt`` are strings; the
        planner sorts weights, and '9' > '30' as strings.
        """
        merged = dict(defaults)
        for action_type, value in (configured or {}).items():
            try:
                merged[action_type] = int(value)
            except (TypeError, ValueError):
                LOG.warning('Ignoring [watcher_planners.predictive_weight] '
                            '%s for %s: %r is not an integer; using %s.',
                            option, action_type, value,
                            defaults.get(action_type))
        return merged

    @staticmethod
    def _warn_on_shared_weights(weights):
        seen = {}
        for action_type, value in sorted(weights.items()):
            if value in seen:
                LOG.warning('Action types %s and %s share the weight %s: '
                            'their actions are scheduled as one group.',
                            seen[value], action_type, value)
            seen.setdefault(value, action_type)


def _window_start(action):
    """Epoch start of an action's window; -inf for actions without one.

    ``sorted`` is stable: actions without a window keep their order.
    """
    start = (action.input_parameters or {}).get('window_start')
    if start is None:
        return float('-inf')
    try:
        return window.parse_time(action.action_type, 'window_start',
                                 start).timestamp()
    except exception.ActionParameterError:
        # The applier reports it when the action is loaded.
        return float('-inf')
