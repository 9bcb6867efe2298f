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

import numpy as np
import pytest

from watcher_predictive import exception
from watcher_predictive.profiler import engine
from watcher_predictive.simulation import generated


def test_profiles_every_resource_and_skips_short_history():
    hist, _ = generated.generate(n_instances=4, days=2)
    hist.values['cpu'][1, :-10] = np.nan
    result = engine.Profiler(min_history_steps=288).profile(hist, 12)
    assert set(result.forecasts) == {'cpu', 'memory', 'disk', 'network'}
    assert hist.instance_ids[1] in result.skipped
    assert '10 usable samples' in str(result.skipped[hist.instance_ids[1]])
    assert len(result.profiled) == 3
    fc = result.forecasts['cpu']
    assert fc.quantiles.shape == (3, 12, 5)
    assert fc.start == hist.end
    # The state is JSON and records what was profiled.
    state = json.loads(json.dumps(result.states[result.profiled[0]]))
    assert state['history_end'] == hist.end
    assert set(state['models']) == {'cpu', 'memory', 'disk', 'network'}
    assert result.peaks['cpu'].shape == (3,)
    # The Markov chain's state probabilities over the horizon.
    assert result.state_probabilities.shape == (3, 12, 9)
    np.testing.assert_allclose(result.state_probabilities.sum(axis=2), 1.0)
    assert 'cpu=high,memory=high' in result.state_labels
    # Bursts per resource and correlations of CPU with the others.
    profile = result.states[result.profiled[0]]
    assert set(profile['bursts']) == {'cpu', 'memory', 'disk', 'network'}
    assert set(profile['correlations']) >= {'memory', 'disk', 'network'}
    assert profile['markov']['states'] == list(result.state_labels)
    assert profile['models']['cpu']['model'] == 'ensemble'


def test_nothing_to_profile():
    hist, _ = generated.generate(n_instances=2, days=1)
    result = engine.Profiler(min_history_steps=10000).profile(hist, 6)
    assert result.profiled == () and len(result.skipped) == 2
    assert result.forecasts == {}


def test_bad_arguments():
    with pytest.raises(exception.InvalidParameter, match='min_history'):
        engine.Profiler(min_history_steps=0)
    hist, _ = generated.generate(n_instances=1, days=1)
    with pytest.raises(exception.InvalidParameter, match='horizon_steps'):
        engine.Profiler().profile(hist, 0)
