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

"""Trace formats besides Bitbrains: PlanetLab/CoMon day files and wide CSV.

Both hold CPU only, in % of the VM's vCPUs; their histories keep it in %
(not in vCPUs as ``History`` documents for measured guests) and their
shapes give the full scale, ``cpu_capacity`` = 100. Every malformed line is
reported with its file and line number. ``trace.load`` reads any format.
"""

import calendar
import csv
import datetime
import gzip
import io
import os
import re

import numpy as np
from oslo_log import log

from watcher_predictive import exception
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.telemetry import grid

LOG = log.getLogger(__name__)
PERCENT = 100.0
"""Full scale of CPU given in percent: the ``cpu_capacity`` of such
series. Their histories hold CPU in % of the VM's vCPUs, not in vCPUs.
"""
PLANETLAB_PREFIX = 'planetlab-'
DAY_SECONDS = 86400
_DAY_FILE_RE = re.compile(r'^(\d{8})\.csv$')


def _format_error(path, fmt, reason, line=None):
    if line is not None:
        reason = 'line %d: %s' % (line, reason)
    return exception.TraceFormatError(path=path, format=fmt, reason=reason)


def _read_csv(path, fmt):
    """Header (stripped names) and ``(line number, cells)`` of every
    non-blank row of a comma-separated file, gzip-compressed or not.
    """
    try:
        opener = gzip.open if path.endswith('.gz') else open
        with opener(path, 'rt', encoding='utf-8', newline='') as stream:
            text = stream.read()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise _format_error(path, fmt, 'unreadable file (%s)' % e)
    reader = csv.reader(io.StringIO(text))
    rows = []
    try:
        header = [name.strip() for name in next(reader, [])]
        for cells in reader:
            if cells:
                rows.append((reader.line_num, cells))
    except csv.Error as e:
        raise _format_error(path, fmt, str(e), reader.line_num)
    if not header:
        raise _format_error(path, fmt, 'the file is empty', 1)
    if not rows:
        raise _format_error(path, fmt, 'no rows after the header', 2)
    return header, rows


