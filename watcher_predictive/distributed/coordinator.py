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

"""The decision engine's side: an audit's profiling spread over workers.

The audit's instances are cut into shards; ``concurrency`` of them are on
the workers at any time. A shard whose worker stops answering (no
heartbeat) or takes longer than the shard timeout is sent again, to
whichever worker takes it; after ``attempts`` sends the audit fails. A
shard a worker could not profile (telemetry down, bad request) fails the
audit at once with the worker's reason: sending it again would not help.
Before any shard, one ping checks that a worker is there at all, so that
an audit with no worker running fails in seconds with a message that says
so.
"""

from concurrent import futures
import time

from oslo_log import log
import oslo_messaging as messaging

from watcher_predictive.distributed import rpcapi
from watcher_predictive.distributed import shard as shard_mod
from watcher_predictive import exception

LOG = log.getLogger(__name__)


def enabled(conf):
    """Whether audits send their profiling to workers."""
    return conf.watcher_predictive.profiler_workers > 0


class Coordinator:
    """Fans the shards of an audit out to the profiler workers.

    :param client: a ``rpcapi.ProfilerClient`` (or anything with its
        ``ping`` and ``profile_shard``)
    :param concurrency: shards on the workers at once
    :param attempts: sends of one shard before the audit fails
    """

    def __init__(self, client, concurrency, shard_size, attempts,
                 ping_timeout, transport='the default transport',
                 owned_transport=None):
        self.client = client
        self._owned_transport = owned_transport
        self.concurrency = max(1, int(concurrency))
        self.shard_size = int(shard_size)
        self.attempts = int(attempts)
        self.ping_timeout = ping_timeout
        self.transport = transport
        self.last_seconds = {}
        """Of the last audit: phase -> [wall, CPU] seconds summed over the
        shards (queued, reuse, telemetry, profile, store, answer).
        """
        self.last_shards = []
        """Of the last audit, per shard answered: its worker, instances,
        when it was sent and answered (seconds since the audit began), and
        its phases as the worker timed them.
        """

    @classmethod
    def from_config(cls, conf, transport=None):
        """A coordinator on the configured transport; ``close()`` it."""
        options = conf.watcher_predictive
        owned = None if transport else rpcapi.get_transport(conf)
        transport = transport or owned
        client = rpcapi.ProfilerClient(
            transport, options.profiler_topic,
            timeout=options.profiler_shard_timeout,
            heartbeat_timeout=options.profiler_heartbeat_timeout)
        return cls(client, options.profiler_workers,
                   options.profiler_shard_size,
                   options.profiler_shard_attempts,
                   options.profiler_ping_timeout,
                   transport=rpcapi.describe_transport(conf),
                   owned_transport=owned)

    def close(self):
        """Release the transport made by ``from_config``."""
        if self._owned_transport is not None:
            self._owned_transport.cleanup()
            self._owned_transport = None

    def _unavailable(self, reason):
        return exception.ProfilerUnavailable(
            topic=getattr(self.client, 'topic', '?'),
            transport=self.transport, reason=reason)

    def ping(self):
        try:
            answer = self.client.ping(self.ping_timeout)
        except messaging.MessagingTimeout:
            raise self._unavailable('no answer to a ping within %s s'
                                    % self.ping_timeout)
        except messaging.MessagingException as e:
            raise self._unavailable('the broker could not be used (%s)' % e)
        LOG.debug('Profiler worker %s answered', answer.get('worker'))

    def profile(self, request):
        """``ProfileResult`` of every instance of ``request``.

        :raises ProfilerUnavailable: no worker answered, or a shard was
            sent ``attempts`` times without an answer.
        :raises ProfilerWorkerError: a worker failed on a shard.
        """
        self.ping()
        pieces = shard_mod.shards(request.instance_ids, self.shard_size,
                                  at_least=self.concurrency)
        results = [None] * len(pieces)
        sends = [0] * len(pieces)
        pool = futures.ThreadPoolExecutor(
            max_workers=min(self.concurrency, max(1, len(pieces))),
            thread_name_prefix='profiler-shard')
        pending = {}
        began = time.monotonic()
        sent = [None] * len(pieces)
        answered = [None] * len(pieces)

        def send(index):
            sends[index] += 1
            sent[index] = time.monotonic() - began
            future = pool.submit(self.client.profile_shard,
                                 request.with_instances(pieces[index]))
            pending[future] = index

        try:
            for index in range(len(pieces)):
                send(index)
            while pending:
                done, _ = futures.wait(
                    pending, return_when=futures.FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    results[index] = self._outcome(
                        future, pieces[index], sends[index])
                    if results[index] is None:
                        send(index)
                    else:
                        answered[index] = time.monotonic() - began
        finally:
            # Calls still waiting time out on their own; nobody waits for
            # them once the audit has failed.
            pool.shutdown(wait=False, cancel_futures=True)
        workers = {}
        for result in results:
            workers[result.get('worker')] = workers.get(
                result.get('worker'), 0) + len(result['instances'])
        self.last_seconds = shard_mod.phase_seconds(results)
        self.last_shards = [
            {'worker': result.get('worker'),
             'instances': len(pieces[index]), 'sent': sent[index],
             'answered': answered[index],
             'seconds': result.get('seconds') or {}}
            for index, result in enumerate(results)]
        LOG.info('Profiled %d instances in %d shards (%d sends) on workers '
                 '%s: %d profiled now, %d fresh profiles reused; worker '
                 'seconds (wall, CPU) %s', len(request.instance_ids),
                 len(pieces), sum(sends), workers,
                 sum(r['profiled_now'] for r in results),
                 sum(r['reused'] for r in results), ', '.join(
                     '%s %.1f/%.1f' % (phase, wall, cpu) for phase,
                     (wall, cpu) in self.last_seconds.items()))
        return shard_mod.merge(results)

    def _outcome(self, future, piece, sends):
        """The shard's result, or None to send it again."""
        try:
            return future.result()
        except messaging.MessagingTimeout as e:
            if sends >= self.attempts:
                raise self._unavailable(
                    'a shard of %d instances (first %s) went unanswered %d '
                    'times (last: %s)' % (len(piece), piece[0], sends, e))
            LOG.warning('Shard of %d instances (first %s) unanswered (%s); '
                        'sending it again (%d of %d)', len(piece), piece[0],
                        e, sends + 1, self.attempts)
            return None
        except messaging.RemoteError as e:
            raise exception.ProfilerWorkerError(
                instances=len(piece), first=piece[0],
                reason='%s: %s' % (e.exc_type, e.value))
        except messaging.MessagingException as e:
            raise self._unavailable('the broker could not be used (%s)' % e)
        except exception.PredictiveError as e:
            # The worker's own error, when the transport rebuilds it.
            raise exception.ProfilerWorkerError(
                instances=len(piece), first=piece[0],
                reason='%s: %s' % (type(e).__name__, e))
