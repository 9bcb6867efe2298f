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

"""The backtest command, in process, on a small wide CSV trace."""

import json

import numpy as np
import pytest

from watcher_predictive.cmd import backtest
from watcher_predictive.cmd import cli
from watcher_predictive.profiler import registry
from watcher_predictive.telemetry import trace

METRICS = {'mae', 'rmae_persistence', 'rmae_seasonal_naive', 'pinball',
           'coverage_80', 'coverage_90', 'lull_precision', 'lull_recall',
           'series', 'seconds'}
TOP = {'trace', 'format', 'horizon', 'holdout_days', 'series', 'origins',
       'models'}


@pytest.fixture
def wide_trace(tmp_path):
    """Three days of three guests in CPU %, idle at night."""
    rng = np.random.default_rng(5)
    steps = 3 * 288
    hour = (np.arange(steps) * 300 % 86400) / 3600
    busy = (hour >= 8) & (hour < 20)
    lines = ['step,web,db,batch']
    for k in range(steps):
        values = [3 + 60 * busy[k] * (1 + j / 2) / 2 + rng.random()
                  for j in range(3)]
        lines.append('%d,%s' % (k, ','.join('%.2f' % v for v in values)))
    path = tmp_path / 'guests.csv'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def run(capsys, *args):
    code = cli.main(['backtest'] + list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_every_key(capsys, wide_trace):
    code, out, err = run(capsys, '--trace', wide_trace, '--format', 'wide',
                         '--holdout-days', '1', '--arima-sample', '2',
                         '--json')
    assert code == 0, err
    result = json.loads(out)
    assert TOP <= set(result)
    assert (result['trace'], result['format']) == (wide_trace, 'wide')
    assert (result['horizon'], result['holdout_days']) == (3600, 1.0)
    assert (result['series'], result['origins']) == (3, 24)
    expected = {'persistence', 'seasonal_naive', 'statsmodels_arima'}
    expected |= set(registry.ours())
    if registry.ensemble_factory() is not None:
        expected.add('ensemble')
    assert set(result['models']) == expected
    for name, scores in result['models'].items():
        assert METRICS <= set(scores), name
    for name in ('persistence', 'seasonal_naive', 'seasonal_ma',
                 'statsmodels_arima'):
        assert result['models'][name]['error'] is None, name
        assert result['models'][name]['mae'] is not None, name
    assert result['models']['statsmodels_arima']['series'] == 2
    assert result['samples'] == {'statsmodels_arima': {
        'series': 2, 'of': 3, 'seed': backtest.SEED}}
    persistence = result['models']['persistence']
    assert persistence['rmae_persistence'] == 1.0
    assert 0 < persistence['mae'] < 20
    # The guests idle below 10% every night: lulls are found.
    assert persistence['lull_recall'] > 0


def test_table_names_models_and_the_sample(capsys, wide_trace):
    code, out, _ = run(capsys, '--trace', wide_trace, '--format', 'wide',
                       '--holdout-days', '1', '--models',
                       'seasonal_ma,statsmodels_arima', '--arima-sample',
                       '1', '--horizon', '1800')
    assert code == 0
    for text in ('| persistence', '| seasonal_naive', '| seasonal_ma',
                 '| statsmodels_arima', 'random sample of 1 of the 3',
                 'horizon 1800 s', '24 hourly origins'):
        assert text in out


def test_unknown_model_is_an_error(capsys, wide_trace):
    code, _, err = run(capsys, '--trace', wide_trace, '--format', 'wide',
                       '--models', 'seasonal_ma,crystal_ball')
    assert code == 2
    assert 'crystal_ball' in err and 'seasonal_ma' in err


def test_too_long_a_holdout_is_an_error(capsys, wide_trace):
    code, _, err = run(capsys, '--trace', wide_trace, '--format', 'wide',
                       '--models', 'seasonal_ma')
    assert code == 2
    assert 'hold out fewer days' in err


def test_formats_match_the_readers():
    assert backtest.FORMATS == trace.FORMATS
