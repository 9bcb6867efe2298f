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

import numpy as np
import pytest

from watcher_predictive import exception
from watcher_predictive.telemetry import grid

NAN = np.nan


def test_gauge_mean_per_cell_and_nan_where_empty():
    cells = grid.regularise_gauge(
        [0, 0, 0, 0], [1000, 1100, 1350, 1999], [1.0, 3.0, 5.0, 7.0],
        1, 900, 2100, 300)
    # cells start at 900, 1200, 1500, 1800
    np.testing.assert_array_equal(cells, [[2.0, 5.0, NAN, 7.0]])


def test_gauge_alignment_cell_boundaries():
    # A sample exactly on a grid point belongs to the cell it starts.
    cells = grid.regularise_gauge([0, 0], [1200, 1499.999], [1.0, 2.0],
                                  1, 900, 1800, 300)
    np.testing.assert_array_equal(cells, [[NAN, 1.5, NAN]])


def test_gauge_ignores_out_of_range_and_non_finite():
    cells = grid.regularise_gauge(
        [0, 0, 0, 1, 5], [0, 300, 600, 300, 300], [1, NAN, np.inf, 4, 9],
        2, 0, 600, 300)
    np.testing.assert_array_equal(cells, [[1, NAN], [NAN, 4]])


def test_gauge_many_series_unsorted_matches_loop():
    rng = np.random.default_rng(1)
    n_series, size = 50, 5000
    series = rng.integers(0, n_series, size)
    times = rng.uniform(0, 86400, size)
    values = rng.normal(size=size)
    cells = grid.regularise_gauge(series, times, values, n_series,
                                  0, 86400, 300)
    assert cells.shape == (n_series, 288)
    for s in (0, 17, 49):
        for k in (0, 100, 287):
            inside = ((series == s) & (times >= k * 300)
                      & (times < (k + 1) * 300))
            expected = values[inside].mean() if inside.any() else NAN
            np.testing.assert_allclose(cells[s, k], expected)


def test_check_grid_rejects_misaligned_or_bad_step():
    with pytest.raises(exception.InvalidParameter):
        grid.check_grid(10, 600, 300)
    with pytest.raises(exception.InvalidParameter):
        grid.check_grid(0, 600, 0)
    with pytest.raises(exception.InvalidParameter):
        grid.check_grid(600, 300, 300)
    assert grid.check_grid(300, 900, 300) == 2
    assert grid.align_down(1001, 300) == 900
    assert grid.align_up(1001, 300) == 1200
    assert grid.align_up(1200, 300) == 1200


def test_counter_rates_stamped_at_interval_end():
    series, times, rates = grid.counter_rates(
        [0, 0, 0], [0, 300, 600], [0, 600, 1500], max_gap=900)
    np.testing.assert_array_equal(times, [300, 600])
    np.testing.assert_array_equal(rates, [2.0, 3.0])


def test_counter_reset_drops_that_interval_only():
    series, times, rates = grid.counter_rates(
        [0] * 4, [0, 300, 600, 900], [1000, 1300, 50, 350], max_gap=900)
    np.testing.assert_array_equal(rates, [1.0, NAN, 1.0])


def test_counter_gap_within_limit_gives_mean_rate_after_gap():
    cells = grid.regularise_counter(
        [0] * 4, [10, 310, 910, 1210], [0, 300, 1500, 1800], 1,
        0, 1500, 300, max_gap=900)
    # 310->910 spans 600 s at 2/s: the cell after the gap gets 2.0, the
    # cell inside the gap stays NaN.
    np.testing.assert_array_equal(cells, [[NAN, 1.0, NAN, 2.0, 1.0]])


def test_counter_gap_beyond_limit_is_nan_not_interpolated():
    cells = grid.regularise_counter(
        [0] * 4, [0, 300, 2100, 2400], [0, 300, 5000, 5300], 1,
        0, 2700, 300)
    np.testing.assert_array_equal(
        cells, [[NAN, 1, NAN, NAN, NAN, NAN, NAN, NAN, 1]])


