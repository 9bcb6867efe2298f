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

"""Options of the profiler workers (``watcher-predictive-profiler``).

They live in ``[watcher_predictive]`` beside the other options of the
plugin, so that the decision engine and the workers read them from the
same watcher.conf.
"""

from oslo_config import cfg

GROUP_NAME = 'watcher_predictive'

PROFILER_OPTS = [
    cfg.IntOpt('profiler_workers',
               default=0, min=0, max=1000,
               help='Number of shards (0 to 1000) of an audit sent at once to '
                    'the '
                    'profiler workers (watcher-predictive-profiler), '
                    'normally the number of workers running. 0 (the '
                    'default) profiles every instance in the decision '
                    'engine itself and needs no worker.'),
    cfg.StrOpt('profiler_transport_url',
               secret=True,
               help='oslo.messaging transport URL of the profiler workers, '
                    'for example rabbit://user:password@host:5672/vhost. '
                    'Unset means Watcher\'s own [DEFAULT] transport_url.'),
    cfg.StrOpt('profiler_topic',
               default='watcher_predictive_profiler',
               help='RPC topic the profiler workers listen on and the '
                    'decision engine sends shards to.'),
    cfg.IntOpt('profiler_shard_size',
               default=1000, min=1, max=100000,
               help='Largest number of instances (1 to 100000) in one '
                    'shard, the unit of work of a profiler worker; an audit '
                    'is cut into at least profiler_workers shards of '
                    'balanced sizes. A worker holds the history of one '
                    'shard at a time, so this bounds its memory: with 7 '
                    'days of history at 300 s, a worker peaked at 0.5 GiB '
                    'with shards of 1,000 instances, whatever the number of '
                    'shards. Profiling costs about 20 % more CPU per '
                    'instance in shards of 250 than of 1,000.'),
    cfg.IntOpt('profiler_shard_timeout',
               default=600, min=1, max=86400,
               help='Seconds (1 to 86400) a shard may take on a worker, '
                    'queueing included, before it is sent again.'),
    cfg.IntOpt('profiler_heartbeat_timeout',
               default=30, min=2, max=3600,
               help='Seconds (2 to 3600) without a heartbeat from the worker '
                    'profiling '
                    'a shard after which the worker is taken for dead and '
                    'the shard is sent again (to another worker). Workers '
                    'send one every half of this.'),
    cfg.IntOpt('profiler_shard_attempts',
               default=3, min=1, max=20,
               help='Number of times (1 to 20) a shard is sent before the '
                    'audit fails.'),
    cfg.IntOpt('profiler_ping_timeout',
               default=10, min=1, max=600,
               help='Seconds (1 to 600) the decision engine waits for any '
                    'profiler '
                    'worker to answer before it fails the audit with a '
                    'message saying that none is running.'),
    cfg.IntOpt('profiler_refresh_interval',
               default=300, min=0, max=86400,
               help='Seconds (0 to 86400) between two refreshes, by a '
                    'worker, of the '
                    'profiles of the instances it has profiled, so that an '
                    'audit finds them fresh. 0 disables the refresh.'),
    cfg.IntOpt('profiler_fresh_age',
               default=900, min=0, max=86400,
               help='Age, in seconds (0 to 86400), of the newest history in a '
                    'stored '
                    'profile up to which a worker reuses its stored '
                    'forecast instead of profiling the instance again. 0 '
                    'reuses only a profile whose history ends at the '
                    'audit\'s last step.'),
]


def register_opts(conf):
    conf.register_opts(PROFILER_OPTS, group=GROUP_NAME)


def list_opts():
    return PROFILER_OPTS
