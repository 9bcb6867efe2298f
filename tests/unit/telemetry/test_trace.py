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

import gzip
import os

import numpy as np
import pytest

from tests import traces
from watcher_predictive import exception
from watcher_predictive.profiler import history
from watcher_predictive.telemetry import trace

HEADER = ';\t'.join([
    'Timestamp [ms]', 'CPU cores', 'CPU capacity provisioned [MHZ]',
    'CPU usage [MHZ]', 'CPU usage [%]', 'Memory capacity provisioned [KB]',
    'Memory usage [KB]', 'Disk read throughput [KB/s]',
    'Disk write throughput [KB/s]', 'Network received throughput [KB/s]',
    'Network transmitted throughput [KB/s]'])
NAN = np.nan


def write_vm(folder, number, rows, header=HEADER, gz=True):
    text = header + '\n' + ''.join(
        ';\t'.join(str(v) for v in row) + '\n' for row in rows)
    path = os.path.join(folder, '%s.csv%s' % (number, '.gz' if gz else ''))
    if gz:
        with gzip.open(path, 'wt') as f:
            f.write(text)
    else:
        with open(path, 'w') as f:
            f.write(text)
    return path


def row(ts, cores=2, capacity=6000.0, usage=1500.0, mem_cap=8388608.0,
        mem=1048576.0, read=1.0, write=3.0, rx=10.0, tx=30.0):
    percent = usage / capacity * 100 if capacity else 0.0
    return (ts, cores, capacity, usage, percent, mem_cap,
            mem, read, write, rx, tx)


def test_units_grid_and_flavor(tmp_path):
    write_vm(tmp_path, 1, [row(1200), row(1500, usage=3000.0),
                           row(2150, mem=2097152.0)])
    hist, flavors = trace.load_bitbrains(str(tmp_path))
    assert hist.instance_ids == ('bitbrains-1',)
    assert (hist.start, hist.step, hist.n_steps) == (1200, 300, 4)
    np.testing.assert_allclose(hist.values['cpu'], [[0.5, 1.0, NAN, 0.5]])
    np.testing.assert_allclose(hist.values['memory'],
                               [[1024, 1024, NAN, 2048]])
    np.testing.assert_allclose(hist.values['disk'][0, 0], 4 * 1024)
    np.testing.assert_allclose(hist.values['network'][0, 0], 40 * 1024)
    assert flavors == {'bitbrains-1': {'vcpus': 2, 'memory_mb': 8192.0}}


def test_dedupes_and_sorts_timestamps(tmp_path):
    write_vm(tmp_path, 3, [row(1800, usage=600.0), row(1200),
                           row(1200, usage=6000.0), row(1500)])
    hist, _ = trace.load_bitbrains(str(tmp_path))
    # The first row of the duplicated timestamp is kept.
    np.testing.assert_allclose(hist.values['cpu'], [[0.5, 0.5, 0.2]])


def test_zero_cores_row_uses_the_vm_core_speed(tmp_path):
    write_vm(tmp_path, 4, [row(0), row(300, cores=0, capacity=0.0)])
    write_vm(tmp_path, 5, [row(0, cores=0, capacity=0.0)])
    hist, flavors = trace.load_bitbrains(str(tmp_path))
    np.testing.assert_allclose(hist.values['cpu'], [[0.5, 0.5], [NAN, NAN]])
    assert flavors['bitbrains-5']['vcpus'] == 0


def test_common_grid_limit_and_files(tmp_path):
    write_vm(tmp_path, 2, [row(600)])
    write_vm(tmp_path, 10, [row(1200)], gz=False)
    write_vm(tmp_path, 1, [row(0)])
    hist, _ = trace.load_bitbrains(str(tmp_path), limit=2)
    assert hist.instance_ids == ('bitbrains-1', 'bitbrains-2')
    assert (hist.start, hist.n_steps) == (0, 3)
    hist, _ = trace.load_bitbrains(str(tmp_path),
                                   files=['bitbrains-10', 2], step=600)
    assert hist.instance_ids == ('bitbrains-10', 'bitbrains-2')
    assert (hist.start, hist.step, hist.n_steps) == (600, 600, 2)
    one, _ = trace.load_bitbrains(os.path.join(tmp_path, '10.csv'))
    assert one.instance_ids == ('bitbrains-10',)