def _numbers(path, fmt, line, cells, names):
    """Floats of one row's cells; an empty cell is a missing sample."""
    try:
        values = np.array(cells, dtype=float)
    except ValueError:
        values = np.empty(len(cells))
        for k, cell in enumerate(cells):
            try:
                values[k] = float(cell) if cell.strip() else np.nan
            except ValueError:
                raise _format_error(path, fmt, 'column %s: %r is not a '
                                    'number' % (names[k], cell), line)
    bad = np.isinf(values) | (values < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise _format_error(path, fmt, 'column %s: %r is not a usage '
                            '(it must be finite and not negative)' % (
                                names[k], cells[k]), line)
    return values


def _planetlab_files(path):
    """Date -> day file, from a day file, ``by_day`` or its parent."""
    if os.path.isfile(path):
        match = _DAY_FILE_RE.match(os.path.basename(path))
        if not match:
            raise _format_error(path, 'planetlab', 'expected a day file '
                                'named YYYYMMDD.csv')
        return {datetime.datetime.strptime(match.group(1), '%Y%m%d')
                .date(): path}
    if not os.path.isdir(path):
        raise _format_error(path, 'planetlab', 'no such file or folder')
    folder = os.path.join(path, 'by_day')
    folder = folder if os.path.isdir(folder) else path
    files = {}
    for name in os.listdir(folder):
        match = _DAY_FILE_RE.match(name)
        try:
            day = datetime.datetime.strptime(match.group(1), '%Y%m%d')
        except (AttributeError, ValueError):
            continue
        files[day.date()] = os.path.join(folder, name)
    if not files:
        raise _format_error(folder, 'planetlab', 'the folder holds no '
                            'YYYYMMDD.csv day file (nor a by_day folder '
                            'of them)')
    return files


def _planetlab_days(files, days):
    """The days to read: the given ones, which must follow each other, or
    else the longest run of consecutive days (the latest on a tie).
    """
    if days is None:
        runs = []
        for day in sorted(files):
            if runs and (day - runs[-1][-1]).days == 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        return max(runs, key=lambda run: (len(run), run[-1]))
    chosen = []
    for text in days:
        try:
            day = datetime.datetime.strptime(str(text), '%Y%m%d').date()
        except ValueError:
            day = None
        if day not in files:
            raise exception.InvalidParameter(
                name='days', value=text,
                reason='available days are %s' % ', '.join(
                    d.strftime('%Y%m%d') for d in sorted(files)))
        chosen.append(day)
    chosen.sort()
    for before, after in zip(chosen, chosen[1:]):
        if (after - before).days != 1:
            raise exception.InvalidParameter(
                name='days', value=[d.strftime('%Y%m%d') for d in chosen],
                reason='%s does not follow %s: only consecutive days can '
                       'be joined into one series' % (after, before))
    return chosen


def _planetlab_day(path):
    """VM name -> samples (float array) of one day file."""
    header, rows = _read_csv(path, 'planetlab')
    expected = ['vm'] + ['t%03d' % k for k in range(len(header) - 1)]
    if len(header) < 2 or header != expected:
        raise _format_error(path, 'planetlab', 'the header must be vm, '
                            't000, t001, ...; found %s' % ', '.join(
                                header[:4]), 1)
    vms, lines = {}, {}
    for line, cells in rows:
        if len(cells) != len(header):
            raise _format_error(path, 'planetlab', 'expected %d fields '
                                '(a VM name then %d samples), found %d' % (
                                    len(header), len(header) - 1,
                                    len(cells)), line)
        name = cells[0].strip()
        if name in vms:
            raise _format_error(path, 'planetlab', 'VM %r is already on '
                                'line %d' % (name, lines[name]), line)
        vms[name] = _numbers(path, 'planetlab', line, cells[1:], header[1:])
        lines[name] = line
    return vms


def _to_grid(series_ids, timestamps, table, step):
    """History of ``table`` (samples, series) taken at ``timestamps``."""
    start = grid.align_down(timestamps[0], step)
    end = grid.align_down(timestamps[-1], step) + step
    n = len(series_ids)
    cpu = grid.regularise_gauge(
        np.repeat(np.arange(n), len(timestamps)), np.tile(timestamps, n),
        table.T.ravel(), n, start, end, step)
    return history_mod.History(instance_ids=tuple(series_ids), start=start,
                               step=step, values={'cpu': cpu})


def load_planetlab(path, limit=None, step=300, days=None):
    """Read PlanetLab/CoMon day files and join consecutive days.

    :param path: a ``by_day`` folder of ``YYYYMMDD.csv`` files (column
        ``vm``, then ``t000``... one CPU % per sample), the folder holding
        ``by_day``, or one day file
    :param days: ``YYYYMMDD`` days to read; they must follow each other.
        By default the longest run of consecutive days is read (the latest
        of equally long runs): the other days are left out, since joining
        days that do not follow each other would fake a continuous series.
    :param limit: read only the first ``limit`` VMs, in name order
    :returns: ``(history, shapes)``: the CPU (in %) of the VMs present on
        every day read, ids ``planetlab-<name>``, each day starting at its
        midnight UTC; shapes give ``cpu_capacity`` 100 (%).
    :raises TraceFormatError: a file is unreadable or has a malformed line
        (the message names the file and line).
    """
    files = _planetlab_files(path)
    chosen = _planetlab_days(files, days)
    per_day = [_planetlab_day(files[day]) for day in chosen]
    widths = {len(next(iter(vms.values()))) for vms in per_day}
    if len(widths) != 1 or DAY_SECONDS % widths.pop():
        raise _format_error(path, 'planetlab', 'the days read have '
                            'different numbers of samples, or a number that '
                            'does not divide a day')
    names = sorted(set.intersection(*(set(vms) for vms in per_day)))
    if limit is not None:
        names = names[:limit]
    if not names:
        raise _format_error(path, 'planetlab', 'no VM appears on every day '
                            'read (%s)' % ', '.join(map(str, chosen)))
    table = np.concatenate([np.stack([vms[name] for name in names], axis=1)
                            for vms in per_day])
    per = table.shape[0] // len(chosen)
    timestamps = np.concatenate([
        calendar.timegm(day.timetuple()) + np.arange(per) * (
            DAY_SECONDS // per) for day in chosen]).astype(float)
    ids = [PLANETLAB_PREFIX + name for name in names]
    LOG.debug('Read %s PlanetLab VMs over %s from %s', len(ids),
              ', '.join(map(str, chosen)), path)
    return _to_grid(ids, timestamps, table, step), {
        sid: {'cpu_capacity': PERCENT} for sid in ids}


def load_wide(path, limit=None, step=300):
    """Read a wide CSV: one row per sample, one column per VM.

    The file (``.csv`` or ``.csv.gz``) has a ``timestamp`` column (epoch
    seconds) or a ``step`` column (sample number; time is ``step`` times
    the grid step from the epoch), and one column of CPU % per VM, named by
    the VM's id; an empty cell is a missing sample. Times must increase.

    :param limit: read only the first ``limit`` VM columns
    :returns: ``(history, shapes)`` with CPU in %; shapes give
        ``cpu_capacity`` 100 (%).
    :raises TraceFormatError: naming the file and line of the problem.
    """
    header, rows = _read_csv(path, 'wide')
    times = [k for k, name in enumerate(header)
             if name in ('timestamp', 'step')]
    vms = [k for k in range(len(header)) if k not in times]
    problem = None
    if len(times) != 1:
        problem = 'expected one "timestamp" or "step" column, found %d' % (
            len(times))
    elif not vms:
        problem = 'no VM column besides %s' % header[times[0]]
    elif any(not header[k] for k in vms):
        problem = 'column %d has no name' % (
            [k for k in vms if not header[k]][0] + 1)
    elif len({header[k] for k in vms}) != len(vms):
        problem = 'a VM column name appears twice'
    if problem:
        raise _format_error(path, 'wide', problem, 1)
    if limit is not None:
        vms = vms[:limit]
    time_column, names = times[0], [header[k] for k in vms]
    timestamps, table = np.empty(len(rows)), np.empty((len(rows), len(vms)))
    for i, (line, cells) in enumerate(rows):
        if len(cells) != len(header):
            raise _format_error(path, 'wide', 'expected %d fields, found '
                                '%d' % (len(header), len(cells)), line)
        try:
            timestamps[i] = float(cells[time_column])
        except ValueError:
            timestamps[i] = np.nan
        if not np.isfinite(timestamps[i]) or (
                header[time_column] == 'step'
                and timestamps[i] != int(timestamps[i])):
            raise _format_error(path, 'wide', '%s %r is not a number of '
                                '%s' % (header[time_column],
                                        cells[time_column],
                                        'seconds' if header[time_column] ==
                                        'timestamp' else 'steps'), line)
        if i and timestamps[i] <= timestamps[i - 1]:
            raise _format_error(path, 'wide', '%s %s does not follow %s' % (
                header[time_column], cells[time_column],
                rows[i - 1][1][time_column]), line)
        table[i] = _numbers(path, 'wide', line, [cells[k] for k in vms],
                            names)
    if header[time_column] == 'step':
        timestamps = timestamps * step
    return _to_grid(names, timestamps, table, step), {
        name: {'cpu_capacity': PERCENT} for name in names}
