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

"""Plain records exchanged with the store, and their conversion to rows.

JSON documents are written with sorted keys, numpy arrays and scalars
becoming lists and numbers; NaN and infinities are kept (Python's json
reads them back).

Profile states are JSON too, but their long lists of floats (seasonal
slots, model weights) are written packed: ``{"__array__": 1, "dtype":
"<f8", "data": "<base64>"}``, the little-endian float64 bytes of the list,
which read back as the very same list of floats (NaN, infinities and -0.0
included) at a fraction of the cost of writing and parsing decimal
numbers, in half the space. ``__array__`` is the packing's version; states
written before it (plain lists) load as they are.
"""

import base64
import dataclasses
import datetime
import json

import numpy as np

from watcher_predictive import exception

ARRAY_KEY = '__array__'
ARRAY_VERSION = 1
# Shorter lists of floats stay plain JSON (readable, as cheap either way).
PACK_MIN = 16


@dataclasses.dataclass(frozen=True)
class ProfileRecord:
    instance_uuid: str
    state: dict
    history_end: int
    version: int


@dataclasses.dataclass(frozen=True)
class ProfileUpdate:
    """New state of an instance, and the version it was computed from.

    ``expected_version`` is the version loaded before the audit, or None
    when the instance had no profile (the row must not exist yet).
    """
    instance_uuid: str
    state: dict
    history_end: int
    expected_version: int | None


@dataclasses.dataclass(frozen=True)
class ForecastRecord:
    """An issued forecast: ``quantiles[step][level]`` for each step."""
    instance_uuid: str
    resource: str
    model: str
    issued_at: int
    start: int
    step: int
    levels: list
    quantiles: list
    audit_uuid: str | None = None


@dataclasses.dataclass(frozen=True)
class ErrorRow:
    """A stored score (see ``learning.scoring.Score`` for the sums)."""
    instance_uuid: str
    resource: str
    model: str
    issued_at: int
    start: int
    step: int
    steps: int
    abs_error: float
    pinball: float
    inside_80: int
    steps_80: int
    inside_90: int
    steps_90: int
    lull_tp: int
    lull_fp: int
    lull_fn: int


SCORE_FIELDS = ('steps', 'abs_error', 'pinball', 'inside_80', 'steps_80',
                'inside_90', 'steps_90', 'lull_tp', 'lull_fp', 'lull_fn')


@dataclasses.dataclass(frozen=True)
class ThrottleRecord:
    id: int
    instance_uuid: str
    host: str
    driver: str
    limits: dict
    previous: dict
    state: str
    action_uuid: str | None
    window_end: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


def _json_default(value):
    # numpy arrays and scalars, without importing numpy here.
    tolist = getattr(value, 'tolist', None)
    if callable(tolist):
        return tolist()
    raise TypeError('%s is not JSON serialisable' % type(value).__name__)


def dumps(value, what):
    try:
        return json.dumps(value, sort_keys=True, default=_json_default)
    except (TypeError, ValueError) as error:
        raise exception.StorageError(
            reason='%s cannot be stored as JSON: %s' % (what, error))


_SCALARS = frozenset((float, int, bool, str, type(None)))


