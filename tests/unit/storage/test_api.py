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

import socket
import sqlite3
import time

import numpy as np
from oslo_config import cfg
import pytest

from watcher_predictive.conf import predictive
from watcher_predictive import exception
from watcher_predictive.storage import api
from watcher_predictive.storage import migration

I1 = '11111111-1111-1111-1111-111111111111'
I2 = '22222222-2222-2222-2222-222222222222'
I3 = '33333333-3333-3333-3333-333333333333'


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / 'watcher.sqlite'
    migration.upgrade('sqlite:///%s' % path)
    return path


@pytest.fixture
def store(db_path):
    store = api.Store('sqlite:///%s' % db_path, timeout=5, forecasts_kept=3)
    yield store
    store.dispose()


def forecast(instance, issued_at, resource='cpu', model='arima'):
    return api.ForecastRecord(
        instance_uuid=instance, resource=resource, model=model,
        issued_at=issued_at, start=issued_at + 300, step=300,
        levels=[0.1, 0.5, 0.9],
        quantiles=[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])


def rows(db_path, sql):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql).fetchall()


def test_profiles_round_trip(store):
    state = {'version': 1, 'cpu': {'mean': [0.5, 0.25]}, 'name': 'v\u00e9'}
    store.save_audit('audit-1', [
        api.ProfileUpdate(I1, state, 1000, None),
        api.ProfileUpdate(I2, {'version': 1}, 2000, None)], [])

    loaded = store.load_profiles([I1, I2, I3])
    assert set(loaded) == {I1, I2}
    assert loaded[I1] == api.ProfileRecord(I1, state, 1000, 1)

    store.save_audit('audit-2', [
        api.ProfileUpdate(I1, {'version': 1, 'n': 2}, 1300, 1)], [])
    assert store.load_profiles([I1])[I1] == api.ProfileRecord(
        I1, {'version': 1, 'n': 2}, 1300, 2)
    assert store.load_profiles([I2])[I2].version == 1
    assert store.load_profiles([]) == {}


def test_numpy_values_are_stored_as_json(store, db_path):
    state = {'version': 1, 'weights': np.array([0.25, 0.75]),
             'order': np.int64(3)}
    store.save_audit('a', [api.ProfileUpdate(I1, state, np.int64(60), None)],
                     [forecast(I1, np.int64(600))])
    assert store.load_profiles([I1])[I1].state == {
        'version': 1, 'weights': [0.25, 0.75], 'order': 3}
    # Sorted keys: the stored text is stable.
    assert rows(db_path, 'SELECT state FROM predictive_profile') == [
        ('{"order":3,"version":1,"weights":[0.25,0.75]}',)]
    assert store.latest_forecasts()[0].issued_at == 600


def test_long_float_lists_are_packed_and_read_back_exactly(store, db_path):
    rng = np.random.default_rng(3)
    slots = rng.normal(size=288).tolist()
    slots[:5] = [float('nan'), float('inf'), -float('inf'), -0.0, 5e-324]
    state = {'version': 1, 'slots': slots,
             'array': rng.random(40),                  # numpy, packed too
             'nested': [[1.5] * 20, [2.5] * 20],
             'counts': list(range(100)),               # ints: plain JSON
             'flags': [True] * 30,
             'mixed': [1.0] * 19 + [2],                # not only floats
             'short': [0.1, 0.2]}
    store.save_audit('a', [api.ProfileUpdate(I1, state, 60, None)], [])
    (text,), = rows(db_path, 'SELECT state FROM predictive_profile')
    assert text.count('"__array__":1') == 4
    assert repr(slots[10]) not in text
    loaded = store.load_profiles([I1])[I1].state
    want = dict(state, array=state['array'].tolist())
    # repr: NaN compares unequal to itself, -0.0 equal to 0.0.
    assert repr(sorted(loaded.items())) == repr(sorted(want.items()))
    assert [type(x) for x in loaded['counts']] == [int] * 100
    assert store.all_profiles()[0].state['nested'] == state['nested']


