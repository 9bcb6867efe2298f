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

"""Incremental reads over a replayed trace and a real SQLite store."""

import numpy as np
from oslo_config import cfg
import pytest

from watcher_predictive.conf import predictive
from watcher_predictive import exception
from watcher_predictive.simulation import generated
from watcher_predictive.storage import api
from watcher_predictive.storage import migration
from watcher_predictive.telemetry import incremental
from watcher_predictive.telemetry import trace

STEP = 300
DAY = 86400
IDS = ['vm-%d' % k for k in range(6)]


class Recording(trace.TraceSource):
    """The trace source, remembering every span it was asked for."""

    def __init__(self, history):
        super().__init__(history, mapping={
            uuid: history.instance_ids[k] for k, uuid in enumerate(IDS)})
        self.calls = []

    def fetch(self, instance_ids, start, end, step):
        self.calls.append((tuple(instance_ids), start, end))
        return super().fetch(instance_ids, start, end, step)


@pytest.fixture
def store(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'watcher.sqlite')
    migration.upgrade(url)
    store = api.Store(url, timeout=5)
    yield store
    store.dispose()


@pytest.fixture
def source():
    history, _ = generated.generate(n_instances=len(IDS), days=4,
                                    step=STEP, end=10 * DAY, seed=3)
    return Recording(history)


def assert_same(a, b):
    for resource in b.values:
        np.testing.assert_allclose(a.values[resource], b.values[resource],
                                   rtol=1e-6, atol=1e-9, equal_nan=True)


def test_second_read_asks_only_for_the_new_span(store, source):
    reader = incremental.IncrementalSource(source, store, late_margin=600)
    start, end = 7 * DAY, 9 * DAY
    reader.fetch(IDS, start, end, STEP)
    assert source.calls == [(tuple(IDS), start, end)]
    assert reader.last_read['full'] == len(IDS)
    later = reader.fetch(IDS, start + 3600, end + 3600, STEP)
    # Two steps of margin before the stored end, then the new hour.
    assert source.calls[-1] == (tuple(IDS), end - 600, end + 3600)
    assert reader.last_read == {'full': 0, 'incremental': len(IDS),
                                'cells_read': len(IDS) * 14}
    assert_same(later, source.fetch(IDS, start + 3600, end + 3600, STEP))


def test_points_arriving_late_within_the_margin_are_read(store, source):
    reader = incremental.IncrementalSource(source, store, late_margin=900)
    end = 9 * DAY
    reader.fetch(IDS, 7 * DAY, end, STEP)
    row = source.history.instance_ids.index(source.mapping[IDS[0]])
    cpu = source.history.values['cpu']
    last = (end - source.history.start) // STEP - 1
    cpu[row, last] += 5.0          # arrived late, inside the margin
    cpu[row, last - 10] += 5.0     # arrived later than the margin
    out = reader.fetch(IDS[:1], 7 * DAY + STEP, end + STEP, STEP)
    assert out.values['cpu'][0, -2] == pytest.approx(cpu[row, last])
    assert out.values['cpu'][0, -12] == pytest.approx(
        cpu[row, last - 10] - 5.0, rel=1e-6)


def test_instances_without_usable_stored_history_are_read_in_full(
        store, source):
    reader = incremental.IncrementalSource(source, store, late_margin=0)
    reader.fetch(IDS[:2], 8 * DAY, 9 * DAY, STEP)
    source.calls.clear()
    # vm-0 and vm-1 resume at the stored end; the others are new. A
    # window starting before the stored one, or another step, is full.
    reader.fetch(IDS[:4], 8 * DAY + 3600, 9 * DAY + 3600, STEP)
    assert sorted(source.calls) == [
        (tuple(IDS[:2]), 9 * DAY, 9 * DAY + 3600),
        (tuple(IDS[2:4]), 8 * DAY + 3600, 9 * DAY + 3600)]
    source.calls.clear()
    reader.fetch(IDS[:1], 7 * DAY, 9 * DAY + 7200, STEP)
    reader.fetch(IDS[:1], 8 * DAY, 9 * DAY, 600)
    assert source.calls == [((IDS[0],), 7 * DAY, 9 * DAY + 7200),
                            ((IDS[0],), 8 * DAY, 9 * DAY)]


def test_order_and_duplicates_follow_the_request(store, source):
    reader = incremental.IncrementalSource(source, store)
    ids = [IDS[2], IDS[0], IDS[2]]
    reader.fetch(IDS, 8 * DAY, 9 * DAY, STEP)
    out = reader.fetch(ids, 8 * DAY + STEP, 9 * DAY + STEP, STEP)
    assert out.instance_ids == tuple(ids)
    assert_same(out, source.fetch(ids, 8 * DAY + STEP, 9 * DAY + STEP,
                                  STEP))


