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

import pytest

from watcher_predictive import exception
from watcher_predictive.learning import learner
from watcher_predictive.learning import scoring
from watcher_predictive.storage import api
from watcher_predictive.storage import migration

I1 = '11111111-1111-1111-1111-111111111111'
I2 = '22222222-2222-2222-2222-222222222222'


@pytest.fixture
def store(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'p.sqlite')
    migration.upgrade(url)
    store = api.Store(url, errors_kept=3)
    yield store
    store.dispose()


def error(uuid, issued_at, model='ensemble', mae=1.0):
    return learner.ErrorRecord(uuid, 'cpu', model, issued_at, issued_at,
                               300, scoring.Score(steps=2,
                                                  abs_error=2 * mae))


def forecast(uuid, issued_at, model='ensemble'):
    return api.ForecastRecord(uuid, 'cpu', model, issued_at, issued_at, 300,
                              [0.5], [[1.0]])


def test_errors_are_bounded_per_instance_and_purged_by_age(store):
    for t in range(5):
        store.save_audit('a', [], [], errors=[error(I1, 100 + t),
                                              error(I2, 100 + t, 'ema')])
    kept = store.forecast_errors(I1)
    assert [e.issued_at for e in kept] == [102, 103, 104]
    assert kept[0].abs_error == 2.0 and kept[0].steps == 2
    assert len(store.forecast_errors(resource='cpu')) == 6
    assert store.purge_errors(0, now=104) == 4
    assert [(e.instance_uuid, e.issued_at) for e in
            store.forecast_errors()] == [(I1, 104), (I2, 104)]


def test_the_same_forecast_scored_twice_is_a_conflict(store):
    store.save_audit('a', [], [], errors=[error(I1, 100)])
    with pytest.raises(exception.ConcurrentUpdate):
        store.save_audit('b', [api.ProfileUpdate(I2, {}, 1, None)],
                         [forecast(I2, 1)], errors=[error(I1, 100)])
    # Nothing of the failed save was written.
    assert store.load_profiles([I2]) == {}
    assert store.latest_forecasts(I2) == []


def test_non_finite_errors_are_refused_before_writing(store):
    bad = error(I1, 100, mae=float('nan'))
    with pytest.raises(exception.StorageError, match='only finite'):
        store.save_audit('a', [], [], errors=[bad])


def test_forecasts_to_score(store):
    store.save_audit('a', [], [forecast(I1, t) for t in (10, 20, 30)] +
                     [forecast(I1, 40, 'arima'), forecast(I2, 50)])
    assert [f.issued_at for f in store.forecasts_to_score([I1])] == [
        10, 20, 30]
    assert [f.issued_at for f in store.forecasts_to_score(
        [I1, I2], issued_after=20)] == [30, 50]