def test_states_stored_before_packing_still_load(store, db_path):
    store.save_audit('a', [api.ProfileUpdate(I1, {'version': 1}, 60, None)],
                     [])
    old = '{"slots": [0.5, NaN, 1e-05], "version": 1}'
    with sqlite3.connect(db_path) as conn:
        conn.execute('UPDATE predictive_profile SET state = ?', (old,))
    loaded = store.load_profiles([I1])[I1].state
    assert loaded['slots'][0] == 0.5 and loaded['slots'][2] == 1e-05
    assert np.isnan(loaded['slots'][1]) and loaded['version'] == 1


def test_packed_array_of_unknown_version_is_refused(store, db_path):
    store.save_audit('a', [api.ProfileUpdate(I1, {'version': 1}, 60, None)],
                     [])
    newer = '{"slots":{"__array__":2,"dtype":"<f2","data":"AAA="}}'
    with sqlite3.connect(db_path) as conn:
        conn.execute('UPDATE predictive_profile SET state = ?', (newer,))
    with pytest.raises(exception.StorageError,
                       match=r"packed array of version 2 and dtype '<f2'"):
        store.load_profiles([I1])


def test_state_using_the_packing_key_is_refused(store):
    with pytest.raises(exception.StorageError, match='__array__'):
        store.save_audit('a', [api.ProfileUpdate(
            I1, {'version': 1, 'x': {'__array__': 1}}, 60, None)], [])


def test_forecasts_round_trip(store):
    store.save_audit('audit-1', [], [
        forecast(I1, 600), forecast(I1, 600, resource='memory'),
        forecast(I2, 900)])
    own = api.ForecastRecord(**dict(vars(forecast(I1, 1200)),
                                    audit_uuid='other-audit'))
    store.save_audit('audit-2', [], [own])

    latest = store.latest_forecasts()
    assert [(f.instance_uuid, f.issued_at) for f in latest] == [
        (I1, 1200), (I2, 900), (I1, 600), (I1, 600)]
    assert latest[0] == own
    assert latest[1] == api.ForecastRecord(
        I2, 'cpu', 'arima', 900, 1200, 300, [0.1, 0.5, 0.9],
        [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], 'audit-1')
    assert [f.issued_at for f in store.latest_forecasts(I1, 'cpu')] == [
        1200, 600]
    assert [f.resource for f in store.latest_forecasts(
        resource='memory')] == ['memory']
    assert len(store.latest_forecasts(limit=2)) == 2
    with pytest.raises(exception.StorageError):
        store.latest_forecasts(limit=0)


def test_concurrent_update_raises_and_writes_nothing(store, db_path):
    store.save_audit('a1', [api.ProfileUpdate(I1, {'v': 'first'}, 100,
                                              None)], [])
    loaded = store.load_profiles([I1])[I1]
    # Another decision engine saves its audit in between.
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE predictive_profile SET version = version + 1, "
                     "state = '{\"v\": \"concurrent\"}'")

    with pytest.raises(exception.ConcurrentUpdate) as raised:
        store.save_audit('a2', [
            api.ProfileUpdate(I2, {'v': 'new'}, 100, None),
            api.ProfileUpdate(I1, {'v': 'mine'}, 200, loaded.version),
        ], [forecast(I1, 600)])
    assert raised.value.kwargs['expected'] == 1
    assert raised.value.kwargs['found'] == 2
    assert I1 in str(raised.value)

    assert store.load_profiles([I1, I2]) == {
        I1: api.ProfileRecord(I1, {'v': 'concurrent'}, 100, 2)}
    assert store.latest_forecasts() == []

    # Reloaded, the same update goes through.
    store.save_audit('a2', [api.ProfileUpdate(I1, {'v': 'mine'}, 200, 2)],
                     [])
    assert store.load_profiles([I1])[I1].version == 3


def test_profile_created_meanwhile_raises(store):
    store.save_audit('a1', [api.ProfileUpdate(I1, {'v': 1}, 100, None)], [])
    with pytest.raises(exception.ConcurrentUpdate) as raised:
        store.save_audit('a2', [
            api.ProfileUpdate(I1, {'v': 2}, 100, None),
            api.ProfileUpdate(I2, {'v': 2}, 100, None)], [forecast(I1, 60)])
    assert raised.value.kwargs['found'] == 1
    assert set(store.load_profiles([I1, I2])) == {I1}
    assert store.load_profiles([I1])[I1].state == {'v': 1}
    assert store.latest_forecasts() == []


