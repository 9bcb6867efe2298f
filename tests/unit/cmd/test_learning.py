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

import json

import pytest

from watcher_predictive.cmd import cli
from watcher_predictive.learning import learner
from watcher_predictive.learning import scoring
from watcher_predictive.storage import api
from watcher_predictive.storage import migration

I1 = '11111111-1111-1111-1111-111111111111'
NOW = 1_800_000_000


@pytest.fixture
def conf_path(tmp_path):
    db = tmp_path / 'watcher.sqlite'
    url = 'sqlite:///%s' % db
    migration.upgrade(url)
    store = api.Store(url)
    state = {
        'step': 300, 'history_end': NOW,
        'models': {'cpu': {'model': 'ensemble', 'members': {
            'seasonal_profile': {'slot_mean_': [float(i // 12) for i in
                                                range(288)]},
            'seasonal_arima': {'arima': {'order': [1, 0, 0]}}}}},
        'markov': {'states': ['cpu:low', 'cpu:mid', 'cpu:high'],
                   'counts': [[8, 1, 1], [1, 8, 1], [0, 1, 9]],
                   'last_state': 2, 'transitions': 30,
                   'forgetting': 0.99},
        'bursts': {'cpu': {'count': 3, 'per_day': 1.5,
                           'mean_duration_s': 900}},
        'correlations': {'memory': {'correlation': 0.8, 'lag_s': 300}},
        'learning': {'version': 1, 'audits': 5, 'resources': {'cpu': {
            'weights': {'last_value': 0.7, 'ema': 0.3},
            'calibration': {'80': 0.1, '90': 0.2},
            'arima': {'order': [2, 0, 1], 'reselections': 1}}}}}
    errors = [learner.ErrorRecord(I1, 'cpu', model, NOW - days * 86400,
                                  NOW - days * 86400, 300,
                                  scoring.Score(steps=12, abs_error=12.0 *
                                                mae, pinball=6.0 * mae,
                                                inside_90=11, steps_90=12))
              for model, mae in (('ensemble', 0.5), ('ema', 0.8))
              for days in (0.5, 1.5)]
    forecast = api.ForecastRecord(I1, 'cpu', 'ensemble', NOW, NOW, 300,
                                  [0.1, 0.5, 0.9], [[0.5, 1.0, 1.5]] * 2)
    store.save_audit('a', [api.ProfileUpdate(I1, state, NOW, None)],
                     [forecast], errors=errors)
    store.dispose()
    path = tmp_path / 'watcher.conf'
    path.write_text('[database]\nconnection = %s\n' % url)
    return str(path)


def test_accuracy_prints_trends_and_weights(capsys, conf_path):
    assert cli.main(['accuracy', '--config-file', conf_path, '--now',
                     str(NOW), '--days', '3']) == 0
    out = capsys.readouterr().out
    ensemble = [line for line in out.splitlines() if ' ensemble ' in line]
    assert ensemble and '0.5000' in ensemble[0]
    assert '- 0.500 0.500' in ensemble[0]
    assert 'last_value' not in out  # no score of it
    assert cli.main(['accuracy', '--config-file', conf_path, '--now',
                     str(NOW), '--json', '--resource', 'cpu']) == 0
    data = json.loads(capsys.readouterr().out)
    assert {'resource': 'cpu', 'model': 'last_value',
            'weight': 0.7} in data['weights']
    ema = [e for e in data['errors'] if e['model'] == 'ema']
    assert [round(e['mae'], 3) for e in ema] == [0.8, 0.8]
    assert ema[0]['coverage_90'] == pytest.approx(11 / 12)


def test_profile_show(capsys, conf_path):
    assert cli.main(['profile', 'show', I1, '--config-file',
                     conf_path]) == 0
    out = capsys.readouterr().out
    assert '[2, 0, 1]' in out
    assert 'last_value 0.70' in out
    assert 'Markov: state cpu:high' in out
    assert 'Bursts of cpu: 3' in out
    assert 'Forecast of cpu' in out and '1.000 [0.500, 1.500]' in out
    assert cli.main(['profile', 'show', I1, '--config-file', conf_path,
                     '--json']) == 0
    data = json.loads(capsys.readouterr().out)
    shape = data['resources']['cpu']['seasonal_shape_by_hour']
    assert shape[:3] == [0.0, 1.0, 2.0] and len(shape) == 24


def test_profile_show_unknown_instance(capsys, conf_path):
    assert cli.main(['profile', 'show', 'nope', '--config-file',
                     conf_path]) == 2
    assert 'no profile of this instance' in capsys.readouterr().err
