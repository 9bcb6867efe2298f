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

"""Interface of the telemetry sources the plugin reads history from."""

import abc


class TelemetrySource(metaclass=abc.ABCMeta):
    """Reads the resource history of many instances onto a regular grid."""

    name = None

    @abc.abstractmethod
    def fetch(self, instance_ids, start, end, step):
        """History of ``instance_ids`` from ``start`` to ``end``.

        :param instance_ids: instance UUIDs
        :param start: epoch seconds (UTC), a multiple of ``step``
        :param end: epoch seconds, exclusive; a multiple of ``step``
        :param step: grid step in seconds
        :returns: :class:`watcher_predictive.profiler.history.History` with
            every resource of ``history.RESOURCES``, the instances in the
            order given, NaN where nothing was measured.
        :raises TelemetryUnavailable: the source could not be read (timeout,
            connection refused, authentication, server error).
        """
