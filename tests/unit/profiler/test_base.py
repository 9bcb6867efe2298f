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

import numpy as np
import pytest

from watcher_predictive import exception
from watcher_predictive.profiler import base
from watcher_predictive.profiler import history


def forecast(quantiles, levels=(0.1, 0.5, 0.9)):
    quantiles = np.asarray(quantiles, dtype=float)
    return base.Forecast(instance_ids=['a'] * quantiles.shape[0],
                         resource='cpu', start=0, step=300, levels=levels,
                         quantiles=quantiles, model='test')


def test_probability_below_interpolates_between_quantiles():
    fc = forecast([[[1.0, 2.0, 3.0]]])
    assert fc.probability_below(0.5)[0, 0] == 0.0
    assert fc.probability_below(2.0)[0, 0] == pytest.approx(0.5)
    assert fc.probability_below(1.5)[0, 0] == pytest.approx(0.3)
    assert fc.probability_below(2.5)[0, 0] == pytest.approx(0.7)
    assert fc.probability_below(3.5)[0, 0] == 1.0


def test_probability_below_per_instance_threshold():
    fc = forecast([[[1, 2, 3]], [[1, 2, 3]]])
    prob = fc.probability_below(np.array([[1.5], [2.5]]))
    assert prob[:, 0] == pytest.approx([0.3, 0.7])


def test_quantile_at_unknown_level():
    with pytest.raises(exception.InvalidParameter, match='levels'):
        forecast([[[1, 2, 3]]]).quantile(0.42)


def test_history_validates_shapes_and_names():
    with pytest.raises(exception.InvalidParameter, match='shape'):
        history.History(['a', 'b'], 0, 300, {'cpu': np.zeros((3, 4))})
    with pytest.raises(exception.InvalidParameter, match='known resources'):
        history.History(['a'], 0, 300, {'gpu': np.zeros((1, 4))})
    with pytest.raises(exception.InvalidParameter, match='step'):
        history.History(['a'], 0, 0, {'cpu': np.zeros((1, 4))})


def test_history_select_and_tail():
    h = history.History(['a', 'b'], 600, 300,
                        {'cpu': np.arange(8.0).reshape(2, 4)})
    assert h.end == 1800
    picked = h.select(['b'])
    assert picked.values['cpu'].tolist() == [[4, 5, 6, 7]]
    tail = h.tail(2)
    assert tail.start == 1200 and tail.values['cpu'][0].tolist() == [2, 3]
