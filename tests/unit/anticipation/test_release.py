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

from watcher_predictive.anticipation import release
from watcher_predictive import exception
from watcher_predictive.profiler import base


def cpu_forecast(medians, spread=0.05):
    medians = np.asarray(medians, dtype=float)
    q = np.stack([medians - spread, medians, medians + spread], axis=-1)
    return base.Forecast(instance_ids=['i%d' % k for k in range(len(q))],
                         resource='cpu', start=1000, step=300,
                         levels=[0.1, 0.5, 0.9], quantiles=q, model='t')


def test_lull_probability_is_relative_to_the_vcpus():
    fc = cpu_forecast([[0.1, 1.0], [0.1, 1.0]])
    prob = release.lull_probability(fc, vcpus=[1, 4], lull_level=0.1)
    # 0.1 vCPU is the 1-vCPU guest's lull level exactly (its median), and
    # far below the 4-vCPU guest's 0.4.
    assert prob[0].tolist() == pytest.approx([0.5, 0.0])
    assert prob[1].tolist() == pytest.approx([1.0, 0.0])


def test_best_lull_takes_the_weakest_step_of_each_window():
    prob = np.array([[0.9, 0.2, 0.95, 0.9, 0.8, 0.1]])
    p, start = release.best_lull(prob, duration_steps=3)
    assert start.tolist() == [2] and p.tolist() == [0.8]


def test_best_lull_respects_each_instance_horizon():
    prob = np.array([[0.1, 0.1, 0.9, 0.9], [0.1, 0.1, 0.9, 0.9]])
    p, start = release.best_lull(prob, 2, horizon_steps=[4, 3])
    assert start.tolist() == [2, 0]
    assert p.tolist() == [0.9, 0.1]


def test_no_window_fits():
    p, start = release.best_lull(np.ones((2, 3)), duration_steps=4)
    assert start.tolist() == [-1, -1] and p.tolist() == [0, 0]


def test_bad_values_are_named():
    fc = cpu_forecast([[0.1]])
    with pytest.raises(exception.InvalidParameter, match='lull_level'):
        release.lull_probability(fc, [1], 0)
    with pytest.raises(exception.InvalidParameter, match='vcpus'):
        release.lull_probability(fc, [0], 0.1)
    with pytest.raises(exception.InvalidParameter, match='duration_steps'):
        release.best_lull(np.ones((1, 3)), 0)
