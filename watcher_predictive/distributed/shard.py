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

"""What travels between the decision engine and the profiler workers.

A shard request names the instances and the audit's grid; a shard result
is compact: the forecast quantiles over the audit's horizon, the daily
peaks and the skipped instances, not the profiles (the worker stores
those). Both are plain JSON-compatible dicts, as oslo.messaging sends
them. ``merge`` turns the results of every shard back into the
``ProfileResult`` the anticipation engine plans from.
"""

import dataclasses

import numpy as np

from watcher_predictive import exception
from watcher_predictive.profiler import base
from watcher_predictive.profiler import engine as profiler

RESULT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ShardRequest:
    """One shard of an audit, or of a worker's background refresh."""
    instance_ids: tuple
    start: int
    """Epoch seconds of the first step of history read."""
    end: int
    """Epoch seconds after the last step; the forecasts start here."""
    step: int
    horizon_steps: int
    min_history_steps: int
    audit_uuid: str | None = None
    issued_at: int | None = None

    def __post_init__(self):
        object.__setattr__(self, 'instance_ids', tuple(self.instance_ids))
        for name in ('start', 'end', 'step', 'horizon_steps',
                     'min_history_steps'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise exception.InvalidParameter(
                    name=name, value=value,
                    reason='a shard request needs an integer')
        if self.step <= 0 or (self.end - self.start) % self.step or \
                self.end <= self.start:
            raise exception.InvalidParameter(
                name='start/end/step', value=(self.start, self.end,
                                              self.step),
                reason='the history must span whole steps, end after start')
        if self.horizon_steps < 1 or self.min_history_steps < 1:
            raise exception.InvalidParameter(
                name='horizon_steps/min_history_steps',
                value=(self.horizon_steps, self.min_history_steps),
                reason='both must be at least 1')

    def to_dict(self):
        return dataclasses.asdict(self) | {
            'instance_ids': list(self.instance_ids)}

    @classmethod
    def from_dict(cls, data):
        try:
            return cls(**data)
        except TypeError as e:
            raise exception.InvalidParameter(
                name='shard request', value=sorted(data),
                reason='unexpected or missing fields (%s); are the decision '
                       'engine and the workers the same version?' % e)

    def with_instances(self, instance_ids):
        return dataclasses.replace(self, instance_ids=tuple(instance_ids))


def shards(instance_ids, size, at_least=1):
    """Consecutive slices of at most ``size`` instances, and at least
    ``at_least`` of them when there are that many instances (so that an
    audit smaller than ``at_least`` shards still keeps every worker busy),
    of balanced sizes.
    """
    if size < 1:
        raise exception.InvalidParameter(
            name='shard size', value=size, reason='must be at least 1')
    instance_ids = list(instance_ids)
    count = max(-(-len(instance_ids) // size), min(int(at_least),
                                                   len(instance_ids)))
    if count:
        size = -(-len(instance_ids) // count)
    return [instance_ids[i:i + size]
            for i in range(0, len(instance_ids), size)]


def encode_result(request, profiled, forecasts, peaks, skipped,
                  profiled_now=0, reused=0, worker=None):
    """The compact answer to one shard.

    :param profiled: instance uuids with a forecast, in row order
    :param forecasts: resource -> (model name, quantiles (instances,
        horizon steps, levels) array, fallback (instances,) bools, levels)
    :param peaks: resource -> (instances,) daily peaks
    :param skipped: uuid -> (available samples, required samples)
    """
    return {
        'version': RESULT_VERSION,
        'instances': list(profiled),
        'start': request.end,
        'step': request.step,
        'forecasts': {
            resource: {'model': model,
                       'levels': [float(x) for x in levels],
                       'quantiles': np.round(np.asarray(quantiles), 6)
                       .tolist(),
                       'fallback': [bool(x) for x in fallback]}
            for resource, (model, quantiles, fallback, levels)
            in forecasts.items()},
        'peaks': {resource: [float(x) for x in values]
                  for resource, values in peaks.items()},
        'skipped': {uuid: [int(a), int(r)]
                    for uuid, (a, r) in skipped.items()},
        'profiled_now': int(profiled_now),
        'reused': int(reused),
        'worker': worker,
        # Phase -> [wall, CPU] seconds, filled in by the worker.
        'seconds': {},
    }


def merge(results):
    """One ``ProfileResult`` from the results of every shard of an audit.

    Its ``states`` are empty: the workers stored them.
    """
    profiled, skipped = [], {}
    parts = {}
    start = step = None
    resources = None
    for result in results:
        if result.get('version') != RESULT_VERSION:
            raise exception.InvalidParameter(
                name='shard result version', value=result.get('version'),
                reason='this decision engine reads version %d; run the '
                       'same watcher-predictive on the workers'
                       % RESULT_VERSION)
        for uuid, (available, required) in result['skipped'].items():
            skipped[uuid] = exception.InsufficientHistory(
                instance=uuid, available=available, required=required)
        if not result['instances']:
            continue
        start, step = result['start'], result['step']
        profiled.extend(result['instances'])
        here = set(result['forecasts'])
        resources = here if resources is None else resources & here
        for resource, forecast in result['forecasts'].items():
            parts.setdefault(resource, []).append(
                (forecast, result['peaks'][resource]))
    merged = profiler.ProfileResult(forecasts={}, profiled=tuple(profiled),
                                    skipped=skipped, states={})
    for resource in sorted(resources or ()):
        pieces = parts[resource]
        quantiles = np.concatenate(
            [np.asarray(f['quantiles'], dtype=float) for f, _ in pieces])
        merged.forecasts[resource] = base.Forecast(
            instance_ids=tuple(profiled), resource=resource, start=start,
            step=step, levels=tuple(pieces[0][0]['levels']),
            quantiles=quantiles,
            model=pieces[0][0]['model'],
            fallback=np.concatenate(
                [np.asarray(f['fallback'], dtype=bool) for f, _ in pieces]))
        merged.peaks[resource] = np.concatenate(
            [np.asarray(p, dtype=float) for _, p in pieces])
    return merged


def phase_seconds(results):
    """Phase -> [wall, CPU] seconds summed over shard results."""
    total = {}
    for result in results:
        for phase, (wall, cpu) in (result.get('seconds') or {}).items():
            here = total.setdefault(phase, [0.0, 0.0])
            here[0] += wall
            here[1] += cpu
    return total
