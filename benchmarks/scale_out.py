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

"""Wall time and memory of an audit's profiling spread over workers.

``python -m benchmarks.scale_out [--instances 1000,10000] [--workers 1,2]
[--days 7] [--transport-url rabbit://...] [--database-url ...]
[--baseline-max 1000]`` prints, for every number of instances and of
workers:

* cold: the audit's profiling (``Coordinator.profile``, what the strategy
  calls) on an empty store: every shard is read from telemetry, profiled
  and stored by the workers;
* warm: the next audit, one step (5 minutes) later, when every stored
  profile is fresh: the workers read the stored forecasts back;
* peak resident memory of each worker and of the coordinator, per phase
  (``VmHWM``, reset between phases through ``/proc/<pid>/clear_refs``);
* the baseline, in the same run: ``Profiler().profile`` of every instance
  in one process, as the decision engine does with no worker (only up to
  ``--baseline-max`` instances: 10,000 need over 10 GiB).

Telemetry is generated (``simulation/generated.py``, seeded by instance)
by each worker for the instances of each shard it is sent, so a worker
never holds more than one shard's history. Workers are separate processes
(``spawn``) with an RPC server on the real broker; the store is a SQLite
file unless ``--database-url`` is given. Figures are printed, never
judged.
"""

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid

import numpy as np

STEP = 300
DAY = 86400
# Instances generated together (the generator mixes four kinds of guest).
GROUP = 4
END = 1_800_000_000 - 1_800_000_000 % DAY


