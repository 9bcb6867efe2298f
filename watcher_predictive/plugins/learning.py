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

"""The Adaptive Learning Module in an audit: the strategy's side.

Reads the options, fetches the forecasts due for scoring from the store,
runs the learner on the profiler's result, and puts the learned state
into the profile states the strategy saves (key ``learning``), with the
error rows in the same transaction. ``rebase`` is the retry after a
concurrent audit stored the same profiles.
"""

from oslo_log import log

from watcher_predictive.learning import learner as learner_mod

LOG = log.getLogger(__name__)
STATE_KEY = 'learning'


def options_from_config(conf):
    group = conf.watcher_predictive
    return learner_mod.Options(
        learning_rate=group.learning_rate,
        calibration_rate=group.calibration_rate,
        drift_tolerance=group.drift_tolerance,
        arima_max_age=group.arima_max_age,
        enabled=group.learning_enabled,
        warm_start=group.learning_warm_start,
        gate=group.learning_gate,
        gate_discount=1.0 - 1.0 / group.learning_gate_memory,
        gate_min_scorings=group.learning_gate_min_scorings)


def stored_learning(stored):
    """uuid -> learned state, from the store's ProfileRecords."""
    return {uuid: record.state.get(STATE_KEY)
            for uuid, record in stored.items()}


class AuditLearning:
    def __init__(self, options, store, history, lull_thresholds):
        self.learner = learner_mod.Learner(options)
        self.store = store
        self.history = history
        self.lull_thresholds = lull_thresholds
        self.outcome = None

    @classmethod
    def from_config(cls, conf, store, history, instances, lull_cpu):
        thresholds = {i.uuid: lull_cpu * i.vcpus for i in instances}
        return cls(options_from_config(conf), store, history, thresholds)

    def __bool__(self):
        return self.learner.options.enabled

    def _issued(self, stored, uuids):
        done = []
        for uuid in uuids:
            learned = stored.get(uuid) or {}
            marks = [r.get('scored_until') for r in
                     learned.get('resources', {}).values()]
            if not marks or None in marks:
                return self.store.forecasts_to_score(uuids)
            done.append(min(marks))
        since = min(done) if done else None
        return self.store.forecasts_to_score(uuids, issued_after=since)

    def learn(self, result, stored, now):
        if not self or not result.profiled:
            return
        learned = stored_learning(stored)
        issued = self._issued(learned, result.profiled)
        self.outcome = self.learner.learn(
            self.history, result, learned, issued, now,
            self.lull_thresholds)
        self._into(result)
        LOG.debug('Learning: %d forecasts scored for %d instances',
                  len(self.outcome.errors), len(result.profiled))

    def rebase(self, result, stored):
        if not self or self.outcome is None:
            return
        learned = stored_learning(stored)
        issued = self._issued(learned, list(self.outcome.contributions))
        self.outcome = self.learner.rebase(
            self.history, learned, issued, self.outcome.contributions,
            self.lull_thresholds)
        self._into(result)

    def _into(self, result):
        for uuid, learned in self.outcome.states.items():
            if uuid in result.states:
                result.states[uuid][STATE_KEY] = learned

    def save_arguments(self):
        if self.outcome is None or not self.outcome.errors:
            return {}
        return {'errors': self.outcome.errors}
