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

"""Replay of a trace, one audit per simulated hour, learning on and off.

Each audit profiles the last ``history_days`` of the series (as the
strategy does), and its ensemble forecast for the next ``horizon_steps``
is scored once observed. With learning, the ``Learner`` scores the
forecasts it issued earlier and adjusts the next ones; without, the
profiler's forecast is used as it is. Both see the same profile, so the
difference is what learning adds. The learned state is round-tripped
through JSON between audits, as the store does.

With ``fresh_after``, a third learner starts, from an empty state, at
the first audit after that time, on the same profiles: the error of
learning's first days on the same data as the long-running learner's
(what the difficulty of the period does not change).
"""

import copy
import dataclasses
import json

import numpy as np

from watcher_predictive.learning import learner as learner_mod
from watcher_predictive.learning import scoring
from watcher_predictive.profiler import engine
from watcher_predictive.profiler import history as history_mod

HOUR = 3600


@dataclasses.dataclass
class Issued:
    instance_uuid: str
    resource: str
    model: str
    issued_at: int
    start: int
    step: int
    levels: list
    quantiles: list


@dataclasses.dataclass
class AuditScores:
    """Scores of the forecasts one audit issued, summed over instances."""
    issued_at: int
    on: scoring.Score
    off: scoring.Score
    per_instance_on: list
    per_instance_off: list
    persistence: scoring.Score = None
    """The last observed value as the forecast: how hard the week was."""
    fresh: scoring.Score = None
    """The learner started at ``fresh_after`` (None before it)."""


def window(history, end_index, days, resources=('cpu', 'memory')):
    first = max(0, end_index - int(days * 86400 // history.step))
    return history_mod.History(
        instance_ids=history.instance_ids,
        start=history.start + first * history.step, step=history.step,
        values={r: history.values[r][:, first:end_index]
                for r in resources if r in history.values})


def replay(history, first_audit, last_audit, history_days=7,
           horizon_steps=12, every=HOUR, options=None, resource='cpu',
           lull_thresholds=None, on_audit=None, resources=('cpu', 'memory'),
           fresh_after=None):
    """Run audits from index ``first_audit`` to ``last_audit`` (grid
    indices of "now"), every ``every`` seconds.

    :param fresh_after: a time (seconds) after which a second learner,
        started from an empty state, learns from the same profiles
        (scored as ``fresh``); None: none

    :param on_audit: called with (index, learned states) after each audit
    :returns: list of AuditScores, in audit order (each scored against
        the truth after its horizon, as far as the history goes)
    """
    learner = learner_mod.Learner(options)
    stride = every // history.step
    stored, issued, audits = {}, [], []
    fresh_stored, fresh_issued = {}, []
    thresholds = lull_thresholds or {}
    for index in range(first_audit, last_audit + 1, stride):
        seen = window(history, index, history_days, resources)
        result = engine.Profiler(
            min_history_steps=min(288, seen.n_steps),
            markov_resources=resources).profile(seen, horizon_steps)
        if resource not in result.forecasts:
            continue
        off = result.forecasts[resource].quantiles.copy()
        fresh = None
        if fresh_after is not None and seen.end > fresh_after:
            # The same profile, before the other learner changes it.
            fresh = copy.deepcopy(result)
        stored, issued = _learn(learner, seen, result, stored, issued,
                                thresholds, horizon_steps)
        if fresh is not None:
            fresh_stored, fresh_issued = _learn(
                learner, seen, fresh, fresh_stored, fresh_issued,
                thresholds, horizon_steps)
            fresh = fresh.forecasts[resource]
        forecast = result.forecasts[resource]
        truth_at = (forecast.start - history.start) // history.step
        if truth_at + horizon_steps > history.n_steps:
            break
        rows = [history.instance_ids.index(u) for u in forecast.instance_ids]
        truth = history.values[resource][rows,
                                         truth_at:truth_at + horizon_steps]
        on_scores, off_scores, naive = [], [], scoring.Score()
        fresh_score = None if fresh is None else scoring.Score()
        last = seen.values[resource][rows_seen(seen, forecast), -1]
        for j, uuid in enumerate(forecast.instance_ids):
            point = np.full((truth.shape[1], 1), last[j])
            naive += scoring.score(truth[j], point, (0.5,))
            lull = thresholds.get(uuid)
            on_scores.append(scoring.score(truth[j], forecast.quantiles[j],
                                           forecast.levels, lull, 6))
            off_scores.append(scoring.score(truth[j], off[j],
                                            forecast.levels, lull, 6))
            if fresh is not None:
                fresh_score += scoring.score(truth[j], fresh.quantiles[j],
                                             forecast.levels, lull, 6)
        audits.append(AuditScores(int(seen.end), sum(on_scores,
                                                     scoring.Score()),
                                  sum(off_scores, scoring.Score()),
                                  on_scores, off_scores, naive,
                                  fresh_score))
        if on_audit is not None:
            on_audit(index, stored)
    return audits


def _learn(learner, seen, result, stored, issued, thresholds,
           horizon_steps):
    """One audit's learning on ``result`` (in place): the states to
    store (through JSON, as the store does) and the forecasts issued
    that could still be scored.
    """
    outcome = learner.learn(seen, result, stored, issued, seen.end,
                            thresholds)
    stored = json.loads(json.dumps(outcome.states))
    for res, fc in result.forecasts.items():
        for i, uuid in enumerate(fc.instance_ids):
            issued.append(Issued(uuid, res, learner_mod.ENSEMBLE,
                                 seen.end, fc.start, fc.step,
                                 fc.levels.tolist(),
                                 fc.quantiles[i].round(6).tolist()))
    issued = [f for f in issued if f.issued_at > seen.end - 2 * HOUR -
              horizon_steps * seen.step]
    return stored, issued


def rows_seen(seen, forecast):
    index = {uuid: i for i, uuid in enumerate(seen.instance_ids)}
    return [index[uuid] for uuid in forecast.instance_ids]


def total(audits, which):
    return sum((getattr(a, which) for a in audits), scoring.Score())


def splice(history, first, second, switch_index, name='spliced'):
    """One series: ``first``'s values before ``switch_index``, then
    ``second``'s.
    """
    rows = [history.instance_ids.index(first),
            history.instance_ids.index(second)]
    values = {}
    for resource, array in history.values.items():
        series = np.array(array[rows[0]], dtype=float)
        series[switch_index:] = array[rows[1], switch_index:]
        values[resource] = series[None, :]
    return history_mod.History(instance_ids=(name,), start=history.start,
                               step=history.step, values=values)


def recovery_hours(audits, switch_time, before_hours=48, tolerance=0.2,
                   smooth=6, which='on'):
    """Hours after ``switch_time`` until the error (MAE, mean over the
    last ``smooth`` audits) is back within ``tolerance`` of its level
    over the ``before_hours`` before the switch; None if never.
    """
    before = [getattr(a, which).mae for a in audits
              if switch_time - before_hours * HOUR <= a.issued_at <
              switch_time]
    after = [(a.issued_at, getattr(a, which).mae) for a in audits
             if a.issued_at >= switch_time]
    if not before or not after:
        return None, float('nan')
    level = float(np.nanmean(before))
    for k in range(len(after)):
        recent = [e for _, e in after[max(0, k - smooth + 1):k + 1]]
        if k + 1 >= smooth and np.nanmean(recent) <= (1 + tolerance) * level:
            return (after[k][0] - switch_time) / HOUR, level
    return None, level
