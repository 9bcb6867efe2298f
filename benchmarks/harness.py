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

"""Measurement harness of the benchmarks: phase timers, resident memory,
and measurements run in fresh processes.

Each measurement runs in a fresh process (``multiprocessing``, ``spawn``),
so that its peak resident set (``ru_maxrss``) is its own; the CPU time
other processes took meanwhile is reported with it, since the machine may
be shared.
"""

import contextlib
import multiprocessing
import resource as resource_mod
import time

import psutil

GIB = 1024.0 ** 3


class Timer(dict):
    """Seconds spent per phase, summed over calls, and by how much each
    phase raised the peak resident set (``rises``, GiB).
    """

    def __init__(self):
        super().__init__()
        self.rises = {}

    @contextlib.contextmanager
    def __call__(self, *phase):
        peak = peak_rss()
        started = time.perf_counter()
        try:
            yield
        finally:
            self[phase] = self.get(phase, 0.0) + time.perf_counter() - started
            self.rises[phase] = self.rises.get(phase, 0.0) + (
                peak_rss() - peak)


def rss():
    return psutil.Process().memory_info().rss / GIB


def peak_rss():
    # Linux reports ru_maxrss in KiB.
    usage = resource_mod.getrusage(resource_mod.RUSAGE_SELF).ru_maxrss
    return usage * 1024 / GIB


def _child(task, config, conn):
    # ``task`` is a module-level function: spawn pickles it by name.
    try:
        conn.send(('ok', task(config)))
    except BaseException as error:
        conn.send(('error', '%s: %s' % (type(error).__name__, error)))
    finally:
        conn.close()


def run_isolated(task, config, timeout):
    """Run one measurement in a fresh process; its result or an error."""
    context = multiprocessing.get_context('spawn')
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(task, config, sender))
    busy, own = _busy_cpu(), _own_cpu()
    started = time.perf_counter()
    process.start()
    sender.close()
    outcome = None
    while outcome is None:
        if receiver.poll(1.0):
            try:
                outcome = receiver.recv()
            except EOFError:
                outcome = ('error', 'the process ended without a result '
                           '(exit code %s)' % process.exitcode)
        elif time.perf_counter() - started > timeout:
            process.kill()
            outcome = ('error', 'stopped after %.0f s (--timeout)' % timeout)
        elif not process.is_alive() and not receiver.poll(0):
            outcome = ('error', 'the process ended without a result '
                       '(exit code %s)' % process.exitcode)
    process.join()
    elapsed = time.perf_counter() - started
    status, value = outcome
    if status != 'ok':
        value = {'error': value}
    value['elapsed_seconds'] = elapsed
    # CPU time of every other process, and time the hypervisor took.
    value['others_cpu_share'] = max(
        0.0, (_busy_cpu() - busy) - (_own_cpu() - own)) / elapsed
    return value


def _busy_cpu():
    """CPU-seconds the whole machine has spent busy, or stolen from it."""
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in (
        'user', 'nice', 'system', 'irq', 'softirq', 'steal'))


def _own_cpu():
    """CPU-seconds of this process and of the children it has waited for."""
    return sum(usage.ru_utime + usage.ru_stime for usage in (
        resource_mod.getrusage(resource_mod.RUSAGE_SELF),
        resource_mod.getrusage(resource_mod.RUSAGE_CHILDREN)))
