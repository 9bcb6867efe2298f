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

"""What every window-gated action shares: its window, and the wait for it.

Watcher actions carry no time. Ours carry the window the strategy planned
them in, as ISO 8601 UTC strings in their input parameters, with the
release probability, expected benefit and reason that justify them. In
``pre_condition`` an action waits for its window to open (checking every
``[watcher_predictive] window_poll_interval`` seconds, for at most
``max_window_wait`` seconds) and is skipped when its window has ended: an
action executed after its predicted lull would cost the guest what the
plan meant to spare it. Watcher records a skipped action as SKIPPED with
the reason as status message, and a skipped action does not fail the plan.
"""

import copy
import dataclasses
import datetime
import functools
import time

import jsonschema
from jsonschema import exceptions as schema_exceptions
from oslo_config import cfg
from oslo_log import log
from watcher.common import exception as watcher_exception

from watcher_predictive import conf as predictive_conf
from watcher_predictive import exception
from watcher_predictive.i18n import _

LOG = log.getLogger(__name__)
CONF = cfg.CONF

ISO_UTC_PATTERN = (r'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'
                   r'(\.[0-9]{1,6})?(Z|\+00:00)$')
UUID_PATTERN = ('^([a-fA-F0-9]){8}-([a-fA-F0-9]){4}-([a-fA-F0-9]){4}-'
                '([a-fA-F0-9]){4}-([a-fA-F0-9]){12}$')

WINDOW_PROPERTIES = {
    'window_start': {
        'type': 'string', 'pattern': ISO_UTC_PATTERN,
        'description': 'Earliest start of the action, ISO 8601 UTC.'},
    'window_end': {
        'type': 'string', 'pattern': ISO_UTC_PATTERN,
        'description': 'End of the window; the action is skipped after '
                       'it, ISO 8601 UTC.'},
    'release_probability': {
        'type': 'number', 'minimum': 0, 'maximum': 1,
        'description': 'Predicted probability that the instance releases '
                       'its resources in the window.'},
    'expected_benefit': {
        'type': 'number',
        'description': 'Predicted benefit of the action (see reason).'},
    'reason': {
        'type': 'string', 'maxLength': 2048,
        'description': 'Why the action was planned, in one line.'},
}
WINDOW_REQUIRED = ['window_start', 'window_end']


@dataclasses.dataclass(frozen=True)
class Window:
    start: datetime.datetime
    end: datetime.datetime

    @property
    def start_ts(self):
        return self.start.timestamp()

    @property
    def end_ts(self):
        return self.end.timestamp()


def iso(value):
    """``2026-11-25T10:05:00Z`` for an aware datetime or epoch seconds."""
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).strftime(
        '%Y-%m-%dT%H:%M:%SZ')


def parse_time(action, name, value):
    """An aware UTC datetime from an ISO 8601 UTC string."""
    if not isinstance(value, str):
        raise exception.ActionParameterError(
            action=action, name=name, value=value,
            reason='expected an ISO 8601 UTC string such as '
                   '2026-11-25T10:05:00Z')
    try:
        # Python 3.10 does not read the "Z" suffix.
        parsed = datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError as e:
        raise exception.ActionParameterError(
            action=action, name=name, value=value,
            reason='not a valid ISO 8601 time (%s)' % e)
    if parsed.utcoffset() != datetime.timedelta(0):
        raise exception.ActionParameterError(
            action=action, name=name, value=value,
            reason='the time must be in UTC (suffix Z or +00:00)')
    return parsed


def parse_window(action, params):
    start = parse_time(action, 'window_start', params.get('window_start'))
    end = parse_time(action, 'window_end', params.get('window_end'))
    if end <= start:
        raise exception.ActionParameterError(
            action=action, name='window_end', value=params.get('window_end'),
            reason='the window must end after it starts (window_start=%s)'
                   % params.get('window_start'))
    return Window(start, end)


