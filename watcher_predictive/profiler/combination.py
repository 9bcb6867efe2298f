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

"""Arithmetic of the ensemble's combination, over all instances at once."""

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

    numpy takes the quantiles of every column in a Python loop; this
    sorts all columns at once (NaN last) and interpolates as numpy's
    default ("linear") method does, with the same arithmetic.
    """
    ordered = np.sort(z, axis=0)
    count = np.sum(~np.isnan(z), axis=0)
    last = np.maximum(count - 1, 0)[:, None]
    virtual = last * np.asarray(levels, dtype=float)[None, :]
    below = np.floor(virtual)
    gamma = virtual - below
    below = np.minimum(below.astype(int), last)
    above = np.minimum(below + 1, last)
    columns = np.arange(z.shape[1])[:, None]
    a, b = ordered[below, columns], ordered[above, columns]
    diff = b - a
    result = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return np.where(count[:, None] > 0, result, np.nan)
