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

"""Efficacy specification of the ``predictive_optimization`` goal.

Watcher validates the indicators a strategy sets against this
specification (an undeclared or mistyped indicator fails the audit), then
computes the global efficacy shown with the action plan.
"""

from oslo_log import log
from watcher.decision_engine.goal.efficacy import base
from watcher.decision_engine.goal.efficacy import indicators
from watcher.decision_engine.solution import efficacy

from watcher_predictive.i18n import _

LOG = log.getLogger(__name__)


class _Count(indicators.IndicatorSpecification):
    """A count of instances or actions (an integer, never negative).

    Subclasses set ``NAME`` and ``DESCRIPTION``; the constructor takes no
    argument, as Watcher's ``IndicatorSpecification.validate`` expects.
    """

    NAME = None
    DESCRIPTION = None

    def __init__(self):
        super().__init__(name=self.NAME, description=self.DESCRIPTION,
                         unit=None)

    @property
    def schema(self):
        return {'type': 'integer', 'minimum': 0}


class InstancesProfiled(_Count):
    NAME = 'instances_profiled'
    DESCRIPTION = _('The number of instances whose behaviour was profiled '
                    'and forecast in this audit.')


class InstancesSkippedShortHistory(_Count):
    NAME = 'instances_skipped_short_history'
    DESCRIPTION = _('The number of instances skipped because their '
                    'telemetry history is shorter than the minimum history.')


class MigrationsPlanned(_Count):
    NAME = 'migrations_planned'
    DESCRIPTION = _('The number of live migrations planned, each in a '
                    'predicted lull of its instance.')


class ResizesPlanned(_Count):
    NAME = 'resizes_planned'
    DESCRIPTION = _('The number of resizes planned, each in a predicted '
                    'lull of its instance.')


class ThrottlesPlanned(_Count):
    NAME = 'throttles_planned'
    DESCRIPTION = _('The number of CPU throttles planned over a predicted '
                    'contention window.')


class TasksInPredictedLull(_Count):
    NAME = 'tasks_in_predicted_lull'
    DESCRIPTION = _('The number of planned migrations and resizes whose '
                    'window lies in a predicted lull of their instance '
                    '(release probability above zero).')


class TasksQueued(_Count):
    NAME = 'tasks_queued'
    DESCRIPTION = _('The number of tasks in the queue of this audit '
                    '(overload relief, right-sizing, consolidation and '
                    'operator tasks), planned or not.')


class TasksDeferred(_Count):
    NAME = 'tasks_deferred'
    DESCRIPTION = _('The number of queued tasks not planned in this audit '
                    '(no lull before the deadline, no host with headroom, '
                    'a limit reached); the log says why for each.')


class OperatorTasksPlanned(_Count):
    NAME = 'operator_tasks_planned'
    DESCRIPTION = _('The number of operator tasks planned in a lull before '
                    'their deadline.')


class ConsolidationMigrationsPlanned(_Count):
    NAME = 'consolidation_migrations_planned'
    DESCRIPTION = _('The number of migrations planned to empty hosts '
                    'predicted to stay lightly used.')


class CollisionMigrationsPlanned(_Count):
    NAME = 'collision_migrations_planned'
    DESCRIPTION = _('The number of migrations planned to separate guests '
                    'whose measured CPU peaks collided on a host, each to '
                    'a host where its peaks collide less.')


class ActionsWithheldDryRun(_Count):
    NAME = 'actions_withheld_dry_run'
    DESCRIPTION = _('The number of actions a dry-run audit planned but did '
                    'not add to the action plan (the other indicators count '
                    'them as planned).')


class PredictedOverloadAvoided(indicators.IndicatorSpecification):
    def __init__(self):
        super().__init__(
            name='predicted_overload_avoided',
            description=_('Predicted host CPU demand above the threshold '
                          'that the plan removes, in vCPU-minutes.'),
            unit='vCPU-min')

    @property
    def schema(self):
        return {'type': 'number', 'minimum': 0}


class MeanReleaseProbability(indicators.IndicatorSpecification):
    def __init__(self):
        super().__init__(
            name='mean_release_probability',
            description=_('The mean predicted probability, over the planned '
                          'actions, that the instance releases its resources '
                          'in the action window (0 when nothing is '
                          'planned).'),
            unit=None)

    @property
    def schema(self):
        return {'type': 'number', 'minimum': 0, 'maximum': 1}


class PredictiveOptimizationSpec(base.EfficacySpecification):
    """Indicators of a predictive audit and its global efficacy.

    The global efficacy is the share of the planned migrations and resizes
    placed in a predicted lull of their instance, in percent. Throttles are
    left out: they are placed in the contention window they prevent, not in
    a lull. With no migration or resize planned the value is 0, as in
    Watcher's own specifications.
    """

    GLOBAL_NAME = 'tasks_in_predicted_lull_ratio'

    def get_indicators_specifications(self):
        return [
            InstancesProfiled(),
            InstancesSkippedShortHistory(),
            MigrationsPlanned(),
            ResizesPlanned(),
            ThrottlesPlanned(),
            TasksInPredictedLull(),
            MeanReleaseProbability(),
            TasksQueued(),
            TasksDeferred(),
            OperatorTasksPlanned(),
            ConsolidationMigrationsPlanned(),
            CollisionMigrationsPlanned(),
            ActionsWithheldDryRun(),
            PredictedOverloadAvoided(),
        ]

    def get_global_efficacy_indicator(self, indicators_map=None):
        indicators_map = indicators_map or {}
        lull_tasks = (indicators_map.get('migrations_planned', 0) +
                      indicators_map.get('resizes_planned', 0))
        in_lull = indicators_map.get('tasks_in_predicted_lull', 0)
        value = 0.0
        if lull_tasks > 0:
            if in_lull > lull_tasks:
                LOG.warning('tasks_in_predicted_lull=%s exceeds the %s '
                            'planned migrations and resizes; the ratio is '
                            'capped at 100%%.', in_lull, lull_tasks)
                in_lull = lull_tasks
            value = 100.0 * in_lull / lull_tasks
        return [efficacy.Indicator(
            name=self.GLOBAL_NAME,
            description=_('Share of the planned migrations and resizes '
                          'placed in a predicted lull of their instance.'),
            unit='%',
            value=round(value, 2))]
