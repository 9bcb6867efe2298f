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

"""Arithmetic of the ensemble's combination and of the quantiles the
profiler takes of many series at once."""

import numpy as np


def combine(weights, medians):
    """Weighted sum over members of (members, instances, steps) arrays."""
    combined = weights[0] * medians[0]
    for w, m in zip(weights[1:], medians[1:]):
        combined += w * m
    return combined


def column_quantiles(z, levels):
    """``np.nanquantile(z, levels, axis=0).T`` for a 2-D ``z``, (columns,
    levels), NaN for a column without values.
    """
    return row_quantiles(z.T, levels)


def row_quantiles(z, levels):
    """``np.nanquantile(z, levels, axis=1).T`` for a 2-D ``z``, (rows,
    levels), NaN for a row without values.

    numpy takes the quantiles of every row in a Python loop when there
    are NaN; this sorts all rows at once (NaN last) and interpolates as
    numpy's default ("linear") method does, with the same arithmetic.
    """
    ordered = np.sort(z, axis=1)
    count = np.sum(~np.isnan(z), axis=1)
    last = np.maximum(count - 1, 0)[:, None]
    virtual = last * np.asarray(levels, dtype=float)[None, :]
    below = np.floor(virtual)
    gamma = virtual - below
    below = np.minimum(below.astype(int), last)
    above = np.minimum(below + 1, last)
    a = np.take_along_axis(ordered, below, axis=1)
    b = np.take_along_axis(ordered, above, axis=1)
    diff = b - a
    result = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return np.where(count[:, None] > 0, result, np.nan)
