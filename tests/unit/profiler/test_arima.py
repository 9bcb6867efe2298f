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

"""BatchedARIMA: agreement with statsmodels, selection, gaps, state.

statsmodels' exact maximum likelihood ARIMA is the reference: on the same
order, AR and MA coefficients within 0.05, innovation variance within 5%
and 1- to 12-step forecasts within 5% of the series' standard deviation
(of its differences for d = 1).
"""

import json
import warnings

import numpy as np
import pytest
from scipy import signal
from scipy import stats
from statsmodels.tsa.arima import model as sm_arima

from tests import traces
from watcher_predictive import exception
from watcher_predictive.profiler import arima
from watcher_predictive.telemetry import trace

STEP = 300
LEVELS = (0.05, 0.1, 0.5, 0.9, 0.95)
COEF_TOL = 0.05
SCALE_TOL = 0.05


def simulate(ar=(), ma=(), d=0, n=1, t=2000, seed=0, mean=0.0, scale=1.0):
    """ARIMA series (n, t): 1 - sum ar B^i on the left, 1 + sum ma B^j on
    the right, after a burn-in.
    """
    rng = np.random.default_rng(seed)
    burn = 500
    noise = scale * rng.standard_normal((n, t + burn))
    x = signal.lfilter(np.r_[1.0, ma], np.r_[1.0, -np.asarray(ar, float)],
                       noise, axis=1)[:, burn:]
    if d:
        x = np.cumsum(x, axis=1)
    return x + mean


def statsmodels_fit(y, order):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = sm_arima.ARIMA(y, order=order,
                               trend='c' if order[1] == 0 else 'n')
        return model, model.fit()


def split_params(result, order):
    names = result.model.param_names
    params = np.asarray(result.params)
    ar = params[[n.startswith('ar.L') for n in names]]
    ma = params[[n.startswith('ma.L') for n in names]]
    return ar, ma, params[names.index('sigma2')]


def state_json(model):
    return json.dumps(model.get_state(), sort_keys=True, allow_nan=False)


# -- agreement with statsmodels ---------------------------------------------

@pytest.mark.parametrize('order, ar, ma', [
    ((1, 0, 0), [0.6], []),
    ((2, 0, 1), [0.5, -0.3], [0.4]),
    ((0, 0, 2), [], [0.5, 0.3]),
    ((1, 0, 1), [0.9], [-0.5]),
    ((0, 1, 1), [], [0.5]),
    ((1, 1, 1), [0.7], [0.4]),
], ids=str)
def test_agrees_with_statsmodels(order, ar, ma):
    p, d, q = order
    y = simulate(ar, ma, d, n=2, t=3000, seed=sum(order), mean=10.0,
                 scale=2.0)
    model = arima.BatchedARIMA(orders=[order]).fit(y, 0, STEP)
    assert model.order_.tolist() == [list(order)] * 2
    assert not model.fallback_.any()
    ours = model.predict(12, (0.1, 0.5, 0.9))
    for i in range(2):
        _, result = statsmodels_fit(y[i], order)
        sm_ar, sm_ma, sm_sigma2 = split_params(result, order)
        np.testing.assert_allclose(model.ar_[i, :p], sm_ar, atol=COEF_TOL)
        np.testing.assert_allclose(model.ma_[i, :q], sm_ma, atol=COEF_TOL)
        assert model.sigma2_[i] == pytest.approx(sm_sigma2, rel=0.05)
        if d == 0:
            assert model.const_[i] == pytest.approx(result.params[0],
                                                    abs=0.1 * y[i].std())
        forecast = result.get_forecast(12)
        scale = np.std(np.diff(y[i]) if d else y[i])
        np.testing.assert_allclose(ours[i, :, 1], forecast.predicted_mean,
                                   atol=SCALE_TOL * scale)
        interval = forecast.conf_int(alpha=0.2)
        np.testing.assert_allclose(ours[i, :, 0], interval[:, 0],
                                   atol=SCALE_TOL * scale)
        np.testing.assert_allclose(ours[i, :, 2], interval[:, 1],
                                   atol=SCALE_TOL * scale)


def test_no_mean_agrees_with_statsmodels_without_trend():
    y = simulate([0.5], [0.3], n=1, t=3000, seed=4)
    model = arima.BatchedARIMA(orders=[(1, 0, 1)], mean=False).fit(
        y, 0, STEP)
    assert model.const_[0] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        result = sm_arima.ARIMA(y[0], order=(1, 0, 1), trend='n').fit()
    assert model.ar_[0, 0] == pytest.approx(result.params[0], abs=COEF_TOL)
    assert model.ma_[0, 0] == pytest.approx(result.params[1], abs=COEF_TOL)
    np.testing.assert_allclose(
        model.predict(12, (0.5,))[0, :, 0],
        result.get_forecast(12).predicted_mean,
        atol=SCALE_TOL * y.std())


