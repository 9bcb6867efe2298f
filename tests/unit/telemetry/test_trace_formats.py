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

import calendar
import datetime
import gzip
import os

import numpy as np
import pytest

from tests import traces
from tests.unit.telemetry import test_trace
from watcher_predictive import exception
from watcher_predictive.telemetry import trace

NAN = np.nan
APRIL_11 = calendar.timegm(datetime.date(2011, 4, 11).timetuple())


def day_file(folder, day, rows, samples=4, header=None):
    os.makedirs(folder, exist_ok=True)
    header = header or ['vm'] + ['t%03d' % k for k in range(samples)]
    lines = [','.join(header)] + [','.join(str(c) for c in row)
                                  for row in rows]
    path = os.path.join(folder, '%s.csv' % day)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def planetlab(tmp_path):
    """Three days, two of them consecutive; 4 samples a day (6 hours)."""
    folder = str(tmp_path / 'by_day')
    day_file(folder, '20110411', [['b_node slice', 1, 2, 3, 4],
                                  ['a_node', 10, 20, 30, 40],
                                  ['only_monday', 5, 5, 5, 5]])
    day_file(folder, '20110412', [['a_node', 50, 60, '', 80],
                                  ['b_node slice', 5, 6, 7, 8]])
    day_file(folder, '20110420', [['a_node', 0, 0, 0, 0]])
    return folder


# -- PlanetLab ---------------------------------------------------------------

def test_planetlab_joins_the_consecutive_days(tmp_path):
    folder = planetlab(tmp_path)
    hist, shapes = trace.load_planetlab(folder, step=21600)
    assert hist.instance_ids == ('planetlab-a_node',
                                 'planetlab-b_node slice')
    assert (hist.start, hist.step, hist.n_steps) == (APRIL_11, 21600, 8)
    np.testing.assert_array_equal(
        hist.values['cpu'], [[10, 20, 30, 40, 50, 60, NAN, 80],
                             [1, 2, 3, 4, 5, 6, 7, 8]])
    assert shapes['planetlab-a_node'] == {'cpu_capacity': 100.0}
    # The folder holding by_day, a limit, and the 5-minute grid.
    hist, _ = trace.load_planetlab(str(tmp_path), limit=1)
    assert hist.instance_ids == ('planetlab-a_node',)
    assert hist.n_steps == 2 * 288 - 71
    assert hist.values['cpu'][0, 72] == 20.0


def test_planetlab_days_must_follow_each_other(tmp_path):
    folder = planetlab(tmp_path)
    hist, _ = trace.load_planetlab(folder, days=['20110420'], step=21600)
    assert hist.instance_ids == ('planetlab-a_node',)
    with pytest.raises(exception.InvalidParameter, match='consecutive'):
        trace.load_planetlab(folder, days=['20110411', '20110420'])
    with pytest.raises(exception.InvalidParameter, match='20110412'):
        trace.load_planetlab(folder, days=['20110413'])


def test_planetlab_longest_run_then_latest(tmp_path):
    folder = str(tmp_path)
    day_file(folder, '20110301', [['a', 1, 1, 1, 1]])
    day_file(folder, '20110305', [['a', 2, 2, 2, 2]])
    hist, _ = trace.load_planetlab(folder, step=21600)
    np.testing.assert_array_equal(hist.values['cpu'], [[2, 2, 2, 2]])


@pytest.mark.parametrize('rows, header, message', [
    ([['a', 1, 2, 3]], None, 'line 2: expected 5 fields'),
    ([['a', 1, 2, 3, 4], ['b', 1, 'x', 3, 4]], None,
     'line 3: column t001: .x. is not a number'),
    ([['a', 1, 2, 3, 4], ['b', 1, -2, 3, 4]], None, 'line 3: column t001'),
    ([['a', 1, 2, 3, 4], ['a', 1, 2, 3, 4]], None,
     "line 3: VM 'a' is already on line 2"),
    ([['a', 1, 2, 3, 4]], ['name', 't000', 't001', 't002', 't003'],
     'line 1: the header must be vm'),
])
def test_planetlab_bad_lines(tmp_path, rows, header, message):
    path = day_file(str(tmp_path), '20110411', rows, header=header)
    with pytest.raises(exception.TraceFormatError) as caught:
        trace.load_planetlab(str(tmp_path))
    assert path in str(caught.value)
    assert caught.match(message)


