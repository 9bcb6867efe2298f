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

"""Least-squares routines of the batched ARIMA estimation
(:mod:`.arima_fit`), every one vectorised over instances: Gram matrices
of lagged series, batched linear solves, root shrinking, the inverse MA
filter and the conditional-sum-of-squares refinement.
"""

import numpy as np

ROOT_LIMIT = 0.998
GRAM_BLOCK = 256
CONVERGED = 1e-5


def lagged_gram(columns, start, time_axis=1):
    """Cross products of lagged series, summed over times >= start.

    :param columns: list of (series, lag); the series are all (n, t)
        (``time_axis=1``) or all (t, n) (``time_axis=0``)
    :returns: (n, k, k), k = len(columns)

    A product whose two lags both exceed those of another product of the
    same two series is that sum with one term moved in and one out, so
    only one full pass per such diagonal is made.
    """
    first = columns[0][0]
    t = first.shape[time_axis]
    n = first.shape[1 - time_axis]
    k = len(columns)
    gram = np.empty((n, k, k))
    where = {(id(series), lag): c for c, (series, lag) in enumerate(columns)}

    def at(series, index):
        return series[index] if time_axis == 0 else series[:, index]

    def dot(a, i, b, j):
        if time_axis == 0:
            return np.einsum('tn,tn->n', a[start - i:t - i],
                             b[start - j:t - j])
        return np.einsum('nt,nt->n', a[:, start - i:t - i],
                         b[:, start - j:t - j])

    pairs = sorted(((c1, c2) for c1 in range(k) for c2 in range(c1, k)),
                   key=lambda pair: columns[pair[0]][1] + columns[pair[1]][1])
    for c1, c2 in pairs:
        (a, i), (b, j) = columns[c1], columns[c2]
        p1 = where.get((id(a), i - 1))
        p2 = where.get((id(b), j - 1))
        if p1 is None or p2 is None:
            total = dot(a, i, b, j)
        else:
            total = gram[:, p1, p2] + at(a, start - i) * at(b, start - j) - (
                at(a, t - i) * at(b, t - j))
        gram[:, c1, c2] = gram[:, c2, c1] = total
    return gram


def drop_rows(gram, columns, weight, start):
    """Take the rows >= start with weight 0 back out of an unweighted gram.

    Cheap when such rows are few (short gaps); an instance with many is
    better served by :func:`weighted_gram`.
    """
    n = weight.shape[0]
    inst, times = np.nonzero(weight[:, start:] == 0)
    if not inst.size:
        return gram
    times += start
    values = [series[inst, times - lag] for series, lag in columns]
    for k, first in enumerate(values):
        for m in range(k, len(values)):
            total = np.bincount(inst, first * values[m], minlength=n)
            gram[:, k, m] -= total
            if m != k:
                gram[:, m, k] -= total
    return gram


def weighted_gram(columns, weight, start):
    """Cross products of lagged (n, t) series over weighted rows >= start.

    :returns: (n, k, k) with k = len(columns)
    """
    n, t = weight.shape
    k = len(columns)
    gram = np.zeros((n, k, k))
    for lo in range(0, n, GRAM_BLOCK):
        hi = min(lo + GRAM_BLOCK, n)
        block = np.empty((hi - lo, k, t - start))
        w = weight[lo:hi, start:]
        for row, (series, lag) in enumerate(columns):
            np.multiply(series[lo:hi, start - lag:t - lag], w,
                        out=block[:, row])
        gram[lo:hi] = block @ block.transpose(0, 2, 1)
    return gram


def solve_batched(gram, rhs, ridge=1e-10):
    """Solve gram @ b = rhs for stacks, on the correlation scale.

    Returns (b, singular): singular where a column has no variance or the
    scaled system is nearly singular (b is then set to 0).
    """
    n, k = rhs.shape
    if k == 0:
        return np.zeros((n, 0)), np.zeros(n, dtype=bool)
    diag = np.einsum('ijj->ij', gram)
    scale = np.sqrt(np.where(diag > 0, diag, 1.0))
    corr = gram / (scale[:, :, None] * scale[:, None, :])
    singular = np.any(diag <= 1e-300, axis=1)
    singular |= ~np.all(np.isfinite(corr), axis=(1, 2))
    corr[singular] = np.eye(k)
    smallest = np.linalg.eigvalsh(corr)[:, 0]
    singular |= smallest < 1e-9
    corr[singular] = np.eye(k)
    corr += ridge * np.eye(k)
    b = np.linalg.solve(corr, (rhs / scale)[:, :, None])[:, :, 0] / scale
    b[singular] = 0.0
    return b, singular


def shrink_roots(coef, limit=ROOT_LIMIT):
    """Keep 1 - sum coef_i z^i free of roots inside the unit circle.

    The inverse roots are the eigenvalues of the companion matrix; where
    the largest modulus exceeds ``limit`` every coefficient i is scaled by
    (limit / modulus)^i, which scales every inverse root alike.
    """
    n, k = coef.shape
    if k == 0 or not n:
        return coef
    companion = np.zeros((n, k, k))
    companion[:, 0, :] = coef
    if k > 1:
        companion[:, np.arange(1, k), np.arange(k - 1)] = 1.0
    modulus = np.abs(np.linalg.eigvals(companion)).max(axis=1)
    factor = np.where(modulus > limit, limit / np.maximum(modulus, 1e-300),
                      1.0)
    return coef * factor[:, None] ** np.arange(1, k + 1)


