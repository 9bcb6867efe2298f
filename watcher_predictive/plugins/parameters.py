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

"""Audit parameters of the ``predictive_anticipation`` strategy.

The schema is part of the operator contract: Watcher cancels existing
audits of a strategy whose schema changed when the decision engine restarts,
so fields are only ever added, each with a default.
"""

import json

from watcher_predictive.anticipation import cost
from watcher_predictive.anticipation import types
from watcher_predictive import exception

SCHEMA = {
    'type': 'object',
    'properties': {
        'horizon': {
            'description': 'Seconds ahead that are forecast and planned. An '
                           'instance may override it with the metadata key '
                           'watcher_predictive:horizon.',
            'type': 'integer', 'minimum': 300, 'maximum': 7 * 86400,
            'default': 3600},
        'step': {
            'description': 'Seconds between two points of the forecast '
                           'grid; must divide a day.',
            'type': 'integer', 'minimum': 60, 'maximum': 3600,
            'default': 300},
        'lull_cpu': {
            'description': 'An instance is in a lull when its CPU use is '
                           'below this fraction of its vCPUs.',
            'type': 'number', 'exclusiveMinimum': 0, 'maximum': 1,
            'default': 0.1},
        'release_threshold': {
            'description': 'Minimum release probability (the probability '
                           'that the instance stays in a lull for '
                           'task_duration within the horizon) for the '
                           'plugin to act on it.',
            'type': 'number', 'minimum': 0, 'maximum': 1, 'default': 0.6},
        'task_duration': {
            'description': 'Seconds a migration or resize needs the guest '
                           'to stay in its lull.',
            'type': 'integer', 'minimum': 60, 'maximum': 86400,
            'default': 600},
        'host_cpu_threshold': {
            'description': 'A host is predicted overloaded when its '
                           'predicted CPU demand exceeds this fraction of '
                           'its vCPU capacity.',
            'type': 'number', 'exclusiveMinimum': 0, 'maximum': 1,
            'default': 0.8},
        'demand_quantile': {
            'description': 'Quantile of the predicted demand that must fit '
                           'under the host threshold.',
            'type': 'number', 'enum': [0.5, 0.9, 0.95], 'default': 0.9},
        'resize_max_usage': {
            'description': 'Resize an instance down when its predicted peak '
                           'CPU stays below this fraction of its vCPUs.',
            'type': 'number', 'exclusiveMinimum': 0, 'maximum': 1,
            'default': 0.3},
        'burst_ratio': {
            'description': 'A neighbour is predicted to burst when its high '
                           'quantile reaches this multiple of its median.',
            'type': 'number', 'minimum': 1, 'maximum': 100, 'default': 2.0},
        'actions_allowed': {
            'description': 'Kinds of action the plan may contain.',
            'type': 'array', 'uniqueItems': True,
            'items': {'type': 'string', 'enum': list(types.ACTION_KINDS)},
            'default': list(types.ACTION_KINDS)},
        'max_actions': {
            'description': 'Most actions in one plan.',
            'type': 'integer', 'minimum': 0, 'maximum': 1000,
            'default': 20},
        'max_migrations_per_host': {
            'description': 'Most migrations into or out of one host in one '
                           'plan.',
            'type': 'integer', 'minimum': 0, 'maximum': 100, 'default': 2},
        'min_history': {
            'description': 'Seconds of telemetry an instance needs before '
                           'it is profiled; instances with less are '
                           'skipped and counted.',
            'type': 'integer', 'minimum': 3600, 'maximum': 90 * 86400,
            'default': 86400},
        'min_confidence': {
            'description': 'Act only on instances whose forecast confidence '
                           '(one minus the mean width of the 0.1-0.9 '
                           'interval as a share of the vCPUs; 0 for a '
                           'fallback forecast) reaches this value.',
            'type': 'number', 'minimum': 0, 'maximum': 1, 'default': 0.0},
        'blackout_windows': {
            'description': 'Daily windows, HH:MM-HH:MM in UTC, in which no '
                           'action may run (22:00-02:00 wraps past '
                           'midnight).',
            'type': 'array', 'uniqueItems': True,
            'items': {'type': 'string',
                      'pattern': '^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$'},
            'default': []},
        'dry_run': {
            'description': 'Plan and report (efficacy indicators and the '
                           'log) without adding any action.',
            'type': 'boolean', 'default': False},
        'consolidation_threshold': {
            'description': 'Empty a host whose predicted CPU demand stays '
                           'below this fraction of its threshold capacity '
                           'over the horizon, when every guest can move '
                           'in a lull (0 disables consolidation).',
            'type': 'number', 'minimum': 0, 'maximum': 1, 'default': 0.0},
        'busy_migration': {
            'description': 'When no guest of a host predicted to overload '
                           'has a lull that relieves it, live migrate a '
                           'busy guest in its least busy window before the '
                           'overload (its cost is higher and counted).',
            'type': 'boolean', 'default': False},
        'busy_separation': {
            'description': 'Separate colliding guests that have not idled '
                           'for a task\'s length in the whole collision '
                           'window, in their least busy window (outside a '
                           'lull, at a higher cost); when false, such '
                           'collisions are left to the throttles.',
            'type': 'boolean', 'default': True},
        'collision_window': {
            'description': 'Seconds of measured CPU use in which guests '
                           'that peaked together on a host are looked for; '
                           'one of them is moved in its predicted lull to '
                           'a host where its peaks collide less, and '
                           'overload migrations prefer such hosts (0 '
                           'disables both).',
            'type': 'integer', 'minimum': 0, 'maximum': 1209600,
            'default': 86400},
        'separation_window': {
            'description': 'Seconds of measured CPU use in which the '
                           'guests that peaked together on a host are '
                           'looked for, to be separated in their lulls and '
                           'kept apart by overload migrations (0: '
                           'collision_window). Longer windows find peaks '
                           'that meet on some days only; the history must '
                           'cover them ([watcher_predictive] history_days).',
            'type': 'integer', 'minimum': 0, 'maximum': 1209600,
            'default': 0},
        'separation_draws': {
            'description': 'Copies of the separation window (two days or '
                           'more) in which each guest\'s days are rotated '
                           'by a whole number of days, added to the '
                           'measured one: guests whose peaks fell on '
                           'different days, and could meet, are separated '
                           'too (0: only peaks measured together).',
            'type': 'integer', 'minimum': 0, 'maximum': 16, 'default': 0},
        'min_overload': {
            'description': 'vCPU-minutes a host must be predicted to spend '
                           'above host_cpu_threshold within the horizon for '
                           'the strategy to relieve it (0 relieves any '
                           'predicted overload).',
            'type': 'number', 'minimum': 0, 'default': 20.0},
        'throttle_colliders': {
            'description': 'When no migration and no predicted burster '
                           'relieve a host predicted to overload, and its '
                           'guests peaked together in the collision window, '
                           'throttle the colliding guests to their share of '
                           'the host\'s threshold capacity over the '
                           'predicted overload.',
            'type': 'boolean', 'default': False},
        'migration_cooldown': {
            'description': 'Seconds after a live migration of an instance '
                           'in which the strategy does not migrate it '
                           'again on its own (operator tasks excepted; 0 '
                           'disables).',
            'type': 'integer', 'minimum': 0, 'maximum': 1209600,
            'default': 0},
        'throttle_overloaded': {
            'description': 'Seconds for which the busiest guests of a host '
                           'measured above host_cpu_threshold in the last '
                           'step, and predicted still above it, are '
                           'throttled to what brings the host back under '
                           'it (never below their share of its threshold '
                           'capacity), after the other relief; each '
                           'throttle is lifted at the end of that time '
                           '(0 disables).',
            'type': 'integer', 'minimum': 0, 'maximum': 86400,
            'default': 0},
        'resize_up_usage': {
            'description': 'Resize an instance up ahead of a predicted '
                           'sustained peak: its median CPU forecast at or '
                           'above this fraction of its vCPUs for three '
                           'consecutive steps.',
            'type': 'number', 'exclusiveMinimum': 0, 'maximum': 1,
            'default': 0.9},
    },
    'additionalProperties': False,
}

