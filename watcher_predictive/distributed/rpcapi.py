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

"""The RPC interface of the profiler workers, on oslo.messaging.

Every worker listens on ``[watcher_predictive] profiler_topic``; a shard
sent to the topic goes to one of the workers alive (RabbitMQ hands the
topic queue's messages to its consumers in turn), so a shard sent again
after its worker died goes to another one. Calls carry a heartbeat
(oslo.messaging's call monitor): a dead worker is noticed after
``profiler_heartbeat_timeout`` seconds, not after the whole shard timeout.
"""

import oslo_messaging as messaging

from watcher_predictive.distributed import shard as shard_mod

NAMESPACE = 'watcher_predictive_profiler'
VERSION = '1.0'
# Connection attempts of one call before the broker is taken for
# unreachable (None would retry forever and hang the audit).
SEND_RETRIES = 2


def get_transport(conf):
    """The transport of the workers: ``profiler_transport_url``, else
    Watcher's ``[DEFAULT] transport_url``.
    """
    url = conf.watcher_predictive.profiler_transport_url or None
    return messaging.get_rpc_transport(conf, url=url)


def describe_transport(conf):
    """The transport URL without its credentials, for messages."""
    url = conf.watcher_predictive.profiler_transport_url
    if not url:
        try:
            url = conf.transport_url
        except Exception:
            url = None
    if not url:
        return 'the default transport'
    try:
        parsed = messaging.TransportURL.parse(conf, url)
        hosts = ','.join('%s:%s' % (h.hostname, h.port)
                         for h in parsed.hosts)
        return '%s://%s/%s' % (parsed.transport, hosts,
                               parsed.virtual_host or '')
    except Exception:
        return url.split('://', 1)[0] + '://...'


class ProfilerEndpoint:
    """What a worker answers. ``on_shard`` hears of every shard request
    (the worker's background refresh remembers its instances).
    """

    target = messaging.Target(namespace=NAMESPACE, version=VERSION)

    def __init__(self, shard_profiler, on_shard=None):
        self.shard_profiler = shard_profiler
        self.on_shard = on_shard

    def ping(self, context):
        return {'worker': self.shard_profiler.worker}

    def profile_shard(self, context, request):
        request = shard_mod.ShardRequest.from_dict(request)
        if self.on_shard is not None:
            self.on_shard(request)
        return self.shard_profiler.profile(request)


def get_server(transport, topic, server, endpoint):
    target = messaging.Target(topic=topic, server=server)
    return messaging.get_rpc_server(
        transport, target, [endpoint],
        access_policy=messaging.DefaultRPCAccessPolicy)


class ProfilerClient:
    """Sends shards to the workers of one topic."""

    def __init__(self, transport, topic, timeout, heartbeat_timeout):
        target = messaging.Target(topic=topic, namespace=NAMESPACE,
                                  version=VERSION)
        self.topic = topic
        self._client = messaging.get_rpc_client(
            transport, target, timeout=timeout,
            call_monitor_timeout=heartbeat_timeout, retry=SEND_RETRIES)

    def ping(self, timeout):
        """The answer of one worker; MessagingTimeout when none answers."""
        return self._client.prepare(timeout=timeout,
                                    call_monitor_timeout=None).call(
            {}, 'ping')

    def profile_shard(self, request):
        return self._client.call({}, 'profile_shard',
                                 request=request.to_dict())
