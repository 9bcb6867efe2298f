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

"""Fast versions of ``benchmarks/learning_replay.py`` on the real trace.

A few Bitbrains VMs, two-day windows of CPU, hourly audits over a few
days: what learning changes, measured the same way as the benchmark.
Skipped when the trace is absent.
"""

import pytest

from watcher_predictive.cmd import demo
from watcher_predictive.learning import replay
from watcher_predictive.telemetry import trace

TRACE = demo.find_trace()
pytestmark = pytest.mark.skipif(TRACE is None,
                                reason='the Bitbrains trace is absent')
DAY = 288


@pytest.fixture(scope='module')
def bitbrains():
    return trace.load_bitbrains(TRACE, limit=6)


def test_learning_beats_no_learning_on_the_last_days(bitbrains):
    history, flavors = bitbrains
    thresholds = {u: 0.1 * flavors[u]['vcpus'] for u in history.instance_ids}
    audits = replay.replay(history, 2 * DAY, 5 * DAY, history_days=2,
                           resources=('cpu',), lull_thresholds=thresholds)
    last = [a for a in audits if a.issued_at >= audits[-1].issued_at -
            86400]
    on, off = replay.total(last, 'on'), replay.total(last, 'off')
    print('last day: pinball on %.5f off %.5f, MAE on %.5f off %.5f, '
          'coverage 90 on %.3f off %.3f' % (
              on.mean_pinball, off.mean_pinball, on.mae, off.mae,
              on.coverage(90), off.coverage(90)))
    assert on.mean_pinball < off.mean_pinball
    assert abs(on.coverage(90) - 0.9) < abs(off.coverage(90) - 0.9) + 0.01


def test_error_recovers_after_a_change_of_behaviour(bitbrains):
    history, _ = bitbrains
    switch = 4 * DAY
    series = replay.splice(history, history.instance_ids[0],
                           history.instance_ids[1], switch)
    audits = replay.replay(series, switch - DAY, switch + 2 * DAY,
                           history_days=2, resources=('cpu',))
    hours, level = replay.recovery_hours(
        audits, series.start + switch * series.step, before_hours=24)
    print('hours until the error is back within 20 %% of %.4f: %s' % (
        level, hours))
    assert hours is not None and hours <= 48


def test_the_fresh_learner_is_a_learner_started_at_its_time(bitbrains):
    history, flavors = bitbrains
    history = history.select(history.instance_ids[:3])
    thresholds = {u: 0.1 * flavors[u]['vcpus'] for u in history.instance_ids}
    start = 3 * DAY
    fresh_after = history.start + start * history.step
    audits = replay.replay(history, 2 * DAY, start + DAY // 2,
                           history_days=2, resources=('cpu',),
                           lull_thresholds=thresholds,
                           fresh_after=fresh_after)
    # The same audits, learning from an empty state from the first audit
    # after ``fresh_after`` on.
    alone = replay.replay(history, start + 12, start + DAY // 2,
                          history_days=2, resources=('cpu',),
                          lull_thresholds=thresholds)
    before = [a for a in audits if a.issued_at <= fresh_after]
    after = [a for a in audits if a.issued_at > fresh_after]
    assert before and all(a.fresh is None for a in before)
    assert [a.issued_at for a in after] == [a.issued_at for a in alone]
    for with_fresh, started in zip(after, alone):
        assert with_fresh.fresh.mae == pytest.approx(started.on.mae,
                                                     rel=1e-9, abs=1e-12)
        assert with_fresh.fresh.mean_pinball == pytest.approx(
            started.on.mean_pinball, rel=1e-9, abs=1e-12)
    # It is not the learner that learned since the first audit.
    assert any(abs(a.fresh.mean_pinball - a.on.mean_pinball) > 1e-9
               for a in after)