def test_counter_rates_many_series_unsorted_duplicates():
    series = [1, 0, 1, 0, 0, 1]
    times = [600, 300, 0, 0, 300, 300]
    values = [30, 99, 0, 0, 3, 15]
    out_series, out_times, rates = grid.counter_rates(
        series, times, values, max_gap=1000)
    # Series 0: the later of the two samples at 300 wins (value 3).
    np.testing.assert_array_equal(out_series, [0, 1, 1])
    np.testing.assert_array_equal(out_times, [300, 300, 600])
    np.testing.assert_allclose(rates, [0.01, 0.05, 0.05])


def test_counter_first_cell_needs_sample_before_start():
    # The sample at 250 lets the cell at 300 have a rate.
    cells = grid.regularise_counter([0, 0, 0], [250, 350, 650],
                                    [0, 100, 400], 1, 300, 900, 300)
    np.testing.assert_array_equal(cells, [[1.0, 1.0]])


def test_delta_rates_use_previous_sample_bucket():
    # 600: previous sample bucket 300, one poll. 1500: previous 600, two
    # polls missed, the delta spans 900 s. 1800: a counter reset.
    series, times, rates = grid.delta_rates(
        [0, 0, 0], [600, 1500, 1800], [300, 1800, -5],
        [0, 0, 0, 0, 0], [300, 600, 1500, 1800, 2100], max_gap=900)
    np.testing.assert_array_equal(rates, [1.0, 2.0, NAN])


def test_delta_rates_without_previous_sample_or_long_gap_is_nan():
    series, times, rates = grid.delta_rates(
        [0, 1, 1], [300, 300, 3000], [10, 10, 10],
        [0, 1, 1], [300, 0, 3000], max_gap=900)
    # series 0 has no sample before 300; series 1 jumps 300 -> 3000.
    np.testing.assert_array_equal(rates, [NAN, 10 / 300, NAN])


def test_delta_rates_many_series_match_counter_rates():
    rng = np.random.default_rng(3)
    n_series, n = 30, 200
    times = np.arange(n) * 300.0 + 17
    parts = []
    for s in range(n_series):
        keep = np.sort(rng.choice(n, size=150, replace=False))
        counter = np.cumsum(rng.uniform(0, 10, n))[keep]
        parts.append((np.full(keep.size, s), times[keep], counter))
    series, stamps, counters = (np.concatenate(p) for p in zip(*parts))
    want = grid.counter_rates(series, stamps, counters, max_gap=900)
    # What Gnocchi's rate:mean and mean would hold at 300 s buckets.
    buckets = np.floor(stamps / 300) * 300
    same = np.r_[False, series[1:] == series[:-1]]
    deltas = np.diff(counters, prepend=0)[same]
    got = grid.delta_rates(series[same], buckets[same], deltas,
                           series, buckets, max_gap=900)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[2], want[2])


def test_sum_rows_nan_only_when_every_row_is_nan():
    cells = np.array([[1.0, NAN, NAN], [2.0, 3.0, NAN], [5.0, 5.0, 5.0]])
    total = grid.sum_rows(cells, [0, 0, 1], 3)
    np.testing.assert_array_equal(
        total, [[3.0, 3.0, NAN], [5.0, 5.0, 5.0], [NAN, NAN, NAN]])


def test_stack_builds_long_form():
    series, times, values = grid.stack([([1, 2], [3, 4]), ([5], [6])])
    np.testing.assert_array_equal(series, [0, 0, 1])
    np.testing.assert_array_equal(times, [1, 2, 5])
    np.testing.assert_array_equal(values, [3, 4, 6])


def test_mismatched_lengths_rejected():
    with pytest.raises(exception.InvalidParameter):
        grid.regularise_gauge([0, 0], [1], [1, 2], 1, 0, 300, 300)
