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

"""The ``predictive_optimization`` goal.

Its own goal because Watcher fails an audit whose strategy sets efficacy
indicators the goal does not declare.
"""

from watcher.decision_engine.goal import base

from watcher_predictive.i18n import _
from watcher_predictive.plugins import efficacy


class PredictiveOptimization(base.Goal):
    """Predictive optimization

    Act before contention: move, resize or throttle instances in the
    windows where their predicted behaviour makes it cheapest, ahead of the
    overload or waste the forecast shows.
    """

    @classmethod
    def get_name(cls):
        return 'predictive_optimization'

    @classmethod
    def get_display_name(cls):
        return _('Predictive optimization')

    @classmethod
    def get_translatable_display_name(cls):
        return 'Predictive optimization'

    @classmethod
    def get_efficacy_specification(cls):
        return efficacy.PredictiveOptimizationSpec()
