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

from watcher_predictive.learning import adjust
from watcher_predictive.learning import scoring


def test_score_sums_add_up_and_match_definitions():
    levels = [0.05, 0.1, 0.5, 0.9, 0.95]
    truth = np.array([1.0, 2.0, np.nan, 10.0])
    quantiles = np.array([[0.5, 0.8, 1.0, 1.2, 1.5]] * 4)
    result = scoring.score(truth, quantiles, levels, lull_threshold=1.6,
                           min_lull_steps=1)
    assert result.steps == 3
    assert np.isclose(result.mae, (0 + 1 + 9) / 3)
    assert result.inside_80 == 1 and result.steps_80 == 3
    # Predicted lull on every step (0.9 quantile 1.2 < 1.6); actual only
    # on the first.
    assert (result.lull_tp, result.lull_fp, result.lull_fn) == (1, 2, 0)
    both = result + result
    assert both.steps == 6 and np.isclose(both.mae, result.mae)


def test_eg_moves_weight_to_the_member_that_forecasts_well():
    rng = np.random.default_rng(0)
    weights = np.full(3, 1 / 3)
    level = 5.0
    errors = []
    for _ in range(200):
        # The first member follows the level's moves; the others stay.
        level = float(np.clip(level + rng.normal(0, 1), 0, 10))
        truth = level + rng.normal(0, 0.1, 12)
        members = np.stack([np.full(12, level), np.full(12, 7.0),
                            np.full(12, 2.0)])
        combined = weights @ members
        errors.append(np.abs(truth - combined).mean())
        weights = adjust.eg_step(weights, members, combined, truth, 1.0,
                                 0.5, 0.01)
    assert weights[0] > 0.8
    assert np.mean(errors[-50:]) < 0.5 * np.mean(errors[:10])
    assert np.isclose(weights.sum(), 1.0) and weights.min() > 0


def test_calibration_converges_to_nominal_coverage():
    # Intervals twice too narrow for the true spread: the factor grows
    # until nine in ten values fall inside.
    rng = np.random.default_rng(1)
    log_factor, inside, total = 0.0, 0, 0
    for audit in range(600):
        truth = rng.normal(0, 1, 12)
        half = 1.645 / 2 * np.exp(log_factor)
        observed = float(np.mean(np.abs(truth) <= half))
        if audit >= 300:
            inside += observed * 12
            total += 12
        log_factor = adjust.calibrate(log_factor, 0.9, observed, 0.2)
    assert abs(inside / total - 0.9) < 0.02
    assert abs(np.exp(log_factor) - 2.0) < 0.4


def test_drift_needs_both_its_own_history_and_the_reference():
    errors = {'seasonal_arima': {'fast': 2.0, 'slow': 1.0, 'count': 30},
              'ema': {'fast': 1.5, 'slow': 1.5, 'count': 30}}
    assert adjust.drifted(errors, 'seasonal_arima', 'ema', 0.3, 12)
    errors['ema']['fast'] = 3.0
    assert not adjust.drifted(errors, 'seasonal_arima', 'ema', 0.3, 12)
    errors['ema']['fast'] = 1.0
    errors['seasonal_arima']['count'] = 3
    assert not adjust.drifted(errors, 'seasonal_arima', 'ema', 0.3, 12)


def test_markov_memory_shrinks_on_rising_loss_and_regrows():
    level = adjust.MEMORY_LEVELS - 1
    shorter = adjust.next_memory(level, 2.0, 1.0, 0.3, 20, 12)
    assert shorter == level - 2
    assert adjust.forgetting(shorter) < adjust.forgetting(level) < 1
    assert adjust.next_memory(shorter, 1.0, 1.0, 0.3, 20, 12) > shorter
    # Too few scored steps: unchanged.
    assert adjust.next_memory(level, 2.0, 1.0, 0.3, 3, 12) == level
