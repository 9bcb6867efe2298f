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

"""The Guest Behavior Profiler: from histories to predictive distributions.

``Profiler.profile`` takes the history of many instances, skips those with
too little of it (they are reported, not fatal), and for all the others at
once:

* fits the ensemble of forecasting models for every resource and
  forecasts its quantiles over the horizon;
* fits a Markov chain over the joint CPU x memory levels and gives, per
  step of the horizon, the probability of each joint state;
* finds bursts against the seasonal profile, and the correlation (with
  lag) of CPU with memory, disk and network;
* returns each instance's profile state as versioned JSON.
"""

from concurrent import futures
import dataclasses
import functools

import numpy as np

from watcher_predictive import exception
from watcher_predictive.profiler import averaging
from watcher_predictive.profiler import base
from watcher_predictive.profiler import bursts as bursts_mod
from watcher_predictive.profiler import ensemble
from watcher_predictive.profiler import history as history_mod
from watcher_predictive.profiler import markov

STATE_VERSION = 2
# Lags, in steps, over which resources are correlated with CPU, and the
# recent days the correlations are measured on (what the guest does now;
# also what keeps their cost bounded on long histories).
MAX_LAG = 6
CORRELATION_DAYS = 3
# Instances whose bursts, correlations and Markov counts are computed at
# once: large enough to vectorise, small enough to stay in the caches.
BLOCK = 1024


@dataclasses.dataclass
class ProfileResult:
    forecasts: dict
    """Resource -> :class:`base.Forecast` over the profiled instances."""
    profiled: tuple
    skipped: dict
    """Instance uuid -> :class:`exception.InsufficientHistory`."""
    states: dict
    """Instance uuid -> versioned JSON-compatible profile state."""
    peaks: dict = dataclasses.field(default_factory=dict)
    """Resource -> (instances,) predicted peak over the next day (0.95
    quantile), in the order of the forecasts' instances.
    """
    state_probabilities: np.ndarray = None
    """(instances, horizon steps, states): probability of each joint
    Markov state at each step of the horizon.
    """
    state_labels: tuple = ()
    # Hooks for the Adaptive Learning Module (``watcher_predictive.learning``):
    # the fitted models, so that it can re-weight their members and
    # continue the Markov chain from stored state.
    models: dict = dataclasses.field(default_factory=dict)
    """Resource -> the fitted model that made the forecast."""
    markov_chain: object = None
    """The fitted :class:`markov.MarkovChain`, over the profiled instances."""


