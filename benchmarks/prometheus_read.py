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

"""How fast the Prometheus source reads history, against two baselines.

``python -m benchmarks.prometheus_read [--instances 50,200] [--days 7]
[--json]`` starts a Prometheus server of its own (Debian's ``prometheus``
binary, as the functional tests do), writes seeded Ceilometer metrics of
N instances (``ceilometer_cpu`` and the disk and network byte counters
cumulative, ``ceilometer_memory_usage``; one sample every 300 s, one
counter reset per instance and day, 1 % of the samples missing) through
its remote-write receiver, reads everything once (untimed: compaction,
page cache), then reads the last ``--days`` days onto a 300 s grid three
ways:

* ``PrometheusSource.fetch``: raw samples, 50 instances per query, one
  query per meter and day;
* the same source with ``batch_size=1``: one query per instance, the
  obvious way (run on the first 50 instances only, then scaled);
* PromQL's own ``rate(m[10m])`` / ``avg_over_time(m[5m])`` with
  ``query_range`` at a 300 s step, 50 instances per query.

For each: wall time (``--repeat`` reads, interleaved between the methods;
the fastest and the slowest), queries, bytes received, peak memory traced
by ``tracemalloc`` during one more read (it slows Python's allocations, so
the times come from untraced reads), and the CPU error against the generated
truth (mean absolute error in vCPU, share of the grid cells with a value,
and of the cells after a counter reset whose value is wrong by more than
10 %). The figures are printed, never judged.
"""

import argparse
import json
import math
import sys
import time
import tracemalloc
import uuid

import numpy as np
import requests

from tests.functional.fixtures import prometheus as prometheus_fixture
from watcher_predictive.cmd import table
from watcher_predictive.telemetry import prometheus

STEP = 300
JITTER = 7
SEED = 20130805


def generate(n, days, seed=SEED):
    """Seeded true CPU rates (vCPU), memory (MiB) and byte rates."""
    rng = np.random.default_rng(seed)
    steps = days * 86400 // STEP + 3
    hours = np.arange(steps) * STEP / 3600.0
    phase = rng.uniform(0, 24, (n, 1))
    level = rng.uniform(0.05, 2.0, (n, 1))
    daily = 0.5 + 0.5 * np.sin(2 * np.pi * (hours - phase) / 24)
    cpu = level * (0.2 + daily) * rng.lognormal(0, 0.2, (n, steps))
    memory = rng.uniform(512, 8192, (n, 1)) * (0.8 + 0.2 * daily)
    disk = cpu * rng.uniform(1e5, 1e7, (n, 1))
    network = cpu * rng.uniform(1e4, 1e6, (n, 1))
    posted = rng.random((n, steps)) > 0.01
    per_day = 86400 // STEP
    resets = rng.integers(0, per_day, (n, days)) + np.arange(days) * per_day
    return {'cpu': cpu, 'memory': memory, 'disk': disk,
            'network': network}, posted, resets


def load(server, truth, posted, resets, start):
    """Write the series; returns the instance uuids."""
    n, steps = truth['cpu'].shape
    stamps = start + np.arange(steps) * STEP + JITTER
    ids = [str(uuid.uuid4()) for _ in range(n)]
    rates = {'cpu': ('cpu', 1e9, 'instance'),
             'disk_device_read_bytes': ('disk', 0.3, 'disk'),
             'disk_device_write_bytes': ('disk', 0.7, 'disk'),
             'network_incoming_bytes': ('network', 0.5, 'nic'),
             'network_outgoing_bytes': ('network', 0.5, 'nic')}
    batch = []
    for row, uuid_ in enumerate(ids):
        ok = posted[row]
        label = {'instance': uuid_, 'disk': uuid_ + '-vda',
                 'nic': 'instance-%08x-%s-tap0' % (row, uuid_)}
        for metric, (resource, share, kind) in rates.items():
            increments = truth[resource][row] * share * STEP
            counter = np.cumsum(increments)
            for cell in resets[row]:
                counter[cell:] -= counter[cell] - 0.5 * increments[cell]
            batch.append(prometheus_fixture.encode_series(
                {'__name__': 'ceilometer_' + metric, 'resource': label[kind]},
                stamps[ok] * 1000, counter[ok]))
        batch.append(prometheus_fixture.encode_series(
            {'__name__': 'ceilometer_memory_usage', 'resource': uuid_},
            stamps[ok] * 1000, truth['memory'][row][ok]))
        if len(batch) >= 300:
            server.write(batch)
            batch = []
    if batch:
        server.write(batch)
    return ids


class Counted(requests.Session):
    def __init__(self):
        super().__init__()
        self.received = 0
        self.queries = 0
        self.hooks['response'].append(self._count)

    def _count(self, response, *args, **kwargs):
        self.queries += 1
        self.received += len(response.content)