@pytest.fixture(scope='module')
def bitbrains_cpu():
    path = traces.trace_path()
    if path is None:
        pytest.skip(traces.missing_message())
    history, _ = trace.load_bitbrains(path, limit=4, step=STEP)
    cpu = history.values['cpu'][:, :2016]
    # Some VMs sit at exactly 0: those are the flat-series tests' business.
    return cpu[np.nanstd(cpu, axis=1) > 0]


def test_bitbrains_fit_is_as_likely_as_statsmodels(bitbrains_cpu):
    """On real CPU series (gaps, spikes) the likelihood surface has
    several optima: our estimate must be at least as likely, by
    statsmodels' own exact likelihood, as the one statsmodels finds.
    """
    y = bitbrains_cpu
    assert y.shape[0] >= 2
    model = arima.BatchedARIMA().fit(y, 0, STEP)
    assert not model.fallback_.any()
    for i in range(y.shape[0]):
        order = tuple(int(v) for v in model.order_[i])
        p, d, q = order
        sm_model, result = statsmodels_fit(y[i], order)
        ours = np.concatenate([
            [model.const_[i]] if d == 0 else [], model.ar_[i, :p],
            model.ma_[i, :q], [model.sigma2_[i]]])
        assert sm_model.loglike(ours) >= result.llf - 1e-3 * result.nobs


def test_bitbrains_ar1_agrees_with_statsmodels(bitbrains_cpu):
    y = bitbrains_cpu
    model = arima.BatchedARIMA(orders=[(1, 0, 0)]).fit(y, 0, STEP)
    median = model.predict(12, (0.5,))[:, :, 0]
    for i in range(y.shape[0]):
        _, result = statsmodels_fit(y[i], (1, 0, 0))
        sm_ar, _, _ = split_params(result, (1, 0, 0))
        assert model.ar_[i, 0] == pytest.approx(sm_ar[0], abs=COEF_TOL)
        np.testing.assert_allclose(
            median[i], result.get_forecast(12).predicted_mean,
            atol=SCALE_TOL * np.nanstd(y[i]))


# -- forecasts -------------------------------------------------------------

def test_intervals_cover_near_nominal():
    h = 12
    y = simulate([0.7], [0.3], n=400, t=1500 + h, seed=11, mean=3.0)
    model = arima.BatchedARIMA().fit(y[:, :-h], 0, STEP)
    q = model.predict(h, LEVELS)
    future = y[:, -h:]
    inside_90 = (future >= q[:, :, 0]) & (future <= q[:, :, 4])
    inside_80 = (future >= q[:, :, 1]) & (future <= q[:, :, 3])
    assert 0.85 <= inside_90.mean() <= 0.95
    assert 0.75 <= inside_80.mean() <= 0.85


def test_interval_width_follows_the_psi_weights():
    y = np.concatenate([simulate([0.8], t=3000, seed=2),
                        simulate(d=1, t=3000, seed=3)])
    model = arima.BatchedARIMA(orders=[(1, 0, 0), (0, 1, 0)]).fit(
        y, 0, STEP)
    assert model.order_.tolist() == [[1, 0, 0], [0, 1, 0]]
    h = np.arange(1, 25)
    q = model.predict(24, (0.1, 0.9))
    half_width = (q[:, :, 1] - q[:, :, 0]) / 2 / stats.norm.ppf(0.9)
    phi = model.ar_[0, 0]
    ar_var = model.sigma2_[0] * (1 - phi ** (2 * h)) / (1 - phi ** 2)
    np.testing.assert_allclose(half_width[0] ** 2, ar_var, rtol=1e-9)
    np.testing.assert_allclose(half_width[1] ** 2, model.sigma2_[1] * h,
                               rtol=1e-9)


def test_quantiles_shape_order_and_negative_values():
    y = simulate([0.5], [0.2], n=3, t=800, seed=5)
    q = arima.BatchedARIMA(mean=False).fit(y, 0, STEP).predict(6, LEVELS)
    assert q.shape == (3, 6, len(LEVELS))
    assert np.all(np.diff(q, axis=-1) >= 0)
    assert np.any(q < 0)  # residuals are not clipped


# -- order selection ---------------------------------------------------------

