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

"""The ``predictive_anticipation`` strategy: Watcher's side of the plugin.

One audit: read what is new from telemetry, profile every instance in
scope, let the anticipation engine plan, turn its plan into Watcher actions
(checked against their schemas before the plan is saved), set the efficacy
indicators, and store the profiles and the issued forecasts in one
transaction. Nothing is stored when any step fails.
"""

import time

from oslo_config import cfg
from oslo_log import log
from watcher.common import nova_helper
from watcher.decision_engine.strategy.strategies import base

from watcher_predictive.anticipation import engine as anticipation
from watcher_predictive.anticipation import types
from watcher_predictive import conf as predictive_conf
from watcher_predictive.distributed import coordinator as distributed
from watcher_predictive.distributed import shard
from watcher_predictive import exception
from watcher_predictive.i18n import _
from watcher_predictive.plugins.actions import gated
from watcher_predictive.plugins.actions import throttle
from watcher_predictive.plugins.actions import unthrottle
from watcher_predictive.plugins import cluster
from watcher_predictive.plugins import learning as learning_audit
from watcher_predictive.plugins import parameters
from watcher_predictive.profiler import engine as profiler
from watcher_predictive.storage import api as storage
from watcher_predictive import telemetry
from watcher_predictive.telemetry import incremental

LOG = log.getLogger(__name__)
CONF = cfg.CONF

# Planned kind -> (Watcher action type, its class, which validates it).
ACTION_TYPES = {
    types.MIGRATE: ('predictive_migrate', gated.GatedLiveMigrate),
    types.RESIZE: ('predictive_resize', gated.GatedResize),
    types.THROTTLE: ('throttle', throttle.Throttle),
}
SAVE_ATTEMPTS = 3
# Seconds after a throttle's window during which its unthrottle may still
# start (it waits for the applier meanwhile): a throttle left in place
# would cap the guest for good.
UNTHROTTLE_GRACE = 86400


