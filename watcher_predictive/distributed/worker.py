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
and forecasts are written only with the profile they came from. A small
summary (daily peaks, fallback flags) is then written beside the profile,
so that reuse never reads the large profile states; a profile whose
summary is missing or older is simply not reused.
"""

import ctypes
import ctypes.util
import math
import threading
import time

import numpy as np
from oslo_log import log

from watcher_predictive.distributed import shard as shard_mod
from watcher_predictive import exception
from watcher_predictive.plugins import learning as learning_mod
from watcher_predictive.profiler import engine as profiler
from watcher_predictive.storage import api as storage

LOG = log.getLogger(__name__)

SAVE_ATTEMPTS = 3


class ShardProfiler:
    """Profiles shards with one telemetry source and one store.

    :param source: a ``TelemetrySource``
    :param store: a ``storage.api.Store``
    :param fresh_age: seconds; see ``[watcher_predictive]
        profiler_fresh_age``
    :param worker: name reported in results (the host)
    :param learning: ``learning.learner.Options`` to learn from the
        stored forecasts' errors as an audit does (see
        ``plugins.learning``), or None not to learn
    """

    def __init__(self, source, store, fresh_age=900, worker=None,
                 learning=None):
        self.source = source
        self.store = store
        self.fresh_age = int(fresh_age)
        self.worker = worker
        self.learning = learning
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
        arrived = time.monotonic()
        with self._busy:
            waited = time.monotonic() - arrived
            result = self._profile(request, self.fresh_age
                                   if fresh_age is None else fresh_age)
        # Time spent behind another shard on this worker (a shard handed
        # to a busy worker while another one idles shows here).
        result['seconds'] = dict({'queued': [round(waited, 3), 0.0]},
                                 **result['seconds'])
        return result

    def _profile(self, request, fresh_age):
        ids = list(request.instance_ids)
        clock = _PhaseClock()
        heads = self.store.profile_heads(ids)
        reused = self._reusable(request, heads, fresh_age)
        todo = [uuid for uuid in ids if uuid not in reused]
        fresh = None
        clock.lap('reuse')
        LOG.info('Profiling shard of %d instances ending at %s (%d fresh '
                 'profiles reused)', len(ids), request.end, len(reused))
        if todo:
            history = self.source.fetch(todo, request.start, request.end,
                                        request.step)
            clock.lap('telemetry')
            fresh = profiler.Profiler(
                min_history_steps=request.min_history_steps).profile(
                    history, request.horizon_steps +
                    self.margin_steps(request.step))
            learned = self._learn(request, history, fresh)
            del history
            clock.lap('profile')
            written = self._save(request, fresh, heads, learned)
            if written:
                self.store.save_summaries({
                    uuid: (fresh.states[uuid]['history_end'],
                           _summary(fresh, uuid)) for uuid in written})
            clock.lap('store')
        result = self._answer(request, ids, reused, fresh)
        del fresh
        _release_memory()
        clock.lap('answer')
        result['seconds'] = clock.seconds
        LOG.info('Shard of %d instances ending at %s: %d profiled, %d '
                 'reused, %d skipped; seconds (wall, CPU): %s', len(ids),
                 request.end, result['profiled_now'], len(reused),
                 len(result['skipped']), clock.describe())
        return result

    # -- reuse -------------------------------------------------------------

    def _reusable(self, request, heads, fresh_age):
        """uuid -> ({resource: (ForecastRecord, offset steps)}, summary)
        of the instances whose stored forecast covers this request.
        """
        candidates = {}
        for uuid, (history_end, _version) in heads.items():
            age = request.end - history_end
            if 0 <= age <= fresh_age and age % request.step == 0:
                candidates[uuid] = history_end
        if not candidates:
            return {}
        summaries = {
            uuid: summary
            for uuid, (history_end, summary)
            in self.store.load_summaries(candidates).items()
            if history_end == candidates[uuid] and
            summary.get('step') == request.step}
        reused = {}
        for uuid, forecasts in self.store.forecasts_starting(
                {u: candidates[u] for u in summaries}).items():
            offset = (request.end - candidates[uuid]) // request.step
            latest = {}
            for forecast in forecasts:
                latest.setdefault(forecast.resource, forecast)
            wanted = set(summaries[uuid]['peaks'])
            if not wanted or not wanted <= set(latest) or not all(
                    latest[r].step == request.step and
                    len(latest[r].quantiles) >= offset +
                    request.horizon_steps for r in wanted):
                continue
            reused[uuid] = ({r: (latest[r], offset) for r in wanted},
                            summaries[uuid])
        return reused

    # -- learning ----------------------------------------------------------

    def _learn(self, request, history, fresh):
        """The learning step of an audit, on this shard's profiles (no
        lull scores: the worker does not know the guests' sizes).
        """
        if self.learning is None or not self.learning.enabled or \
                not fresh.profiled:
            return None
        learned = learning_mod.AuditLearning(self.learning, self.store,
                                             history, {})
        learned.learn(fresh, self.store.load_profiles(fresh.profiled),
                      request.issued_at or request.end)
        return learned

    # -- saving ------------------------------------------------------------

    def _save(self, request, fresh, heads, learned=None):
        """Store what is newer than the stored profiles; returns the
        instances written.
        """
        issued_at = request.issued_at or request.end
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            updates, written = [], set()
            for uuid, state in fresh.states.items():
                old = heads.get(uuid)
                if old is not None and old[0] >= state['history_end']:
                    continue  # as fresh already: a shard done twice
                written.add(uuid)
                updates.append(storage.ProfileUpdate(
                    instance_uuid=uuid, state=state,
                    history_end=state['history_end'],
                    expected_version=old[1] if old else None))
            forecasts = []
            for resource, fc in fresh.forecasts.items():
                # Whole arrays to lists at once: far cheaper than row by row.
                levels = fc.levels.tolist()
                rows = [row for row, uuid in enumerate(fc.instance_ids)
                        if uuid in written]
                quantiles = fc.quantiles[rows].round(6).tolist()
                forecasts.extend(
                    storage.ForecastRecord(
                        instance_uuid=fc.instance_ids[row],
                        resource=resource, model=fc.model,
                        issued_at=issued_at, start=fc.start, step=fc.step,
                        levels=levels, quantiles=quantiles[i],
                        audit_uuid=request.audit_uuid)
                    for i, row in enumerate(rows))
            if not updates:
                return written
            extra = learned.save_arguments() if learned else {}
            try:
                self.store.save_audit(request.audit_uuid, updates, forecasts,
                                      **extra)
                return written
            except exception.ConcurrentUpdate as e:
                LOG.info('Attempt %d to store a shard: %s', attempt, e)
                if attempt == SAVE_ATTEMPTS:
                    raise
                heads = self.store.profile_heads(list(fresh.states))
                if learned:
                    # What the other writer learned is kept (as in an
                    # audit): scoring is redone on its state.
                    learned.rebase(fresh, self.store.load_profiles(
                        list(fresh.states)))

    # -- answer ------------------------------------------------------------

    def _answer(self, request, ids, reused, fresh):
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
        for parts, _summary in reused.values():
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
                    parts, summary = reused[uuid]
                    record, offset = parts[resource]
                    quantiles.append(np.asarray(
                        record.quantiles[offset:offset + h], dtype=float))
                    fallback.append(bool(summary['fallback'][resource]))
                    peak.append(float(summary['peaks'][resource]))
                    model = model or record.model
                    levels = levels if levels is not None else \
                        record.levels
            forecasts[resource] = (model, np.stack(quantiles), fallback,
                                   levels)
            peaks[resource] = peak
        return shard_mod.encode_result(
            request, profiled, forecasts, peaks, skipped,
            profiled_now=len(rows), reused=len(reused), worker=self.worker)


def _summary(result, uuid):
    """What a later audit reuses of a profile besides its forecast."""
    row = result.profiled.index(uuid)
    return {
        'step': result.states[uuid]['step'],
        'peaks': {r: float(p[row]) for r, p in result.peaks.items()},
        'fallback': {r: bool(fc.fallback[row])
                     for r, fc in result.forecasts.items()},
    }


class _PhaseClock:
    """Wall and CPU seconds of the phases of a shard. CPU is the
    process's (the profiler's threads included): a worker does one shard
    at a time.
    """

    def __init__(self):
        self.seconds = {}
        self._last = (time.monotonic(), time.process_time())

    def lap(self, phase):
        now = (time.monotonic(), time.process_time())
        self.seconds[phase] = [round(now[0] - self._last[0], 3),
                               round(now[1] - self._last[1], 3)]
        self._last = now

    def describe(self):
        return ', '.join('%s %.1f/%.1f' % (phase, wall, cpu)
                         for phase, (wall, cpu) in self.seconds.items())


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None


_LIBC = _libc()


def _release_memory():
    """Give the heap freed by a shard back to the system (glibc keeps
    one arena per thread of the RPC server; without this a worker's
    resident memory creeps up with the shards it has done).
    """
    trim = getattr(_LIBC, 'malloc_trim', None)
    if trim is not None:
        trim(0)
