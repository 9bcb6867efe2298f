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

"""Exceptions of watcher-predictive.

Pure Python on purpose: the core engines (profiler, anticipation, learning)
raise these and import nothing from OpenStack. Every message says what was
wrong, with which value, and what to do about it.
"""


class PredictiveError(Exception):
    """Base of every error the plugin raises.

    Subclasses set ``msg_fmt``; keyword arguments fill it in.
    """

    msg_fmt = 'An unknown error occurred in watcher-predictive.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                # A missing keyword must not hide the original problem.
                message = '%s (%s)' % (self.msg_fmt, kwargs)
        self.message = message
        super().__init__(message)

    def __str__(self):
        return self.message


class InvalidParameter(PredictiveError, ValueError):
    msg_fmt = ('Invalid value %(value)r for parameter %(name)s: %(reason)s')


class InsufficientHistory(PredictiveError):
    msg_fmt = ('Instance %(instance)s has %(available)d usable samples, '
               'fewer than the %(required)d needed; it is skipped until '
               'more telemetry has been collected.')


class TelemetryUnavailable(PredictiveError):
    msg_fmt = ('Telemetry source %(source)s could not be read: %(reason)s. '
               'Check that the service is running and reachable with the '
               'credentials in watcher.conf.')


class TraceFormatError(PredictiveError, ValueError):
    msg_fmt = ('Trace %(path)s cannot be read as %(format)s: %(reason)s')


class StorageError(PredictiveError):
    msg_fmt = 'The plugin database could not be used: %(reason)s'


class ConcurrentUpdate(StorageError):
    msg_fmt = ('Stored state of %(what)s changed while this audit was '
               'running (expected version %(expected)s, found %(found)s); '
               'the update was retried %(attempts)d times and gave up.')


class ActionParameterError(InvalidParameter):
    msg_fmt = ('Action %(action)s has an invalid parameter %(name)s=%(value)r:'
               ' %(reason)s')


class ThrottleError(PredictiveError):
    msg_fmt = ('Throttle of instance %(instance)s on host %(host)s failed: '
               '%(reason)s')


class ProfilerUnavailable(PredictiveError):
    msg_fmt = ('No profiler worker answered on topic %(topic)s of '
               '%(transport)s: %(reason)s. Start watcher-predictive-profiler '
               'with this watcher.conf, or set [watcher_predictive] '
               'profiler_workers = 0 to profile in the decision engine.')


class ProfilerWorkerError(PredictiveError):
    msg_fmt = ('A profiler worker failed on a shard of %(instances)d '
               'instances (first %(first)s): %(reason)s')