@pytest.mark.parametrize('ar, d, ma, share', [
    ([0.6], 0, [], 0.9),
    ([], 0, [0.5], 0.7),
    ([0.7], 0, [0.4], 0.7),
    ([], 1, [-0.4], 0.7),
    ([0.6], 1, [], 0.9),
], ids=str)
def test_order_selection_recovers_the_true_order(ar, d, ma, share):
    y = simulate(ar, ma, d, n=60, t=2000, seed=21, mean=5.0)
    model = arima.BatchedARIMA().fit(y, 0, STEP)
    true = [len(ar), d, len(ma)]
    assert np.mean(np.all(model.order_ == true, axis=1)) >= share


def test_aic_keeps_more_terms_than_bic():
    y = simulate([0.5, 0.2], [0.4], n=40, t=600, seed=8)
    bic = arima.BatchedARIMA().fit(y, 0, STEP)
    aic = arima.BatchedARIMA(criterion='aic').fit(y, 0, STEP)
    assert aic.order_[:, [0, 2]].sum() > bic.order_[:, [0, 2]].sum()


# -- batching, gaps, degenerate series ---------------------------------------

def mixed_series():
    t = 1500
    rows = [simulate([0.6], t=t, seed=1)[0],
            simulate([], [0.5], t=t, seed=2)[0],
            simulate([0.3], [0.4], d=1, t=t, seed=3)[0],
            simulate([0.8], [-0.3], t=t, seed=4, mean=2.0)[0],
            simulate([0.5], [0.3], t=t, seed=5)[0],
            np.full(t, 0.4),
            simulate([0.5], t=t, seed=6)[0]]
    y = np.array(rows)
    y[3, 300:420] = np.nan          # a long gap
    y[3, 1000:1500:37] = np.nan     # scattered gaps
    y[4, -5:] = np.nan              # a trailing gap
    y[6, :-25] = np.nan             # short history
    return y


def test_batched_equals_fitting_each_series_alone():
    y = mixed_series()
    batched = arima.BatchedARIMA(chunk_size=3).fit(y, 0, STEP)
    q = batched.predict(12, LEVELS)
    for i in range(y.shape[0]):
        alone = arima.BatchedARIMA().fit(y[i:i + 1], 0, STEP)
        assert alone.order_[0].tolist() == batched.order_[i].tolist()
        assert alone.fallback_[0] == batched.fallback_[i]
        np.testing.assert_allclose(alone.predict(12, LEVELS)[0], q[i],
                                   rtol=1e-7, atol=1e-9)
        one, many = alone.instance_state(0), batched.instance_state(i)
        assert one.keys() == many.keys()
        for key, value in one.items():
            np.testing.assert_allclose(value, many[key], rtol=1e-7,
                                       atol=1e-9, err_msg=key)


def test_gaps_barely_move_the_estimates():
    y = simulate([0.7], [0.3], n=1, t=3000, seed=9, mean=1.0)
    gappy = y.copy()
    rng = np.random.default_rng(0)
    gappy[0, rng.random(3000) < 0.03] = np.nan
    gappy[0, 1200:1500] = np.nan
    whole = arima.BatchedARIMA(orders=[(1, 0, 1)]).fit(y, 0, STEP)
    holed = arima.BatchedARIMA(orders=[(1, 0, 1)]).fit(gappy, 0, STEP)
    assert not holed.fallback_[0]
    np.testing.assert_allclose(holed.ar_, whole.ar_, atol=COEF_TOL)
    np.testing.assert_allclose(holed.ma_, whole.ma_, atol=COEF_TOL)
    assert holed.sigma2_[0] == pytest.approx(whole.sigma2_[0], rel=0.1)
    assert np.all(np.isfinite(holed.predict(12, LEVELS)))


def test_trailing_gap_is_forecast_through():
    y = simulate([0.8], [0.3], n=2, t=2000, seed=12, mean=1.0)
    cut = arima.BatchedARIMA().fit(y[:, :-6], 0, STEP)
    padded = y.copy()
    padded[:, -6:] = np.nan
    model = arima.BatchedARIMA().fit(padded, 0, STEP)
    assert model.order_.tolist() == cut.order_.tolist()
    np.testing.assert_allclose(model.predict(6, (0.5,)),
                               cut.predict(12, (0.5,))[:, 6:],
                               atol=1e-4 * y.std())