def test_a_newer_stored_history_is_kept(store, source):
    reader = incremental.IncrementalSource(source, store)
    reader.fetch(IDS[:1], 8 * DAY, 9 * DAY, STEP)
    reader.fetch(IDS[:1], 7 * DAY, 8 * DAY, STEP)  # an older window
    stored = store.load_histories(IDS[:1], STEP)[IDS[0]]
    assert (stored.start, stored.end) == (8 * DAY, 9 * DAY)


def test_unreadable_store_falls_back_to_full_reads(tmp_path, source):
    url = 'sqlite:///%s' % (tmp_path / 'empty.sqlite')
    broken = api.Store(url, timeout=5)  # no tables
    reader = incremental.IncrementalSource(source, broken)
    out = reader.fetch(IDS, 8 * DAY, 9 * DAY, STEP)
    assert reader.last_read['full'] == len(IDS)
    assert_same(out, source.fetch(IDS, 8 * DAY, 9 * DAY, STEP))


def test_negative_margin_is_refused(store, source):
    with pytest.raises(exception.InvalidParameter, match='late_margin'):
        incremental.IncrementalSource(source, store, late_margin=-1)


def test_corrupt_stored_cells_are_read_again(store, source):
    reader = incremental.IncrementalSource(source, store)
    reader.fetch(IDS[:1], 8 * DAY, 9 * DAY, STEP)
    with store._engine.begin() as conn:
        conn.exec_driver_sql("UPDATE predictive_history SET cells = x'00'")
    assert store.load_histories(IDS[:1], STEP) == {}
    reader.fetch(IDS[:1], 8 * DAY + STEP, 9 * DAY + STEP, STEP)
    assert reader.last_read['full'] == 1


def test_wrap_follows_the_options(store, source):
    conf = cfg.ConfigOpts()
    predictive.register_opts(conf)
    conf([])
    group = predictive.GROUP.name
    try:
        conf.set_override('telemetry_late_margin', 1200, group)
        wrapped = incremental.wrap(source, store, conf)
        assert isinstance(wrapped, incremental.IncrementalSource)
        assert wrapped.late_margin == 1200 and wrapped.name == source.name
        conf.set_override('incremental_telemetry', False, group)
        assert incremental.wrap(source, store, conf) is source
    finally:
        # The option group is shared by every ConfigOpts, overrides too.
        for name in ('telemetry_late_margin', 'incremental_telemetry'):
            conf.clear_override(name, group=group)


def test_purge_drops_histories_not_read_since(store, source):
    reader = incremental.IncrementalSource(source, store)
    reader.fetch(IDS[:2], 8 * DAY, 9 * DAY, STEP)
    reader.fetch(IDS[2:3], 8 * DAY + 3600, 9 * DAY + 3600, STEP)
    store.purge(older_than_days=1, now=10 * DAY + 1800)
    assert sorted(store.load_histories(IDS, STEP)) == [IDS[2]]


def test_stored_use_is_what_was_read_aligned_to_the_audit(store, source):
    reader = incremental.IncrementalSource(source, store)
    start, end = 7 * DAY, 9 * DAY
    read = reader.fetch(IDS[:4], start, end, STEP)
    # The audit's own end, as stored; a later end (a fresh profile
    # reused) pads with unknown steps; an earlier one cuts.
    use = incremental.stored_use(store, IDS, end, STEP)
    assert sorted(use) == IDS[:4]
    for row, uuid in enumerate(IDS[:4]):
        np.testing.assert_allclose(use[uuid], read.values['cpu'][row],
                                   rtol=1e-6, equal_nan=True)
    later = incremental.stored_use(store, IDS[:1], end + 3 * STEP, STEP)
    assert later[IDS[0]].size == read.values['cpu'][0].size + 3
    assert np.isnan(later[IDS[0]][-3:]).all()
    earlier = incremental.stored_use(store, IDS[:1], end - DAY, STEP)
    np.testing.assert_allclose(earlier[IDS[0]],
                               read.values['cpu'][0][:DAY // STEP],
                               rtol=1e-6, equal_nan=True)
    # Another step, or an end before the stored start: nothing.
    assert incremental.stored_use(store, IDS, end, 60) == {}
    assert incremental.stored_use(store, IDS, start, STEP) == {}


def test_stored_use_of_an_unreadable_store_is_empty(tmp_path, caplog):
    broken = api.Store('sqlite:///%s' % (tmp_path / 'empty.sqlite'),
                       timeout=5)  # no tables
    assert incremental.stored_use(broken, IDS, 9 * DAY, STEP) == {}
    assert 'no measured use of the guests' in caplog.text
