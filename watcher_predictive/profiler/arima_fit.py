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

"""Batched estimation of ARIMA(p, d, q) models, many series at once.

Pure numpy/scipy; :mod:`watcher_predictive.profiler.arima` wraps it as a
forecasting model, :mod:`.arima_ls` holds its least-squares routines
(Gram matrices, batched solves, conditional sum of squares). For a block
of series shaped ``(instances, steps)``, :func:`estimate` does, every
step vectorised over the instances:

1. **Gaps.** For estimation, a gap is filled by carrying the last observed
   value forward (the first observed value before the first observation).
   A row (time step) is used only when its value and every lag the
   largest order of the grid needs were observed, so filled values never
   enter a sum of squares; an innovation at an unused row is taken as 0
   (its expectation). A long all-NaN stretch only removes rows.
2. **Long AR** (Hannan-Rissanen, step 1), one per differencing order:
   Yule-Walker of order ``~10 log10(steps)`` (at most 40) from FFT
   autocovariances, solved by a batched Levinson-Durbin recursion; its
   residuals stand in for the innovations.
3. **Regressions on lagged values and lagged innovations** (step 2): one
   Gram matrix per differencing order holds the cross products of every
   lag of the largest order of the grid, over rows common to every order.
   Each order of the grid is a sub-block of it, solved for all instances
   at once (``np.linalg.solve`` on ``(instances, k, k)`` stacks).
4. **Order selection** per instance by BIC (or AIC) on those regressions.
   BIC because it is consistent (it finds the true order as the history
   grows, where AIC keeps adding terms) and because a parsimonious model
   extrapolates more safely. Models with and without differencing are
   compared on the same rows and the same scale (one-step errors of the
   levels), so their conditional likelihoods are comparable.
5. **Conditional sum of squares** for the selected order, when it has MA
   terms (without them, step 2 already is least squares): a few batched
   Gauss-Newton steps from the Hannan-Rissanen estimate, halving a step
   that does not lower the sum of squares, with the AR and MA polynomials
   kept stationary and invertible (roots shrunk inside the unit circle)
   as statsmodels enforces them. The MA filter runs through time with
   vectors over the instances; an instance leaves the loop once its
   steps are below ``arima_ls.CONVERGED``. The innovation variance is the
   mean squared one-step error over the rows used.

With ``mean`` the mean of a stationary (d = 0) model is the mean of the
observed values, asymptotically as efficient as its maximum likelihood
estimate for an ARMA process. Differenced models carry no drift.
"""

import numpy as np
from scipy import fft

from watcher_predictive.profiler import arima_ls

# Fewer usable rows than MIN_ROWS_BASE + MIN_ROWS_PER_TERM * (p + d + q)
# rule an order out for an instance.
MIN_ROWS_BASE = 30
MIN_ROWS_PER_TERM = 3


