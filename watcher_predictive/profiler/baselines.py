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

"""Reference forecasts the plugin's models are measured against.

* ``Persistence``: the last observed value, held flat;
* ``SeasonalNaive``: the value observed one season (a day) earlier;
* ``StatsmodelsArima``: statsmodels' own ARIMA(2,1,1), fitted per series.

They follow the ``fit(y, start, step)`` / ``update(y_new)`` /
``predict(h, levels)`` contract of ``base.ForecastModel`` so that the
backtest runs them like any model, but they are evaluation tools: they are
never stored, so they keep no versioned state.

Intervals: ``Persistence`` and ``SeasonalNaive`` take the empirical
quantiles of their own errors over the fitted data (per lead for
persistence, one set for the seasonal naive, whose error does not depend on
the lead within a season), shifted so that the median forecast is exactly
the textbook point forecast. ``fit`` learns them; ``update`` only moves the
point forecast. ``StatsmodelsArima`` gives statsmodels' Gaussian intervals.
No baseline is clipped at zero: they are the methods as published.
"""

import warnings

import numpy as np
from scipy import stats

from watcher_predictive import exception
from watcher_predictive.profiler import base

DAY = 86400
# Levels at which error quantiles are kept; predictions at other levels
# interpolate between them.
ERROR_LEVELS = np.round(np.linspace(0.01, 0.99, 99), 2)


def nan_quantiles(values, levels):
    """Quantiles of each row of ``values`` (n, m), ignoring NaN.

    numpy's default (linear) method, vectorised over rows; a row without
    any value gives 0.
    """
    values = np.asarray(values, dtype=float)
    levels = np.asarray(levels, dtype=float)
    if values.shape[1] == 0:
        return np.zeros((values.shape[0], levels.size))
    ordered = np.sort(values, axis=1)
    count = np.sum(~np.isnan(values), axis=1)
    position = levels[None, :] * np.maximum(count - 1, 0)[:, None]
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, np.maximum(count - 1, 0)[:, None])
    frac = position - lower
    result = (np.take_along_axis(ordered, lower, 1) * (1 - frac)
              + np.take_along_axis(ordered, upper, 1) * frac)
    result[count == 0] = 0.0
    return result


def last_observed(y, previous=None):
    """Last non-NaN value of each row; ``previous`` (or NaN) where none."""
    y = np.asarray(y, dtype=float)
    n, t = y.shape
    result = np.full(n, np.nan) if previous is None else previous.copy()
    if t:
        seen = ~np.isnan(y)
        index = t - 1 - np.argmax(seen[:, ::-1], axis=1)
        has = seen.any(axis=1)
        result[has] = y[has, index[has]]
    return result


def _spread(table, levels):
    """Error quantiles at ``levels`` minus their median, from a table
    (..., len(ERROR_LEVELS)); levels outside the table take its ends.
    """
    wanted = np.clip(np.concatenate([levels, [0.5]]), ERROR_LEVELS[0],
                     ERROR_LEVELS[-1])
    position = np.interp(wanted, ERROR_LEVELS, np.arange(ERROR_LEVELS.size))
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, ERROR_LEVELS.size - 1)
    frac = position - lower
    at = table[..., lower] * (1 - frac) + table[..., upper] * frac
    return at[..., :-1] - at[..., -1:]


def _check_y(y):
    y = np.asarray(y, dtype=float)
    if y.ndim != 2:
        raise exception.InvalidParameter(
            name='y', value=y.shape,
            reason='expected an array shaped (instances, steps)')
    return y


def _check_predict(model, h, levels):
    if not hasattr(model, 'end_'):
        raise exception.PredictiveError(
            'The %s baseline has not been fitted: call fit() first.'
            % model.name)
    if h <= 0:
        raise exception.InvalidParameter(
            name='h', value=h, reason='the horizon must be at least one step')
    return base.check_levels(levels)


class Persistence:
    """The last observed value, for every step of the horizon.

    :param max_lead: leads (in steps) for which error quantiles are
        learned; longer leads reuse the last one's.
    """

    name = 'persistence'

    def __init__(self, max_lead=36):
        if max_lead < 1:
            raise exception.InvalidParameter(
                name='max_lead', value=max_lead,
                reason='at least one step of lead is needed')
        self.max_lead = int(max_lead)

    def fit(self, y, start, step):
        y = _check_y(y)
        self.step_ = int(step)
        self.end_ = int(start + y.shape[1] * step)
        self.last_ = last_observed(y)
        self.fallback_ = np.sum(~np.isnan(y), axis=1) < 2
        leads = []
        for lead in range(1, self.max_lead + 1):
            change = y[:, lead:] - y[:, :-lead] if lead < y.shape[1] else \
                np.full((y.shape[0], 0), np.nan)
            leads.append(nan_quantiles(change, ERROR_LEVELS))
        self.error_ = np.stack(leads, axis=1)
        return self

    def update(self, y_new):
        y_new = _check_y(y_new)
        self.last_ = last_observed(y_new, self.last_)
        self.end_ += y_new.shape[1] * self.step_
        return self

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        levels = _check_predict(self, h, levels)
        lead = np.minimum(np.arange(h), self.max_lead - 1)
        spread = _spread(self.error_[:, lead], levels)
        return np.sort(self.last_[:, None, None] + spread, axis=-1)


