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

"""Audits of a shard profiler reading a real Gnocchi.

``python -m benchmarks.gnocchi_audit [--instances 200] [--days 7]
[--shard-size 1000]`` starts the functional tests' Gnocchi 4.7.1
(PostgreSQL indexer, file storage, metricd), posts ``--days`` of generated
guests as Ceilometer would, then runs, through the profiler workers' code
(``ShardProfiler`` over ``IncrementalSource`` over ``GnocchiSource``, a
SQLite store), the audits an hour apart:

* cold: nothing stored, the whole window read;
* warm: the same audit again (every profile fresh: stored forecasts read
  back, no telemetry);
* an hour later: profiles stale, telemetry read only from the stored end
  (minus the late margin), every instance profiled again;

and, for comparison, the same hour-later audit reading the whole window.
It prints wall and CPU seconds of each phase, Gnocchi requests, bytes
received and the peak resident memory of the process during the audit.
Figures are printed, never judged.
"""

import argparse
import os
import tempfile
import time

from benchmarks import scale_out
from tests.functional.fixtures import gnocchi as gnocchi_fixture
from watcher_predictive.distributed import shard
from watcher_predictive.distributed import worker
from watcher_predictive.simulation import generated
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration
from watcher_predictive.telemetry import gnocchi
from watcher_predictive.telemetry import incremental

STEP = 300
DAY = 86400
HOUR = 3600


class Counted:
    """Requests and bytes received by a gnocchiclient."""

    def __init__(self, client):
        self.requests = self.bytes = 0
        client.api.session.session.hooks['response'].append(self._count)

    def _count(self, response, *args, **kwargs):
        self.requests += 1
        self.bytes += len(response.content)


def audit(name, profiler, request, counted):
    requests, received = counted.requests, counted.bytes
    scale_out.reset_peak(os.getpid())
    wall, cpu = time.monotonic(), time.process_time()
    result = profiler.profile(request)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    print('%-26s %7.1f %7.1f %9d %9.1f %8.2f  %s' % (
        name, wall, cpu, counted.requests - requests,
        (counted.bytes - received) / 1e6,
        scale_out.peak_rss(os.getpid()), ', '.join(
            '%s %.1f/%.1f' % (phase, w, c)
            for phase, (w, c) in result['seconds'].items())), flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--instances', type=int, default=200)
    parser.add_argument('--days', type=int, default=7)
    parser.add_argument('--batch-size', type=int, default=50)
    args = parser.parse_args(argv)
    server = gnocchi_fixture.GnocchiFixture()
    server.setUp()
    try:
        end = int(time.time()) // STEP * STEP
        history, _ = generated.generate(
            n_instances=args.instances, days=args.days, step=STEP,
            end=end, seed=1)
        began = time.monotonic()
        loaded = server.load_history(history, end=end, chunk=50,
                                     wait=False)
        server.wait_processed(timeout=3600)
        print('%d instances, %d days at %d s posted and processed in %.0f s '
              '(load average %s)' % (
                  args.instances, args.days, STEP, time.monotonic() - began,
                  os.getloadavg()[0]), flush=True)
        client = server.make_client(timeout=120)
        counted = Counted(client)
        source = gnocchi.GnocchiSource(client, timeout=120,
                                       batch_size=args.batch_size)
        tmp = tempfile.mkdtemp(prefix='gnocchi-audit-')
        stores = []
        for name in ('incremental', 'full'):
            url = 'sqlite:///%s/%s.sqlite' % (tmp, name)
            migration.upgrade(url)
            stores.append(storage.Store(url, timeout=120))
        reader = incremental.IncrementalSource(source, stores[0])
        first = shard.ShardRequest(
            instance_ids=loaded.instance_ids, start=end - HOUR - 6 * DAY,
            end=end - HOUR, step=STEP, horizon_steps=12,
            min_history_steps=288)
        later = shard.ShardRequest(
            instance_ids=loaded.instance_ids, start=end - 6 * DAY, end=end,
            step=STEP, horizon_steps=12, min_history_steps=288)
        print('%-26s %7s %7s %9s %9s %8s  %s' % (
            'audit', 'wall s', 'CPU s', 'requests', 'MB', 'peak GiB',
            'shard phases (wall/CPU s)'))
        profiler = worker.ShardProfiler(reader, stores[0], fresh_age=900)
        audit('cold', profiler, first, counted)
        audit('warm', profiler, first, counted)
        audit('an hour later', profiler, later, counted)
        audit('an hour later, full read', worker.ShardProfiler(
            source, stores[1], fresh_age=900), later, counted)
        print('load average %.1f' % os.getloadavg()[0])
    finally:
        server.cleanUp()


if __name__ == '__main__':
    main()
