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

"""What the learned state does to one ensemble's forecasts (the
``Learner``'s phase 2, per resource).

The learned weights re-weight the members' medians; where the learned
choice (``choice``) follows another candidate, only the median moves to
it, the other quantiles staying where the re-weighted median put them;
the learned calibration widens or narrows the intervals around the
median. The members' forecasts and the candidates' medians are
remembered in the contributions, to be scored when their time comes.
"""

import numpy as np

from watcher_predictive.learning import choice
from watcher_predictive.learning import scoring


def calibrate_spread(quantiles, levels, calibration):
    """Widen or narrow each central interval of ``quantiles`` (n, steps,
    levels) around the median by its learned factor (``calibration``: one
    {'80', '90'} log factors per row), in place; a wider interval is
    never left inside a narrower one (each level keeps its own value
    unless it would cross the next inner level).
    """
    median = scoring.level_index(levels, 0.5)
    center = quantiles[:, :, median].copy()
    for nominal in (80, 90):
        factor = np.exp([c[str(nominal)] for c in calibration])[:, None]
        for level in scoring.INTERVALS[nominal]:
            j = scoring.level_index(levels, level)
            if j is not None:
                quantiles[:, :, j] = center + factor * (
                    quantiles[:, :, j] - center)
    for j in range(median - 1, -1, -1):
        quantiles[:, :, j] = np.minimum(quantiles[:, :, j],
                                        quantiles[:, :, j + 1])
    for j in range(median + 1, quantiles.shape[2]):
        quantiles[:, :, j] = np.maximum(quantiles[:, :, j],
                                        quantiles[:, :, j - 1])
    return quantiles


def apply(options, model, forecast, rows, fresh, states, contributions,
          now):
    """Learned weights, choice and calibration on the forecasts of
    ``rows`` (of ``forecast``, in place), made by ``model`` (whose
    instances are ``rows``, or all of the forecast's for the profiler's
    model); ``fresh``: the profiler's quantiles, before any warm start.
    """
    names = list(model.member_names)
    levels = forecast.levels
    h = forecast.quantiles.shape[1]
    own = rows if model.weights_.shape[0] != rows.size else slice(None)
    member_q = np.stack([m.predict(h, levels)[own] for m in model.members_])
    median = scoring.level_index(levels, 0.5)
    medians = member_q[..., median]
    steps = np.minimum(np.arange(h), model.horizon_steps - 1)
    ens_w = model.weights_[own][:, steps]
    learned_w = np.ones((rows.size, len(names)))
    calibration = [{'80': 0.0, '90': 0.0}] * rows.size
    for j, i in enumerate(rows):
        res = states.get(forecast.instance_ids[i], {}).get(
            'resources', {}).get(forecast.resource)
        if not res:
            continue
        learned_w[j] = [res['weights'].get(m, 1.0 / len(names))
                        for m in names]
        calibration[j] = res['calibration']
    weights = ens_w * learned_w[:, None, :]
    weights /= weights.sum(axis=2, keepdims=True)
    reference = np.einsum('nhk,knh->nh', weights, medians)
    quantiles = forecast.quantiles[rows].copy()
    # The whole distribution moves with the re-weighted median.
    quantiles += (reference - quantiles[:, :, median])[:, :, None]
    gated = options.gate is not None
    if gated:
        # The learned choice among this median, the members' and their
        # learned mixture: only the median moves to the one followed.
        followed, mixture = choice.medians(
            options, model, own, steps, learned_w, medians, reference,
            states, [forecast.instance_ids[i] for i in rows],
            forecast.resource)
        quantiles[:, :, median] = followed
    calibrate_spread(quantiles, levels, calibration)
    quantiles = np.sort(np.maximum(quantiles, 0.0), axis=-1)
    forecast.quantiles[rows] = quantiles
    for j, i in enumerate(rows):
        entry = {
            'issued_at': int(now), 'start': int(forecast.start),
            'step': int(forecast.step), 'levels': levels.tolist(),
            'members': names,
            'quantiles': member_q[:, j].round(6).tolist(),
            'refit': fresh[i].round(6).tolist(),
            'combined': quantiles[j, :, median].round(6).tolist()}
        if gated:
            entry[choice.REFERENCE] = reference[j].round(6).tolist()
            entry[choice.MIXTURE] = mixture[j].round(6).tolist()
        contributions[forecast.instance_ids[i]]['pending'][
            forecast.resource] = entry
