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

"""``watcher-predictive-profiler``: a profiler worker.

Reads watcher.conf (``--config-file``) like Watcher's own services, reads
telemetry and writes profiles with the same options as the decision
engine, and listens on ``[watcher_predictive] profiler_topic``. Run one or
more per cloud, on any hosts; set ``profiler_workers`` on the decision
engines to send them the audits' profiling.
"""

import sys


def main(argv=None):
    argv = sys.argv if argv is None else argv
    # The threading backend of oslo.service must be chosen before anything
    # imports oslo_service.service (Watcher's service module does).
    from oslo_service import backend
    backend.init_backend(backend.BackendType.THREADING)

    from oslo_config import cfg
    from watcher.common import service as watcher_service

    from watcher_predictive import conf as predictive_conf
    from watcher_predictive.distributed import service
    from watcher_predictive.storage import api as storage
    from watcher_predictive import telemetry

    conf = cfg.CONF
    predictive_conf.register_opts(conf)
    watcher_service.prepare_service(argv, conf)
    timeout = conf.watcher_predictive.telemetry_timeout
    worker = service.ProfilerService(
        conf,
        source_factory=lambda: telemetry.get_source(conf),
        store_factory=lambda: storage.Store.from_config(conf,
                                                        timeout=timeout),
        host=conf.host)
    launcher = watcher_service.launch(conf, worker)
    return launcher.wait()


if __name__ == '__main__':
    sys.exit(main())