def test_error_in_the_middle_of_save_writes_nothing(store, db_path):
    store.save_audit('a1', [api.ProfileUpdate(I1, {'v': 'old'}, 100, None)],
                     [forecast(I1, 60)])
    broken = forecast(I2, 600, model=None)  # NOT NULL in the database
    with pytest.raises(exception.StorageError) as raised:
        store.save_audit('a2', [
            api.ProfileUpdate(I1, {'v': 'new'}, 200, 1),
            api.ProfileUpdate(I3, {'v': 'new'}, 200, None),
        ], [forecast(I1, 600), broken])
    assert not isinstance(raised.value, exception.ConcurrentUpdate)
    assert 'save_audit of audit a2' in str(raised.value)
    assert 'NOT NULL' in str(raised.value)

    assert store.load_profiles([I1, I3]) == {
        I1: api.ProfileRecord(I1, {'v': 'old'}, 100, 1)}
    assert rows(db_path, 'SELECT issued_at FROM predictive_forecast') == [
        (60,)]


@pytest.mark.parametrize('profiles, message', [
    ([api.ProfileUpdate(I1, ['not', 'a', 'dict'], 1, None)], 'must be a dict'),
    ([api.ProfileUpdate(I1, {'x': object()}, 1, None)], 'as JSON'),
    ([api.ProfileUpdate(I1, {}, 1, None), api.ProfileUpdate(I1, {}, 1, 1)],
     'twice'),
    ([api.ProfileUpdate(I1, {}, None, None)], 'history_end'),
    ([api.ProfileUpdate(None, {}, 1, None)], 'instance_uuid'),
])
def test_invalid_input_is_refused_before_writing(store, profiles, message):
    with pytest.raises(exception.StorageError, match=message):
        store.save_audit('a', profiles, [forecast(I2, 60)])
    assert store.latest_forecasts() == []


def test_forecasts_trimmed_to_kept_count(store, db_path):
    for issued_at in (100, 200, 300, 400):
        store.save_audit('a%d' % issued_at, [], [forecast(I1, issued_at)])
    # Several of one pair in one audit, and a pair under the limit.
    store.save_audit('b', [], [
        forecast(I2, t) for t in (50, 10, 40, 20, 30)] + [
        forecast(I1, 150, resource='memory'),
        forecast(I1, 250, resource='memory')])

    def issued(instance, resource):
        return [f.issued_at for f in store.latest_forecasts(
            instance, resource, limit=100)]

    assert issued(I1, 'cpu') == [400, 300, 200]
    assert issued(I2, 'cpu') == [50, 40, 30]
    assert issued(I1, 'memory') == [250, 150]
    assert rows(db_path, 'SELECT COUNT(*) FROM predictive_forecast') == [
        (8,)]


def test_throttle_record_and_revert(store):
    assert store.active_throttle(I1) is None
    first = store.record_throttle(I1, 'compute-1', 'noop',
                                  {'cpu_quota_vcpus': 1.5},
                                  {'cpu_quota_vcpus': None})
    second = store.record_throttle(
        I1, 'compute-1', 'noop', {'cpu_quota_vcpus': 1.0},
        {'cpu_quota_vcpus': 1.5}, action_uuid='act-1', window_end=7200)
    store.record_throttle(I2, 'compute-2', 'noop', {}, {})
    assert second != first

    active = store.active_throttle(I1)
    assert (active.id, active.host, active.driver, active.action_uuid,
            active.window_end, active.state) == (
        second, 'compute-1', 'noop', 'act-1', 7200, 'applied')
    assert active.limits == {'cpu_quota_vcpus': 1.0}
    assert active.previous == {'cpu_quota_vcpus': 1.5}
    assert active.created_at is not None and active.updated_at is None

    store.mark_throttle_reverted(second)
    store.mark_throttle_reverted(second)  # a retried revert is harmless
    assert store.active_throttle(I1).id == first
    store.mark_throttle_reverted(first)
    assert store.active_throttle(I1) is None
    assert store.active_throttle(I2) is not None
    with pytest.raises(exception.StorageError, match='no throttle with id'):
        store.mark_throttle_reverted(12345)


