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

"""What the ensemble's median follows, per instance: a reference member
(the last value) unless a candidate has been significantly better.

The candidates are the members and, last, the ensemble's mixture of them
(its weighted combination). At every scoring the ensemble gives each
candidate's absolute errors over the horizon, divided by the instance's
scale. Per instance, the gate keeps the mean over the horizon of each
candidate's error minus the reference's (one difference per scoring), as
exponentially discounted sums of the differences, of their squares and of
the weights, so that it follows a change of behaviour. A candidate is
*significantly better* when its mean difference is below ``-z`` standard
errors (the effective number of scorings being ``(sum of weights)^2 / sum
of squared weights``) after at least ``min_scorings`` scorings. The
instance then follows the candidate with the most significant advantage;
otherwise exactly the reference, so that noise in the scores cannot make
the forecast worse than the reference.
"""

import numpy as np

from watcher_predictive import exception


class SignificanceGate:
    """``by_step``: one choice per instance and horizon step (each step's
    errors are compared on their own), else one per instance (the mean
    over the horizon is compared).
    """

    def __init__(self, reference, z=2.0, discount=0.99, min_scorings=24,
                 by_step=False):
        if z < 0 or not 0 < discount <= 1 or min_scorings < 1:
            raise exception.InvalidParameter(
                name='gate', value=(z, discount, min_scorings),
                reason='z >= 0, discount in (0, 1] and min_scorings >= 1')
        self.reference = int(reference)
        self.z = float(z)
        self.discount = float(discount)
        self.min_scorings = int(min_scorings)
        self.by_step = bool(by_step)

    def start(self, k, n, h):
        """Start with ``k`` candidates (the members, then the mixture),
        ``n`` instances and ``h`` horizon steps.
        """
        width = h if self.by_step else 1
        self.count = np.zeros((n, width))
        self.count_sq = np.zeros((n, width))
        self.diff = np.zeros((k, n, width))
        self.diff_sq = np.zeros((k, n, width))
        self.scorings = np.zeros((n, width), dtype=int)
        return self

    def observe(self, loss, seen):
        """Learn one scoring: ``loss`` (candidates, instances, steps), 0
        where ``seen`` (instances, steps) is False.
        """
        diff = loss - loss[self.reference]
        if self.by_step:
            has = seen
        else:
            counted = seen.sum(axis=1, keepdims=True)
            has = counted > 0
            diff = diff.sum(axis=2, keepdims=True) / np.maximum(counted, 1)
        keep = np.where(has, self.discount, 1.0)
        self.count = keep * self.count + has
        self.count_sq = keep ** 2 * self.count_sq + has
        self.diff = keep * self.diff + diff
        self.diff_sq = keep * self.diff_sq + diff ** 2
        self.scorings += has

    def choice(self):
        """Candidate followed, (instances, 1 or steps)."""
        count = np.maximum(self.count, 1e-12)
        mean = self.diff / count
        variance = np.maximum(self.diff_sq / count - mean ** 2, 1e-12)
        effective = count ** 2 / np.maximum(self.count_sq, 1e-12)
        t = mean / np.sqrt(variance / effective)
        t[self.reference] = 0.0
        best = np.argmin(t, axis=0)
        better = (np.take_along_axis(t, best[None], axis=0)[0] < -self.z) & (
            self.scorings >= self.min_scorings)
        return np.where(better, best, self.reference)

    def weights(self, mixture):
        """The weights (members, instances, steps) the ensemble uses,
        given its mixture weights of the same shape.
        """
        chosen = self.choice()[None]
        k = mixture.shape[0]
        one_hot = (np.arange(k)[:, None, None] == chosen).astype(float)
        return np.where(chosen == k, mixture, one_hot)

    def instance_state(self, i):
        return {'count': self.count[i].tolist(),
                'count_sq': self.count_sq[i].tolist(),
                'diff': self.diff[:, i].tolist(),
                'diff_sq': self.diff_sq[:, i].tolist(),
                'scorings': self.scorings[i].tolist()}

    def load(self, rows, k, h):
        """Rebuild from ``instance_state`` rows (None: never scored), with
        ``k`` candidates and ``h`` horizon steps.
        """
        self.start(k, len(rows), h)
        for i, row in enumerate(rows):
            if not row:
                continue
            self.count[i] = row['count']
            self.count_sq[i] = row['count_sq']
            self.diff[:, i] = row['diff']
            self.diff_sq[:, i] = row['diff_sq']
            self.scorings[i] = row['scorings']
        return self
