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

"""The learned state of one instance, as versioned JSON.

It is stored in the instance's profile (key ``learning``), so that the
profile's version column guards it: two audits that learn from the same
errors cannot both store what they learned. Layout::

    {"version": 1, "audits": int,
     "resources": {resource: {
         "weights": {member: weight},        # exponentiated gradient
         "calibration": {"80": log factor, "90": log factor},
         "scale": mean absolute error of the combination,
         "scored_until": issued_at of the last scored ensemble forecast,
         "errors": {model: {"fast", "slow", "count"}},  # scaled pinball
         "pending": [{issued_at, start, step, levels, members,
                      quantiles (members x steps x levels), combined,
                      reference, mixture (steps: the candidates of
                      the learned choice)}],
         "gate": {"candidates", "steps", "by_step",
                  "state": the choice's discounted error differences
                  (``choice``)},
         "arima": {"row", "end", "estimated_at", "reselections",
                   "drift"},
         "model": the instance's ensemble state (``warm``)}},
     "markov": {"row", "end", "memory", "loss_fast", "loss_slow",
                "count", "resets", "resources", "params"}}
"""

import copy

from watcher_predictive import exception

VERSION = 1
# Member forecasts waiting for their time to come; an audit every hour
# with a one-hour horizon keeps one or two.
MAX_PENDING = 48


def empty():
    return {'version': VERSION, 'audits': 0, 'resources': {}}


def load(state):
    """A private copy of a stored learned state; empty when absent.

    A state of another version is discarded (what it learned is learned
    again within a few audits) rather than misread.
    """
    if not state:
        return empty()
    if not isinstance(state, dict) or state.get('version') != VERSION:
        return empty()
    return copy.deepcopy(state)


def resource(state, name):
    return state['resources'].setdefault(name, {
        'weights': {}, 'calibration': {'80': 0.0, '90': 0.0}, 'scale': None,
        'scored_until': None, 'errors': {}, 'pending': [], 'arima': None,
        'model': None})


def check_horizon(steps):
    if steps < 1:
        raise exception.InvalidParameter(
            name='horizon_steps', value=steps,
            reason='a forecast has at least one step')
