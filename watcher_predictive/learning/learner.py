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

"""The Adaptive Learning Module's audit step.

One audit, in two phases, so that a save that lost a race can be redone
without re-planning:

1. ``score`` (pure in the stored state): every forecast whose time has
   come, the ensemble's as issued (from the forecast table) and each
   member's (kept in the learned state), is scored against the history
   just fetched; member weights, interval calibration, per-model error
   trends and the ARIMA drift flag are updated; error rows are returned.
2. ``apply`` (on the profiler's result): the learned weights re-weight the
   members' medians, the calibration widens or narrows the intervals, the
   ARIMA member keeps its stored order and coefficients unless it drifted,
   the Markov chain continues from its stored counts with an adapted
   forgetting factor; the members' forecasts are remembered for scoring.

``merge`` puts phase 2's contributions on phase 1's state. When the save
finds that another audit stored the profile meanwhile, the caller reloads
it, runs ``score`` again on what the other audit stored (the forecasts it
already scored are not scored twice) and merges the same contributions:
no update is lost.
"""

import dataclasses

import numpy as np

from watcher_predictive.learning import adjust
from watcher_predictive.learning import arima_control
from watcher_predictive.learning import choice
from watcher_predictive.learning import forecasts
from watcher_predictive.learning import markov_online
from watcher_predictive.learning import scoring
from watcher_predictive.learning import state as state_mod
from watcher_predictive.learning import warm

ENSEMBLE = 'ensemble'
ARIMA_MEMBER = 'seasonal_arima'
ARIMA_REFERENCE = 'ema'


@dataclasses.dataclass
class Options:
    learning_rate: float = 0.5
    """Exponentiated-gradient step on the scaled pinball loss."""
    share: float = 0.01
    calibration_rate: float = 0.2
    drift_tolerance: float = 0.3
    min_scored: int = 12
    """Scored forecasts before a model's drift is judged."""
    arima_max_age: int = 86400
    """Seconds after which ARIMA coefficients are re-estimated anyway."""
    min_lull_steps: int = 6
    enabled: bool = True
    warm_start: bool = False
    """Continue each instance's stored ensemble rather than use the
    profiler's fit of the window alone (``warm``)."""
    gate: float = 0.0
    """Standard errors by which a candidate median (a member, the
    learned mixture) must have beaten the re-weighted profiler's median,
    out of sample, before an instance follows it (``choice``); None:
    always the re-weighted profiler's median."""
    gate_discount: float = 0.99
    gate_min_scorings: int = 24
    gate_by_step: bool = False


@dataclasses.dataclass
class ErrorRecord:
    """Score of one issued forecast of one model."""
    instance_uuid: str
    resource: str
    model: str
    issued_at: int
    start: int
    step: int
    score: scoring.Score


@dataclasses.dataclass
class Outcome:
    states: dict
    """Instance uuid -> learned state to store."""
    errors: list
    contributions: dict
    """Instance uuid -> what this audit adds (kept for a retry)."""