def _schema_error(action, schema, params, error):
    """ActionParameterError naming the parameter a schema error is about."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    if error.validator == 'required':
        missing = [n for n in error.validator_value if n not in instance]
        name = missing[0] if missing else error.validator_value[0]
        return exception.ActionParameterError(
            action=action, name=name, value=None,
            reason='this parameter is required')
    if error.validator == 'additionalProperties':
        known = schema.get('properties', {})
        extra = sorted(n for n in instance if n not in known)
        name = extra[0] if extra else '?'
        return exception.ActionParameterError(
            action=action, name=name, value=instance.get(name),
            reason='not a parameter of this action (known: %s)'
                   % ', '.join(sorted(known)))
    if error.path:
        name = error.path[0]
        value = params.get(name) if isinstance(params, dict) else None
    else:
        name, value = 'input_parameters', params
    return exception.ActionParameterError(
        action=action, name=name, value=value, reason=error.message)


def check_schema(action, schema, params):
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = schema_exceptions.best_match(validator.iter_errors(params))
    if error is not None:
        raise _schema_error(action, schema, params, error)


class _ParametersValidator:
    """``validate_parameters`` as a class method and as Watcher's hook.

    ``ActionClass.validate_parameters(params)``, for the strategy before
    the plan is saved, raises ActionParameterError naming the parameter.
    ``action.validate_parameters()``, which Watcher's action factory calls
    on the loaded action, checks its input parameters and raises Watcher's
    ``Invalid``, whose message the applier shows in the action status.
    """

    def __get__(self, instance, owner):
        if instance is None:
            return functools.partial(_validate, owner)

        def validate_loaded():
            try:
                return _validate(owner, instance.input_parameters)
            except exception.ActionParameterError as e:
                raise watcher_exception.Invalid(message=str(e)) from e
        return validate_loaded


def _validate(cls, params):
    name = cls.get_name()
    check_schema(name, cls.SCHEMA, params)
    parse_window(name, params)
    cls.check_parameters(params)
    return True


class WindowGate:
    """Waits for a window to open; skips when it has passed.

    :param clock: returns the time as epoch seconds (``time.time``).
    :param sleep: sleeps a number of seconds (``time.sleep``).
    """

    def __init__(self, clock=time.time, sleep=time.sleep,
                 poll_interval=None, max_wait=None):
        predictive_conf.register_opts(CONF)
        group = CONF.watcher_predictive
        self.clock = clock
        self.sleep = sleep
        self.poll_interval = (group.window_poll_interval
                              if poll_interval is None else poll_interval)
        self.max_wait = group.max_window_wait if max_wait is None \
            else max_wait

    def _skip_if_ended(self, what, window, now):
        if now >= window.end_ts:
            raise watcher_exception.ActionSkipped(
                _('Window %(start)s to %(end)s of %(what)s ended at '
                  '%(end)s (%(late)d s ago); the action is skipped rather '
                  'than executed late.') % {
                    'start': iso(window.start), 'end': iso(window.end),
                    'what': what, 'late': int(now - window.end_ts)})

    def wait(self, what, window):
        """Return once the window is open; raise ActionSkipped otherwise.

        :param what: the action and instance, for messages.
        """
        now = self.clock()
        self._skip_if_ended(what, window, now)
        remaining = window.start_ts - now
        if remaining <= 0:
            return
        if remaining > self.max_wait:
            raise watcher_exception.ActionSkipped(
                _('Window of %(what)s opens at %(start)s, in %(wait)d s, '
                  'beyond [watcher_predictive] max_window_wait '
                  '(%(max)d s); the action is skipped.') % {
                    'what': what, 'start': iso(window.start),
                    'wait': int(remaining), 'max': self.max_wait})
        LOG.info('%s waits %d s for its window %s to %s.', what,
                 int(remaining), iso(window.start), iso(window.end))
        while remaining > 0:
            self.sleep(min(self.poll_interval, remaining))
            now = self.clock()
            remaining = window.start_ts - now
        # A long sleep can overshoot a short window.
        self._skip_if_ended(what, window, now)
        LOG.info('Window of %s is open.', what)


class WindowGatedAction:
    """Mixin of the window-gated actions; put it first in the bases.

    Subclasses set ``SCHEMA`` (a class-level dict), define ``get_name()``
    and may extend ``check_parameters``. ``clock`` and ``sleep`` may be
    replaced on an instance, for tests.
    """

    SCHEMA = None
    clock = staticmethod(time.time)
    sleep = staticmethod(time.sleep)

    validate_parameters = _ParametersValidator()

    @property
    def schema(self):
        return self.SCHEMA

    @classmethod
    def check_parameters(cls, params):
        """Checks the schema cannot express; raise ActionParameterError."""

    @property
    def window(self):
        return parse_window(self.get_name(), self.input_parameters)

    def describe(self):
        return '%s of instance %s' % (
            self.get_name(), self.input_parameters.get('resource_id'))

    def wait_for_window(self):
        WindowGate(clock=self.clock, sleep=self.sleep).wait(
            self.describe(), self.window)


def with_window(schema, required=()):
    """A copy of an action schema extended with the window parameters."""
    schema = copy.deepcopy(schema)
    schema['properties'] = dict(schema['properties'], **WINDOW_PROPERTIES)
    schema['required'] = sorted(set(schema.get('required', ())) |
                                set(WINDOW_REQUIRED) | set(required))
    schema['additionalProperties'] = False
    return schema