def test_flat_series_forecast_their_value():
    t = 600
    y = np.array([np.full(t, 0.7), np.zeros(t), np.full(t, 3.0)])
    y[2, 100:150] = np.nan
    for mean in (True, False):
        model = arima.BatchedARIMA(mean=mean).fit(y, 0, STEP)
        q = model.predict(12, LEVELS)
        assert not np.any(np.isnan(q))
        np.testing.assert_allclose(
            q, np.broadcast_to(np.nanmax(y, axis=1)[:, None, None], q.shape),
            atol=1e-9)
        assert model.fallback_.all()
        assert np.all(model.sigma2_ < 1e-20)


def test_short_history_falls_back_per_instance():
    y = simulate([0.6], n=3, t=600, seed=13, mean=2.0)
    y[1, :-20] = np.nan   # too short for any order: the mean
    y[2, :-45] = np.nan   # long enough for small orders only
    model = arima.BatchedARIMA().fit(y, 0, STEP)
    assert model.fallback_.tolist() == [False, True, True]
    assert model.order_[1].tolist() == [0, 0, 0]
    assert model.const_[1] == pytest.approx(np.nanmean(y[1]))
    assert model.sigma2_[1] == pytest.approx(np.nanvar(y[1]))
    p, d, q = model.order_[2]
    assert 30 + 3 * (p + d + q) <= 45
    assert not np.any(np.isnan(model.predict(6, LEVELS)))


def test_empty_and_never_observed_series():
    model = arima.BatchedARIMA().fit(np.zeros((2, 0)), 0, STEP)
    assert model.fallback_.all()
    assert np.all(model.predict(3, LEVELS) == 0)
    y = np.full((2, 50), np.nan)
    y[1] = 1.0
    model = arima.BatchedARIMA().fit(y, 0, STEP)
    np.testing.assert_allclose(model.predict(3, (0.5,))[:, :, 0],
                               [[0.0] * 3, [1.0] * 3])


# -- state -------------------------------------------------------------------

def test_state_round_trip_through_json():
    y = mixed_series()
    model = arima.BatchedARIMA().fit(y, 600, STEP)
    state = json.loads(state_json(model))
    assert state['model'] == 'arima' and state['version'] == 1
    assert state['step'] == STEP and state['end'] == 600 + y.shape[1] * STEP
    for i, row in enumerate(state['instances']):
        p, d, q = row['order']
        assert len(row['ar']) == p and len(row['ma']) == q
        assert len(row['last_values']) == p + d
        assert len(row['last_innovations']) == q
        assert row == model.instance_state(i)
    rebuilt = arima.BatchedARIMA.from_state(state)
    assert state_json(rebuilt) == state_json(model)
    np.testing.assert_array_equal(rebuilt.predict(24, LEVELS),
                                  model.predict(24, LEVELS))
    new = simulate([0.5], n=y.shape[0], t=12, seed=30)
    np.testing.assert_allclose(rebuilt.update(new).predict(6, LEVELS),
                               model.update(new).predict(6, LEVELS),
                               rtol=1e-12, atol=1e-12)


def test_state_of_another_model_or_version_is_refused():
    state = arima.BatchedARIMA().fit(mixed_series(), 0, STEP).get_state()
    state['version'] = 2
    with pytest.raises(exception.InvalidParameter, match='re-profile'):
        arima.BatchedARIMA.from_state(state)
    state['version'], state['model'] = 1, 'seasonal_ma'
    with pytest.raises(exception.InvalidParameter, match='arima'):
        arima.BatchedARIMA.from_state(state)


def test_predict_does_not_change_the_model():
    model = arima.BatchedARIMA().fit(mixed_series(), 0, STEP)
    before = state_json(model)
    first = model.predict(12, LEVELS)
    model.predict(48, (0.2, 0.8))
    assert state_json(model) == before
    np.testing.assert_array_equal(first, model.predict(12, LEVELS))


def test_unfitted_model_refuses_to_forecast():
    with pytest.raises(exception.PredictiveError, match='fit'):
        arima.BatchedARIMA().predict(3)


# -- updates -----------------------------------------------------------------

def test_fit_state_is_the_update_recursion_over_the_history():
    y = simulate([0.6], [0.4], n=3, t=2000, seed=14, mean=1.0)
    y[2] = simulate([0.3], [0.5], d=1, t=2000, seed=15)[0]
    model = arima.BatchedARIMA().fit(y, 0, STEP)
    phi, const = model._level_form()
    origin = np.where(model.order_[:, 1] == 1, y[:, 0], model.const_)
    values = np.repeat(origin[:, None], phi.shape[1], axis=1)
    values, innovations, _ = arima.advance(
        y, phi, model.ma_, const, values,
        np.zeros_like(model.innovations_))
    np.testing.assert_allclose(model.values_, values, atol=1e-9)
    np.testing.assert_allclose(model.innovations_, innovations, atol=1e-6)