class PredictiveAnticipation(base.BaseStrategy):
    """Plans migrations, resizes and throttles in predicted lulls.

    *Description*

    Profiles every active instance in the audit scope from its telemetry,
    forecasts CPU, memory, disk and network over the horizon as quantiles,
    finds the windows where each guest is predicted idle, and plans live
    migrations off hosts predicted to overload, throttles of predicted
    bursting neighbours, and resizes of instances predicted to stay far
    below their flavor, each in its window.

    *Requirements*

    Telemetry in Gnocchi as Ceilometer stores it (or a trace to replay).

    *Limitations*

    Instances with less history than ``min_history`` are skipped.
    """

    def __init__(self, config, osc=None):
        super().__init__(config, osc)
        # Idempotent; makes the options exist in whatever configuration
        # object the decision engine (or a test) runs with.
        predictive_conf.register_opts(CONF)
        self.planner = 'predictive_weight'
        # Injectable collaborators; built from watcher.conf when left None.
        self.telemetry = None
        self.store = None
        self.flavors = None
        self.clock = time.time
        self.last_plan = None
        self.last_profile = None
        # Operator tasks (types.OperatorTask) to plan in this audit besides
        # the pending ones of the task store.
        self.operator_tasks = ()

    @classmethod
    def get_name(cls):
        return 'predictive_anticipation'

    @classmethod
    def get_display_name(cls):
        return _('Predictive anticipation')

    @classmethod
    def get_translatable_display_name(cls):
        return 'Predictive anticipation'

    @classmethod
    def get_goal_name(cls):
        return 'predictive_optimization'

    @classmethod
    def get_schema(cls):
        return parameters.SCHEMA

    @classmethod
    def get_config_opts(cls):
        # History is read through the plugin's own telemetry layer, not
        # through Watcher's datasources.
        return []

    # -- phases ------------------------------------------------------------

    def pre_execute(self):
        self._pre_execute()
        self.params, self.min_history = parameters.plan_parameters(
            self.input_parameters)

    def do_execute(self, audit=None):
        p = self.params
        now = int(self.clock())
        hosts, instances, _warnings = cluster.hosts_and_instances(
            self.compute_model, p.horizon)
        end = now - now % p.step
        start = end - CONF.watcher_predictive.history_days * 86400
        horizon_steps = max(i.horizon for i in instances) // p.step \
            if instances else p.horizon // p.step
        min_history_steps = max(1, self.min_history // p.step)
        remote = distributed.enabled(CONF) and instances
        # Operator tasks are read and claimed here, whoever profiles.
        store = self.store or storage.Store.from_config(
            CONF, timeout=CONF.watcher_predictive.telemetry_timeout)
        store.check_schema()
        learned = None
        measured = None
        if remote:
            # The workers read telemetry and store the profiles and
            # forecasts themselves, shard by shard.
            fan_out = distributed.Coordinator.from_config(CONF)
            try:
                result = fan_out.profile(shard.ShardRequest(
                    instance_ids=[i.uuid for i in instances], start=start,
                    end=end, step=p.step, horizon_steps=horizon_steps,
                    min_history_steps=min_history_steps,
                    audit_uuid=getattr(audit, 'uuid', None), issued_at=now))
            finally:
                fan_out.close()
            # The guests' measured use, for those whose peaks collided:
            # the histories the workers stored as they read them.
            measured = incremental.stored_use(
                store, [i.uuid for i in instances], end, p.step) or None
            LOG.info('Measured use of %d of %d instances read from the '
                     'histories stored by the profiler workers',
                     len(measured or ()), len(instances))
        else:
            source = incremental.wrap(
                self.telemetry or telemetry.get_source(CONF, osc=self.osc),
                store, CONF)
            stored = store.load_profiles([i.uuid for i in instances])
            history = source.fetch([i.uuid for i in instances], start, end,
                                   p.step)
            if 'cpu' in history.values:
                # The measured use, for guests whose peaks collided.
                measured = dict(zip(history.instance_ids,
                                    history.values['cpu']))
            result = profiler.Profiler(
                min_history_steps=min_history_steps).profile(
                    history, horizon_steps)
            # In process, scoring and adjustment run here, where the
            # history is (the workers learn in their own cycle).
            learned = learning_audit.AuditLearning.from_config(
                CONF, store, history, instances, p.lull_cpu)
            learned.learn(result, stored, now)
        for uuid, why in result.skipped.items():
            LOG.info('Instance %s skipped: %s', uuid, why)
        self.last_profile = result
        due = operator_tasks_due(store, now)
        operator_tasks = list(self.operator_tasks) + due

        plan_ = None
        if result.profiled:
            # Guests live migrated within the cool-down are left alone.
            recent = cluster.recent_live_migrations(
                nova_helper.NovaHelper(),
                now - p.migration_cooldown) if p.migration_cooldown else None
            plan_ = anticipation.AnticipationEngine(p).plan(
                hosts, instances, result.forecasts,
                flavors=self._flavors() if types.RESIZE in
                p.actions_allowed else (),
                peaks=result.peaks, operator_tasks=operator_tasks,
                history=measured, last_migrated=recent)
        self.last_plan = plan_
        actions = plan_.actions if plan_ else []
        audit_uuid = getattr(audit, 'uuid', None)
        actions, claimed = claim_operator_tasks(
            store, actions, audit_uuid, {t.id for t in due})
        try:
            for action in actions:
                self._add_action(action)
            self._report(plan_)
            self._set_indicators(instances, result, plan_, actions)
            if not remote:
                self._save(store, audit, result, stored, now, learned)
        except Exception:
            # No plan: the tasks wait for the next audit.
            if claimed:
                store.release_tasks(claimed, audit_uuid)
            raise

    def post_execute(self):
        pass

    # -- helpers -----------------------------------------------------------

    def _flavors(self):
        if self.flavors is not None:
            return self.flavors
        try:
            return cluster.nova_flavors(nova_helper.NovaHelper())
        except Exception as e:
            # Without flavors no resize can be planned; the migrations and
            # throttles are still worth planning.
            LOG.warning('Flavors could not be listed from Nova (%s); no '
                        'resize is planned in this audit.', e)
            return []

    def _add_action(self, action):
        action_type, action_class = ACTION_TYPES[action.kind]
        params = action_parameters(action)
        # The applier checks parameters only when the plan runs; a plan
        # that cannot run must not be saved.
        action_class.validate_parameters(
            dict(params, resource_id=action.instance_uuid))
        self.solution.add_action(
            action_type=action_type, resource_id=action.instance_uuid,
            input_parameters=params)
        if action.kind == types.THROTTLE:
            # Nothing else lifts a throttle.
            lift = unthrottle_parameters(action)
            unthrottle.Unthrottle.validate_parameters(
                dict(lift, resource_id=action.instance_uuid))
            self.solution.add_action(
                action_type='unthrottle', resource_id=action.instance_uuid,
                input_parameters=lift)

    def _report(self, plan_):
        """Log what a dry run would have done, and why tasks were not
        planned.
        """
        if plan_ is None:
            return
        for action in plan_.dry_run_actions:
            LOG.info('Dry run: would %s %s (%s-%s): %s', action.kind,
                     action.instance_name, types.iso_utc(action.window_start),
                     types.iso_utc(action.window_end), action.reason)
        for task in plan_.tasks:
            if task.status != types.PLANNED:
                LOG.info('Task %s of %s (%s%s) %s: %s', task.kind,
                         task.instance_uuid, task.source,
                         ', operator task %s' % task.task_id
                         if task.task_id else '', task.status, task.note)

    def _set_indicators(self, instances, result, plan_, added=()):
        """Declare the efficacy indicators.

        ``added`` holds the plan's actions that were added to the solution
        (an operator task's action is left out when a concurrent audit
        claimed the task first).
        """
        actions = []
        tasks = []
        if plan_ is not None:
            actions = list(added) or plan_.dry_run_actions
            tasks = plan_.tasks
        counts = {kind: sum(1 for a in actions if a.kind == kind)
                  for kind in types.ACTION_KINDS}
        in_lull = [a for a in actions
                   if a.kind != types.THROTTLE and a.release_probability > 0]
        mean_release = (sum(a.release_probability for a in actions) /
                        len(actions)) if actions else 0.0
        self.solution.set_efficacy_indicators(
            instances_profiled=len(result.profiled),
            instances_skipped_short_history=len(result.skipped),
            migrations_planned=counts[types.MIGRATE],
            resizes_planned=counts[types.RESIZE],
            throttles_planned=counts[types.THROTTLE],
            tasks_in_predicted_lull=len(in_lull),
            mean_release_probability=round(mean_release, 4),
            tasks_queued=len(tasks),
            tasks_deferred=sum(1 for t in tasks
                               if t.status != types.PLANNED),
            operator_tasks_planned=sum(1 for a in actions if a.task_id),
            consolidation_migrations_planned=sum(
                1 for a in actions
                if a.source == types.SOURCE_CONSOLIDATION),
            collision_migrations_planned=sum(
                1 for a in actions if a.source == types.SOURCE_COLLISION),
            actions_withheld_dry_run=len(plan_.dry_run_actions)
            if plan_ is not None else 0,
            predicted_overload_avoided=round(max(
                plan_.overload_avoided if plan_ is not None else 0.0,
                0.0) / 60.0, 1))

    def _save(self, store, audit, result, stored, now, learned=None):
        audit_uuid = getattr(audit, 'uuid', None)
        forecasts = [
            storage.ForecastRecord(
                instance_uuid=uuid, resource=resource, model=fc.model,
                issued_at=now, start=fc.start, step=fc.step,
                levels=fc.levels.tolist(),
                quantiles=fc.quantiles[row].round(6).tolist(),
                audit_uuid=audit_uuid)
            for resource, fc in result.forecasts.items()
            for row, uuid in enumerate(fc.instance_ids)]
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            updates = [storage.ProfileUpdate(
                instance_uuid=uuid, state=state,
                history_end=state['history_end'],
                expected_version=stored[uuid].version
                if uuid in stored else None)
                for uuid, state in result.states.items()]
            extra = learned.save_arguments() if learned else {}
            try:
                store.save_audit(audit_uuid, updates, forecasts, **extra)
                return
            except exception.ConcurrentUpdate as e:
                # Another audit stored a profile of one of our instances
                # meanwhile. Profiles are rebuilt from telemetry, so the
                # newer one is replaced by ours, after re-reading versions.
                LOG.warning('Attempt %d to store profiles: %s', attempt, e)
                if attempt == SAVE_ATTEMPTS:
                    raise
                stored = store.load_profiles(list(result.states))
                if learned:
                    # What the other audit learned is kept: scoring is
                    # redone on its state, ours is added on top.
                    learned.rebase(result, stored)


def operator_tasks_due(store, now):
    """Pending operator tasks for the engine; expires the late ones."""
    for task_id in store.expire_tasks(now):
        LOG.warning('Operator task %s expired: its deadline passed before '
                    'an audit could plan it.', task_id)
    return [task.as_operator_task() for task in store.pending_tasks()]


def claim_operator_tasks(store, actions, audit_uuid, stored_ids):
    """Mark planned the stored operator tasks the actions carry out.

    Tasks given to the strategy directly (``operator_tasks``) are not in
    the store and are planned as they are.

    :returns: the actions to add (those of tasks claimed meanwhile by a
        concurrent audit, or cancelled, are dropped) and the ids claimed.
    """
    wanted = {a.task_id for a in actions if a.task_id in stored_ids}
    if not wanted:
        return actions, set()
    claimed = store.claim_tasks(wanted, audit_uuid)
    for task_id in sorted(wanted - claimed):
        LOG.info('Operator task %s was planned by another audit or '
                 'cancelled meanwhile; its action is left out.', task_id)
    return [a for a in actions
            if a.task_id not in wanted or a.task_id in claimed], claimed


def unthrottle_parameters(action):
    """Parameters of the ``unthrottle`` lifting a planned throttle."""
    return {
        'host': action.source_host,
        'resource_name': action.instance_name,
        'window_start': types.iso_utc(action.window_end),
        'window_end': types.iso_utc(action.window_end + UNTHROTTLE_GRACE),
        'release_probability': float(action.release_probability),
        'expected_benefit': 0.0,
        'reason': 'Lift the throttle of %s planned until %s.' % (
            action.instance_name, types.iso_utc(action.window_end)),
    }


def action_parameters(action):
    """Input parameters of the Watcher action for a planned action."""
    common = {
        'window_start': types.iso_utc(action.window_start),
        'window_end': types.iso_utc(action.window_end),
        'release_probability': float(action.release_probability),
        'expected_benefit': float(action.expected_benefit),
        'reason': action.reason,
    }
    if action.kind == types.MIGRATE:
        return dict(common, migration_type='live',
                    source_node=action.source_host,
                    destination_node=action.destination_host,
                    resource_name=action.instance_name)
    if action.kind == types.RESIZE:
        return dict(common, flavor=action.flavor)
    disks = {name: getattr(CONF.watcher_predictive, 'throttle_' + name)
             for name in ('disk_bytes_sec', 'disk_iops_sec')}
    return dict(common, host=action.source_host,
                cpu_limit=float(action.cpu_limit),
                resource_name=action.instance_name,
                **{name: value for name, value in disks.items() if value})