HORIZON_METADATA_KEY = 'watcher_predictive:horizon'


def defaults():
    return {k: v['default'] for k, v in SCHEMA['properties'].items()}


def plan_parameters(values):
    """Check the parameters together and build the engine's parameters.

    Each field was validated alone by Watcher's API against ``SCHEMA``;
    what remains are the rules between fields.
    """
    merged = defaults()
    merged.update({k: v for k, v in dict(values).items()
                   if k in SCHEMA['properties']})
    if 86400 % merged['step']:
        raise exception.InvalidParameter(
            name='step', value=merged['step'],
            reason='must divide a day (86400 s) evenly, for example 60, '
                   '300, 600 or 900')
    if merged['horizon'] < merged['step']:
        raise exception.InvalidParameter(
            name='horizon', value=merged['horizon'],
            reason='must cover at least one step (%d s)' % merged['step'])
    if merged['task_duration'] > merged['horizon']:
        raise exception.InvalidParameter(
            name='task_duration', value=merged['task_duration'],
            reason='a task must fit in the horizon (%d s); raise horizon '
                   'or lower task_duration' % merged['horizon'])
    if merged['min_history'] < merged['step']:
        raise exception.InvalidParameter(
            name='min_history', value=merged['min_history'],
            reason='must cover at least one step')
    params = types.PlanParameters(
        horizon=merged['horizon'], step=merged['step'],
        lull_cpu=merged['lull_cpu'],
        release_threshold=merged['release_threshold'],
        task_duration=merged['task_duration'],
        host_cpu_threshold=merged['host_cpu_threshold'],
        demand_quantile=merged['demand_quantile'],
        resize_max_usage=merged['resize_max_usage'],
        burst_ratio=merged['burst_ratio'],
        actions_allowed=tuple(merged['actions_allowed']),
        max_actions=merged['max_actions'],
        max_migrations_per_host=merged['max_migrations_per_host'],
        min_confidence=merged['min_confidence'],
        blackout_windows=tuple(cost.parse_blackout(text)
                               for text in merged['blackout_windows']),
        dry_run=bool(merged['dry_run']),
        consolidation_threshold=merged['consolidation_threshold'],
        resize_up_usage=merged['resize_up_usage'],
        busy_migration=bool(merged['busy_migration']),
        busy_separation=bool(merged['busy_separation']),
        collision_window=merged['collision_window'],
        separation_window=merged['separation_window'],
        separation_draws=merged['separation_draws'],
        migration_cooldown=merged['migration_cooldown'],
        throttle_colliders=bool(merged['throttle_colliders']),
        throttle_overloaded=merged['throttle_overloaded'],
        min_overload=float(merged['min_overload']))
    return params, merged['min_history']


def instance_horizon(metadata, default):
    """Horizon of one instance: its metadata override or the default.

    A bad override is reported and ignored, not fatal: one guest's
    metadata must not fail the audit of the whole cloud.
    """
    if isinstance(metadata, str):
        # Watcher's model may hold the metadata as its JSON text.
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    raw = metadata.get(HORIZON_METADATA_KEY)
    if raw in (None, ''):
        return default, None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or not 300 <= value <= 7 * 86400:
        return default, exception.InvalidParameter(
            name=HORIZON_METADATA_KEY, value=raw,
            reason='must be an integer number of seconds between 300 and '
                   '604800; the audit horizon (%d s) is used' % default)
    return value, None
