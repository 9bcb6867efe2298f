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

from oslo_config import cfg

from watcher_predictive.conf import prometheus as prometheus_conf

GROUP_NAME = 'watcher_predictive'
GROUP_TITLE = 'watcher-predictive options'
GROUP_HELP = ('Options of the predictive optimization plugin for Watcher. '
              'The per-audit tuning (horizon, lull levels, limits) is given '
              'as audit parameters instead.')


def _group():
    # A new group object per ConfigOpts: oslo.config keeps overrides in the
    # group's options, so one shared object would leak them between
    # configurations.
    return cfg.OptGroup(name=GROUP_NAME, title=GROUP_TITLE, help=GROUP_HELP)


GROUP = _group()

TELEMETRY_OPTS = [
    cfg.StrOpt('telemetry_source',
               default='gnocchi',
               choices=[('gnocchi', 'Read Ceilometer measures from Gnocchi '
                                    'with the credentials Watcher uses.'),
                        ('prometheus', 'Read Ceilometer\'s instance metrics '
                                       'from Prometheus (prometheus_* '
                                       'options).'),
                        ('trace', 'Replay a trace file (demo and '
                                  'simulation).')],
               help='Where the history of every instance is read from.'),
    cfg.IntOpt('telemetry_timeout',
               default=30, min=1, max=600,
               help='Timeout, in seconds (1 to 600), of one request to the '
                    'telemetry service. An audit whose telemetry cannot be '
                    'read within it fails and stores nothing.'),
    cfg.IntOpt('gnocchi_batch_size',
               default=50, min=1, max=1000,
               help='Number of instances (1 to 1000) whose measures are '
                    'fetched with one Gnocchi aggregates request.'),
    cfg.BoolOpt('incremental_telemetry',
                default=True,
                help='Store the history last read for each instance, so '
                     'that audits and profile refreshes read from telemetry '
                     'only what is new since then (see '
                     'telemetry_late_margin). False reads the whole history '
                     'every time and stores none.'),
    cfg.IntOpt('telemetry_late_margin',
               default=900, min=0, max=86400,
               help='Seconds (0 to 86400) of history read again before the '
                    'end of the history last read for an instance, to pick '
                    'up measures that arrived late.'),
    cfg.IntOpt('history_days',
               default=7, min=1, max=90,
               help='Days (1 to 90) of history read for an instance the '
                    'plugin has not profiled before.'),
    cfg.StrOpt('trace_path',
               help='Path of the folder or file of the trace replayed when '
                    'telemetry_source is "trace"; unused otherwise.'),
    cfg.StrOpt('trace_format',
               default='bitbrains',
               choices=[('bitbrains', 'GWA-T-12 Bitbrains: one ";"-separated '
                                      'CSV per VM, optionally gzipped.')],
               help='Format of trace_path.'),
]

STORAGE_OPTS = [
    cfg.StrOpt('connection',
               secret=True,
               help='SQLAlchemy URL of the database holding the plugin\'s '
                    'tables. Unset (the default) means Watcher\'s own '
                    '[database] connection, which is what production '
                    'deployments use.'),
    cfg.IntOpt('forecasts_kept_per_instance',
               default=48, min=1, max=10000,
               help='Number of issued forecasts (1 to 10000) kept per '
                    'instance and resource; older ones are deleted when a '
                    'new one is stored.'),
]

ACTION_OPTS = [
    cfg.StrOpt('throttle_driver',
               default='noop',
               choices=[('noop', 'Record the limit in the plugin\'s tables '
                                 'and log it; the hypervisor is not '
                                 'touched.'),
                        ('libvirt', 'Set the vCPU quota and the disk I/O '
                                    'limits of the guest live through the '
                                    'compute host\'s libvirt (see '
                                    'libvirt_uri_template).')],
               help='Driver that applies the throttle action on the compute '
                    'host.'),
    cfg.IntOpt('window_poll_interval',
               default=30, min=1, max=3600,
               help='Seconds (1 to 3600) between two checks of a '
                    'window-gated action that waits for the start of its '
                    'window.'),
    cfg.IntOpt('max_window_wait',
               default=86400, min=0, max=7 * 86400,
               help='Longest time, in seconds (0 to 604800, one week), that '
                    'a window-gated action waits for its window to open; an '
                    'action whose window opens later is skipped. 0 runs only '
                    'the actions whose window is already open.'),
]

ALL_OPTS = (TELEMETRY_OPTS + prometheus_conf.PROMETHEUS_OPTS + STORAGE_OPTS
            + ACTION_OPTS)


def register_opts(conf):
    conf.register_group(_group())
    conf.register_opts(ALL_OPTS, group=GROUP_NAME)


def list_opts():
    return [(GROUP, ALL_OPTS)]
