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

"""Reads only what is new since the history last read.

``IncrementalSource`` wraps any telemetry source and a store of the
gridded history last read per instance (``storage.Store``). For each
instance whose stored history (same step) starts at or before the window
asked for and ends inside it, telemetry is read from ``late_margin``
seconds before the stored end; the cells before that come from the stored
history, those from there on from telemetry, which replaces what was
stored for them (points that arrived late, within the margin, are picked
up). Counters need the sample before a cell to give its rate: the
wrapped sources read that far back themselves (Gnocchi and Prometheus
read ``max_gap`` before the start asked for), so the first cell read
again has the same rate as in a full read. Other instances are read in
full. Instances that resume from the same time are read together, so a
shard refreshed together costs one read of a few minutes.

The merged history is stored back (a failure to store it is logged, not
raised: the next read is then a full one). Points older than the margin
that arrive late are not seen until the instance's history is read in
full again (a new instance, a longer window, or a lost stored history).
"""

import math

import numpy as np
from oslo_log import log

from watcher_predictive import exception
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.telemetry import base
from watcher_predictive.telemetry import grid

LOG = log.getLogger(__name__)


class IncrementalSource(base.TelemetrySource):
    """``source`` read only from the end of the stored history.

    :param source: the ``TelemetrySource`` read
    :param store: has ``load_histories(ids, step)`` and
        ``save_histories(step, {uuid: (start, end, values)})``
    :param late_margin: seconds before the stored end read again
    """

    def __init__(self, source, store, late_margin=900):
        if late_margin < 0:
            raise exception.InvalidParameter(
                name='late_margin', value=late_margin,
                reason='seconds read again before the stored end cannot '
                       'be negative')
        self.source = source
        self.store = store
        self.late_margin = int(late_margin)
        self.name = source.name
        self.last_read = {}
        """Of the last fetch: instances read in full, instances read
        incrementally, and grid cells read from telemetry.
        """

    def resume_at(self, stored, start, end, step):
        """Where telemetry is read from for one instance."""
        if stored is None or stored.step != step or stored.start > start \
                or not start < stored.end <= end:
            return start
        margin = int(math.ceil(self.late_margin / step)) * step
        return max(start, stored.end - margin)

    def fetch(self, instance_ids, start, end, step):
        n_steps = grid.check_grid(start, end, step)
        instance_ids = list(instance_ids)
        unique = list(dict.fromkeys(instance_ids))
        stored = self._load(unique, step)
        groups = {}
        for uuid in unique:
            groups.setdefault(self.resume_at(stored.get(uuid), start, end,
                                             step), []).append(uuid)
        row_of = {uuid: row for row, uuid in enumerate(unique)}
        values = {r: np.full((len(unique), n_steps), np.nan)
                  for r in history_mod.RESOURCES}
        cells_read = 0
        for resume, uuids in sorted(groups.items()):
            rows = [row_of[uuid] for uuid in uuids]
            first = (resume - start) // step
            new = self.source.fetch(uuids, resume, end, step)
            cells_read += len(uuids) * (n_steps - first)
            for resource, array in new.values.items():
                if resource in values:
                    values[resource][rows, first:] = array
            for uuid in uuids if first else ():
                old = stored[uuid]
                offset = (start - old.start) // step
                for resource, array in old.values.items():
                    if resource in values:
                        values[resource][row_of[uuid], :first] = \
                            array[offset:offset + first]
            del new
        full = len(groups.get(start, ()))
        self.last_read = {'full': full, 'incremental': len(unique) - full,
                          'cells_read': cells_read}
        LOG.debug('Read %d instances from %s: %d in full, %d from their '
                  'stored history (%d cells read)', len(unique), self.name,
                  full, len(unique) - full, cells_read)
        self._save(unique, start, end, step, values)
        rows = [row_of[uuid] for uuid in instance_ids]
        if rows != list(range(len(unique))):
            values = {r: a[rows] for r, a in values.items()}
        return history_mod.History(instance_ids=tuple(instance_ids),
                                   start=start, step=step, values=values)

    def _load(self, uuids, step):
        try:
            return self.store.load_histories(uuids, step)
        except exception.StorageError as e:
            LOG.warning('Stored histories could not be read (%s); reading '
                        '%d instances in full', e, len(uuids))
            return {}

    def _save(self, uuids, start, end, step, values):
        try:
            self.store.save_histories(step, {
                uuid: (start, end, {r: a[row] for r, a in values.items()})
                for row, uuid in enumerate(uuids)})
        except exception.StorageError as e:
            LOG.warning('Histories of %d instances could not be stored (%s); '
                        'their next read is a full one', len(uuids), e)


def wrap(source, store, conf):
    """``source`` reading only what is new, unless ``[watcher_predictive]
    incremental_telemetry`` is false.
    """
    options = conf.watcher_predictive
    if not options.incremental_telemetry:
        return source
    return IncrementalSource(source, store,
                             late_margin=options.telemetry_late_margin)


def stored_use(store, instance_ids, end, step, resource='cpu'):
    """uuid -> measured ``resource`` per step ending at ``end`` (NaN where
    unknown), from the histories the profiler workers stored: what an
    audit that profiles through the workers has of the guests' recent
    use without reading telemetry itself.

    A stored history ending before ``end`` (a fresh profile reused) is
    padded with NaN up to it; one ending after it (a read since) is cut
    at it. Instances with no stored history at this step, or none of the
    resource, are left out; if the store cannot be read, a warning is
    logged and nothing is returned.
    """
    try:
        stored = store.load_histories(instance_ids, step)
    except exception.StorageError as e:
        LOG.warning('Stored histories could not be read (%s); the plan '
                    'has no measured use of the guests', e)
        return {}
    out = {}
    for uuid, h in stored.items():
        series = h.values.get(resource)
        if series is None or h.end <= h.start:
            continue
        steps = (end - h.start) // step
        if steps <= 0:
            continue
        use = np.full(steps, np.nan)
        kept = min(steps, series.size)
        use[:kept] = series[:kept]
        out[uuid] = use
    return out