def promql_cpu(url, ids, start, end, session):
    """CPU of ``ids`` from PromQL's ``rate()``, on the same grid, and the
    other meters read the same way (timed, not compared).
    """
    cpu = np.full((len(ids), (end - start) // STEP), np.nan)
    row_of = {u: i for i, u in enumerate(ids)}
    for first in range(0, len(ids), 50):
        batch = ids[first:first + 50]
        exact = '|'.join(batch)
        device = '.*(?:%s).*' % exact
        queries = [('rate(ceilometer_cpu{resource=~"%s"}[10m])' % exact,
                    True)]
        queries.append(('avg_over_time(ceilometer_memory_usage'
                        '{resource=~"%s"}[5m])' % exact, False))
        for name in ('disk_device_read_bytes', 'disk_device_write_bytes',
                     'network_incoming_bytes', 'network_outgoing_bytes'):
            queries.append(('rate(ceilometer_%s{resource=~"%s"}[10m])' % (
                name, device), False))
        for query, keep in queries:
            # A value at t describes the cell ending at t.
            answer = session.post(url + '/api/v1/query_range', data={
                'query': query, 'start': start + STEP,
                'end': end, 'step': STEP}, timeout=120)
            answer.raise_for_status()
            for item in answer.json()['data']['result']:
                # Every answer parsed, as a client using them would.
                points = np.array(item['values'], dtype=float)
                if not keep:
                    continue
                row = row_of[item['metric']['resource']]
                cells = ((points[:, 0] - start) // STEP - 1).astype(int)
                cpu[row, cells] = points[:, 1] / 1e9
    return cpu


def peak_memory(read):
    """Peak traced by ``tracemalloc`` (which slows Python's allocations
    down, so the times come from untraced reads).
    """
    tracemalloc.start()
    read(Counted())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def accuracy(cpu, truth, posted, resets, first_cell):
    """MAE against the truth, share of cells with a value, and share of
    the cells just after a reset that are wrong by more than 10 %.
    """
    want = truth[:, first_cell:first_cell + cpu.shape[1]]
    ok = posted[:, first_cell:first_cell + cpu.shape[1]]
    both = np.isfinite(cpu) & ok
    mae = float(np.mean(np.abs(cpu[both] - want[both]))) if both.any() \
        else math.nan
    wrong = total = 0
    for row, cells in enumerate(resets - first_cell):
        for cell in cells[(cells >= 0) & (cells < cpu.shape[1])]:
            total += 1
            got = cpu[row, cell]
            wrong += bool(np.isfinite(got)
                          and abs(got - want[row, cell]) > 0.1
                          * want[row, cell])
    return {'mae_vcpu': mae,
            'cells_with_value': float(np.isfinite(cpu).mean()),
            'true_cells_missed': float((ok & ~np.isfinite(cpu)).sum()
                                       / ok.sum()),
            'wrong_after_reset': wrong / total if total else math.nan}


def run(n, days, repeat):
    server = prometheus_fixture.PrometheusFixture()
    server.setUp()
    try:
        end = int(time.time()) // STEP * STEP
        steps = days * 86400 // STEP + 3
        data_start = end - steps * STEP
        truth, posted, resets = generate(n, days)
        began = time.perf_counter()
        ids = load(server, truth, posted, resets, data_start)
        write_seconds = time.perf_counter() - began
        start = end - days * 86400
        first_cell = (start - data_start) // STEP
        subset = min(n, 50)

        def ours(batch_size, count):
            def read(session):
                source = prometheus.PrometheusSource(
                    server.url, timeout=120, batch_size=batch_size,
                    session=session)
                return source.fetch(ids[:count], start, end,
                                    STEP).values['cpu']
            return read

        methods = [
            ('PrometheusSource (50 per query)', ours(50, n), n),
            ('one query per instance (scaled from %d)' % subset,
             ours(1, subset), subset),
            ('PromQL rate()/avg_over_time() range',
             lambda session: promql_cpu(server.url, ids, start, end,
                                        session), n)]
        # Untimed: Prometheus compacts what was just written, and the first
        # read pulls the blocks into the page cache.
        methods[0][1](Counted())
        times = {name: [] for name, _, _ in methods}
        results = {}
        for _ in range(repeat):
            # Interleaved, so that a busy moment of the machine does not
            # fall on one method only; the fastest read of each counts.
            for name, read, _ in methods:
                session = Counted()
                began = time.perf_counter()
                cpu = read(session)
                times[name].append(time.perf_counter() - began)
                results[name] = cpu, session
        rows = []
        for name, read, count in methods:
            cpu, session = results[name]
            scale = n / count
            rows.append(dict(
                method=name, instances=n,
                seconds=min(times[name]) * scale,
                slowest=max(times[name]) * scale,
                queries=round(session.queries * scale),
                mbytes=session.received * scale / 1e6,
                peak_mb=peak_memory(read) / 1e6,
                **accuracy(cpu, truth['cpu'][:count], posted[:count],
                           resets[:count], first_cell)))
        return {'instances': n, 'days': days, 'repeat': repeat,
                'samples_written': int(posted.sum()) * 6,
                'write_seconds': write_seconds, 'rows': rows}
    finally:
        server.cleanUp()


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.prometheus_read', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--instances', default='50,200',
                        help='comma-separated numbers of instances')
    parser.add_argument('--days', type=int, default=7,
                        help='days of history read (default 7)')
    parser.add_argument('--repeat', type=int, default=3,
                        help='reads per method, interleaved; the fastest '
                             'is shown (default 3)')
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    reports = [run(int(n), args.days, args.repeat)
               for n in args.instances.split(',')]
    if args.json:
        print(json.dumps(reports, indent=2))
        return 0
    for report in reports:
        print('%(instances)d instances, %(days)d days at 300 s: '
              '%(samples_written)d samples written in %(write_seconds).1f s'
              % report)
        header = ['method', 'seconds (slowest)', 'queries', 'MB received',
                  'peak MB', 'CPU MAE (vCPU)', 'cells with value',
                  'true cells missed', 'wrong after reset']
        lines = [[r['method'], '%.2f (%.2f)' % (r['seconds'], r['slowest']),
                  str(r['queries']),
                  '%.1f' % r['mbytes'], '%.1f' % r['peak_mb'],
                  '%.2g' % r['mae_vcpu'],
                  '%.1f %%' % (100 * r['cells_with_value']),
                  '%.1f %%' % (100 * r['true_cells_missed']),
                  '%.0f %%' % (100 * r['wrong_after_reset'])]
                 for r in report['rows']]
        print(table.render(header, lines))
        print()
    return 0


if __name__ == '__main__':
    sys.exit(main())