def long_ar_order(n_steps, max_p, max_q):
    """Order of the long autoregression of the Hannan-Rissanen step 1."""
    base = int(round(10 * np.log10(max(n_steps, 10))))
    floor = max_p + max_q + 2
    return int(max(floor, min(base, 40, max(n_steps // 4, 1))))


def fill_gaps(y):
    """Carry the last observed value forward; before the first one, use
    it; a series never observed becomes 0. Returns (filled, observed).
    """
    observed = ~np.isnan(y)
    n, t = y.shape
    index = np.where(observed, np.arange(t), -1)
    np.maximum.accumulate(index, axis=1, out=index)
    first = np.argmax(observed, axis=1)
    index = np.where(index < 0, first[:, None], index)
    filled = np.take_along_axis(y, index, axis=1)
    return np.where(np.isnan(filled), 0.0, filled), observed


def usable_rows(observed, lags):
    """Rows whose value and ``lags`` previous values were all observed."""
    n, t = observed.shape
    missing = np.zeros((n, t + 1))
    np.cumsum(~observed, axis=1, out=missing[:, 1:])
    rows = np.zeros((n, t), dtype=bool)
    if t > lags:
        rows[:, lags:] = (missing[:, lags + 1:] -
                          missing[:, :t - lags]) == 0
    return rows


def _levinson(acov, order):
    """Yule-Walker AR coefficients, batched: x_t ~ sum_k a_k x_{t-k}."""
    n = acov.shape[0]
    coef = np.zeros((n, order))
    err = acov[:, 0].copy()
    live = err > 0
    floor = 1e-12 * np.abs(acov[:, 0])
    for k in range(order):
        acc = acov[:, k + 1] - np.einsum('ij,ij->i', coef[:, :k],
                                         acov[:, k:0:-1])
        refl = np.where(live, acc / np.where(live, err, 1.0), 0.0)
        refl = np.clip(refl, -0.9999, 0.9999)
        previous = coef[:, :k].copy()
        coef[:, k] = refl
        coef[:, :k] = previous - refl[:, None] * previous[:, ::-1]
        err = err * (1.0 - refl ** 2)
        live &= err > floor
    return coef


def long_ar_residuals(x, observed, order):
    """Residuals of a Yule-Walker AR(order) fit, 0 where not observed."""
    n, t = x.shape
    count = np.maximum(observed.sum(axis=1), 1)
    z = np.where(observed, x, 0.0)
    z -= (z.sum(axis=1) / count)[:, None]
    z *= observed
    # Zero padding past t + order keeps lags <= order free of wrap-around.
    # The few lags and coefficients involved go to and from the spectrum
    # by matrix products rather than by transforms of whole rows.
    size = fft.next_fast_len(t + order + 1, real=True)
    spectrum = fft.rfft(z, size, axis=1)
    angle = (2 * np.pi / size) * np.outer(np.arange(order + 1),
                                          np.arange(size // 2 + 1))
    weight = np.full(size // 2 + 1, 2.0 / size)
    weight[0] = 1.0 / size
    if size % 2 == 0:
        weight[-1] = 1.0 / size
    power = spectrum.real ** 2 + spectrum.imag ** 2
    acov = power @ (np.cos(angle) * weight).T / count[:, None]
    coef = _levinson(acov, order)
    poly = np.zeros((n, order + 1))
    poly[:, 0] = 1.0
    poly[:, 1:] = -coef
    spectrum *= poly @ np.exp(-1j * angle)
    resid = fft.irfft(spectrum, size, axis=1)[:, :t]
    resid[:, :order] = 0.0
    resid *= observed
    return resid


def _differenced(filled, observed, mu, d):
    if d == 0:
        return filled - mu[:, None], observed
    x = np.zeros_like(filled)
    x[:, 1:] = filled[:, 1:] - filled[:, :-1]
    seen = np.zeros_like(observed)
    seen[:, 1:] = observed[:, 1:] & observed[:, :-1]
    return x, seen


def _select(grams, orders, n_hr, mean, criterion, var_observed):
    """Information criterion of every order; the best one per instance."""
    n = n_hr.shape[0]
    max_p = max(o[0] for o in orders)
    max_q = max(o[2] for o in orders)
    best_ic = np.full(n, np.inf)
    chosen = np.full(n, -1)
    short = np.zeros(n, dtype=bool)
    any_terms = np.zeros(n, dtype=bool)
    has_terms = any(o[0] + o[2] for o in orders)
    ar = np.zeros((n, max_p))
    ma = np.zeros((n, max_q))
    variance = np.zeros(n)
    size = np.maximum(n_hr, 1)
    floor = 1e-12 * var_observed + 1e-300
    for index, (p, d, q) in enumerate(orders):
        gram = grams[d]
        terms = list(range(1, p + 1)) + list(
            range(max_p + 1, max_p + q + 1))
        coef, singular = arima_ls.solve_batched(
            gram[:, terms][:, :, terms], gram[:, terms, 0])
        rss = gram[:, 0, 0] - np.einsum('ij,ij->i', coef,
                                        gram[:, terms, 0])
        sigma2 = np.maximum(rss / size, floor)
        k = p + q + (1 if mean and d == 0 else 0)
        enough = n_hr >= MIN_ROWS_BASE + MIN_ROWS_PER_TERM * (p + d + q)
        short |= ~enough
        usable = enough & ~singular & np.isfinite(sigma2)
        if p + q:
            any_terms |= usable
        penalty = k * (np.log(size) if criterion == 'bic' else 2.0)
        ic = np.where(usable, size * np.log(sigma2) + penalty, np.inf)
        better = ic < best_ic
        best_ic[better] = ic[better]
        chosen[better] = index
        variance[better] = sigma2[better]
        ar[better] = 0.0
        ar[better, :p] = coef[better, :p]
        ma[better] = 0.0
        ma[better, :q] = coef[better, p:]
    degenerate = short | (has_terms & ~any_terms)
    return chosen, ar, ma, variance, degenerate


def estimate(y, orders, mean=True, criterion='bic', max_iter=3):
    """Select an order per instance and estimate it, all at once.

    :param y: (n, t) float, NaN where missing
    :param orders: sequence of (p, d, q), d in (0, 1)
    :returns: dict of arrays: ``order`` (n, 3), ``ar`` (n, max p), ``ma``
        (n, max q), ``const`` (the mean of a d = 0 model), ``sigma2``,
        ``fallback`` (bool), ``observed`` (count of observed values), and
        the state of the recursion at step ``at`` (the last step whose
        recent values were all observed): ``values`` (n, max p + max d,
        the last levels, most recent first) and ``innovations`` (n,
        max q). The steps after ``at`` are left to the update recursion.
    """
    n, t = y.shape
    max_p = max(o[0] for o in orders)
    max_d = max(o[1] for o in orders)
    max_q = max(o[2] for o in orders)
    filled, observed = fill_gaps(y)
    count = observed.sum(axis=1)
    seen_values = np.where(observed, y, 0.0)
    mu_observed = seen_values.sum(axis=1) / np.maximum(count, 1)
    var_observed = (np.where(observed, y - mu_observed[:, None], 0.0) ** 2
                    ).sum(axis=1) / np.maximum(count, 1)
    high = np.where(observed, y, -np.inf).max(axis=1, initial=-np.inf)
    low = np.where(observed, y, np.inf).min(axis=1, initial=np.inf)
    flat = (count > 0) & (high - low <= 1e-12 * np.maximum(
        np.abs(high), np.abs(low)))
    mu = mu_observed if mean else np.zeros(n)

    lag_span = max(max_p + max_d, max_q)
    rows = usable_rows(observed, lag_span)
    long_order = long_ar_order(t, max_p, max_q)
    start = min(long_order + max_d + max(max_p, max_q), t)
    hr_weight = rows.astype(float)
    hr_weight[:, :start] = 0.0
    n_hr = hr_weight.sum(axis=1).astype(int)
    gapped = np.flatnonzero(n_hr < 0.8 * (t - start))
    few_gaps = hr_weight.copy()
    few_gaps[gapped] = 1.0
    series, grams = {}, {}
    for d in sorted({o[1] for o in orders}):
        x, seen = _differenced(filled, observed, mu, d)
        resid = long_ar_residuals(x, seen, long_order)
        columns = [(x, 0)] + [(x, i) for i in range(1, max_p + 1)]
        columns += [(resid, j) for j in range(1, max_q + 1)]
        series[d] = x
        # Unweighted sums over the rows >= start, less the rows a gap
        # rules out; computed on the rows kept for instances with many gaps.
        grams[d] = arima_ls.drop_rows(
            arima_ls.lagged_gram(columns, start), columns, few_gaps, start)
        if gapped.size:
            grams[d][gapped] = arima_ls.weighted_gram(
                [(c[gapped], lag) for c, lag in columns],
                hr_weight[gapped], start)
    del hr_weight
    chosen, ar, ma, sigma2, degenerate = _select(
        grams, orders, n_hr, mean, criterion, var_observed)
    chosen[flat] = -1
    grid = np.array(orders, dtype=int).reshape(-1, 3)
    order = np.zeros((n, 3), dtype=int)
    fitted = chosen >= 0
    order[fitted] = grid[chosen[fitted]]
    ar = arima_ls.shrink_roots(ar)
    ma = -arima_ls.shrink_roots(-ma)
    const = np.where(fitted & (order[:, 1] == 1), 0.0,
                     np.where(fitted, mu, mu_observed))
    sigma2 = np.where(fitted, sigma2, var_observed)

    # The state is taken from the least squares pass at the last time its
    # recent values and innovations were all observed (``at``), then run
    # through what follows by the update recursion.
    clean = usable_rows(observed, lag_span + max(max_q, 1) - 1)
    at = np.where(clean.any(axis=1),
                  t - 1 - np.argmax(clean[:, ::-1], axis=1), -1)
    at[~fitted] = t - 1
    innovations = np.zeros((n, max_q))

    with_ma = np.flatnonzero(fitted & (order[:, 2] > 0))
    if with_ma.size:
        d = order[with_ma, 1]
        x = series[min(series)][with_ma]
        if len(series) > 1:
            x = np.where((d == 1)[:, None], series[1][with_ma], x)
        phi, theta, sse, innov = arima_ls.refine_css(
            np.ascontiguousarray(x.T), np.ascontiguousarray(
                rows[with_ma].T), ar[with_ma], ma[with_ma],
            order[with_ma, 0], order[with_ma, 2], max_iter, at[with_ma])
        variance = sse / np.maximum(rows[with_ma].sum(axis=1), 1)
        good = np.isfinite(variance) & np.all(np.isfinite(phi), axis=1) & (
            np.all(np.isfinite(theta), axis=1))
        kept = with_ma[good]
        ar[kept] = phi[good]
        ma[kept] = theta[good]
        sigma2[kept] = variance[good]
        innovations[kept] = innov[:, good].T
        lost = with_ma[~good]
        fitted[lost] = False
        order[lost] = 0
        const[lost] = mu_observed[lost]
        sigma2[lost] = var_observed[lost]
    ar[~fitted] = 0.0
    ma[~fitted] = 0.0
    innovations[~fitted] = 0.0

    # The levels at ``at`` (before the series starts: the mean, or the
    # first value of a differenced model).
    width = max_p + max_d
    origin = np.where(order[:, 1] == 1, filled[:, 0], const)
    values = np.repeat(origin[:, None], width, axis=1)
    for j in range(width):
        index = at - j
        seen = index >= 0
        values[seen, j] = filled[seen, index[seen]]
    return {'order': order, 'ar': ar, 'ma': ma, 'const': const,
            'sigma2': sigma2, 'fallback': ~fitted | degenerate,
            'observed': count, 'at': at, 'values': values,
            'innovations': innovations}
