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

"""Markov chain over the joint levels of several resources.

Each resource of each instance is cut into ``levels`` levels (low, medium,
high for three); a state is the tuple of levels, such as
``cpu=high,memory=low``, so that sequences like "high CPU then high memory"
are learnt. Per instance the model keeps:

* ``edges_`` (instances, resources, levels * bins + 1): every level cut
  into ``bins`` bins; the level thresholds are every ``bins``-th edge. By
  default the edges are the instance's own quantiles of the history given
  to ``fit`` (terciles for three levels); fixed thresholds, such as thirds
  of the flavor's capacity, are passed through ``uniform_edges``. A value
  equal to a threshold is in the lower level (an idle guest's zeros are
  "low"); the outer edges follow the lowest and highest values seen;
* ``counts_`` (instances, states, states): transitions between consecutive
  steps where every resource was observed (a gap breaks the sequence);
  probabilities are ``counts + smoothing`` normalised per row;
* ``values_`` (instances, states, resources, bins): how often each bin of
  each resource was seen in each state, from which quantiles are drawn.

With ``forgetting`` f < 1 each step multiplies what was counted before by
f (half-life ln 2 / -ln f steps); the learning module may change f between
updates. ``fit`` fixes the edges and ``update`` keeps them, so counts stay
meaningful; ``fit(part)`` then ``update(rest)`` equals ``fit(part + rest,
edges=<the first fit's edges_>)``, bit for bit when f is 1 and to rounding
otherwise. Instances with fewer than ``min_transitions`` transitions are
marked in ``fallback_`` and forecast from the marginal distribution of
their states (how often each was seen) instead of the chain.
"""

import itertools

import numpy as np

from watcher_predictive import exception
from watcher_predictive.profiler import base
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.profiler import markov_fit

MAX_STATES = 256


def level_names(levels):
    """Operator names of the levels, lowest first."""
    if levels == 2:
        return ('low', 'high')
    if levels == 3:
        return ('low', 'medium', 'high')
    return ('low',) + tuple('mid%d' % k for k in range(1, levels - 1)) + (
        'high',)


uniform_edges = markov_fit.uniform_edges


