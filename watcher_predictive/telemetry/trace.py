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

"""Measured VM traces: reading them, and replaying them as telemetry.

The GWA-T-12 Bitbrains format is one file per VM, ``N.csv`` or
``N.csv.gz``, fields separated by ``;`` followed by a tab, a header row
naming the columns below, and a timestamp in epoch seconds (despite its
``[ms]`` label). Reading needs only numpy.
"""

import gzip
import hashlib
import io
import os
import re
import time

import numpy as np
from oslo_log import log

from watcher_predictive import exception
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.telemetry import base
from watcher_predictive.telemetry import grid
from watcher_predictive.telemetry import trace_formats

LOG = log.getLogger(__name__)

FORMAT = 'bitbrains'
SERIES_PREFIX = 'bitbrains-'

COLUMNS = {
    'timestamp': 'Timestamp [ms]',
    'cores': 'CPU cores',
    'cpu_capacity': 'CPU capacity provisioned [MHZ]',
    'cpu_usage': 'CPU usage [MHZ]',
    'memory_capacity': 'Memory capacity provisioned [KB]',
    'memory_usage': 'Memory usage [KB]',
    'disk_read': 'Disk read throughput [KB/s]',
    'disk_write': 'Disk write throughput [KB/s]',
    'net_rx': 'Network received throughput [KB/s]',
    'net_tx': 'Network transmitted throughput [KB/s]',
}

_FILE_RE = re.compile(r'^(\d+)\.csv(\.gz)?$')


def _error(path, reason):
    return exception.TraceFormatError(path=path, format=FORMAT,
                                      reason=reason)


def _list_files(path, limit, files):
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise _error(path, 'no such file or folder')
    if files is not None:
        found = []
        for name in files:
            name = str(name)
            if name.startswith(SERIES_PREFIX):
                name = name[len(SERIES_PREFIX):]
            candidates = [name, name + '.csv.gz', name + '.csv']
            for candidate in candidates:
                if os.path.isfile(os.path.join(path, candidate)):
                    found.append(os.path.join(path, candidate))
                    break
            else:
                raise _error(path, 'no trace file for VM %r' % name)
        return found
    numbered = []
    for name in os.listdir(path):
        match = _FILE_RE.match(name)
        if match:
            numbered.append((int(match.group(1)), name))
    if not numbered:
        raise _error(path, 'the folder holds no N.csv or N.csv.gz file')
    numbered.sort()
    if limit is not None:
        numbered = numbered[:limit]
    return [os.path.join(path, name) for _, name in numbered]


def series_id(path):
    """``bitbrains-N`` for the file ``.../N.csv.gz``."""
    name = os.path.basename(path)
    for suffix in ('.gz', '.csv'):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    return SERIES_PREFIX + name


def _read_table(path):
    """The columns of one file as a dict of float arrays."""
    try:
        opener = gzip.open if path.endswith('.gz') else open
        with opener(path, 'rt', encoding='utf-8', newline='') as stream:
            text = stream.read()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise _error(path, 'unreadable file (%s)' % e)
    header, _, body = text.partition('\n')
    names = [name.strip() for name in header.split(';')]
    index = {}
    for key, column in COLUMNS.items():
        if column not in names:
            raise _error(path, 'missing column %r (header has %s)' % (
                column, ', '.join(repr(n) for n in names)))
        index[key] = names.index(column)
    if not body.strip():
        raise _error(path, 'no rows after the header')
    try:
        table = np.loadtxt(io.StringIO(body), delimiter=';', ndmin=2,
                           usecols=sorted(index.values()))
    except ValueError as e:
        raise _error(path, 'malformed row (%s)' % e)
    if table.shape[0] == 0:
        raise _error(path, 'no rows after the header')
    position = {col: i for i, col in enumerate(sorted(index.values()))}
    return {key: table[:, position[col]] for key, col in index.items()}


def _resources(table):
    """Per-row resource values in the units of ``History``."""
    cores = table['cores']
    with np.errstate(invalid='ignore', divide='ignore'):
        mhz_per_core = np.where(cores > 0,
                                table['cpu_capacity'] / cores, np.nan)
        valid = mhz_per_core > 0
        # A row with 0 cores or no capacity borrows the VM's usual core
        # speed; a VM that never reports one has no CPU series at all.
        if valid.any() and not valid.all():
            mhz_per_core = np.where(valid, mhz_per_core,
                                    np.median(mhz_per_core[valid]))
        cpu = np.where(mhz_per_core > 0,
                       table['cpu_usage'] / mhz_per_core, np.nan)
    return {
        'cpu': cpu,
        'memory': table['memory_usage'] / 1024.0,
        'disk': (table['disk_read'] + table['disk_write']) * 1024.0,
        'network': (table['net_rx'] + table['net_tx']) * 1024.0,
    }


def _flavor(table):
    cores = table['cores'][table['cores'] > 0]
    memory = table['memory_capacity'][table['memory_capacity'] > 0]
    return {
        'vcpus': int(np.median(cores)) if cores.size else 0,
        'memory_mb': float(np.median(memory)) / 1024.0 if memory.size
        else 0.0,
    }


