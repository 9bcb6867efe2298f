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

"""The store's side of incremental telemetry reads: the gridded history
last read per instance (``predictive_history``), so that the next read
asks telemetry only for what came since. Mixed into ``api.Store``.

Cells are stored as zlib-compressed float32 (about 20 KB per instance for
a week of four resources at 300 s): exact for what telemetry reports to
seven significant digits, and far smaller than JSON.
"""

import dataclasses
import zlib

import numpy as np
from oslo_log import log
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from watcher_predictive import exception
from watcher_predictive.storage import models

LOG = log.getLogger(__name__)
BATCH = 500
CELL_TYPE = np.dtype('<f4')


@dataclasses.dataclass(frozen=True)
class StoredHistory:
    """The history last read for one instance."""
    start: int
    end: int
    step: int
    values: dict
    """Resource -> (steps,) float array, NaN where nothing was measured."""


def encode_cells(values):
    """(comma-separated resources, compressed cells) of resource ->
    (steps,) arrays of one instance.
    """
    names = sorted(values)
    cells = np.stack([np.asarray(values[r], dtype=CELL_TYPE)
                      for r in names])
    return ','.join(names), zlib.compress(cells.tobytes(), 1)


def decode_cells(resources, cells, steps):
    names = resources.split(',') if resources else []
    array = np.frombuffer(zlib.decompress(cells), dtype=CELL_TYPE)
    if array.size != len(names) * steps:
        raise ValueError('%d cells for %d resources of %d steps'
                         % (array.size, len(names), steps))
    array = array.reshape(len(names), steps).astype(float)
    return dict(zip(names, array))


def _chunks(items, size=BATCH):
    items = list(items)
    for first in range(0, len(items), size):
        yield items[first:first + size]


class HistoryStore:
    """Needs ``_engine``, ``_errors`` and ``safe_url`` from the class it is
    mixed into.
    """

    def load_histories(self, instance_ids, step) -> dict:
        """uuid -> ``StoredHistory`` of the instances with a stored
        history at this step (others, and unreadable rows, are left out:
        they are simply read in full).
        """
        table = models.History
        found = {}
        with self._errors('load_histories'):
            with self._engine.connect() as conn:
                for chunk in _chunks(dict.fromkeys(instance_ids)):
                    for row in conn.execute(
                            sa.select(table.instance_uuid,
                                      table.history_start,
                                      table.history_end, table.resources,
                                      table.cells)
                            .where(table.instance_uuid.in_(chunk),
                                   table.step == step)):
                        steps = (row.history_end - row.history_start) // step
                        try:
                            values = decode_cells(row.resources, row.cells,
                                                  steps)
                        except (ValueError, zlib.error) as e:
                            LOG.warning('Stored history of %s is unreadable '
                                        '(%s); reading it again in full',
                                        row.instance_uuid, e)
                            continue
                        found[row.instance_uuid] = StoredHistory(
                            start=int(row.history_start),
                            end=int(row.history_end), step=int(step),
                            values=values)
        return found

    def save_histories(self, step, histories):
        """Store the histories just read, one transaction.

        :param histories: uuid -> (start, end, {resource: (steps,) array})
        :returns: the instances written; a stored history that ends later
            (a concurrent read) is kept. A concurrent first write of the
            same instance makes this save write nothing and return an
            empty set: the next read is then a full one, nothing worse.
        """
        table = models.History
        now = models.utcnow()
        for uuid, (start, end, _values) in histories.items():
            if end <= start or (end - start) % step:
                raise exception.StorageError(
                    reason='history of %s from %s to %s is not whole steps '
                           'of %s s' % (uuid, start, end, step))
        written = set()
        try:
            with self._errors('save_histories'):
                with self._engine.begin() as conn:
                    for chunk in _chunks(sorted(histories)):
                        stored = dict(conn.execute(
                            sa.select(table.instance_uuid,
                                      table.history_end)
                            .where(table.instance_uuid.in_(chunk))).all())
                        todo = [uuid for uuid in chunk
                                if stored.get(uuid, -1) <= histories[uuid][1]]
                        replaced = [uuid for uuid in todo if uuid in stored]
                        if replaced:
                            conn.execute(sa.delete(table).where(
                                table.instance_uuid.in_(replaced)))
                        rows = []
                        for uuid in todo:
                            start, end, values = histories[uuid]
                            resources, cells = encode_cells(values)
                            rows.append({
                                'instance_uuid': uuid, 'history_start': start,
                                'history_end': end, 'step': step,
                                'resources': resources, 'cells': cells,
                                'updated_at': now})
                        if rows:
                            conn.execute(sa.insert(table), rows)
                        written.update(todo)
        except exception.StorageError as e:
            if not isinstance(e, exception.ConcurrentUpdate) and \
                    not isinstance(e.__cause__, sa_exc.IntegrityError):
                raise
            LOG.info('A concurrent read stored some of these %d histories '
                     'first; not storing them (%s)', len(histories), e)
            return set()
        return written

    def purge_histories(self, older_than_days, now):
        """Delete the histories not read since then (deleted instances)."""
        cutoff = int(now - older_than_days * 86400)
        table = models.History
        with self._errors('purge_histories'):
            with self._engine.begin() as conn:
                return conn.execute(sa.delete(table).where(
                    table.history_end < cutoff)).rowcount
