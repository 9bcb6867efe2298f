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

"""Array routines of the Markov chain (:mod:`.markov`): bin edges,
discretisation and transition counting, by blocks of instances, and the
inversion of the predicted bin distributions into quantiles.

Transitions are counted with ``np.bincount`` over flat (instance, state,
state) indices, never with one-hot arrays, and states are small integers:
the temporaries of a block are a few times the block's history.
"""

import warnings

import numpy as np

from watcher_predictive import exception
from watcher_predictive.profiler import combination

BLOCK = 1024
"""Instances learnt at once."""


def uniform_edges(thresholds, low, high, bins=7):
    """Bin edges for ``MarkovChain.fit`` from fixed level thresholds.

    :param thresholds: (..., levels - 1), such as ``capacity * [1/3, 2/3]``;
        leading axes broadcast against (instances, resources)
    :param low: lowest value expected, usually 0; ``high``: the highest,
        usually the capacity. Both broadcast against the leading axes.
    :returns: (..., levels * bins + 1), each level cut into equal bins
    """
    thresholds = np.asarray(thresholds, dtype=float)
    low, high = (np.broadcast_to(np.asarray(bound, dtype=float),
                                 thresholds.shape[:-1])[..., None]
                 for bound in (low, high))
    bounds = np.concatenate([low, thresholds, high], axis=-1)
    if np.any(np.diff(bounds, axis=-1) < 0) or not np.all(
            np.isfinite(bounds)):
        raise exception.InvalidParameter(
            name='thresholds', value=bounds.tolist(), reason='low, the '
            'thresholds and high must be finite and non-decreasing')
    lower, upper = bounds[..., :-1, None], bounds[..., 1:, None]
    inner = lower + (upper - lower) * np.arange(bins) / bins
    return np.concatenate([inner.reshape(bounds.shape[:-1] + (-1,)), high],
                          axis=-1)


def arrays(values, resources):
    """The arrays of ``resources`` in ``values``, checked, not copied."""
    try:
        arrays = [np.asarray(values[r], dtype=float) for r in resources]
    except (KeyError, TypeError):
        raise exception.InvalidParameter(
            name='values', value=list(values), reason='expected a dict '
            'holding %s' % ', '.join(resources))
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 2:
        raise exception.InvalidParameter(
            name='values', value=sorted(shapes),
            reason='every resource must be an array shaped (instances, '
                   'steps), all the same shape')
    return arrays


def quantile_edges(x, width):
    """Edges (instances, resources, width) at the instance's quantiles of
    the steps where every resource was observed.
    """
    observed = ~np.isnan(x).any(axis=1)
    joint = np.where(observed[:, None, :], x, np.nan)
    grid = np.linspace(0.0, 1.0, width)
    n, n_res, m = joint.shape
    # Instances never observed are expected; they get zeros.
    edges = combination.row_quantiles(joint.reshape(n * n_res, m),
                                      grid).reshape(n, n_res, width)
    return np.where(np.isnan(edges), 0.0, edges)


def discretise(x, edges, levels, bins):
    """Joint state (instances, steps), -1 where a resource is missing,
    the bin of every resource inside its level, and the observed mask.
    """
    n, n_res, m = x.shape
    state = np.zeros((n, m), dtype=np.int16)
    local = np.zeros((n, n_res, m), dtype=np.int16)
    for r in range(n_res):
        fine = np.zeros((n, m), dtype=np.int16)
        for edge in edges[:, r, 1:-1].T:
            fine += x[:, r, :] > edge[:, None]
        local[:, r] = fine % bins
        state = state * levels + fine // bins
    observed = ~np.isnan(x).any(axis=1)
    return np.where(observed, state, -1), local, observed