def _pack(value):
    """``value`` with its long lists of floats (and float arrays) packed."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, dict):
        if ARRAY_KEY in value:
            raise ValueError('the key %s is reserved for packed arrays'
                             % ARRAY_KEY)
        return {key: item if type(item) in _SCALARS else _pack(item)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        kinds = set(map(type, value))
        if kinds == {float} and len(value) >= PACK_MIN:
            return _packed(np.asarray(value, dtype='<f8'))
        if kinds <= _SCALARS:
            return value
        return [_pack(item) for item in value]
    if isinstance(value, np.ndarray) and value.ndim == 1 and \
            value.dtype.kind == 'f' and value.size >= PACK_MIN:
        return _packed(value.astype('<f8', copy=False))
    return value


def _packed(array):
    return {ARRAY_KEY: ARRAY_VERSION, 'dtype': '<f8',
            'data': base64.b64encode(array.tobytes()).decode('ascii')}


def _unpack(document):
    """json object_hook: a packed list back to the list it was."""
    if ARRAY_KEY not in document:
        return document
    if document[ARRAY_KEY] != ARRAY_VERSION or \
            document.get('dtype') != '<f8':
        raise exception.StorageError(
            reason='a stored profile state holds a packed array of version '
                   '%r and dtype %r; this watcher-predictive reads version '
                   '%d of dtype <f8: upgrade it to the release that wrote '
                   'the state' % (document[ARRAY_KEY],
                                  document.get('dtype'), ARRAY_VERSION))
    return np.frombuffer(base64.b64decode(document['data']),
                         dtype='<f8').tolist()


def dumps_state(state, what):
    """A profile state as JSON, long lists of floats packed."""
    try:
        return json.dumps(_pack(state), sort_keys=True,
                          separators=(',', ':'), default=_json_default)
    except (TypeError, ValueError) as error:
        raise exception.StorageError(
            reason='%s cannot be stored as JSON: %s' % (what, error))


def loads_state(text):
    """A stored profile state (packed or not) as the profiler wrote it."""
    if ARRAY_KEY in text:
        return json.loads(text, object_hook=_unpack)
    return json.loads(text)


def integer(value, what):
    # Accepts numpy integers too, which database drivers cannot adapt.
    try:
        return int(value)
    except (TypeError, ValueError):
        raise exception.StorageError(
            reason='%s must be an integer, got %r' % (what, value))


def profile_rows(profiles):
    """Checked rows of ProfileUpdates, sorted by instance."""
    rows = {}
    for update in profiles:
        uuid = update.instance_uuid
        if not isinstance(uuid, str) or not uuid:
            raise exception.StorageError(
                reason='a profile has no valid instance_uuid: %r'
                       % (uuid,))
        if uuid in rows:
            raise exception.StorageError(
                reason='instance %s appears twice in one save_audit'
                       % uuid)
        if not isinstance(update.state, dict):
            raise exception.StorageError(
                reason='the state of instance %s must be a dict, got %s'
                       % (uuid, type(update.state).__name__))
        rows[uuid] = {
            'instance_uuid': uuid,
            'state': dumps_state(update.state,
                                 'state of instance %s' % uuid),
            'history_end': integer(update.history_end,
                                   'history_end of instance %s' % uuid),
            'expected_version': (None if update.expected_version is None
                                 else int(update.expected_version)),
        }
    # Sorted: concurrent audits then lock rows in the same order, which
    # avoids most deadlocks.
    return [rows[uuid] for uuid in sorted(rows)]


def forecast_row(audit_uuid, forecast):
    """Checked row of a ForecastRecord made by audit ``audit_uuid``."""
    what = 'forecast of %s of instance %s' % (forecast.resource,
                                              forecast.instance_uuid)
    return {
        'instance_uuid': forecast.instance_uuid,
        'audit_uuid': forecast.audit_uuid or audit_uuid,
        'resource': forecast.resource,
        'model': forecast.model,
        'issued_at': integer(forecast.issued_at, 'issued_at of ' + what),
        'start': integer(forecast.start, 'start of ' + what),
        'step': integer(forecast.step, 'step of ' + what),
        'levels': dumps(forecast.levels, 'levels of the ' + what),
        'quantiles': dumps(forecast.quantiles, 'quantiles of the ' + what),
    }


def forecast_from_row(row):
    return ForecastRecord(
        instance_uuid=row.instance_uuid, resource=row.resource,
        model=row.model, issued_at=int(row.issued_at),
        start=int(row.start), step=int(row.step),
        levels=json.loads(row.levels), quantiles=json.loads(row.quantiles),
        audit_uuid=row.audit_uuid)


def throttle_from_row(row):
    return ThrottleRecord(
        id=int(row.id), instance_uuid=row.instance_uuid, host=row.host,
        driver=row.driver, limits=json.loads(row.limits),
        previous=json.loads(row.previous), state=row.state,
        action_uuid=row.action_uuid,
        window_end=None if row.window_end is None else int(row.window_end),
        created_at=row.created_at, updated_at=row.updated_at)


def error_row(error):
    """Checked row of a learning ErrorRecord (its ``score`` holds sums)."""
    what = 'score of the %s forecast of %s of instance %s' % (
        error.model, error.resource, error.instance_uuid)
    row = {'instance_uuid': error.instance_uuid, 'resource': error.resource,
           'model': error.model,
           'issued_at': integer(error.issued_at, 'issued_at of ' + what),
           'start': integer(error.start, 'start of ' + what),
           'step': integer(error.step, 'step of ' + what)}
    for name in SCORE_FIELDS:
        value = getattr(error.score, name)
        if name in ('abs_error', 'pinball'):
            value = float(value)
            if value != value or value in (float('inf'), float('-inf')):
                raise exception.StorageError(
                    reason='%s of the %s is %r; only finite errors are '
                           'stored' % (name, what, value))
        else:
            value = integer(value, name + ' of the ' + what)
        row[name] = value
    return row


def error_from_row(row):
    return ErrorRow(**{field.name: getattr(row, field.name)
                       for field in dataclasses.fields(ErrorRow)})
