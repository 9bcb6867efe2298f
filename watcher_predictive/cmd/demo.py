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

"""``watcher-predictive demo``: a real audit, in process, on a simulated
cluster.

Watcher's own code does the work: its database schema (SQLite), its goal
and strategy synchronisation, its audit objects, our strategy loaded by
Watcher's strategy loader, and Watcher's planner loader scheduling the
solution into an action plan. What is simulated is the cloud around it:
the compute hosts and instances (Watcher's cluster data model is built
directly instead of being collected from Nova) and their telemetry, which
replays a real trace, shifted so that it ends now, or generated data when
no trace is given.
"""

import datetime
import json
import os
import tempfile
import textwrap
import time
import warnings

from oslo_config import cfg

from watcher_predictive.simulation import cluster as sim_cluster
from watcher_predictive.simulation import generated

CONF = cfg.CONF
BITBRAINS = 'bitbrains_rnd_2013-8'


def find_trace(explicit=None):
    """The Bitbrains folder to replay, or None for generated data."""
    candidates = [explicit] if explicit else [
        os.path.join(os.environ.get('WATCHER_PREDICTIVE_TRACES', ''),
                     BITBRAINS),
        os.path.join(os.getcwd(), '..', 'shared', 'traces', BITBRAINS),
    ]
    for path in candidates:
        if path and os.path.isdir(path):
            return os.path.abspath(path)
    return None


def _import_watcher():
    """Import Watcher's modules without their deprecation noise.

    Watcher's client module resets the warning filters when imported, and
    its dependencies warn about their own deprecations; neither is for the
    operator. ``catch_warnings`` restores the filters afterwards.
    """
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        import watcher.common.clients  # noqa: F401
        # That import sets simplefilter('once'): ignore again.
        warnings.simplefilter('ignore')
        import watcher.common.service  # noqa: F401
        import watcher.conf  # noqa: F401
        import watcher.decision_engine.sync  # noqa: F401


def _configure(state_dir):
    from watcher.common import config as watcher_config
    url = 'sqlite:///%s' % os.path.join(state_dir, 'watcher.sqlite')
    watcher_config.parse_args(['watcher-predictive-demo'],
                              default_config_files=[],
                              default_config_dirs=[])
    CONF.set_override('connection', url, group='database')
    CONF.set_override('transport_url', 'fake://')
    return url


def _watcher_model(sim):
    from watcher.decision_engine.model import element
    from watcher.decision_engine.model import model_root
    model = model_root.ModelRoot()
    for i, host in enumerate(sim.hosts):
        model.add_node(element.ComputeNode(
            id=i, uuid=sim_cluster.instance_uuid('host-' + host.name),
            hostname=host.name, memory=int(host.memory_mb),
            memory_mb_reserved=0, memory_ratio=1.0, disk=4000,
            disk_gb_reserved=0, disk_ratio=1.0, vcpus=int(host.vcpus),
            vcpu_reserved=0,
            vcpu_ratio=float(host.vcpus_allocatable or host.vcpus) /
            host.vcpus, status='enabled', state='up'))
    created = datetime.datetime.now(datetime.timezone.utc)
    for inst in sim.instances:
        instance = element.Instance(
            uuid=inst.uuid, name=inst.name, memory=inst.memory_mb,
            disk=inst.disk_gb, vcpus=inst.vcpus, metadata={},
            project_id='aaaaaaaa-1111-2222-3333-444444444444',
            created=created, host=inst.host,
            hypervisor_hostname=inst.host, state='active')
        model.add_instance(instance)
        model.map_instance(instance, model.get_node_by_name(inst.host))
    return model


def load_workload(trace_path, n_instances, step, candidates=120):
    """History and shapes of the guests, and where they came from.

    From a trace, ``n_instances`` of its first ``candidates`` guests are
    taken, spread from the busiest to the idlest.
    """
    if trace_path:
        from watcher_predictive.telemetry import trace
        history, shapes = trace.load_bitbrains(
            trace_path, limit=max(candidates, n_instances), step=step)
        picked = sim_cluster.pick_mixed(history, n_instances)
        return (history.select(picked), {p: shapes[p] for p in picked},
                'trace %s (%d of its first %d guests, busiest to idlest)'
                % (trace_path, len(picked), len(history.instance_ids)))
    history, shapes = generated.generate(n_instances=n_instances, step=step)
    return history, shapes, 'generated data (no trace found)'