class GeneratedSource:
    """Telemetry of ``gen-<k>`` guests, generated on demand per fetch."""

    name = 'generated'

    def __init__(self, days):
        self.days = days

    def fetch(self, instance_ids, start, end, step):
        from watcher_predictive.profiler import history as history_mod
        from watcher_predictive.simulation import generated
        n_steps = (end - start) // step
        values = {r: np.full((len(instance_ids), n_steps), np.nan)
                  for r in history_mod.RESOURCES}
        cache = {}
        for row, instance in enumerate(instance_ids):
            k = int(instance.rsplit('-', 1)[1])
            if k // GROUP not in cache:
                cache.clear()
                cache[k // GROUP] = generated.generate(
                    n_instances=GROUP, days=self.days + 1, step=step,
                    end=END + DAY, seed=k // GROUP)[0]
            hist = cache[k // GROUP]
            first = (start - hist.start) // step
            lo, hi = max(first, 0), min(first + n_steps, hist.n_steps)
            for resource_name, array in hist.values.items():
                values[resource_name][row, lo - first:hi - first] = \
                    array[k % GROUP, lo:hi]
        return history_mod.History(instance_ids=tuple(instance_ids),
                                   start=start, step=step, values=values)


def _worker(name, transport_url, topic, db_url, days, stop):
    from oslo_config import cfg
    import oslo_messaging as messaging

    from watcher_predictive.distributed import rpcapi
    from watcher_predictive.distributed import worker
    from watcher_predictive.storage import api as storage

    transport = messaging.get_rpc_transport(cfg.CONF, url=transport_url)
    store = storage.Store(db_url, timeout=120)
    endpoint = rpcapi.ProfilerEndpoint(worker.ShardProfiler(
        GeneratedSource(days), store, fresh_age=900, worker=name))
    server = rpcapi.get_server(transport, topic, name, endpoint)
    server.start()
    stop.wait()
    server.stop()
    server.wait()
    transport.cleanup()


def peak_rss(pid):
    """VmHWM of a process, in GiB."""
    with open('/proc/%d/status' % pid) as stream:
        for line in stream:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.0 ** 2
    return float('nan')


def reset_peak(pid):
    try:
        with open('/proc/%d/clear_refs' % pid, 'w') as stream:
            stream.write('5')
    except OSError:
        pass


def cpu_seconds(pid):
    """User plus system CPU seconds of a process so far."""
    with open('/proc/%d/stat' % pid) as stream:
        fields = stream.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def cpu_busy():
    with open('/proc/loadavg') as stream:
        return float(stream.read().split()[0])


def wait_for_workers(client, workers):
    """Until every worker answers (a message sent to the topic before
    any worker declared its queue is dropped by the broker).
    """
    answered = set()
    deadline = time.monotonic() + 300
    while len(answered) < len(workers) and time.monotonic() < deadline:
        for process in workers:
            if not process.is_alive():
                raise RuntimeError('a worker exited with %s'
                                   % process.exitcode)
        try:
            answered.add(client.ping(2)['worker'])
        except Exception:
            time.sleep(0.5)


def run_audit(coordinator, ids, end, days):
    from watcher_predictive.distributed import shard
    request = shard.ShardRequest(
        instance_ids=ids, start=end - days * DAY, end=end, step=STEP,
        horizon_steps=12, min_history_steps=288, audit_uuid=str(uuid.uuid4()),
        issued_at=end)
    started = time.monotonic()
    result = coordinator.profile(request)
    return time.monotonic() - started, result


def describe_split(coordinator, seconds, worker_cpu):
    """Where the audit's wall time went, per worker, and its CPU split."""
    lines = []
    per_worker = {}
    for shard in coordinator.last_shards:
        here = per_worker.setdefault(shard['worker'], {
            'shards': 0, 'busy': 0.0, 'queued': 0.0, 'last': 0.0})
        here['shards'] += 1
        here['queued'] += shard['seconds'].get('queued', (0.0, 0.0))[0]
        here['busy'] += sum(wall for phase, (wall, _cpu)
                            in shard['seconds'].items() if phase != 'queued')
        here['last'] = max(here['last'], shard['answered'] or 0.0)
    for worker, here in sorted(per_worker.items()):
        lines.append(
            '        %s: %d shard(s), busy %.1f s, queued behind its own '
            'shards %.1f s, idle %.1f s of the %.1f s (last answer at %.1f '
            's)' % (worker, here['shards'], here['busy'], here['queued'],
                    max(0.0, seconds - here['busy']), seconds,
                    here['last']))
    phases = coordinator.last_seconds
    cpu = {name: phases.get(name, (0.0, 0.0))[1] for name in
           ('reuse', 'telemetry', 'profile', 'store', 'answer')}
    # What the phases do not cover: RPC (decoding requests, encoding
    # answers), the workers' idle threads.
    rest = worker_cpu - sum(cpu.values())
    total = max(worker_cpu, 1e-9)
    lines.append(
        '        worker CPU split: profiling %.1f s (%.0f %%), storing %.1f '
        's (%.0f %%), telemetry %.1f s, reuse %.1f s, answer %.1f s, '
        'other (RPC) %.1f s' % (
            cpu['profile'], 100 * cpu['profile'] / total, cpu['store'],
            100 * cpu['store'] / total, cpu['telemetry'], cpu['reuse'],
            cpu['answer'], rest))
    return '\n'.join(lines)


def measure(n, n_workers, args, ctx):
    from oslo_config import cfg
    import oslo_messaging as messaging

    from watcher_predictive.distributed import coordinator as coord_mod
    from watcher_predictive.distributed import rpcapi
    from watcher_predictive.storage import migration

    tmp = tempfile.mkdtemp(prefix='scale-out-')
    db_url = args.database_url or 'sqlite:///%s/plugin.sqlite' % tmp
    migration.upgrade(db_url)
    topic = 'scale_out_bench_%s' % uuid.uuid4().hex[:8]
    stop = ctx.Event()
    workers = [ctx.Process(target=_worker, args=(
        'worker-%d' % i, args.transport_url, topic, db_url, args.days,
        stop)) for i in range(n_workers)]
    for process in workers:
        process.start()
    transport = messaging.get_rpc_transport(cfg.CONF,
                                            url=args.transport_url)
    client = rpcapi.ProfilerClient(transport, topic, timeout=3600,
                                   heartbeat_timeout=60)
    coordinator = coord_mod.Coordinator(
        client, n_workers, args.shard_size, attempts=2, ping_timeout=5)
    ids = ['gen-%d' % k for k in range(n)]
    rows = []
    try:
        wait_for_workers(client, workers)
        for phase, end in (('cold', END), ('warm', END + STEP)):
            for pid in [p.pid for p in workers] + [os.getpid()]:
                reset_peak(pid)
            load = cpu_busy()
            cpu_before = [cpu_seconds(p.pid) for p in workers]
            own_before = time.process_time()
            seconds, result = run_audit(coordinator, ids, end, args.days)
            worker_cpu = sum(cpu_seconds(p.pid) - before for p, before
                             in zip(workers, cpu_before))
            rows.append({
                'instances': n, 'workers': n_workers, 'phase': phase,
                'seconds': seconds,
                'profiled': len(result.profiled),
                'skipped': len(result.skipped),
                'worker_peak_gib': max(peak_rss(p.pid) for p in workers),
                'coordinator_peak_gib': peak_rss(os.getpid()),
                'load_before': load, 'load_after': cpu_busy(),
                'worker_cpu': worker_cpu,
                'coordinator_cpu': time.process_time() - own_before,
                'phases': coordinator.last_seconds,
            })
            print('  %-5s %6d instances, %d worker(s): %7.1f s, worker '
                  'peak %.2f GiB, coordinator peak %.2f GiB, CPU s: '
                  'workers %.1f, coordinator %.1f (load %.1f -> %.1f)\n'
                  '        shard phases, wall/CPU s summed over shards: %s'
                  % (phase, n, n_workers, seconds,
                     rows[-1]['worker_peak_gib'],
                     rows[-1]['coordinator_peak_gib'], worker_cpu,
                     rows[-1]['coordinator_cpu'], load,
                     rows[-1]['load_after'], ', '.join(
                         '%s %.1f/%.1f' % (name, wall, cpu) for name,
                         (wall, cpu) in coordinator.last_seconds.items())),
                  file=sys.stderr, flush=True)
            print(describe_split(coordinator, seconds, worker_cpu),
                  file=sys.stderr, flush=True)
    finally:
        stop.set()
        for process in workers:
            process.join(60)
            if process.is_alive():
                process.kill()
        transport.cleanup()
    return rows


def _baseline(n, days, queue):
    from watcher_predictive.profiler import engine
    ids = ['gen-%d' % k for k in range(n)]
    history = GeneratedSource(days).fetch(ids, END - days * DAY, END, STEP)
    started = time.monotonic()
    engine.Profiler(min_history_steps=288).profile(history, 12)
    queue.put((time.monotonic() - started,
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
               ** 2))


def baseline(n, days, ctx):
    queue = ctx.Queue()
    process = ctx.Process(target=_baseline, args=(n, days, queue))
    process.start()
    seconds, peak = queue.get()
    process.join()
    print('  in-process baseline %6d instances: %7.1f s, peak %.2f GiB'
          % (n, seconds, peak), file=sys.stderr, flush=True)
    return {'instances': n, 'workers': 0, 'phase': 'in process',
            'seconds': seconds, 'worker_peak_gib': peak}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--instances', default='1000,10000')
    parser.add_argument('--workers', default='1,2')
    parser.add_argument('--days', type=int, default=7)
    parser.add_argument('--shard-size', type=int, default=1000)
    parser.add_argument('--transport-url', default=(
        'rabbit://guest:guest@127.0.0.1:5672/watcher_predictive_citest'))
    parser.add_argument('--database-url')
    parser.add_argument('--baseline-max', type=int, default=1000)
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context('spawn')
    rows = []
    for n in [int(x) for x in args.instances.split(',')]:
        if n <= args.baseline_max:
            rows.append(baseline(n, args.days, ctx))
        for n_workers in [int(x) for x in args.workers.split(',')]:
            rows.extend(measure(n, n_workers, args, ctx))
    print('%-10s %-8s %-10s %8s %12s %12s %12s' % (
        'instances', 'workers', 'phase', 'wall s', 'worker CPU s',
        'worker GiB', 'load'))
    for row in rows:
        print('%-10d %-8s %-10s %8.1f %12s %12.2f %12s' % (
            row['instances'], row['workers'] or 'none', row['phase'],
            row['seconds'], '%.1f' % row['worker_cpu']
            if 'worker_cpu' in row else '-', row['worker_peak_gib'],
            '%.1f-%.1f' % (row['load_before'], row['load_after'])
            if 'load_before' in row else '-'))


if __name__ == '__main__':
    main()
