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

"""Options of the Prometheus telemetry source.

They live in the ``[watcher_predictive]`` group with the other telemetry
options and are read only when ``telemetry_source`` is ``prometheus``. The
request timeout is ``telemetry_timeout``, shared by every source.
"""

from oslo_config import cfg

PROMETHEUS_OPTS = [
    cfg.URIOpt('prometheus_url',
               default='http://127.0.0.1:9090',
               schemes=['http', 'https'],
               help='Base URL of the Prometheus server holding Ceilometer\'s '
                    'instance metrics (as sg-core or the Prometheus '
                    'publisher export them), with any path prefix the '
                    'server is served under, without "/api/v1".'),
    cfg.StrOpt('prometheus_instance_label',
               default='resource',
               regex=r'^[a-zA-Z_][a-zA-Z0-9_]*$',
               help='Label holding the instance UUID in the CPU and memory '
                    'series, like Watcher\'s [prometheus_client] '
                    'instance_uuid_label. Disk and network series are '
                    'matched when this label contains the UUID (Ceilometer '
                    'names their resources "<uuid>-vda", '
                    '"instance-...-<uuid>-tap...").'),
    cfg.StrOpt('prometheus_metric_prefix',
               default='ceilometer_',
               regex=r'^[a-zA-Z_:]?[a-zA-Z0-9_:]*$',
               help='Prefix of the metric names: Ceilometer\'s meter names '
                    'with "." replaced by "_" follow it (ceilometer_cpu, '
                    'ceilometer_memory_usage, ...). "ceilometer_" is what '
                    'sg-core exports; empty for Ceilometer\'s Prometheus '
                    'publisher, which pushes the bare names.'),
    cfg.IntOpt('prometheus_batch_size',
               default=50, min=1, max=1000,
               help='Number of instances (1 to 1000) selected by one query '
                    '(one regular expression on the instance label).'),
    cfg.IntOpt('prometheus_query_span',
               default=86400, min=300, max=90 * 86400,
               help='Seconds (300 to 7776000, 90 days) of raw samples read '
                    'by one query. The history is read in pieces of this '
                    'length so that an answer stays small: at one sample '
                    'every 30 seconds, a day of 50 instances is 144000 '
                    'samples per meter.'),
    cfg.StrOpt('prometheus_username',
               help='User name for HTTP basic authentication to Prometheus; '
                    'unset means no authentication.'),
    cfg.StrOpt('prometheus_password',
               secret=True,
               help='Password for HTTP basic authentication to Prometheus.'),
    cfg.StrOpt('prometheus_cafile',
               help='CA bundle (PEM file path) that verifies the TLS '
                    'certificate of an https prometheus_url; unset means the '
                    'system CAs.'),
    cfg.StrOpt('prometheus_certfile',
               help='Client certificate (PEM file path) for mutual TLS.'),
    cfg.StrOpt('prometheus_keyfile',
               help='Private key (PEM file path) of prometheus_certfile.'),
    cfg.BoolOpt('prometheus_insecure',
                default=False,
                help='Do not verify the TLS certificate of Prometheus. For '
                     'tests only: it allows a man in the middle.'),
]