def inverse_ma(source, theta, keep, with_v=True):
    """Filter by 1 / theta(B) through time: e, u and v at once.

    ``source`` is time-major (t, c, n): the AR-filtered series a and, when
    c = 2, the series x; ``theta`` is (n, Q) and ``keep`` (t, n) 0/1, or
    None when every row is kept. Returns (t, c + 1, n): e = a / theta(B),
    u = x / theta(B) and v = e / theta(B) (without v when ``with_v`` is
    False), each 0 at rows not kept. The recursion steps through time with
    vectors over the instances.
    """
    t, c, n = source.shape
    q = theta.shape[1]
    width = c + 1 if with_v else c
    out = np.zeros((t + q, width, n))
    weights = np.ascontiguousarray(theta.T)
    tmp = np.empty((width, n))
    for i in range(t):
        row = out[i + q]
        row[:c] = source[i]
        for j in range(q):
            np.multiply(weights[j], out[i + q - 1 - j], out=tmp)
            row -= tmp
        if keep is not None:
            row *= keep[i]
        if with_v:
            row[c] += row[0]
    return out[q:]


def refine_css(x, rows, phi, theta, p, q, max_iter, positions=None):
    """Gauss-Newton on the conditional sum of squares, batched.

    :param x: (t, n) time-major series the ARMA applies to (differenced,
        demeaned)
    :param rows: (t, n) bool, rows counted in the sum of squares; False
        for the first max(P, Q) rows
    :param phi: (n, P) start AR coefficients, zeros beyond each order
    :param theta: (n, Q) start MA coefficients, zeros beyond each order
    :param p: (n,) AR order of each instance; ``q`` likewise for MA
    :param max_iter: Gauss-Newton steps at most (each takes one pass of
        the filters through time, and one more pass scores the last)
    :param positions: (n,) time index per instance at which to return the
        last Q innovations (most recent first); -1 for none
    :returns: (phi, theta, sse, innovations (Q, n)), all at the smallest
        sum of squares seen
    """
    t, n = x.shape
    n_ar, n_ma = phi.shape[1], theta.shape[1]
    span = max(n_ar, n_ma)
    positions = np.full(n, -1) if positions is None else np.asarray(
        positions, dtype=int)
    active = np.concatenate([np.arange(n_ar) < p[:, None],
                             np.arange(n_ma) < q[:, None]], axis=1)
    params = np.concatenate([phi, theta], axis=1)
    best = params.copy()
    best_sse = np.full(n, np.inf)
    innovations = np.zeros((n_ma, n))
    done = np.zeros(n, dtype=bool)
    diagonal = np.arange(n_ar + n_ma)
    current = np.arange(n)
    source = None
    for iteration in range(max_iter + 1):
        live = np.flatnonzero(~done)
        if not live.size:
            break
        if source is None or live.size < 0.75 * current.size:
            # (Re)build the working arrays, without the converged instances.
            current = live
            xs = x if current.size == n else x[:, current]
            kept = rows if current.size == n else rows[:, current]
            keep = None if kept.all() else kept.astype(float)
            source = np.empty((t, 2, current.size))
            source[:, 1] = xs
        # The last pass only scores the last step: no Jacobian.
        last = iteration == max_iter
        local = params[current]
        a = source[:, 0]
        a[...] = xs
        for i in range(1, n_ar + 1):
            a[i:] -= local[:, i - 1] * xs[:-i]
        if n_ma:
            filtered = inverse_ma(source[:, :1] if last else source,
                                  local[:, n_ar:], keep, with_v=not last)
            e = filtered[:, 0]
            u, v = (None, None) if last else (filtered[:, 1],
                                              filtered[:, 2])
        else:
            e, u, v = a if keep is None else a * keep, xs, None
        # Rows not kept have e = 0, so the gradient and the sum of squares
        # are exact; the Gauss-Newton matrix counts every row, which only
        # changes the speed of convergence, not where it converges.
        columns = [(e, 0)]
        if not last:
            columns += [(u, i) for i in range(1, n_ar + 1)]
            columns += [(v, j) for j in range(1, n_ma + 1)]
        gram = lagged_gram(columns, min(span, t), time_axis=0)
        sse = gram[:, 0, 0]
        pending = ~done[current]
        improved = pending & (sse <= best_sse[current])
        worse = pending & ~improved
        ids = current[improved]
        best[ids] = local[improved]
        best_sse[ids] = sse[improved]
        columns_kept = np.flatnonzero(improved)
        for lag in range(n_ma):
            index = positions[ids] - lag
            innovations[lag, ids] = np.where(
                index >= 0, e[np.maximum(index, 0), columns_kept], 0.0)
        if last:
            break
        jac = gram[:, 1:, 1:]
        rhs = gram[:, 1:, 0]
        off = ~active[current]
        jac[off] = 0.0
        jac.transpose(0, 2, 1)[off] = 0.0
        jac[:, diagonal, diagonal] += off
        rhs[off] = 0.0
        step, _ = solve_batched(jac, rhs)
        step[off] = 0.0
        step = np.where(np.isfinite(step), step, 0.0)
        moved = local + step
        moved[:, :n_ar] = shrink_roots(moved[:, :n_ar])
        moved[:, n_ar:] = -shrink_roots(-moved[:, n_ar:])
        change = np.abs(moved - local).max(axis=1, initial=0.0)
        params[ids] = moved[improved]
        back = current[worse]
        params[back] = 0.5 * (params[back] + best[back])
        done[ids] = change[improved] < CONVERGED
    return best[:, :n_ar], best[:, n_ar:], best_sse, innovations
