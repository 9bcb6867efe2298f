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

"""The store's reads for the profiler workers, on a real SQLite file."""

import pytest

from watcher_predictive import exception
from watcher_predictive.storage import api
from watcher_predictive.storage import migration


@pytest.fixture
def store(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'watcher.sqlite')
    migration.upgrade(url)
    store = api.Store(url, timeout=5)
    yield store
    store.dispose()


def forecast(uuid, resource, start, issued_at):
    return api.ForecastRecord(
        instance_uuid=uuid, resource=resource, model='ensemble',
        issued_at=issued_at, start=start, step=300, levels=[0.5],
        quantiles=[[float(start)]])


def test_profile_heads_give_end_and_version_without_state(store):
    store.save_audit('a1', [api.ProfileUpdate('i1', {'big': [1] * 10}, 600,
                                              None)], [])
    store.save_audit('a2', [api.ProfileUpdate('i1', {}, 900, 1)], [])
    assert store.profile_heads(['i1', 'unknown']) == {'i1': (900, 2)}


def test_summaries_are_replaced_not_added(store):
    store.save_summaries({'i1': (600, {'peaks': {'cpu': 1.0}}),
                          'i2': (600, {'peaks': {'cpu': 2.0}})})
    store.save_summaries({'i1': (900, {'peaks': {'cpu': 3.0}})})
    assert store.load_summaries(['i1', 'i2', 'i3']) == {
        'i1': (900, {'peaks': {'cpu': 3.0}}),
        'i2': (600, {'peaks': {'cpu': 2.0}})}


def test_a_summary_that_is_not_json_is_refused(store):
    with pytest.raises(exception.StorageError, match='summary of i1'):
        store.save_summaries({'i1': (600, {'peaks': object()})})
    assert store.load_summaries(['i1']) == {}


def test_forecasts_starting_keep_only_the_given_start(store):
    store.save_audit('a1', [], [forecast('i1', 'cpu', 600, 10),
                                forecast('i1', 'cpu', 900, 20),
                                forecast('i1', 'memory', 900, 20),
                                forecast('i2', 'cpu', 600, 10)])
    found = store.forecasts_starting({'i1': 900, 'i2': 900})
    assert set(found) == {'i1'}
    assert sorted((f.resource, f.start) for f in found['i1']) == [
        ('cpu', 900), ('memory', 900)]