@pytest.mark.parametrize('content, reason', [
    (None, 'no such file'),
    ('Timestamp [ms];\tCPU cores\n1;\t2\n', "missing column 'CPU capacity"),
    (HEADER + '\n', 'no rows'),
    (HEADER + '\n1;\t2;\tthree\n', 'malformed row'),
])
def test_format_errors_name_path_and_problem(tmp_path, content, reason):
    path = os.path.join(tmp_path, '7.csv.gz')
    if content is not None:
        with gzip.open(path, 'wt') as f:
            f.write(content)
    with pytest.raises(exception.TraceFormatError) as error:
        trace.load_bitbrains(path)
    assert reason in str(error.value)
    assert path in str(error.value)
    assert 'bitbrains' in str(error.value)


def test_unreadable_gzip_and_empty_folder(tmp_path):
    path = os.path.join(tmp_path, '8.csv.gz')
    with open(path, 'wb') as f:
        f.write(b'not gzip at all')
    with pytest.raises(exception.TraceFormatError, match='unreadable'):
        trace.load_bitbrains(path)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(exception.TraceFormatError, match='no N.csv'):
        trace.load_bitbrains(str(empty))
    with pytest.raises(exception.TraceFormatError, match='no trace file'):
        trace.load_bitbrains(str(tmp_path), files=[99])


def make_history():
    cpu = np.arange(12, dtype=float).reshape(2, 6)
    return history.History(
        instance_ids=('bitbrains-1', 'bitbrains-2'), start=3000, step=300,
        values={'cpu': cpu, 'memory': cpu * 10, 'disk': cpu + 1,
                'network': cpu + 2})


def test_trace_source_replays_mapping_with_offset():
    hist = make_history()
    source = trace.TraceSource(hist, mapping={'vm-a': 'bitbrains-2',
                                              'vm-b': 'bitbrains-1'},
                               offset=100 * 300, hash_unmapped=False)
    # Trace time 3000 is wall time 33000.
    out = source.fetch(['vm-a', 'vm-b', 'vm-c'], 33300, 35400, 300)
    assert out.instance_ids == ('vm-a', 'vm-b', 'vm-c')
    np.testing.assert_array_equal(
        out.values['cpu'], [[7, 8, 9, 10, 11, NAN, NAN],
                            [1, 2, 3, 4, 5, NAN, NAN],
                            [NAN] * 7])
    np.testing.assert_array_equal(out.values['memory'][0, :2], [70, 80])


def test_trace_source_coarser_step_averages():
    source = trace.TraceSource(make_history(), mapping={'a': 'bitbrains-1'})
    out = source.fetch(['a'], 2400, 4800, 600)
    np.testing.assert_array_equal(out.values['cpu'],
                                  [[NAN, 0.5, 2.5, 4.5]])


def test_trace_source_hash_mapping_is_stable_and_offset_ends_now():
    hist = make_history()
    offset = trace.TraceSource.offset_ending_at(hist, now=100000.5)
    assert offset == 99900 - hist.end
    source = trace.TraceSource(hist, offset=offset)
    first = source.fetch(['x', 'y'], 99900 - 1800, 99900, 300)
    again = source.fetch(['x', 'y'], 99900 - 1800, 99900, 300)
    np.testing.assert_array_equal(first.values['cpu'], again.values['cpu'])
    assert not np.isnan(first.values['cpu']).any()


def test_trace_source_rejects_unknown_series():
    with pytest.raises(exception.InvalidParameter):
        trace.TraceSource(make_history(), mapping={'a': 'bitbrains-9'})


def test_real_bitbrains_files():
    path = traces.trace_path()
    if path is None:
        pytest.skip(traces.missing_message())
    hist, flavors = trace.load_bitbrains(path, files=[1, 20])
    assert hist.instance_ids == ('bitbrains-1', 'bitbrains-20')
    assert hist.step == 300 and hist.n_steps > 8000
    assert flavors['bitbrains-1'] == {'vcpus': 2, 'memory_mb': 8192.0}
    observed = hist.observed_steps('memory')
    assert (observed > 0.99 * hist.n_steps).all()
    cpu = hist.values['cpu'][0]
    assert np.nanmax(cpu) <= 2.0 + 1e-6 and np.nanmin(cpu) >= 0
    # File 20 repeats timestamps in rows that report 0 cores; the rows
    # kept use the VM's single core.
    assert flavors['bitbrains-20']['vcpus'] == 1
    assert np.nanmax(hist.values['cpu'][1]) <= 1.0 + 1e-6
    assert hist.observed_steps('cpu')[1] > 0.5 * hist.n_steps
