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

"""The work of a profiler worker on one shard.

For each instance of the shard: reuse the stored forecast when the stored
profile is fresh (its history ends at most ``fresh_age`` seconds before
the audit's last step, and its forecast reaches past the audit's horizon),
otherwise read the history, profile, and store the profile with its
forecast.

Writes are idempotent, so that a shard done twice (re-sent after a
timeout while the first worker was still busy, or refreshed meanwhile)
changes nothing: a profile is written only when its history ends later
than the stored one, under the stored version (a concurrent writer makes
the save fail and retry, after which the other's profile is found fresh),
and forecasts are written only with the profile they came from.
"""

import math
import threading

import numpy as np
from oslo_log import log

from watcher_predictive.distributed import shard as shard_mod
from watcher_predictive import exception
from watcher_predictive.profiler import engine as profiler
from watcher_predictive.storage import api as storage

LOG = log.getLogger(__name__)

SAVE_ATTEMPTS = 3
# Key of the profile state where the worker keeps the daily peaks it
# computed, so that a reused profile answers with them too.
PEAKS_KEY = 'daily_peaks'


class ShardProfiler:
    """Profiles shards with one telemetry source and one store.

    :param source: a ``TelemetrySource``
    :param store: a ``storage.api.Store``
    :param fresh_age: seconds; see ``[watcher_predictive]
        profiler_fresh_age``
    :param worker: name reported in results (the host)
    """

    def __init__(self, source, store, fresh_age=900, worker=None):
        self.source = source
        self.store = store
        self.fresh_age = int(fresh_age)
        self.worker = worker
        # One shard at a time: the history of a single shard is what bounds
        # a worker's memory.
        self._busy = threading.Lock()

    def margin_steps(self, step):
        """Extra forecast steps kept, so a profile stays usable while it
        ages by up to ``fresh_age``.
        """
        return int(math.ceil(self.fresh_age / step)) + 1

    def profile(self, request, fresh_age=None):
        """Profile one shard; returns its compact result (``shard``).

        :param fresh_age: overrides the worker's ``fresh_age`` (the
            refresh uses 0: only what ends at the current step is fresh).
        """
        with self._busy:
            return self._profile(request, self.fresh_age
                                 if fresh_age is None else fresh_age)

    def _profile(self, request, fresh_age):
        ids = list(request.instance_ids)
        stored = self.store.load_profiles(ids)
        reused = self._reusable(request, stored, fresh_age)
        todo = [uuid for uuid in ids if uuid not in reused]
        fresh = None
        LOG.info('Profiling shard of %d instances ending at %s (%d fresh '
                 'profiles reused)', len(ids), request.end, len(reused))
        if todo:
            history = self.source.fetch(todo, request.start, request.end,
                                        request.step)
            fresh = profiler.Profiler(
                min_history_steps=request.min_history_steps).profile(
                    history, request.horizon_steps +
                    self.margin_steps(request.step))
            del history
            for resource, peaks in fresh.peaks.items():
                for row, uuid in enumerate(fresh.profiled):
                    fresh.states[uuid].setdefault(PEAKS_KEY, {})[
                        resource] = float(peaks[row])
            self._save(request, fresh, stored)
        result = self._answer(request, ids, reused, fresh, stored)
        LOG.info('Shard of %d instances ending at %s: %d profiled, %d '
                 'reused, %d skipped', len(ids), request.end,
                 len(fresh.profiled) if fresh else 0, len(reused),
                 len(result['skipped']))
        return result

    # -- reuse -------------------------------------------------------------

    def _reusable(self, request, stored, fresh_age):
        """uuid -> {resource: (ForecastRecord, offset steps)} of the
        instances whose stored forecast covers this request.
        """
        starts = {}
        for uuid, record in stored.items():
            age = request.end - record.history_end
            if 0 <= age <= fresh_age and age % request.step == 0 and \
                    record.state.get('step') == request.step and \
                    PEAKS_KEY in record.state:
                starts[uuid] = record.history_end
        if not starts:
            return {}
        reused = {}
        for uuid, forecasts in self.store.forecasts_starting(starts).items():
            offset = (request.end - starts[uuid]) // request.step
            latest = {}
            for forecast in forecasts:
                latest.setdefault(forecast.resource, forecast)
            wanted = set(stored[uuid].state.get('models', {}))
            if not wanted or set(latest) < wanted or not all(
                    f.step == request.step and
                    len(f.quantiles) >= offset + request.horizon_steps
                    for f in latest.values()):
                continue
            reused[uuid] = {r: (latest[r], offset) for r in wanted}
        return reused

    # -- saving ------------------------------------------------------------

    def _save(self, request, fresh, stored):
        issued_at = request.issued_at or request.end
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            updates, written = [], set()
            for uuid, state in fresh.states.items():
                old = stored.get(uuid)
                if old is not None and old.history_end >= state['history_end']:
                    continue  # as fresh already: a shard done twice
                written.add(uuid)
                updates.append(storage.ProfileUpdate(
                    instance_uuid=uuid, state=state,
                    history_end=state['history_end'],
                    expected_version=old.version if old else None))
            forecasts = [
                storage.ForecastRecord(
                    instance_uuid=uuid, resource=resource, model=fc.model,
                    issued_at=issued_at, start=fc.start, step=fc.step,
                    levels=fc.levels.tolist(),
                    quantiles=fc.quantiles[row].round(6).tolist(),
                    audit_uuid=request.audit_uuid)
                for resource, fc in fresh.forecasts.items()
                for row, uuid in enumerate(fc.instance_ids)
                if uuid in written]
            if not updates:
                return
            try:
                self.store.save_audit(request.audit_uuid, updates, forecasts)
                return
            except exception.ConcurrentUpdate as e:
                LOG.info('Attempt %d to store a shard: %s', attempt, e)
                if attempt == SAVE_ATTEMPTS:
                    raise
                stored = self.store.load_profiles(list(fresh.states))

    # -- answer ------------------------------------------------------------

    def _answer(self, request, ids, reused, fresh, stored):
        h = request.horizon_steps
        rows = {}
        skipped = {}
        if fresh is not None:
            rows = {uuid: i for i, uuid in enumerate(fresh.profiled)}
            skipped = {uuid: (e.kwargs['available'], e.kwargs['required'])
                       for uuid, e in fresh.skipped.items()}
        profiled = [uuid for uuid in ids if uuid in rows or uuid in reused]
        resources = set(fresh.forecasts) if fresh and fresh.profiled \
            else None
        for parts in reused.values():
            resources = set(parts) if resources is None \
                else resources & set(parts)
        forecasts, peaks = {}, {}
        for resource in sorted(resources or ()):
            quantiles, fallback, peak = [], [], []
            model = levels = None
            for uuid in profiled:
                if uuid in rows:
                    fc = fresh.forecasts[resource]
                    quantiles.append(fc.quantiles[rows[uuid], :h])
                    fallback.append(bool(fc.fallback[rows[uuid]]))
                    peak.append(float(fresh.peaks[resource][rows[uuid]]))
                    model, levels = fc.model, fc.levels
                else:
                    record, offset = reused[uuid][resource]
                    quantiles.append(np.asarray(
                        record.quantiles[offset:offset + h], dtype=float))
                    state = stored[uuid].state
                    fallback.append(bool(state['models'][resource].get(
                        'fallback', False)))
                    peak.append(float(state[PEAKS_KEY][resource]))
                    model = model or record.model
                    levels = levels if levels is not None else \
                        record.levels
            forecasts[resource] = (model, np.stack(quantiles), fallback,
                                   levels)
            peaks[resource] = peak
        return shard_mod.encode_result(
            request, profiled, forecasts, peaks, skipped,
            profiled_now=len(rows), reused=len(reused), worker=self.worker)