def test_purge(store):
    now = time.time()
    store.save_audit('a', [], [forecast(I1, int(now) - 10 * 86400),
                               forecast(I1, int(now) - 3600),
                               forecast(I2, int(now) - 9 * 86400)])
    reverted = store.record_throttle(I1, 'h', 'noop', {}, {})
    store.mark_throttle_reverted(reverted)
    store.record_throttle(I2, 'h', 'noop', {}, {})

    assert store.purge(5, now=now) == (2, 0)
    assert [f.instance_uuid for f in store.latest_forecasts()] == [I1]
    # Ten days later the reverted throttle is old enough; the applied one
    # is kept whatever its age.
    assert store.purge(5, now=now + 10 * 86400) == (1, 1)
    assert store.active_throttle(I2) is not None
    with pytest.raises(exception.StorageError):
        store.purge(-1)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize('scheme', ['mysql+pymysql', 'postgresql+psycopg2'])
def test_unreachable_database(scheme):
    url = '%s://watcher:s3cret-pw@127.0.0.1:%d/watcher' % (scheme,
                                                           free_port())
    store = api.Store(url, timeout=2)
    started = time.monotonic()
    with pytest.raises(exception.StorageError) as raised:
        store.load_profiles([I1])
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert 'load_profiles' in message
    assert '127.0.0.1' in message and 'watcher:***@' in message
    assert 's3cret-pw' not in message
    with pytest.raises(exception.StorageError, match='schema check'):
        store.check_schema()


def test_missing_schema(tmp_path):
    store = api.Store('sqlite:///%s' % (tmp_path / 'empty.sqlite'))
    with pytest.raises(exception.StorageError,
                       match='watcher-predictive-db-manage upgrade') as e:
        store.check_schema()
    assert 'missing' in str(e.value)
    with pytest.raises(exception.StorageError,
                       match='no such table: predictive_profile'):
        store.load_profiles([I1])


def test_check_schema(store, db_path):
    store.check_schema()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE predictive_alembic_version "
                     "SET version_num = 'ffffffffffff'")
    with pytest.raises(exception.StorageError, match='newer than'):
        store.check_schema()


def test_invalid_url():
    with pytest.raises(exception.StorageError) as raised:
        api.Store('mysql+pymysql//watcher:pw@host')
    assert 'not a valid SQLAlchemy URL' in str(raised.value)
    assert 'pw@host' not in str(raised.value)
    with pytest.raises(exception.StorageError, match='dialect'):
        api.Store('nosuchdb://watcher:pw@host/db')


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    conf([])
    predictive.register_opts(conf)
    yield conf
    # Overrides live in the option group, which every ConfigOpts
    # registering it shares (cfg.CONF included).
    conf.reset()


def register_database(conf, connection=None):
    # A fresh option, not oslo.db's: its set_defaults() changes the
    # default of the shared option object for the whole process.
    conf.register_opt(cfg.StrOpt('connection', default=connection),
                      group='database')


def test_from_config_prefers_plugin_connection(conf, tmp_path):
    register_database(conf, 'sqlite:///%s' % (tmp_path / 'watcher.sqlite'))
    conf.set_override('forecasts_kept_per_instance', 7, 'watcher_predictive')
    store = api.Store.from_config(conf)
    assert store.safe_url.endswith('watcher.sqlite')
    assert store.forecasts_kept == 7

    conf.set_override('connection', 'sqlite:///%s' % (tmp_path / 'own.db'),
                      'watcher_predictive')
    assert api.Store.from_config(conf).safe_url.endswith('own.db')


def test_from_config_without_database(conf):
    with pytest.raises(exception.StorageError,
                       match=r'set \[database\] connection'):
        api.Store.from_config(conf)
    register_database(conf)
    with pytest.raises(exception.StorageError,
                       match=r'\[watcher_predictive\] connection'):
        api.Store.from_config(conf)


def test_from_config_default_conf():
    # Watcher registers [database] with its own default connection.
    assert api.configured_url().startswith('sqlite:///')