def load_bitbrains(path, limit=None, step=300, files=None):
    """Read Bitbrains VM files and regularise them onto one grid.

    :param path: a folder of ``N.csv.gz`` files, or one such file
    :param limit: read only the first ``limit`` files, in VM number order
    :param step: grid step in seconds
    :param files: VM numbers, file names or series ids to read instead
    :returns: ``(history, flavors)``; the history's instance ids are the
        series ids (``bitbrains-N``), its grid spans every VM read, and
        ``flavors`` maps each id to ``{'vcpus', 'memory_mb'}`` as
        provisioned.
    :raises TraceFormatError: a file is missing, unreadable, or lacks a
        column or rows.
    """
    paths = _list_files(path, limit, files)
    ids, flavors, samples = [], {}, []
    for file_path in paths:
        table = _read_table(file_path)
        timestamps = table['timestamp']
        # Some VMs repeat timestamps or go back in time: keep the first
        # row of each timestamp, in time order.
        timestamps, first = np.unique(timestamps, return_index=True)
        table = {key: column[first] for key, column in table.items()}
        sid = series_id(file_path)
        ids.append(sid)
        flavors[sid] = _flavor(table)
        samples.append((timestamps, _resources(table)))
    t_min = min(t[0] for t, _ in samples)
    t_max = max(t[-1] for t, _ in samples)
    start, end = grid.align_down(t_min, step), grid.align_down(t_max, step)
    end += step
    series = np.repeat(np.arange(len(samples)), [len(t) for t, _ in samples])
    timestamps = np.concatenate([t for t, _ in samples])
    values = {}
    for resource in history_mod.RESOURCES:
        column = np.concatenate([r[resource] for _, r in samples])
        values[resource] = grid.regularise_gauge(
            series, timestamps, column, len(samples), start, end, step)
    LOG.debug('Read %s Bitbrains VMs from %s: %s steps of %s s from %s',
              len(ids), path, (end - start) // step, step, start)
    return history_mod.History(instance_ids=tuple(ids), start=start,
                               step=step, values=values), flavors


class TraceSource(base.TelemetrySource):
    """Replays a loaded trace as the telemetry of real instances.

    ``mapping`` gives the trace series each instance uuid replays; an
    instance it does not name gets a series chosen by a stable hash of its
    uuid, or no data at all when ``hash_unmapped`` is false. The trace's
    time plus ``offset`` seconds is wall-clock time.
    """

    name = 'trace'

    def __init__(self, history, mapping=None, offset=0,
                 hash_unmapped=True):
        self.history = history
        self.mapping = dict(mapping or {})
        self.offset = int(offset)
        self.hash_unmapped = hash_unmapped
        self._row = {sid: i for i, sid in enumerate(history.instance_ids)}
        unknown = set(self.mapping.values()) - set(self._row)
        if unknown:
            raise exception.InvalidParameter(
                name='mapping', value=sorted(unknown),
                reason='these series are not in the loaded trace')

    @staticmethod
    def offset_ending_at(history, now=None):
        """Offset that makes the trace's last step end at ``now``, rounded
        down to the trace's step so that the grids stay aligned.
        """
        now = time.time() if now is None else now
        return grid.align_down(now, history.step) - history.end

    def _series_of(self, instance_id):
        sid = self.mapping.get(instance_id)
        if sid is None and self.hash_unmapped and self._row:
            digest = hashlib.sha256(str(instance_id).encode()).digest()
            sid = self.history.instance_ids[
                int.from_bytes(digest[:8], 'big') % len(self._row)]
        return None if sid is None else self._row[sid]

    def fetch(self, instance_ids, start, end, step):
        n_steps = grid.check_grid(start, end, step)
        instance_ids = list(instance_ids)
        rows = [self._series_of(uuid) for uuid in instance_ids]
        wanted = [(i, row) for i, row in enumerate(rows) if row is not None]
        trace_times = self.history.timestamps().astype(float) + self.offset
        in_range = (trace_times >= start) & (trace_times < end)
        times = trace_times[in_range]
        values = {}
        for resource in history_mod.RESOURCES:
            out = np.full((len(instance_ids), n_steps), np.nan)
            if wanted and resource in self.history.values and times.size:
                source = self.history.values[resource][
                    [row for _, row in wanted]][:, in_range]
                series = np.repeat(np.arange(len(wanted)), times.size)
                out[[i for i, _ in wanted]] = grid.regularise_gauge(
                    series, np.tile(times, len(wanted)), source.ravel(),
                    len(wanted), start, end, step)
            values[resource] = out
        return history_mod.History(instance_ids=tuple(instance_ids),
                                   start=start, step=step, values=values)


# -- every format ---------------------------------------------------------

FORMATS = ('bitbrains', 'planetlab', 'wide')
# The readers of the other formats live in trace_formats; they are part of
# this module's interface.
load_planetlab = trace_formats.load_planetlab
load_wide = trace_formats.load_wide


def load(path, format, limit=None, step=300):
    """Read a trace in one of ``FORMATS``.

    :returns: ``(history, shapes)``; every shape has ``cpu_capacity``, the
        full scale of the history's CPU: vCPUs for ``bitbrains`` (CPU in
        vCPUs; NaN where the trace gives none), 100 for the formats in %.
    """
    if format == 'bitbrains':
        history, flavors = load_bitbrains(path, limit=limit, step=step)
        return history, {
            sid: dict(flavor, cpu_capacity=float(flavor['vcpus'])
                      if flavor['vcpus'] else float('nan'))
            for sid, flavor in flavors.items()}
    if format == 'planetlab':
        return load_planetlab(path, limit=limit, step=step)
    if format == 'wide':
        return load_wide(path, limit=limit, step=step)
    raise exception.InvalidParameter(
        name='format', value=format,
        reason='known trace formats are %s' % ', '.join(FORMATS))
