"""The market ring kernels against their pure-Python twins and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import ring
from qengine.kernels.dtypes import MARKET_SAMPLE, RING_CURSOR, _packed
from tests.reference import ring as twin


def _new_ring(capacity):
    return np.zeros(capacity, MARKET_SAMPLE), np.zeros(1, RING_CURSOR)


def _push_times(samples, cursor, times_ns, fn=ring.ring_push):
    slots = []
    for t in times_ns:
        slots.append(int(fn(samples, cursor, t, t, t + 1, 10, 20)))
    return slots


def _window(fn, samples, cursor, *args, size=16):
    out = np.full(size, -7, np.int64)
    m = fn(samples, cursor, *args, out)
    return list(out[:m]), out


# --- hand-picked cases ----------------------------------------------------------------------------


def test_empty_ring_has_no_latest_and_empty_windows():
    samples, cursor = _new_ring(4)
    assert ring.ring_latest(samples, cursor) == -1
    assert _window(ring.ring_window_by_count, samples, cursor, 3)[0] == []
    assert _window(ring.ring_window_by_time, samples, cursor, 100, 1000)[0] == []


def test_push_writes_every_field_and_returns_the_slot():
    samples, cursor = _new_ring(2)
    assert ring.ring_push(samples, cursor, 123, 100, 101, 7, 9) == 0
    assert samples[0].tolist() == (123, 100, 101, 7, 9)
    assert cursor[0].tolist() == (1, 1)
    assert ring.ring_latest(samples, cursor) == 0


def test_exactly_full_ring_wraps_head_to_zero_and_keeps_every_row():
    samples, cursor = _new_ring(3)
    assert _push_times(samples, cursor, [10, 20, 30]) == [0, 1, 2]
    assert cursor[0].tolist() == (0, 3)
    assert ring.ring_latest(samples, cursor) == 2
    assert _window(ring.ring_window_by_count, samples, cursor, 3)[0] == [0, 1, 2]


def test_count_saturates_and_oldest_rows_are_overwritten_after_many_wraps():
    samples, cursor = _new_ring(3)
    times = list(range(1, 1001))
    slots = _push_times(samples, cursor, times)
    assert slots == [i % 3 for i in range(1000)]
    assert cursor[0]["count"] == 3
    newest = _window(ring.ring_window_by_count, samples, cursor, 10)[0]
    assert [int(samples[s]["time_ns"]) for s in newest] == [998, 999, 1000]
    assert int(samples[ring.ring_latest(samples, cursor)]["time_ns"]) == 1000


def test_window_by_count_limits_to_n_count_and_output_length():
    samples, cursor = _new_ring(5)
    _push_times(samples, cursor, [1, 2, 3, 4, 5, 6, 7])  # slots 0,1 overwritten by 6,7
    assert _window(ring.ring_window_by_count, samples, cursor, 2)[0] == [0, 1]
    assert _window(ring.ring_window_by_count, samples, cursor, 4)[0] == [3, 4, 0, 1]
    got, _out = _window(ring.ring_window_by_count, samples, cursor, 10, size=3)
    assert got == [4, 0, 1]
    assert _window(ring.ring_window_by_count, samples, cursor, 0)[0] == []
    assert _window(ring.ring_window_by_count, samples, cursor, -3)[0] == []


def test_window_by_count_leaves_the_unused_tail_of_out_slots_untouched():
    samples, cursor = _new_ring(4)
    _push_times(samples, cursor, [1, 2])
    got, out = _window(ring.ring_window_by_count, samples, cursor, 5, size=4)
    assert got == [0, 1]
    assert list(out[2:]) == [-7, -7]


def test_window_by_time_excludes_the_left_edge_and_includes_now():
    samples, cursor = _new_ring(8)
    _push_times(samples, cursor, [100, 200, 300, 400])
    slots = _window(ring.ring_window_by_time, samples, cursor, 400, 200)[0]
    assert [int(samples[s]["time_ns"]) for s in slots] == [300, 400]


def test_window_by_time_larger_than_data_returns_every_row():
    samples, cursor = _new_ring(8)
    _push_times(samples, cursor, [100, 200, 300])
    assert _window(ring.ring_window_by_time, samples, cursor, 300, 10**18)[0] == [0, 1, 2]


def test_window_by_time_skips_rows_newer_than_now():
    samples, cursor = _new_ring(8)
    _push_times(samples, cursor, [100, 200, 300, 400])
    slots = _window(ring.ring_window_by_time, samples, cursor, 250, 1000)[0]
    assert [int(samples[s]["time_ns"]) for s in slots] == [100, 200]


def test_window_by_time_with_small_output_returns_the_newest_rows():
    samples, cursor = _new_ring(8)
    _push_times(samples, cursor, [100, 200, 300, 400, 500])
    slots = _window(ring.ring_window_by_time, samples, cursor, 500, 10_000, size=2)[0]
    assert [int(samples[s]["time_ns"]) for s in slots] == [400, 500]


def test_window_by_time_after_wraparound_returns_oldest_first():
    samples, cursor = _new_ring(4)
    _push_times(samples, cursor, [10, 20, 30, 40, 50, 60])
    slots = _window(ring.ring_window_by_time, samples, cursor, 60, 25)[0]
    assert slots == [3, 0, 1]
    assert [int(samples[s]["time_ns"]) for s in slots] == [40, 50, 60]


@pytest.mark.parametrize("window_ns", [0, -5])
def test_window_by_time_with_non_positive_window_is_empty(window_ns):
    samples, cursor = _new_ring(4)
    _push_times(samples, cursor, [10, 20])
    assert _window(ring.ring_window_by_time, samples, cursor, 20, window_ns)[0] == []


def test_zero_capacity_ring_writes_nothing():
    samples, cursor = _new_ring(0)
    assert ring.ring_push(samples, cursor, 1, 1, 2, 1, 1) == -1
    assert cursor[0].tolist() == (0, 0)
    assert ring.ring_latest(samples, cursor) == -1
    assert _window(ring.ring_window_by_count, samples, cursor, 3)[0] == []


@pytest.mark.parametrize("head_count", [(4, 0), (-1, 0), (0, 5), (0, -1)])
def test_corrupt_cursor_is_refused_without_writing(head_count):
    samples, cursor = _new_ring(4)
    cursor[0] = head_count
    assert ring.ring_push(samples, cursor, 1, 1, 2, 1, 1) == -1
    assert cursor[0].tolist() == head_count
    assert not samples["time_ns"].any()
    assert ring.ring_latest(samples, cursor) == -1
    assert _window(ring.ring_window_by_count, samples, cursor, 3)[0] == []
    assert _window(ring.ring_window_by_time, samples, cursor, 10, 10)[0] == []


def test_sample_is_32_bytes_without_padding_in_declared_order():
    assert MARKET_SAMPLE.itemsize == 32
    assert MARKET_SAMPLE.names == (
        "time_ns", "best_bid_ticks", "best_ask_ticks", "best_bid_lots", "best_ask_lots"
    )
    # The layout the shared _packed helper would give (widest first, no padding).
    fields = [(name, MARKET_SAMPLE.fields[name][0].type) for name in MARKET_SAMPLE.names]
    packed = _packed(fields)
    assert (packed.fields, packed.itemsize) == (MARKET_SAMPLE.fields, MARKET_SAMPLE.itemsize)
    assert sum(MARKET_SAMPLE.fields[n][0].itemsize for n in MARKET_SAMPLE.names) == 32


@pytest.mark.parametrize(
    ("bid", "ask", "expected"),
    [(100, 101, 100.5), (100, 102, 101.0), (1, 2, 1.5), (2**40, 2**40 + 3, 2**40 + 1.5)],
)
def test_sample_mid_is_the_half_sum_of_a_valid_book(bid, ask, expected):
    samples, cursor = _new_ring(2)
    slot = ring.ring_push(samples, cursor, 5, bid, ask, 3, 4)
    assert ring.sample_mid_ticks(samples, slot) == expected
    assert twin.sample_mid_ticks(samples, slot) == expected


@pytest.mark.parametrize(("bid", "ask"), [(0, 2), (-3, 2), (5, 5), (6, 5), (0, 0)])
def test_sample_mid_of_a_missing_side_or_crossed_row_is_nan(bid, ask):
    samples, cursor = _new_ring(2)
    slot = ring.ring_push(samples, cursor, 5, bid, ask, 3, 4)
    assert np.isnan(ring.sample_mid_ticks(samples, slot))
    assert np.isnan(twin.sample_mid_ticks(samples, slot))


@pytest.mark.parametrize("slot", [-1, 2, 10**12])
def test_sample_mid_of_a_slot_outside_the_ring_is_nan(slot):
    samples, cursor = _new_ring(2)
    ring.ring_push(samples, cursor, 5, 100, 101, 3, 4)
    ring.ring_push(samples, cursor, 6, 100, 101, 3, 4)
    assert np.isnan(ring.sample_mid_ticks(samples, slot))
    assert np.isnan(twin.sample_mid_ticks(samples, slot))
    assert np.isnan(ring.sample_mid_ticks(_new_ring(0)[0], 0))


# --- kernel versus twin ---------------------------------------------------------------------------

_TIME_STEPS = st.lists(st.integers(min_value=0, max_value=50), max_size=40)


@given(
    capacity=st.integers(min_value=0, max_value=7),
    steps=_TIME_STEPS,
    n=st.integers(min_value=-2, max_value=12),
    out_size=st.integers(min_value=0, max_value=9),
    now_offset=st.integers(min_value=-60, max_value=60),
    window_ns=st.integers(min_value=-5, max_value=400),
    spread=st.integers(min_value=-2, max_value=3),
)
def test_kernels_match_twins_on_random_push_sequences(
    capacity, steps, n, out_size, now_offset, window_ns, spread
):
    times = list(np.cumsum(steps, dtype=np.int64) + 1_000)
    states = []
    for push in (ring.ring_push, ring.ring_push.py_func, twin.ring_push):
        samples, cursor = _new_ring(capacity)
        slots = [
            int(push(samples, cursor, int(t), int(t) - 1000, int(t) - 1000 + spread, 3, 4))
            for t in times
        ]
        states.append((samples, cursor, slots))
    (ks, kc, kslots), (ps, pc, pslots), (ts, tc, tslots) = states
    assert kslots == pslots == tslots
    assert kc.tobytes() == pc.tobytes() == tc.tobytes()
    assert ks.tobytes() == ps.tobytes() == ts.tobytes()

    assert ring.ring_latest(ks, kc) == twin.ring_latest(ks, kc)
    for slot in range(-1, capacity + 1):
        k_mid = ring.sample_mid_ticks(ks, slot)
        t_mid = twin.sample_mid_ticks(ks, slot)
        assert k_mid == t_mid or (np.isnan(k_mid) and np.isnan(t_mid))
    now_ns = (int(times[-1]) if times else 1_000) + now_offset
    for kernel_fn, twin_fn, args in (
        (ring.ring_window_by_count, twin.ring_window_by_count, (n,)),
        (ring.ring_window_by_time, twin.ring_window_by_time, (now_ns, window_ns)),
    ):
        k_out = np.full(out_size, -1, np.int64)
        t_out = np.full(out_size, -1, np.int64)
        assert kernel_fn(ks, kc, *args, k_out) == twin_fn(ks, kc, *args, t_out)
        assert list(k_out) == list(t_out)


@given(capacity=st.integers(min_value=1, max_value=5), pushes=st.integers(0, 30))
def test_window_by_time_matches_a_brute_force_filter_on_monotonic_rings(capacity, pushes):
    samples, cursor = _new_ring(capacity)
    times = [1_000 + 10 * i for i in range(pushes)]
    _push_times(samples, cursor, times)
    kept = times[-capacity:] if pushes else []
    now_ns = 1_000 + 10 * pushes - 7
    window_ns = 35
    expected = [t for t in kept if now_ns - window_ns < t <= now_ns]
    slots = _window(ring.ring_window_by_time, samples, cursor, now_ns, window_ns)[0]
    assert [int(samples[s]["time_ns"]) for s in slots] == expected