class MarkovChain:
    """Markov chain over joint resource levels, vectorised over instances.

    It is not a ``base.ForecastModel``: it learns several resources at
    once, so ``fit`` takes a dict of arrays. ``predict`` gives quantiles
    of one resource in the ``ForecastModel`` layout, ``predict_states``
    the probability of every state.
    """

    name = 'markov'
    STATE_VERSION = 1
    UPDATE_EXACT = True
    UPDATE_TOLERANCE = 0.0

    def __init__(self, levels=3, resources=('cpu', 'memory'), smoothing=1.0,
                 forgetting=1.0, bins=7, min_transitions=50):
        resources = tuple(resources)
        problem = None
        if not resources or len(set(resources)) != len(resources) or any(
                r not in history_mod.RESOURCES for r in resources):
            problem = ('resources', resources, 'give distinct resources '
                       'among %s' % ', '.join(history_mod.RESOURCES))
        elif int(levels) != levels or levels < 2 or int(
                bins) != bins or bins < 1:
            problem = ('levels/bins', (levels, bins),
                       'at least 2 levels and 1 bin per level')
        elif int(levels) ** len(resources) > MAX_STATES:
            problem = ('levels', levels, 'more than %d states; use fewer '
                       'levels or resources' % MAX_STATES)
        elif smoothing < 0 or min_transitions < 0:
            problem = ('smoothing/min_transitions',
                       (smoothing, min_transitions), 'neither may be '
                       'negative')
        if problem:
            raise exception.InvalidParameter(
                name=problem[0], value=problem[1], reason=problem[2])
        self.levels = int(levels)
        self.resources = resources
        self.smoothing = float(smoothing)
        self.forgetting = forgetting
        self.bins = int(bins)
        self.min_transitions = int(min_transitions)
        self.n_states = self.levels ** len(resources)
        # Level of every resource in every state, first resource most
        # significant: state = sum(level[r] * levels ** (R - 1 - r)).
        self._state_levels = np.array(list(itertools.product(
            range(self.levels), repeat=len(resources))), dtype=int)

    @property
    def forgetting(self):
        return self._forgetting

    @forgetting.setter
    def forgetting(self, value):
        if not 0 < value <= 1:
            raise exception.InvalidParameter(
                name='forgetting', value=value, reason='the per-step factor '
                'must be in (0, 1]; 1 keeps every transition')
        self._forgetting = float(value)

    # -- fitting -----------------------------------------------------------

    def fit(self, values, start, step, edges=None):
        """Learn from ``values``: resource -> array (instances, steps).

        :param start: epoch seconds of the first step
        :param step: grid step in seconds
        :param edges: bin edges (instances, resources, levels * bins + 1)
            or broadcastable to it, for example ``uniform_edges(...)`` or
            an earlier fit's ``edges_``; default: the instance's quantiles
        :returns: self
        """
        if step <= 0:
            raise exception.InvalidParameter(
                name='step', value=step,
                reason='the grid step must be a positive number of seconds')
        arrays = markov_fit.arrays(values, self.resources)
        n = arrays[0].shape[0]
        width = self.levels * self.bins + 1
        quantiles = edges is None
        if quantiles:
            edges = np.zeros((n, len(self.resources), width))
        else:
            edges = np.array(np.broadcast_to(
                np.asarray(edges, dtype=float),
                (n, len(self.resources), width)))
            if not np.all(np.isfinite(edges)) or np.any(
                    np.diff(edges, axis=-1) < 0):
                raise exception.InvalidParameter(
                    name='edges', value=edges.shape,
                    reason='edges must be finite and non-decreasing; build '
                           'them with uniform_edges()')
        s, r = self.n_states, len(self.resources)
        self.step_ = int(step)
        self.end_ = int(start)
        self.edges_ = edges
        self.counts_ = np.zeros((n, s, s))
        self.values_ = np.zeros((n, s, r, self.bins))
        self.last_state_ = np.full(n, -1, dtype=int)
        self.age_ = np.zeros(n, dtype=int)
        self.transitions_ = np.zeros(n, dtype=int)
        self.observed_ = np.zeros(n, dtype=int)
        self._learn(arrays, quantiles)
        return self

    def update(self, values_new):
        """Learn the steps that follow ``end_``; the edges are kept.

        :returns: self
        """
        self._check_fitted()
        arrays = markov_fit.arrays(values_new, self.resources)
        if arrays[0].shape[0] != self.edges_.shape[0]:
            raise exception.InvalidParameter(
                name='values_new', value=arrays[0].shape[0],
                reason='the model was fitted on %d instances; update them '
                       'all, in the same order' % self.edges_.shape[0])
        self._learn(arrays)
        return self

    def _learn(self, arrays, quantiles=False):
        """Learn by blocks of instances, which bounds the temporaries (the
        instances are independent).
        """
        n, m = arrays[0].shape
        for begin in range(0, n, markov_fit.BLOCK):
            rows = slice(begin, begin + markov_fit.BLOCK)
            x = np.stack([a[rows] for a in arrays], axis=1)
            if quantiles:
                self.edges_[rows] = markov_fit.quantile_edges(
                    x, self.levels * self.bins + 1)
            markov_fit.learn(self, x, rows)
        self.end_ += m * self.step_
        self.fallback_ = self.transitions_ < self.min_transitions

    # -- probabilities -----------------------------------------------------

    def _check_fitted(self):
        if not hasattr(self, 'counts_'):
            raise exception.PredictiveError(
                'The %s model has not been fitted: call fit() or '
                'from_state() first.' % self.name)

    def state_labels(self):
        """Names of the states, e.g. ``cpu=high,memory=low``."""
        names = level_names(self.levels)
        return [','.join('%s=%s' % (r, names[lvl])
                         for r, lvl in zip(self.resources, row))
                for row in self._state_levels]

    @property
    def thresholds_(self):
        """Level thresholds (instances, resources, levels - 1)."""
        return self.edges_[:, :, self.bins:-1:self.bins]

    def transition_matrix(self):
        """Estimated P(next state | state), (instances, states, states)."""
        self._check_fitted()
        return markov_fit.normalise(self.counts_ + self.smoothing)

    def marginal(self):
        """How often each state was seen, smoothed, (instances, states)."""
        self._check_fitted()
        seen = self.values_[:, :, 0, :].sum(axis=-1)
        return markov_fit.normalise(seen + self.smoothing)

    def _chain(self):
        # Fallback instances jump to the marginal from any state.
        matrix = self.transition_matrix()
        marginal = self.marginal()
        matrix[self.fallback_] = marginal[self.fallback_, None, :]
        return matrix, marginal

    def predict_states(self, h):
        """State distribution of the next ``h`` steps after ``end_``,
        (instances, h, states), from the last observed state: matrix powers
        of the transition matrix, batched over instances. Pure.
        """
        self._check_fitted()
        markov_fit.check_horizon(h)
        matrix, marginal = self._chain()
        n = matrix.shape[0]
        known = self.last_state_ >= 0
        dist = marginal.copy()
        dist[known] = np.eye(self.n_states)[self.last_state_[known]]
        # The last observation may be some steps before end_: move it on
        # by age_ steps (binary powers, per instance).
        age, power = self.age_.copy(), matrix
        while np.any(age > 0):
            odd = age % 2 == 1
            dist[odd] = markov_fit.step(dist[odd], power[odd])
            age //= 2
            if np.any(age > 0):
                power = power @ power
        out = np.empty((n, int(h), self.n_states))
        for k in range(int(h)):
            dist = markov_fit.step(dist, matrix)
            out[:, k] = dist
        return out

    def predict(self, h, levels=base.DEFAULT_LEVELS, resource='cpu'):
        """Quantiles (instances, h, len(levels)) of one resource: the
        mixture, over the predicted states, of the values seen in each.
        Pure.
        """
        levels = base.check_levels(levels)
        r = self._resource_index(resource)
        mass = self.predict_states(h) @ self._conditional(r)
        return markov_fit.invert_cdf(mass, self.edges_[:, r, :], levels)

    def _resource_index(self, resource):
        if resource not in self.resources:
            raise exception.InvalidParameter(
                name='resource', value=resource,
                reason='this chain models %s' % ', '.join(self.resources))
        return self.resources.index(resource)

    def _conditional(self, r):
        """P(bin of resource r | state), (instances, states, all bins).

        A state's own histogram is shrunk towards the pooled histogram of
        every state sharing its level of r (weight ``smoothing``), so that
        a rarely seen state still has a distribution.
        """
        hist = self.values_[:, :, r, :]
        level = self._state_levels[:, r]
        pooled = np.stack([hist[:, level == lvl].sum(axis=1)
                           for lvl in range(self.levels)], axis=1)
        prior = markov_fit.normalise(pooled)[:, level, :]
        total = hist.sum(axis=-1, keepdims=True) + self.smoothing
        dist = np.where(total > 0, (hist + self.smoothing * prior) /
                        np.where(total > 0, total, 1.0), prior)
        cond = np.zeros(hist.shape[:2] + (self.levels * self.bins,))
        columns = level[:, None] * self.bins + np.arange(self.bins)
        cond[:, np.arange(self.n_states)[:, None], columns] = dist
        return cond

    def sequence_probability(self, first, then, within):
        """P(a state matching ``then`` within ``within`` steps | a state
        matching ``first`` now), per instance.

        Conditions are dicts such as ``{'cpu': 'high'}`` or labels such as
        ``'cpu=high'``; ``first=None`` starts from the marginal, the
        baseline to compare with. The current state is drawn from the
        marginal restricted to ``first``.
        """
        markov_fit.check_horizon(within)
        matrix, marginal = self._chain()
        start = marginal * self._matching(first)
        start = markov_fit.normalise(start) * self._matching(first)
        target = self._matching(then).astype(float)
        hit = np.zeros_like(marginal)
        for _ in range(int(within)):
            hit = (matrix @ (target + (1 - target) * hit)[..., None])[..., 0]
        return (start * hit).sum(axis=-1)

    def _matching(self, condition):
        match = np.ones(self.n_states, dtype=bool)
        try:
            if isinstance(condition, str):
                condition = dict(part.split('=') for part in
                                 condition.split(','))
        except ValueError:
            raise exception.InvalidParameter(
                name='condition', value=condition,
                reason="write it as 'cpu=high,memory=low'")
        names = level_names(self.levels)
        for resource, level in (condition or {}).items():
            r = self._resource_index(resource.strip())
            if isinstance(level, str) and level.strip() in names:
                level = names.index(level.strip())
            if level not in range(self.levels):
                raise exception.InvalidParameter(
                    name='level', value=level,
                    reason='levels are %s or 0 to %d' % (
                        ', '.join(names), self.levels - 1))
            match &= self._state_levels[:, r] == level
        return match

    # -- state -------------------------------------------------------------

    def get_state(self):
        self._check_fitted()
        return {
            'model': self.name, 'version': self.STATE_VERSION,
            'params': {'levels': self.levels,
                       'resources': list(self.resources),
                       'smoothing': self.smoothing,
                       'forgetting': self.forgetting, 'bins': self.bins,
                       'min_transitions': self.min_transitions},
            'step': self.step_, 'end': self.end_,
            'states': self.state_labels(),
            'instances': [self.instance_state(i)
                          for i in range(len(self.last_state_))],
        }

    def instance_state(self, i):
        # Full precision: JSON floats round-trip exactly, and later
        # updates must continue from exactly these counts.
        return {
            'edges': self.edges_[i].tolist(),
            'counts': self.counts_[i].tolist(),
            'values': self.values_[i].tolist(),
            'last_state': int(self.last_state_[i]),
            'age': int(self.age_[i]),
            'transitions': int(self.transitions_[i]),
            'observed': int(self.observed_[i]),
            'fallback': bool(self.fallback_[i]),
        }

    @classmethod
    def from_state(cls, state):
        if state.get('model') != cls.name or state.get(
                'version') != cls.STATE_VERSION:
            raise exception.InvalidParameter(
                name='state', value={k: state.get(k) for k in (
                    'model', 'version')},
                reason='expected model %s version %d; re-profile the '
                       'instance' % (cls.name, cls.STATE_VERSION))
        model = cls(**state.get('params', {}))
        rows = state['instances']
        s, r = model.n_states, len(model.resources)
        model.step_, model.end_ = int(state['step']), int(state['end'])
        for key, shape, dtype in (
                ('edges', (r, model.levels * model.bins + 1), float),
                ('counts', (s, s), float), ('values', (s, r, model.bins),
                                            float),
                ('last_state', (), int), ('age', (), int),
                ('transitions', (), int), ('observed', (), int),
                ('fallback', (), bool)):
            setattr(model, key + '_', np.array(
                [row[key] for row in rows], dtype=dtype).reshape(
                    (len(rows),) + shape))
        return model
