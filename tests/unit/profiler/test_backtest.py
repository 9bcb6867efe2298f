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
from watcher_predictive.profiler import backtest
from watcher_predictive.profiler import base
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.profiler import registry

STEP = 300
DAY = 86400 // STEP
HOUR = 3600 // STEP
NAN = np.nan


def synthetic(days=3, n=4, start=0, seed=1):
    """Guests idle at night (a lull), busy by day, a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY)
    hour = ((start + t * STEP) % 86400) / 3600
    busy = ((hour >= 8) & (hour < 20)).astype(float)
    cpu = np.stack([0.03 + busy * (0.5 + 0.2 * k) for k in range(n)])
    cpu += 0.01 * rng.random(cpu.shape)
    return history_mod.History(
        instance_ids=['vm-%d' % k for k in range(n)], start=start,
        step=STEP, values={'cpu': cpu})


class Oracle:
    """Knows the future through a reference to the whole history: the
    perfect forecast, to check that the metrics reward it.
    """

    name = 'oracle'

    def __init__(self, y):
        self.y = y

    def fit(self, y, start, step):
        self.end_ = y.shape[1]
        return self

    def update(self, y_new):
        self.end_ += y_new.shape[1]
        return self

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        future = self.y[:, self.end_:self.end_ + h]
        return np.repeat(future[:, :, None], len(levels), axis=2)


class Recorder:
    """Keeps everything it is given, and forecasts its last value."""

    name = 'recorder'
    instances = []

    def __init__(self):
        Recorder.instances.append(self)
        self.calls = []

    def fit(self, y, start, step):
        self.start, self.data = start, np.array(y)
        return self

    def update(self, y_new):
        self.data = np.concatenate([self.data, y_new], axis=1)
        return self

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        self.calls.append(self.data.copy())
        last = self.data[:, -1]
        return np.repeat(np.repeat(last[:, None, None], h, 1),
                         len(levels), 2)


class RefitOnly(Recorder):
    """A model without incremental updates."""

    def update(self, y_new):
        raise NotImplementedError('no update')


class Cheater(Recorder):
    """Looks behind the arrays it is given for data it was not given."""

    def fit(self, y, start, step):
        self.owner = y.base if y.base is not None else y
        self.end_ = y.shape[1]
        return super().fit(y, start, step)

    def update(self, y_new):
        self.end_ += y_new.shape[1]
        return super().update(y_new)

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        owner = self.owner
        if owner.ndim == 2 and owner.shape[1] >= self.end_ + h:
            future = owner[:, self.end_:self.end_ + h]
            return np.repeat(future[:, :, None], len(levels), axis=2)
        return super().predict(h, levels)


@pytest.fixture(autouse=True)
def fresh_recorders():
    Recorder.instances = []
    yield


# -- metrics on hand-computed examples ---------------------------------------

def test_mae_skips_missing_truth():
    assert backtest.mae([1.0, 2.0, NAN, 4.0], [2.0, 2.0, 9.0, 1.0]) == \
        pytest.approx((1 + 0 + 3) / 3)


def test_pinball_by_hand():
    levels = (0.1, 0.5, 0.9)
    quantiles = [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    # y=1: 0.1*1, 0, (1-0.9)*1 -> 0.2/3; y=3: 0.1*3, 0.5*2, 0.9*1 -> 2.2/3;
    # the third point has no truth.
    assert backtest.pinball([1.0, 3.0, NAN], quantiles, levels) == \
        pytest.approx(0.4)


def test_coverage_includes_ends_and_skips_missing():
    assert backtest.coverage([1.0, 3.0, 5.0, NAN], [0.0, 0.0, 0.0, 0.0],
                             [2.0, 3.0, 4.0, 4.0]) == pytest.approx(2 / 3)


def test_in_runs():
    below = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1], bool)
    np.testing.assert_array_equal(
        backtest.in_runs(below, 3),
        np.array([0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1], bool))


def test_lull_precision_recall_by_hand():
    # Window 1: true lull steps 0-2; predicted 0-4 -> TP 3, FP 2.
    # Window 2: true lull steps 0-3, nothing predicted -> FN 4.
    truth = np.array([[0, 0, 0, 5, 0, 0, 5, NAN],
                      [0, 0, 0, 0, 5, 5, 5, 5]], float)
    upper = np.array([[0, 0, 0, 0, 0, 5, 5, 5],
                      [5, 5, 5, 5, 5, 5, 5, 5]], float)
    precision, recall = backtest.lull_precision_recall(truth, upper, 1.0, 3)
    assert precision == pytest.approx(3 / 5)
    assert recall == pytest.approx(3 / 7)


def test_no_predicted_lull_has_no_precision():
    precision, recall = backtest.lull_precision_recall(
        np.zeros((1, 6)), np.ones((1, 6)), 0.5, 3)
    assert np.isnan(precision)
    assert recall == 0.0


# -- origins -----------------------------------------------------------------

def test_origins_hourly_on_the_hour_within_the_holdout():
    start = 900
    n_steps = 3 * DAY
    origins = backtest.rolling_origins(start, n_steps, STEP, 3600, 1)
    times = start + origins * STEP
    end = start + n_steps * STEP
    assert np.all(times % 3600 == 0)
    assert np.all(np.diff(times) == 3600)
    assert times[0] >= end - 86400 and times[0] - 3600 < end - 86400
    assert times[-1] + 3600 <= end < times[-1] + 2 * 3600


def test_origins_reject_a_horizon_off_the_grid():
    with pytest.raises(exception.InvalidParameter, match='horizon'):
        backtest.rolling_origins(0, 3 * DAY, STEP, 1000, 1)


# -- evaluation --------------------------------------------------------------

def test_oracle_is_perfect_and_baselines_are_not():
    history = synthetic()
    y = history.values['cpu']
    report = backtest.evaluate(history, {'oracle': lambda: Oracle(y)},
                               holdout_days=1, capacity=1.0)
    assert list(report.models) == ['persistence', 'seasonal_naive',
                                   'oracle']
    oracle = report.models['oracle']
    assert oracle.mae == 0.0 and oracle.pinball == 0.0
    assert oracle.coverage_80 == oracle.coverage_90 == 1.0
    assert oracle.lull_precision == oracle.lull_recall == 1.0
    assert oracle.rmae_persistence == 0.0
    assert oracle.series == 4
    persistence = report.models['persistence']
    assert persistence.mae > 0 and persistence.rmae_persistence == 1.0
    assert report.origins.size == 24 - 1 + 1
    assert report.horizon == 3600


def test_models_only_ever_see_the_past():
    history = synthetic()
    y = history.values['cpu']
    report = backtest.evaluate(history, {'recorder': Recorder},
                               holdout_days=1)
    (model,) = Recorder.instances
    assert model.start == history.start
    assert len(model.calls) == report.origins.size
    for seen, origin in zip(model.calls, report.origins):
        k = (origin - history.start) // STEP
        np.testing.assert_array_equal(seen, y[:, :k])


def test_a_model_cannot_reach_the_future():
    history = synthetic()
    report = backtest.evaluate(history, {'cheater': Cheater},
                               holdout_days=1)
    # Had it been given views of the whole array, it would be perfect.
    assert report.models['cheater'].mae > 0.01


def test_a_model_without_update_is_refitted_on_the_past():
    history = synthetic()
    y = history.values['cpu']
    report = backtest.evaluate(history, {'refit': RefitOnly},
                               holdout_days=1)
    assert report.models['refit'].refitted is True
    assert len(Recorder.instances) == report.origins.size
    for model, origin in zip(Recorder.instances, report.origins):
        k = (origin - history.start) // STEP
        (seen,) = model.calls
        np.testing.assert_array_equal(seen, y[:, :k])


def test_missing_truth_is_skipped_and_short_series_are_counted():
    history = synthetic(n=3)
    y = history.values['cpu']
    y[1, 2 * DAY + 5:2 * DAY + 40] = NAN
    y[2, :2 * DAY - 10] = NAN
    oracle_y = y.copy()
    report = backtest.evaluate(history, {'oracle': lambda: Oracle(
        oracle_y[:2])}, holdout_days=1)
    assert report.skipped == ('vm-2',)
    assert report.instance_ids == ('vm-0', 'vm-1')
    assert report.models['oracle'].mae == 0.0
    assert report.models['oracle'].series == 2


def test_sampled_model_is_scored_on_its_series_only():
    history = synthetic(n=5)
    report = backtest.evaluate(history, {'recorder': Recorder},
                               holdout_days=1, samples={'recorder': 2},
                               seed=3)
    assert report.samples == {'recorder': 2}
    assert report.models['recorder'].series == 2
    assert Recorder.instances[0].data.shape[0] == 2
    # The same points for the ratio: a last-value forecast is persistence.
    assert report.models['recorder'].rmae_persistence == pytest.approx(1.0)


def test_a_failing_model_is_reported_and_the_others_still_run():
    def broken():
        raise RuntimeError('half-written model')

    report = backtest.evaluate(synthetic(), {'broken': broken},
                               holdout_days=1)
    assert 'half-written model' in report.models['broken'].error
    assert report.models['broken'].as_dict()['mae'] is None
    assert report.models['persistence'].error is None


def test_lull_threshold_scales_with_capacity():
    history = synthetic(n=2)
    y = history.values['cpu']
    oracle = {'oracle': lambda: Oracle(y)}
    # Night-time use is about 0.03-0.04: a lull under 10% of one vCPU,
    # none under 10% of a tenth of a vCPU.
    with_lulls = backtest.evaluate(history, oracle, holdout_days=1,
                                   capacity=[1.0, 1.0])
    without = backtest.evaluate(history, oracle, holdout_days=1,
                                capacity=[0.1, 0.1])
    assert with_lulls.models['oracle'].lull_recall == 1.0
    assert np.isnan(without.models['oracle'].lull_recall)
    no_lulls = backtest.evaluate(history, oracle, holdout_days=1,
                                 lull_level=None)
    assert np.isnan(no_lulls.models['oracle'].lull_precision)


def test_holdout_longer_than_the_history_is_refused():
    with pytest.raises(exception.InvalidParameter, match='holdout'):
        backtest.evaluate(synthetic(days=2), {}, holdout_days=7)


def test_wrong_forecast_shape_is_an_error():
    class Flat(Recorder):
        def predict(self, h, levels=base.DEFAULT_LEVELS):
            return np.zeros((1, h, len(levels)))

    report = backtest.evaluate(synthetic(), {'flat': Flat}, holdout_days=1)
    assert 'forecast shape' in report.models['flat'].error


def test_lulls_are_predicted_from_the_upper_quantile():
    class SureOfNothing(Recorder):
        """Median at zero, 0.9 quantile far above any lull level."""

        def predict(self, h, levels=base.DEFAULT_LEVELS):
            q = np.zeros((self.data.shape[0], h, len(levels)))
            q[:, :, np.asarray(levels) >= 0.9] = 10.0
            return q

    report = backtest.evaluate(synthetic(), {'unsure': SureOfNothing},
                               holdout_days=1, capacity=1.0)
    unsure = report.models['unsure']
    assert np.isnan(unsure.lull_precision)
    assert unsure.lull_recall == 0.0


# -- registry ----------------------------------------------------------------

def test_registry_lists_present_models_only(monkeypatch):
    monkeypatch.setattr(registry, 'OPTIONAL', {
        'last_value': 'averaging:LastValue', 'future': 'not_written:Model'})
    assert registry.ours() == ['seasonal_ma', 'last_value']
    assert registry.factory('last_value')().name == 'last_value'
    with pytest.raises(exception.InvalidParameter, match='seasonal_ma'):
        registry.factory('future')


def test_registry_ensemble_hook(monkeypatch):
    monkeypatch.setattr(registry, 'ENSEMBLE_SPEC', 'not_written:Ensemble')
    monkeypatch.setattr(registry, 'ENSEMBLE_FACTORY', None)
    assert registry.ensemble_factory() is None
    assert 'ensemble' not in registry.available()
    monkeypatch.setattr(registry, 'ENSEMBLE_FACTORY', Recorder)
    assert registry.available()[-1] == 'ensemble'
    assert registry.factory('ensemble') is Recorder


def test_registry_register(monkeypatch):
    monkeypatch.setattr(registry, 'MODELS', dict(registry.MODELS))
    registry.register('recorder', Recorder)
    assert 'recorder' in registry.ours()
    with pytest.raises(exception.InvalidParameter):
        registry.register('ensemble', Recorder)