def test_update_keeps_parameters_and_composes():
    y = simulate([0.6], [0.4], n=4, t=1512, seed=16, mean=1.0)
    y[1, -7] = np.nan
    first = arima.BatchedARIMA().fit(y[:, :1500], 0, STEP)
    second = arima.BatchedARIMA.from_state(first.get_state())
    params = (first.order_.copy(), first.ar_.copy(), first.ma_.copy(),
              first.sigma2_.copy())
    first.update(y[:, 1500:])
    second.update(y[:, 1500:1505]).update(y[:, 1505:])
    for before, after in zip(params, (first.order_, first.ar_, first.ma_,
                                      first.sigma2_)):
        np.testing.assert_array_equal(before, after)
    assert first.end_ == second.end_ == 1512 * STEP
    np.testing.assert_allclose(first.values_, second.values_, rtol=1e-12)
    np.testing.assert_allclose(first.innovations_, second.innovations_,
                               rtol=1e-12, atol=1e-15)


def test_update_with_gaps_continues_the_forecast():
    y = simulate([0.7], [0.3], n=3, t=1500, seed=17, mean=1.0)
    model = arima.BatchedARIMA().fit(y, 0, STEP)
    ahead = model.predict(8, (0.5,))
    model.update(np.full((3, 3), np.nan))
    np.testing.assert_allclose(model.predict(5, (0.5,)), ahead[:, 3:],
                               rtol=1e-12)


def test_update_matches_statsmodels_filtering_with_the_same_parameters():
    y = simulate([0.6], [0.5], n=1, t=2024, seed=18, mean=4.0)
    model = arima.BatchedARIMA(orders=[(1, 0, 1)]).fit(y[:, :2000], 0, STEP)
    model.update(y[:, 2000:])
    params = [model.const_[0], model.ar_[0, 0], model.ma_[0, 0],
              model.sigma2_[0]]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        filtered = sm_arima.ARIMA(y[0], order=(1, 0, 1), trend='c').filter(
            params)
    np.testing.assert_allclose(model.predict(12, (0.5,))[0, :, 0],
                               filtered.get_forecast(12).predicted_mean,
                               atol=0.01 * y.std())


def test_update_agrees_with_a_full_fit_within_the_tolerance():
    y = simulate([0.7], [0.3], n=30, t=2300, seed=19, mean=2.0)
    whole = arima.BatchedARIMA().fit(y, 0, STEP)
    model = arima.BatchedARIMA().fit(y[:, :2012], 0, STEP)
    for k in range(2012, 2300, 12):
        model.update(y[:, k:k + 12])
    assert model.end_ == whole.end_
    scale = np.std(y, axis=1)[:, None, None]
    diff = np.abs(model.predict(12, LEVELS) - whole.predict(12, LEVELS))
    assert np.all(diff <= model.UPDATE_TOLERANCE * scale)


# -- parameters --------------------------------------------------------------

@pytest.mark.parametrize('kwargs, name', [
    ({'orders': [(1, 2, 0)]}, 'orders'),
    ({'orders': [(1, 0)]}, 'orders'),
    ({'orders': [(-1, 0, 0)]}, 'orders'),
    ({'orders': [(1.5, 0, 0)]}, 'orders'),
    ({'orders': []}, 'orders'),
    ({'criterion': 'hqic'}, 'criterion'),
    ({'max_iter': -1}, 'max_iter'),
    ({'chunk_size': 0}, 'chunk_size'),
])
def test_invalid_parameters_are_named(kwargs, name):
    with pytest.raises(exception.InvalidParameter, match=name):
        arima.BatchedARIMA(**kwargs)


def test_invalid_inputs_are_named():
    with pytest.raises(exception.InvalidParameter, match='y'):
        arima.BatchedARIMA().fit(np.zeros(10), 0, STEP)
    with pytest.raises(exception.InvalidParameter, match='step'):
        arima.BatchedARIMA().fit(np.zeros((1, 10)), 0, 0)
    model = arima.BatchedARIMA().fit(np.zeros((2, 100)), 0, STEP)
    with pytest.raises(exception.InvalidParameter, match='y_new'):
        model.update(np.zeros((3, 2)))
    with pytest.raises(exception.InvalidParameter, match='finite'):
        model.update(np.full((2, 2), np.inf))
    with pytest.raises(exception.InvalidParameter, match='horizon'):
        model.predict(0)