class Profiler:
    def __init__(self, min_history_steps=288, levels=base.DEFAULT_LEVELS,
                 model_factory=ensemble.Ensemble, markov_resources=(
                     'cpu', 'memory'), workers=2):
        if min_history_steps < 1:
            raise exception.InvalidParameter(
                name='min_history_steps', value=min_history_steps,
                reason='at least one sample is needed')
        self.min_history_steps = int(min_history_steps)
        self.levels = base.check_levels(levels)
        self.model_factory = model_factory
        self.markov_resources = tuple(markov_resources)
        if int(workers) < 1:
            raise exception.InvalidParameter(
                name='workers', value=workers,
                reason='profile with at least one thread')
        self.workers = int(workers)

    def _model(self, horizon_steps):
        try:
            return self.model_factory(
                horizon_steps=min(horizon_steps, 288))
        except TypeError:
            return self.model_factory()

    def profile(self, history, horizon_steps):
        """Profile every instance of ``history`` with enough of it.

        The Markov chain and each resource are fitted on ``workers``
        threads. A resource is copied out of the history (the instances
        kept), fitted, forecast and searched for bursts; what later phases
        need of it is kept (its model, its last days), the rest is dropped
        once it is done. The Markov chain, the bursts and the correlations
        work by blocks of ``BLOCK`` instances, which bounds their
        temporaries.
        """
        if horizon_steps < 1:
            raise exception.InvalidParameter(
                name='horizon_steps', value=horizon_steps,
                reason='forecast at least one step ahead')
        observed = history.observed_steps('cpu')
        skipped = {}
        profiled = []
        for uuid, count in zip(history.instance_ids, observed):
            if count < self.min_history_steps:
                skipped[uuid] = exception.InsufficientHistory(
                    instance=uuid, available=int(count),
                    required=self.min_history_steps)
            else:
                profiled.append(uuid)
        result = ProfileResult(forecasts={}, profiled=tuple(profiled),
                               skipped=skipped, states={})
        if not profiled:
            return result
        rows = np.flatnonzero(observed >= self.min_history_steps)
        if rows.size == len(history.instance_ids):
            rows = slice(None)
        states = {uuid: {'version': STATE_VERSION, 'step': history.step,
                         'history_end': history.end, 'models': {}}
                  for uuid in profiled}
        resources = [r for r in history_mod.RESOURCES if r in history.values]
        # Models are made here, in the order of the resources, whatever
        # the order the workers fit them in.
        models = {r: self._model(horizon_steps) for r in resources}
        tasks = [functools.partial(self._markov, history, rows,
                                   horizon_steps, result)]
        tasks += [functools.partial(self._resource, history, rows, r,
                                    models[r], horizon_steps, profiled)
                  for r in resources]
        outcomes = self._run(tasks)
        found = {}
        recent = {}
        fitted = {}
        for resource, (forecast, peak, found_r, recent_r) in zip(
                resources, outcomes[1:]):
            model = models[resource]
            result.forecasts[resource] = forecast
            result.peaks[resource] = peak
            result.models[resource] = model  # learning hook
            # The states (Python lists, far larger than the model's
            # arrays) are written once every resource is fitted, so that
            # no fit runs beside the states of the resources before it.
            fitted[resource] = model
            found[resource] = found_r
            recent[resource] = recent_r
        del outcomes
        # The correlations (numpy, which releases the GIL) run on the
        # workers while this thread writes the states (Python objects).
        with self._pool() as pool:
            blocks = [pool.submit(task)
                      for task in self._correlation_tasks(recent)]
            del recent
            self._markov_states(result, states)
            for resource, model in fitted.items():
                bulk = getattr(model, 'instance_states', None)
                rows = bulk() if bulk else (
                    model.instance_state(i) for i in range(len(profiled)))
                for uuid, row in zip(profiled, rows):
                    states[uuid]['models'][resource] = dict(
                        row, model=model.name)
                del rows
            del fitted
            correlations = self._gather_correlations(
                [block.result() for block in blocks])
        for entry in bursts_mod.summarise(profiled, found, correlations,
                                          history.step):
            states[entry.pop('instance')].update(entry)
        result.states = states
        return result

    def _run(self, tasks):
        """Results of ``tasks`` (callables), in their order; on
        ``workers`` threads (numpy releases the GIL in its loops).
        """
        if self.workers == 1 or len(tasks) == 1:
            return [task() for task in tasks]
        with futures.ThreadPoolExecutor(self.workers) as pool:
            return [f.result() for f in [pool.submit(t) for t in tasks]]

    def _pool(self):
        """An executor of ``workers`` threads; with one worker, one that
        runs each task when it is submitted.
        """
        if self.workers == 1:
            return _Inline()
        return futures.ThreadPoolExecutor(self.workers)

    def _resource(self, history, rows, resource, model, horizon_steps,
                  profiled):
        """Fit, forecast and bursts of one resource; what later phases
        keep of its history (its last days) is returned, the rest dropped.
        """
        y = history.values[resource][rows]
        model.fit(y, history.start, history.step)
        forecast = base.Forecast(
            instance_ids=tuple(profiled), resource=resource, start=history.end,
            step=history.step, levels=self.levels,
            quantiles=model.predict(horizon_steps, self.levels),
            model=model.name,
            fallback=np.asarray(model.fallback_, dtype=bool))
        peak = model.peak(0.95)
        means = _slot_means(y, history.start, history.step, model)
        found = self._bursts(y, means, history.start, history.step)
        n_recent = CORRELATION_DAYS * 86400 // history.step
        return forecast, peak, found, y[:, -n_recent:].copy()

    def _markov(self, history, rows, horizon_steps, result):
        resources = [r for r in self.markov_resources if r in history.values]
        if not resources:
            return
        chain = markov.MarkovChain(resources=tuple(resources)).fit(
            {r: history.values[r][rows] for r in resources}, history.start,
            history.step)
        result.markov_chain = chain  # learning hook
        result.state_probabilities = chain.predict_states(horizon_steps)
        result.state_labels = tuple(chain.state_labels())

    def _markov_states(self, result, states):
        chain = result.markov_chain
        if chain is None:
            return
        for i, uuid in enumerate(result.profiled):
            states[uuid]['markov'] = chain.instance_state(i)
            states[uuid]['markov']['states'] = list(result.state_labels)

    def _bursts(self, y, means, start, step):
        """Bursts of one resource against its slot means (slots,
        instances), by blocks of instances.
        """
        times = start + step * np.arange(y.shape[1], dtype=np.int64)
        slots = (times % 86400) // step
        return _concat(bursts_mod.Bursts, [
            bursts_mod.detect_bursts(y[b:b + BLOCK],
                                     means[:, b:b + BLOCK][slots].T, start,
                                     step)
            for b in range(0, y.shape[0], BLOCK)])

    def _correlation_tasks(self, recent):
        """Callables giving the correlations of blocks of instances."""
        if 'cpu' not in recent:
            return []
        n = recent['cpu'].shape[0]
        return [functools.partial(
            bursts_mod.resource_correlations,
            {r: a[b:b + BLOCK] for r, a in recent.items()}, MAX_LAG)
            for b in range(0, n, BLOCK)]

    def _gather_correlations(self, blocks):
        if not blocks:
            return {}
        return {r: _concat(bursts_mod.CrossCorrelation,
                           [block[r] for block in blocks], keep=('lags',))
                for r in blocks[0]}


class _Inline:
    """The part of an executor ``profile`` uses, running tasks at once."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, task):
        done = futures.Future()
        try:
            done.set_result(task())
        except Exception as error:
            done.set_exception(error)
        return done


def _concat(cls, parts, keep=()):
    """One dataclass of per-instance arrays from those of blocks."""
    return cls(**{f.name: getattr(parts[0], f.name) if f.name in keep
                  else np.concatenate([getattr(p, f.name) for p in parts])
                  for f in dataclasses.fields(cls)})


def _slot_means(y, start, step, model=None):
    """The seasonal profile's slot means, (slots, instances).

    The ensemble's own seasonal profile member is used when it has one
    (it has learned the same history); otherwise a profile is fitted.
    """
    profile = None
    for member in getattr(model, 'members_', ()):
        if isinstance(member, averaging.SeasonalProfile) and \
                member.name == averaging.SeasonalProfile.name:
            profile = member
    if profile is None:
        profile = averaging.SeasonalProfile().fit(y, start, step)
    return profile.slots_.mean
