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

"""The profiler worker service: RPC server plus background refresh.

The refresh profiles again, every ``profiler_refresh_interval`` seconds,
the instances this worker was sent, with the grid and horizon of the last
audit that sent them, so that the next audit finds their profiles fresh
and only has to read them back. Telemetry is read only from the end of
each instance's stored history (``telemetry.incremental``). The refresh
runs shard by shard, between the audits' shards (one shard at a time per
worker), and keeps nothing but instance uuids in memory.
"""

import socket
import threading
import time

from oslo_log import log
from oslo_service import service

from watcher_predictive.distributed import rpcapi
from watcher_predictive.distributed import shard as shard_mod
from watcher_predictive.distributed import worker as worker_mod
from watcher_predictive.plugins import learning
from watcher_predictive.telemetry import incremental

LOG = log.getLogger(__name__)


class Refresher:
    """Remembers the instances a worker profiled, and refreshes them."""

    def __init__(self, shard_profiler, shard_size, clock=time.time):
        self.shard_profiler = shard_profiler
        self.shard_size = shard_size
        self.clock = clock
        self._lock = threading.Lock()
        # (history seconds, step, horizon steps, min history steps) ->
        # instance uuids.
        self._known = {}

    def remember(self, request):
        key = (request.end - request.start, request.step,
               request.horizon_steps, request.min_history_steps)
        with self._lock:
            for uuids in self._known.values():
                uuids.difference_update(request.instance_ids)
            self._known.setdefault(key, set()).update(request.instance_ids)

    def known(self):
        with self._lock:
            return sum(len(uuids) for uuids in self._known.values())

    def refresh(self, stop=None):
        """Profile again every remembered instance whose stored profile
        does not end at the current step; returns the instances done.
        """
        with self._lock:
            work = [(key, sorted(uuids)) for key, uuids in self._known.items()
                    if uuids]
        done = 0
        for (span, step, horizon, min_history), uuids in work:
            now = int(self.clock())
            end = now - now % step
            for piece in shard_mod.shards(uuids, self.shard_size):
                if stop is not None and stop.is_set():
                    return done
                request = shard_mod.ShardRequest(
                    instance_ids=piece, start=end - span, end=end, step=step,
                    horizon_steps=horizon, min_history_steps=min_history,
                    issued_at=now)
                try:
                    self.shard_profiler.profile(request, fresh_age=0)
                except Exception:
                    # The next refresh, or the next audit, tries again.
                    LOG.exception('Refresh of %d instances (first %s) '
                                  'failed', len(piece), piece[0])
                    continue
                done += len(piece)
        return done


class ProfilerService(service.ServiceBase):
    """One profiler worker.

    :param source_factory: callable returning the telemetry source
    :param store_factory: callable returning the ``Store``
    """

    def __init__(self, conf, source_factory, store_factory, host=None):
        super().__init__()
        self.conf = conf
        self.source_factory = source_factory
        self.store_factory = store_factory
        self.host = host or socket.gethostname()
        self.server = None
        self.refresher = None
        self._stop = threading.Event()
        self._thread = None
        self.transport = None

    def start(self):
        options = self.conf.watcher_predictive
        store = self.store_factory()
        store.check_schema()
        source = incremental.wrap(self.source_factory(), store, self.conf)
        shard_profiler = worker_mod.ShardProfiler(
            source, store,
            fresh_age=options.profiler_fresh_age, worker=self.host,
            learning=learning.options_from_config(self.conf))
        self.refresher = Refresher(shard_profiler,
                                   options.profiler_shard_size)
        endpoint = rpcapi.ProfilerEndpoint(shard_profiler,
                                           on_shard=self.refresher.remember)
        self.transport = rpcapi.get_transport(self.conf)
        self.server = rpcapi.get_server(self.transport,
                                        options.profiler_topic, self.host,
                                        endpoint)
        self.server.start()
        interval = options.profiler_refresh_interval
        if interval > 0:
            self._thread = threading.Thread(
                target=self._refresh_loop, args=(interval,),
                name='profile-refresh', daemon=True)
            self._thread.start()
        LOG.info('Profiler worker %s listening on topic %s of %s '
                 '(refresh every %s s)', self.host, options.profiler_topic,
                 rpcapi.describe_transport(self.conf), interval or 'never')

    def _refresh_loop(self, interval):
        while not self._stop.wait(interval):
            started = time.monotonic()
            done = self.refresher.refresh(stop=self._stop)
            LOG.info('Refreshed %d of %d known instances in %.1f s', done,
                     self.refresher.known(), time.monotonic() - started)

    def stop(self, graceful=False):
        self._stop.set()
        if self.server is not None:
            self.server.stop()

    def wait(self):
        if self.server is not None:
            self.server.wait()
        if self._thread is not None:
            self._thread.join()
        if self.transport is not None:
            self.transport.cleanup()
            self.transport = None

    def reset(self):
        pass