def learn(chain, x, rows):
    """Count the transitions and values of ``x`` (instances of the block
    ``rows``, resources, steps) into ``chain``'s arrays.
    """
    n, n_res, m = x.shape
    if m == 0:
        return
    s, b = chain.n_states, chain.bins
    state, local, observed = discretise(x, chain.edges_[rows], chain.levels,
                                        b)
    # Step t of the chunk is worth f ** (m - 1 - t) at its end, and what
    # was counted before is worth f ** m: the same as f once per step.
    decay = chain.forgetting ** m
    weight = chain.forgetting ** np.arange(m - 1, -1, -1, dtype=float)
    carried = np.where(chain.age_[rows] == 0, chain.last_state_[rows], -1)
    prev = np.concatenate([carried[:, None], state[:, :-1]], axis=1)
    valid = (prev >= 0) & (state >= 0)
    # Flat (instance, state, state) indices of the transitions, selected
    # in row-major order as np.nonzero would list them.
    first = np.arange(n, dtype=np.int64)[:, None] * s
    flat = ((first + prev) * s + state)[valid]
    # Without forgetting every weight is 1: count without weights.
    full = None
    if chain.forgetting != 1.0:
        full = np.broadcast_to(weight, (n, m))
    chain.counts_[rows] = chain.counts_[rows] * decay + np.bincount(
        flat, weights=None if full is None else full[valid],
        minlength=n * s * s).reshape(n, s, s)
    chain.transitions_[rows] += valid.sum(axis=1)

    flat = np.concatenate([
        (((first + state) * n_res + r) * b + local[:, r])[observed]
        for r in range(n_res)])
    chain.values_[rows] = chain.values_[rows] * decay + np.bincount(
        flat, weights=None if full is None else np.tile(full[observed],
                                                        n_res),
        minlength=n * s * n_res * b).reshape(n, s, n_res, b)
    chain.observed_[rows] += observed.sum(axis=1)

    seen = observed.any(axis=1)
    edges = chain.edges_[rows]
    if np.any(seen):
        joint = np.where(observed[:, None, :], x, np.nan)[seen]
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            low, high = np.nanmin(joint, axis=2), np.nanmax(joint, axis=2)
        edges[seen, :, 0] = np.minimum(edges[seen, :, 0], low)
        edges[seen, :, -1] = np.maximum(edges[seen, :, -1], high)
    last = m - 1 - np.argmax(observed[:, ::-1], axis=1)
    chain.last_state_[rows] = np.where(seen, state[np.arange(n), last],
                                       chain.last_state_[rows])
    chain.age_[rows] = np.where(seen, m - 1 - last, chain.age_[rows] + m)


def check_horizon(h):
    if int(h) != h or h <= 0:
        raise exception.InvalidParameter(
            name='h', value=h, reason='the horizon must be a whole number '
                                      'of steps, at least one')


def normalise(weights):
    """Rows summing to one; a row without weight becomes uniform."""
    total = weights.sum(axis=-1, keepdims=True)
    return np.where(total > 0, weights / np.where(total > 0, total, 1.0),
                    1.0 / weights.shape[-1])


def step(dist, matrix):
    return (dist[:, None, :] @ matrix)[:, 0, :]


def invert_cdf(mass, edges, levels):
    """Quantiles at ``levels`` of piecewise-uniform distributions.

    :param mass: (instances, h, bins), probability of every bin
    :param edges: (instances, bins + 1)
    """
    cdf = np.concatenate([np.zeros(mass.shape[:-1] + (1,)),
                          np.cumsum(mass, axis=-1)], axis=-1)
    cdf /= np.where(cdf[..., -1:] > 0, cdf[..., -1:], 1.0)
    upper = (cdf[..., None, :] < levels[:, None]).sum(axis=-1)
    upper = np.clip(upper, 1, mass.shape[-1])
    edges = np.broadcast_to(edges[:, None, :], cdf.shape)
    lo_c = np.take_along_axis(cdf, upper - 1, axis=-1)
    hi_c = np.take_along_axis(cdf, upper, axis=-1)
    lo_e = np.take_along_axis(edges, upper - 1, axis=-1)
    hi_e = np.take_along_axis(edges, upper, axis=-1)
    frac = np.clip((levels - lo_c) / np.where(hi_c > lo_c, hi_c - lo_c, 1.0),
                   0.0, 1.0)
    return lo_e + frac * (hi_e - lo_e)
