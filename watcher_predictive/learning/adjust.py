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

"""The adjustments, as small pure functions of stored state and errors.

* ``eg_step``: exponentiated gradient on the pinball loss of the combined
  median. The ensemble's median is a weighted mean of its members'
  medians; the gradient of the pinball loss at level 0.5 with respect to
  a member's weight is ``(1[y < combined] - 0.5) * (member - combined)``,
  divided by the instance's error scale so that one learning rate suits
  busy and idle guests. A fixed share of uniform weight keeps every
  member alive, so that a change of behaviour can be followed.
* ``calibrate``: adaptive conformal calibration. Each central interval
  (80 %, 90 %) has a width factor around the median; after every scored
  forecast its logarithm moves by ``rate * (nominal - observed)``, which
  widens intervals that covered too little and narrows those that
  covered too much, so that observed coverage converges to nominal
  (``forecasts.calibrate_spread`` keeps the 90 % interval around the 80 %
  one without swapping their levels' values).
* ``drifted``: a model's recent (fast) error against its own history
  (slow) and against a reference model's recent error.
* ``next_memory``: the Markov chain's memory (steps a transition counts
  for, ``1 / (1 - forgetting)``) halves when its recent one-step log
  loss rises above its history, and grows back slowly otherwise.
"""

import math

import numpy as np

FAST_RATE = 0.3
SLOW_RATE = 0.03
# Markov memory, in steps: one day of 5-minute steps times 2 ** (j / 2).
MEMORY_BASE = 288
MEMORY_LEVELS = 10
GRADIENT_BOUND = 2.0


def eg_step(weights, member_medians, combined, truth, scale, learning_rate,
            share):
    """One exponentiated-gradient step of member weights.

    :param weights: (members,) current weights, summing to one
    :param member_medians: (members, steps) medians forecast by members
    :param combined: (steps,) the combined median that was issued
    :param truth: (steps,) observed values, NaN where missing
    :returns: new weights (members,)
    """
    weights = np.asarray(weights, float)
    truth = np.asarray(truth, float)
    known = ~np.isnan(truth) & ~np.isnan(combined)
    if not known.any():
        return weights
    below = (truth[known] < combined[known]).astype(float)
    grad = ((below - 0.5)[None, :] *
            (member_medians[:, known] - combined[known][None, :]))
    # Clipped: one wild forecast must not rule a member out at once.
    grad = np.clip(np.nan_to_num(grad.mean(axis=1)) / max(scale, 1e-6),
                   -GRADIENT_BOUND, GRADIENT_BOUND)
    logits = np.log(np.maximum(weights, 1e-300)) - learning_rate * grad
    logits -= logits.max()
    new = np.exp(logits)
    new /= new.sum()
    return (1 - share) * new + share / new.size


def calibrate(log_factor, nominal, observed, rate, bounds=(-2.0, 3.0)):
    """New log width factor of an interval after one scored forecast.

    Bounded: an idle guest's interval covers everything however narrow
    it is, and must not shrink without end before the guest wakes up.
    """
    if observed is None or math.isnan(observed):
        return log_factor
    value = log_factor + rate * (nominal - observed)
    return float(min(bounds[1], max(bounds[0], value)))


def ewma(previous, value, rate, count):
    """Exponentially weighted mean; the first value starts it."""
    if math.isnan(value):
        return previous
    if not count or previous is None:
        return float(value)
    return float(previous + rate * (value - previous))


def drifted(errors, model, reference, tolerance, min_count):
    """Whether ``model``'s recent error drifted.

    :param errors: model -> {'fast', 'slow', 'count'}
    """
    own = errors.get(model)
    if not own or own['count'] < min_count:
        return False
    worse_than_itself = own['fast'] > (1 + tolerance) * own['slow']
    ref = errors.get(reference)
    worse_than_reference = ref is None or own['fast'] > ref['fast']
    return bool(worse_than_itself and worse_than_reference)


def memory_steps(level):
    return MEMORY_BASE * 2 ** (level / 2)


def forgetting(level):
    """Per-step forgetting factor of a memory level."""
    return 1.0 - 1.0 / memory_steps(level)


def next_memory(level, loss_fast, loss_slow, tolerance, count=None,
                min_count=0):
    """Memory level after an audit whose one-step log loss is known."""
    if loss_fast is None or loss_slow is None or (
            count is not None and count < min_count):
        return level
    if loss_fast > (1 + tolerance) * loss_slow:
        return max(0, level - 2)
    return min(MEMORY_LEVELS - 1, level + 0.25)