def run(trace_path=None, n_instances=40, n_hosts=5, host_cores=24,
        cpu_ratio=4.0, holdout_days=1.0, parameters=None, state_dir=None,
        out=print, now=None, progress=None):
    """Run one audit and print its action plan; returns the plan's actions
    as dicts. ``progress`` is called with a line as each phase starts.
    """
    progress = progress or (lambda line: None)
    progress('preparing Watcher\'s database')
    _import_watcher()
    from watcher.common import context as watcher_context
    from watcher.db.sqlalchemy import migration as watcher_migration
    from watcher.decision_engine.loading import default as loading
    from watcher.decision_engine import sync
    from watcher import objects

    from watcher_predictive.plugins import parameters as audit_parameters
    from watcher_predictive.storage import api as storage
    from watcher_predictive.storage import migration
    from watcher_predictive.telemetry import trace

    parameters = dict(parameters or {})
    step = parameters.get('step', audit_parameters.defaults()['step'])
    state_dir = state_dir or tempfile.mkdtemp(prefix='watcher-predictive-')
    os.makedirs(state_dir, exist_ok=True)
    url = _configure(state_dir)
    watcher_migration.create_schema()
    migration.upgrade(url)
    objects.register_all()
    context = watcher_context.make_context(is_admin=True)
    sync.Syncer().sync()

    progress('loading the telemetry of %d guests' % n_instances)
    history, shapes, origin = load_workload(trace_path, n_instances, step)
    # Replay: the trace is cut ``holdout_days`` before its end, and that
    # point is made "now"; the audit sees only what came before it.
    now = int(now if now is not None else time.time())
    replay_point = history.end - int(holdout_days * 86400)
    replay_point -= replay_point % step
    offset = (now - now % step) - replay_point
    order = sorted(shapes, key=lambda s: -float(
        _recent_cpu(history, s, replay_point)))
    sim = sim_cluster.build(shapes, n_hosts, host_cores,
                            host_memory_mb=host_cores * 8192,
                            order=order, cpu_ratio=cpu_ratio)
    source = trace.TraceSource(history, sim.series, offset)

    goal = objects.Goal.get_by_name(context, 'predictive_optimization')
    strategy_row = objects.Strategy.get_by_name(context,
                                                'predictive_anticipation')
    template = objects.AuditTemplate(
        context, name='predictive-demo', goal_id=goal.id,
        strategy_id=strategy_row.id, scope=[])
    template.create()
    audit = objects.Audit(
        context, name='predictive-demo-audit', audit_type='ONESHOT',
        state=objects.audit.State.ONGOING, goal_id=goal.id,
        strategy_id=strategy_row.id, parameters=parameters, scope=[],
        auto_trigger=False, force=False)
    audit.create()

    strategy = loading.DefaultStrategyLoader().load('predictive_anticipation')
    strategy.audit_scope = audit.scope
    strategy.input_parameters.update(audit.parameters)
    strategy._compute_model = _watcher_model(sim)
    strategy.telemetry = source
    strategy.flavors = sim.flavors
    strategy.store = storage.Store(url)
    strategy.clock = lambda: now
    progress('auditing: profiling, forecasting and planning')
    solution = strategy.execute(audit=audit)
    progress('scheduling the action plan')

    planner = loading.DefaultPlannerLoader().load(strategy.planner)
    action_plan = planner.schedule(context, audit.id, solution)
    audit.state = objects.audit.State.SUCCEEDED
    audit.save()
    actions = objects.Action.list(
        context, filters={'action_plan_uuid': action_plan.uuid})

    out('watcher-predictive demo: %d instances on %d simulated hosts '
        '(%d cores each, CPU allocation ratio %.1f), telemetry from %s.'
        % (len(sim.instances), len(sim.hosts), host_cores, cpu_ratio,
           origin))
    out('Audit %s, strategy predictive_anticipation, action plan %s '
        '(state %s).' % (audit.uuid, action_plan.uuid, action_plan.state))
    out('')
    out(format_actions(actions))
    out('')
    out('Efficacy indicators:')
    for indicator in solution.efficacy_indicators:
        out('  %-32s %s' % (indicator['name'], indicator['value']))
    out('')
    out('State kept in %s' % state_dir)
    # A watcher.conf naming that database, for the inspection commands.
    conf_path = os.path.join(state_dir, 'watcher.conf')
    with open(conf_path, 'w') as f:
        f.write('[database]\nconnection = %s\n' % url)
    out('Inspect a guest: watcher-predictive forecast show <instance uuid> '
        '--config-file %s' % conf_path)
    return [_action_dict(a) for a in actions]


def _recent_cpu(history, series_id, until):
    row = history.instance_ids.index(series_id)
    last = int((until - history.start) // history.step)
    window = history.values['cpu'][row, max(0, last - 12):last]
    window = window[~(window != window)]
    return window.mean() if window.size else 0.0


def _action_dict(action):
    return {'uuid': action.uuid, 'action_type': action.action_type,
            'state': action.state, 'parents': list(action.parents or []),
            'input_parameters': dict(action.input_parameters)}


def format_parameters(parameters, width=64):
    """One ``name: value`` line per parameter, long values wrapped."""
    lines = []
    for name in sorted(parameters):
        value = parameters[name]
        text = value if isinstance(value, str) else json.dumps(value)
        lines.extend(textwrap.wrap('%s: %s' % (name, text), width=width,
                                   subsequent_indent='    ') or [name + ':'])
    return '\n'.join(lines)


def format_actions(actions):
    """The table ``openstack optimize action list --detail`` prints."""
    from watcher_predictive.cmd import table
    rows = []
    for action in actions:
        rows.append([
            action.uuid, '\n'.join(action.parents or []) or '',
            action.state, action.action_type,
            format_parameters(action.input_parameters)])
    if not rows:
        return 'No action planned.'
    return table.render(['UUID', 'Parents', 'State', 'Action',
                         'Parameters'], rows)