def test_planetlab_missing_or_empty_folder(tmp_path):
    with pytest.raises(exception.TraceFormatError, match='no such'):
        trace.load_planetlab(str(tmp_path / 'nowhere'))
    with pytest.raises(exception.TraceFormatError, match='YYYYMMDD'):
        trace.load_planetlab(str(tmp_path))


def test_real_planetlab_trace():
    folder = traces.trace_path('planetlab')
    if folder is None:
        pytest.skip(traces.missing_message('planetlab'))
    hist, _ = trace.load(folder, 'planetlab', limit=5)
    # Only 11 and 12 April 2011 follow each other.
    assert (hist.start, hist.n_steps) == (APRIL_11, 576)
    assert len(hist.instance_ids) == 5
    assert np.nanmax(hist.values['cpu']) <= 100


# -- wide CSV ----------------------------------------------------------------

def wide_file(tmp_path, lines, name='wide.csv'):
    path = str(tmp_path / name)
    text = '\n'.join(lines) + '\n'
    if name.endswith('.gz'):
        with gzip.open(path, 'wt') as f:
            f.write(text)
    else:
        with open(path, 'w') as f:
            f.write(text)
    return path


def test_wide_with_timestamps_and_gaps(tmp_path):
    path = wide_file(tmp_path, ['timestamp,vm-a,vm-b',
                                '600,1,10', '900,2,', '1500,4,40'],
                     name='wide.csv.gz')
    hist, shapes = trace.load_wide(path)
    assert hist.instance_ids == ('vm-a', 'vm-b')
    assert (hist.start, hist.n_steps) == (600, 4)
    np.testing.assert_array_equal(hist.values['cpu'],
                                  [[1, 2, NAN, 4], [10, NAN, NAN, 40]])
    assert shapes == {'vm-a': {'cpu_capacity': 100.0},
                      'vm-b': {'cpu_capacity': 100.0}}


def test_wide_with_steps_and_a_limit(tmp_path):
    path = wide_file(tmp_path, ['vm-a,step,vm-b', '1,0,5', '2,1,6'])
    hist, _ = trace.load_wide(path, limit=1)
    assert hist.instance_ids == ('vm-a',)
    assert (hist.start, hist.n_steps) == (0, 2)
    np.testing.assert_array_equal(hist.values['cpu'], [[1, 2]])


@pytest.mark.parametrize('lines, message', [
    (['time,vm-a', '0,1'], 'line 1: expected one "timestamp" or "step"'),
    (['timestamp,vm-a,vm-a', '0,1,2'], 'line 1: a VM column name'),
    (['timestamp', '0'], 'line 1: no VM column'),
    (['timestamp,vm-a'], 'line 2: no rows after the header'),
    (['timestamp,vm-a', '0,1', '300,1,2'], 'line 3: expected 2 fields'),
    (['timestamp,vm-a', '0,1', '0,2'], 'line 3: timestamp 0 does not '
                                       'follow 0'),
    (['step,vm-a', '0,1', '1.5,2'], 'line 3: step .1.5. is not a number'),
    (['timestamp,vm-a', '0,1', '300,1', '600,high'],
     'line 4: column vm-a: .high. is not a number'),
    (['timestamp,vm-a', '0,1', '300,inf'], 'line 3: column vm-a'),
])
def test_wide_bad_lines(tmp_path, lines, message):
    path = wide_file(tmp_path, lines)
    with pytest.raises(exception.TraceFormatError) as caught:
        trace.load_wide(path)
    assert path in str(caught.value)
    assert caught.match(message)


# -- any format --------------------------------------------------------------

def test_load_dispatches_and_gives_capacity(tmp_path):
    test_trace.write_vm(str(tmp_path), 1, [test_trace.row(1200, cores=4)])
    hist, shapes = trace.load(str(tmp_path), 'bitbrains')
    assert shapes['bitbrains-1']['cpu_capacity'] == 4.0
    assert shapes['bitbrains-1']['vcpus'] == 4
    path = wide_file(tmp_path, ['step,vm-a', '0,1'])
    hist, shapes = trace.load(path, 'wide')
    assert shapes['vm-a']['cpu_capacity'] == 100.0
    with pytest.raises(exception.InvalidParameter, match='planetlab'):
        trace.load(path, 'parquet')
