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

"""The ensemble's state as versioned JSON, and back
(:class:`.ensemble.Ensemble`'s ``get_state``, ``from_state`` and
per-instance description).
"""

import numpy as np


def member_states(model, i):
    """What each member keeps of instance ``i``. Members sharing one
    seasonal profile describe it once: the others name the member that
    holds it.
    """
    owners = {}
    states = {}
    for name, member in zip(model.member_names, model.members_):
        core = getattr(getattr(member, 'profile_', member), 'slots_', None)
        if core is None:
            states[name] = member.instance_state(i)
        elif id(core) in owners:
            states[name] = dict(member.instance_state(i, profile=False),
                                profile_in=owners[id(core)])
        else:
            owners[id(core)] = name
            states[name] = member.instance_state(i)
    return states


def instance_states(model):
    """``Ensemble.instance_state`` of every instance, in order."""
    weights = model._weights.mean(axis=2).round(4).T.tolist()
    return [{
        'weights': dict(zip(model.member_names, w)),
        'scale': scale,
        'scored': scored,
        'fallback': fallback,
        'members': members,
    } for w, scale, scored, fallback, members in zip(
        weights, model.scale_.tolist(), model.scored_instances_.tolist(),
        model.fallback_.tolist(), all_member_states(model))]


def all_member_states(model):
    """``member_states`` of every instance, in order; members that can
    describe all their instances at once (``instance_states``) do.
    """
    n = model.scale_.size
    owners = {}
    columns = {}
    for name, member in zip(model.member_names, model.members_):
        core = getattr(getattr(member, 'profile_', member), 'slots_', None)
        bulk = getattr(member, 'instance_states', None)
        if core is None:
            columns[name] = bulk() if bulk else [
                member.instance_state(i) for i in range(n)]
        elif id(core) in owners:
            rows = bulk(profile=False) if bulk else [
                member.instance_state(i, profile=False) for i in range(n)]
            for row in rows:
                row['profile_in'] = owners[id(core)]
            columns[name] = rows
        else:
            owners[id(core)] = name
            columns[name] = bulk() if bulk else [
                member.instance_state(i) for i in range(n)]
    names = tuple(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())]


def _instance(model, i):
    row = {'scale': float(model.scale_[i]),
           'scored': int(model.scored_instances_[i]),
           'recent': model.recent_[i].tolist(),
           'loss': model.loss_[i].tolist()}
    if model._gate is not None:
        row['gate'] = model._gate.instance_state(i)
    return row


def get_state(model):
    return {
        'model': model.name, 'version': model.STATE_VERSION,
        'params': model._params(), 'step': model.step_, 'end': model.end_,
        'calibration': model.calibration_.tolist(),
        'scored': model.scored_,
        'pending': [[int(t), m.tolist()] for t, m in model.pending_],
        'members': [m.get_state() for m in model.members_],
        'instances': [_instance(model, i)
                      for i in range(model.scale_.size)],
    }


def restore(model, state):
    """Fill ``model`` (built from the state's parameters) from ``state``."""
    factories = dict(zip(model.member_names, model._factories()))
    k, h = len(model.member_names), model.horizon_steps
    model.step_ = int(state['step'])
    model.end_ = int(state['end'])
    model.calibration_ = np.array(state['calibration'], dtype=float)
    model.scored_ = int(state['scored'])
    model.pending_ = [[int(t), np.array(m, dtype=float)]
                      for t, m in state['pending']]
    model.members_ = [factories[name].from_state(member) for name, member
                      in zip(model.member_names, state['members'])]
    rows = state['instances']
    model.scale_ = np.array([r['scale'] for r in rows], dtype=float)
    model.scored_instances_ = np.array([r['scored'] for r in rows],
                                       dtype=int)
    model._loss = np.ascontiguousarray(np.moveaxis(np.array(
        [r['loss'] for r in rows], dtype=float).reshape(len(rows), h, k),
        2, 0))
    model._gate = None if model.gate is None else model._make_gate(0).load(
        [r.get('gate') for r in rows], k + 1, h)
    model._weights = model._weights_from_loss()
    model.recent_ = np.array([r['recent'] for r in rows],
                             dtype=float).reshape(
                                 len(rows), h + model.origin_every)
    return model