class Learner:
    def __init__(self, options=None):
        self.options = options or Options()

    # -- phase 1 -----------------------------------------------------------

    def score(self, history, stored, issued, lull_thresholds=None):
        """Score what is due and adjust the learned state.

        :param history: the ``History`` fetched by this audit
        :param stored: uuid -> stored learned state (or None)
        :param issued: iterable of issued ensemble forecasts (objects with
            instance_uuid, resource, model, issued_at, start, step, levels,
            quantiles), such as the store's ForecastRecords
        :param lull_thresholds: uuid -> CPU lull threshold
        :returns: (uuid -> new state, [ErrorRecord])
        """
        by_instance = {}
        for forecast in issued:
            by_instance.setdefault(forecast.instance_uuid, []).append(
                forecast)
        rows = {uuid: i for i, uuid in enumerate(history.instance_ids)}
        states, errors = {}, []
        for uuid in stored:
            learned = state_mod.load(stored[uuid])
            if uuid in rows:
                errors.extend(self._score_instance(
                    uuid, learned, history, rows[uuid],
                    by_instance.get(uuid, ()),
                    (lull_thresholds or {}).get(uuid)))
            states[uuid] = learned
        return states, errors

    def _truth(self, history, row, resource, start, step, steps):
        if resource not in history.values or step != history.step:
            return None
        first = (start - history.start) // step
        if first < 0 or first + steps > history.n_steps:
            return None
        return history.values[resource][row, first:first + steps]

    def _score_instance(self, uuid, learned, history, row, issued, lull):
        opts = self.options
        errors = []
        done = history.end
        for forecast in sorted(issued, key=lambda f: f.issued_at):
            if forecast.model != ENSEMBLE:
                continue
            res = state_mod.resource(learned, forecast.resource)
            steps = len(forecast.quantiles)
            if res['scored_until'] is not None and \
                    forecast.issued_at <= res['scored_until']:
                continue
            if forecast.start + steps * forecast.step > done:
                continue
            truth = self._truth(history, row, forecast.resource,
                                forecast.start, forecast.step, steps)
            res['scored_until'] = int(forecast.issued_at)
            if truth is None:
                continue
            result = scoring.score(
                truth, forecast.quantiles, forecast.levels,
                lull if forecast.resource == 'cpu' else None,
                opts.min_lull_steps)
            if not result.steps:
                continue
            errors.append(ErrorRecord(uuid, forecast.resource, ENSEMBLE,
                                      int(forecast.issued_at),
                                      int(forecast.start),
                                      int(forecast.step), result))
            res['scale'] = adjust.ewma(res['scale'], result.mae, 0.1,
                                       res['scale'] is not None)
            for nominal in (80, 90):
                key = str(nominal)
                res['calibration'][key] = adjust.calibrate(
                    res['calibration'][key], nominal / 100.0,
                    result.coverage(nominal), opts.calibration_rate)
            self._trend(res, ENSEMBLE, result)
        for name in sorted(learned['resources']):
            res = learned['resources'][name]
            still = []
            for entry in res['pending']:
                steps = len(entry['combined'])
                if entry['start'] + steps * entry['step'] > done:
                    still.append(entry)
                    continue
                truth = self._truth(history, row, name, entry['start'],
                                    entry['step'], steps)
                if truth is not None:
                    errors.extend(self._score_members(
                        uuid, name, res, entry, truth,
                        lull if name == 'cpu' else None))
            res['pending'] = still[-state_mod.MAX_PENDING:]
            arima = res.get('arima')
            if arima is not None:
                arima['drift'] = adjust.drifted(
                    res['errors'], ARIMA_MEMBER, ARIMA_REFERENCE,
                    opts.drift_tolerance, opts.min_scored)
        return errors

    def _score_members(self, uuid, resource, res, entry, truth, lull):
        opts = self.options
        quantiles = np.asarray(entry['quantiles'], float)
        combined = np.asarray(entry['combined'], float)
        errors = []
        for k, member in enumerate(entry['members']):
            result = scoring.score(truth, quantiles[k], entry['levels'],
                                   lull, opts.min_lull_steps)
            if result.steps:
                errors.append(ErrorRecord(
                    uuid, resource, member, int(entry['issued_at']),
                    int(entry['start']), int(entry['step']), result))
                self._trend(res, member, result)
        if 'refit' in entry:
            # The profiler's fit of the window alone, against which the
            # warm ensemble is judged (``warm.refit_better``).
            result = scoring.score(truth, entry['refit'], entry['levels'],
                                   lull, opts.min_lull_steps)
            if result.steps:
                errors.append(ErrorRecord(
                    uuid, resource, warm.REFIT, int(entry['issued_at']),
                    int(entry['start']), int(entry['step']), result))
                self._trend(res, warm.REFIT, result)
        median = scoring.level_index(entry['levels'], 0.5)
        weights = np.array([res['weights'].get(m, 1.0 / len(
            entry['members'])) for m in entry['members']])
        weights /= weights.sum()
        scale = res['scale'] if res['scale'] else float(
            np.nanmean(np.abs(truth - combined)) or 1.0)
        choice.observe(opts, res, entry, truth, scale)
        if choice.MIXTURE in entry:
            # The learned weights are those of the mixture.
            combined = np.asarray(entry[choice.MIXTURE], float)
        new = adjust.eg_step(weights, quantiles[:, :, median], combined,
                             truth, scale, opts.learning_rate, opts.share)
        res['weights'] = dict(zip(entry['members'],
                                  (round(float(w), 8) for w in new)))
        return errors

    @staticmethod
    def _trend(res, model, result):
        scale = res['scale'] or 1.0
        value = result.mean_pinball / scale
        trend = res['errors'].setdefault(
            model, {'fast': None, 'slow': None, 'count': 0})
        trend['fast'] = adjust.ewma(trend['fast'], value, adjust.FAST_RATE,
                                    trend['count'])
        trend['slow'] = adjust.ewma(trend['slow'], value, adjust.SLOW_RATE,
                                    trend['count'])
        trend['count'] += 1

    # -- phase 2 -----------------------------------------------------------

    def apply(self, history, result, states, now):
        """Apply the learned state to the profiler's result, in place.

        :param states: uuid -> learned state after ``score``
        :returns: uuid -> contributions, for ``merge``
        """
        contributions = {uuid: {'pending': {}, 'arima': {}, 'markov': None,
                                'model': {}}
                         for uuid in result.profiled}
        if not result.profiled:
            return contributions
        subset = history.select(result.profiled)
        ids = subset.instance_ids
        for resource, forecast in result.forecasts.items():
            model = result.models.get(resource)
            if model is None or not hasattr(model, 'members_'):
                continue
            arima_control.apply(self.options, model, subset, resource,
                                states, contributions, now)
            groups, cold = warm.restore(self.options, model, subset,
                                        resource, states)
            fresh = forecast.quantiles.copy()
            for rows, restored in groups:
                forecast.quantiles[rows] = restored.predict(
                    forecast.quantiles.shape[1], forecast.levels)
            groups.append((cold, model))
            for rows, fitted in groups:
                if not rows.size:
                    continue
                forecasts.apply(self.options, fitted, forecast, rows, fresh,
                                states, contributions, now)
                if self.options.warm_start:
                    warm.store(fitted, rows, fitted is model, ids,
                               resource, contributions)
        markov_online.apply(self.options, result, subset, states,
                            contributions)
        return contributions

    # -- merge -------------------------------------------------------------

    @staticmethod
    def merge(states, contributions):
        """The states to store: phase 1's states plus phase 2's additions."""
        merged = {}
        for uuid, learned in states.items():
            learned = state_mod.load(learned)
            added = contributions.get(uuid)
            if added:
                learned['audits'] += 1
                for name, entry in added['pending'].items():
                    res = state_mod.resource(learned, name)
                    issued = {e['issued_at'] for e in res['pending']}
                    if entry['issued_at'] not in issued:
                        res['pending'].append(entry)
                        res['pending'] = res['pending'][
                            -state_mod.MAX_PENDING:]
                for name, arima in added['arima'].items():
                    res = state_mod.resource(learned, name)
                    res['arima'] = arima
                    trend = res['errors'].get(ARIMA_MEMBER)
                    if arima['reselected'] and trend:
                        # A new order starts a new error history.
                        trend['slow'] = trend['fast']
                for name, model in added.get('model', {}).items():
                    res = state_mod.resource(learned, name)
                    kept = res.get('model')
                    if kept is None or kept['end'] <= model['end']:
                        res['model'] = model
                if added['markov'] is not None:
                    stored = learned.get('markov')
                    if stored is None or stored['end'] <= \
                            added['markov']['end']:
                        learned['markov'] = added['markov']
            merged[uuid] = learned
        return merged

    def learn(self, history, result, stored, issued, now,
              lull_thresholds=None):
        """Both phases and the merge, for the instances profiled."""
        stored = {uuid: stored.get(uuid) for uuid in result.profiled}
        states, errors = self.score(history, stored, issued,
                                    lull_thresholds)
        contributions = self.apply(history, result, states, now)
        return Outcome(states=self.merge(states, contributions),
                       errors=errors, contributions=contributions)

    def rebase(self, history, stored, issued, contributions,
               lull_thresholds=None):
        """Redo phase 1 on newer stored states, keep phase 2's additions."""
        stored = {uuid: stored.get(uuid) for uuid in contributions}
        states, errors = self.score(history, stored, issued,
                                    lull_thresholds)
        return Outcome(states=self.merge(states, contributions),
                       errors=errors, contributions=contributions)