class SeasonalNaive:
    """The value observed ``season`` seconds (default a day) earlier.

    Where that value is missing, the last observed value answers instead.
    Beyond one season the forecast repeats itself, as the method does.
    """

    name = 'seasonal_naive'

    def __init__(self, season=DAY):
        self.season = int(season)

    def fit(self, y, start, step):
        y = _check_y(y)
        if step <= 0 or self.season % step:
            raise exception.InvalidParameter(
                name='step', value=step,
                reason='the step must divide the season (%d s) evenly'
                       % self.season)
        self.step_ = int(step)
        self.end_ = int(start + y.shape[1] * step)
        period = self.season // self.step_
        self.buffer_ = self._keep(np.full((y.shape[0], 0), np.nan), y)
        self.last_ = last_observed(y)
        self.fallback_ = np.sum(~np.isnan(y), axis=1) <= period
        change = y[:, period:] - y[:, :-period] if y.shape[1] > period \
            else np.full((y.shape[0], 0), np.nan)
        self.error_ = nan_quantiles(change, ERROR_LEVELS)
        return self

    def _keep(self, buffer, y_new):
        period = self.season // self.step_
        joined = np.concatenate([buffer, y_new], axis=1)[:, -period:]
        if joined.shape[1] < period:
            pad = np.full((joined.shape[0], period - joined.shape[1]),
                          np.nan)
            joined = np.concatenate([pad, joined], axis=1)
        return joined

    def update(self, y_new):
        y_new = _check_y(y_new)
        self.buffer_ = self._keep(self.buffer_, y_new)
        self.last_ = last_observed(y_new, self.last_)
        self.end_ += y_new.shape[1] * self.step_
        return self

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        levels = _check_predict(self, h, levels)
        period = self.buffer_.shape[1]
        point = self.buffer_[:, np.arange(h) % period]
        point = np.where(np.isnan(point), self.last_[:, None], point)
        spread = _spread(self.error_, levels)
        return np.sort(point[:, :, None] + spread[:, None, :], axis=-1)


class StatsmodelsArima:
    """statsmodels' ARIMA, fitted once per series, then filtered forward.

    ``fit`` estimates the parameters of every series by maximum likelihood
    (``statsmodels.tsa.arima.model.ARIMA(...).fit()``); it is slow, a
    fraction of a second per series. ``update`` applies the fitted
    parameters to the new data without re-estimating them (statsmodels'
    ``results.extend``: the Kalman filter continues from the last state,
    which gives the same forecasts as ``results.append(..., refit=False)``
    at a fraction of the cost). Quantiles are statsmodels' Gaussian ones:
    ``mean + se * z(level)``.

    A series whose fit fails, or with fewer than ``min_observed`` samples,
    falls back to a random walk (ARIMA(0,1,0)) and is flagged in
    ``fallback_``; a series never observed forecasts NaN.
    """

    name = 'statsmodels_arima'

    def __init__(self, order=(2, 1, 1), min_observed=50):
        self.order = tuple(int(k) for k in order)
        self.min_observed = int(min_observed)

    @staticmethod
    def _fit_one(series, order):
        from statsmodels.tsa.arima import model as arima_model
        with warnings.catch_warnings():
            # Convergence and starting-parameter warnings are routine on
            # idle or flat guests; the fallback handles real failures.
            warnings.simplefilter('ignore')
            # No parameter covariance: only the estimates are used.
            results = arima_model.ARIMA(series, order=order).fit(
                cov_type='none')
        if not np.all(np.isfinite(results.params)):
            raise ValueError('non-finite parameters')
        return results

    def fit(self, y, start, step):
        y = _check_y(y)
        self.step_ = int(step)
        self.end_ = int(start + y.shape[1] * step)
        self.results_ = []
        self.fallback_ = np.zeros(y.shape[0], dtype=bool)
        for i, series in enumerate(y):
            observed = int(np.sum(~np.isnan(series)))
            results = None
            if observed >= self.min_observed:
                try:
                    results = self._fit_one(series, self.order)
                except Exception:  # any failure: fall back
                    results = None
            if results is None and observed:
                self.fallback_[i] = True
                try:
                    results = self._fit_one(series, (0, 1, 0))
                except Exception:  # then a random walk cannot help
                    results = None
            self.results_.append(results)
        return self

    def update(self, y_new):
        y_new = _check_y(y_new)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            self.results_ = [None if r is None else r.extend(row)
                             for r, row in zip(self.results_, y_new)]
        self.end_ += y_new.shape[1] * self.step_
        return self

    def predict(self, h, levels=base.DEFAULT_LEVELS):
        levels = _check_predict(self, h, levels)
        z = stats.norm.ppf(levels)
        out = np.full((len(self.results_), h, levels.size), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            for i, results in enumerate(self.results_):
                if results is None:
                    continue
                forecast = results.get_forecast(h)
                mean = np.asarray(forecast.predicted_mean, dtype=float)
                se = np.asarray(forecast.se_mean, dtype=float)
                out[i] = mean[:, None] + se[:, None] * z[None, :]
        return out
