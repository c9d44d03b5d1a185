"""VWAP/VAMP kernels against hand-picked cases and their pure-Python twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes
from qengine.kernels import vamp as kv
from qengine.kernels.dtypes import VAMP_IMPACT, VAMP_OUT, VAMP_STATE
from tests.reference import vamp as ref

S = 1_000_000_000
BUY, SELL = codes.SIDE_BUY, codes.SIDE_SELL
MAX_AGE_NS = 300 * S


def fresh(capacity=30):
    return np.zeros(1, VAMP_STATE), np.zeros(capacity, VAMP_IMPACT)


def value(state, impacts, now_ns, max_age_ns=MAX_AGE_NS):
    out = np.zeros(1, VAMP_OUT)
    status = kv.vamp_value(state, impacts, now_ns, max_age_ns, out)
    return status, out[0]


def records_equal(a, b, rel=1e-12):
    """Field-by-field equality: integers exactly, floats to ``rel``, NaN equal NaN."""
    for name in a.dtype.names:
        for x, y in zip(a[name].tolist(), b[name].tolist(), strict=True):
            if isinstance(x, float):
                same = (math.isnan(x) and math.isnan(y)) or math.isclose(
                    x, y, rel_tol=rel, abs_tol=1e-9
                )
                assert same, (name, x, y)
            else:
                assert x == y, (name, x, y)


def test_no_trades_is_warming_up_with_nan_prices_and_zero_impact():
    state, impacts = fresh()
    status, out = value(state, impacts, 0)
    assert status == codes.STATUS_WARMING_UP
    assert math.isnan(out["vwap_ticks"])
    assert math.isnan(out["vamp_ticks"])
    assert (out["impact_lots"], out["impact_mean_lots"], out["impact_entries"]) == (0.0, 0.0, 0)


def test_vwap_is_exact_and_passive_fills_leave_vamp_at_vwap():
    state, impacts = fresh()
    kv.vamp_update(state, impacts, 0, 1000, 3, BUY, 0)
    kv.vamp_update(state, impacts, S, 1010, 1, SELL, 0)
    assert (state[0]["volume_lots"], state[0]["turnover_tick_lots"]) == (4, 4010)
    status, out = value(state, impacts, S)
    assert status == codes.STATUS_OK
    assert out["vwap_ticks"] == 1002.5
    assert out["vamp_ticks"] == 1002.5
    assert math.isnan(out["buy_ratio"])
    assert out["impact_entries"] == 0


def test_vamp_uses_the_only_aggressive_side_present():
    state, impacts = fresh()
    kv.vamp_update(state, impacts, 0, 1000, 3, BUY, 0)
    kv.vamp_update(state, impacts, 0, 990, 2, SELL, 1)
    kv.vamp_update(state, impacts, 0, 980, 2, SELL, 1)
    _, out = value(state, impacts, 0)
    assert out["vamp_ticks"] == 985.0
    assert out["sell_vwap_ticks"] == 985.0
    assert math.isnan(out["buy_vwap_ticks"])
    assert out["buy_ratio"] == 0.0


def test_vamp_weights_side_vwaps_by_the_aggressive_volume_ratio():
    state, impacts = fresh()
    kv.vamp_update(state, impacts, 0, 1010, 3, BUY, 1)
    kv.vamp_update(state, impacts, 0, 1000, 1, SELL, 1)
    kv.vamp_update(state, impacts, 0, 2000, 50, BUY, 0)  # passive: moves VWAP only
    _, out = value(state, impacts, 0)
    assert out["buy_ratio"] == 0.75
    assert out["vamp_ticks"] == pytest.approx(1010 * 0.75 + 1000 * 0.25)
    assert out["vwap_ticks"] == pytest.approx((3030 + 1000 + 100_000) / 54)


def test_impact_decays_linearly_to_zero_at_max_age():
    state, impacts = fresh()
    kv.vamp_update(state, impacts, 10 * S, 1000, 10, BUY, 1)
    expected = [(10 * S, 10.0), (160 * S, 5.0), (250 * S, 2.0), (310 * S - 1, 10 / MAX_AGE_NS)]
    for now, impact in expected:
        _, out = value(state, impacts, now)
        assert out["impact_lots"] == pytest.approx(impact)
        assert out["impact_mean_lots"] == pytest.approx(10.0)  # the old bot's normalised figure
        assert out["impact_entries"] == 1
    for now in (310 * S, 10_000 * S):
        _, out = value(state, impacts, now)
        assert (out["impact_lots"], out["impact_mean_lots"], out["impact_entries"]) == (0, 0, 0)


def test_impact_signs_sells_negative_and_mixes_ages():
    state, impacts = fresh()
    kv.vamp_update(state, impacts, 0, 1000, 10, SELL, 1)
    kv.vamp_update(state, impacts, 150 * S, 1000, 4, BUY, 1)
    _, out = value(state, impacts, 150 * S)
    # Weights 0.5 (sell, 150 s old) and 1.0 (buy, fresh).
    assert out["impact_lots"] == pytest.approx(-10 * 0.5 + 4)
    assert out["impact_mean_lots"] == pytest.approx(-1 / 1.5)


def test_future_dated_impact_counts_as_fresh():
    state, impacts = fresh()
    kv.vamp_update(state, impacts, 100 * S, 1000, 7, BUY, 1)
    _, out = value(state, impacts, 50 * S)
    assert out["impact_lots"] == 7.0


def test_full_impact_ring_drops_the_oldest_entry():
    state, impacts = fresh(capacity=2)
    for k, size in enumerate((1, 2, 4)):
        kv.vamp_update(state, impacts, k * S, 1000, size, BUY, 1)
    assert (state[0]["impact_head"], state[0]["impact_count"]) == (1, 2)
    _, out = value(state, impacts, 2 * S, max_age_ns=10**18)
    assert out["impact_entries"] == 2
    assert out["impact_lots"] == pytest.approx(6.0)
    assert state[0]["buy_aggressive_lots"] == 7  # the VWAP accumulators keep everything


@pytest.mark.parametrize(
    "args",
    [
        (-1, 1000, 1, BUY, 1),
        (0, 0, 1, BUY, 1),
        (0, 1000, 0, BUY, 1),
        (0, 1000, -2, SELL, 1),
        (0, 1000, 1, 5, 1),
        (0, 1000, 1, BUY, 2),
    ],
)
def test_bad_trade_input_is_rejected_and_leaves_state_unchanged(args):
    state, impacts = fresh(capacity=3)
    kv.vamp_update(state, impacts, 0, 1000, 1, BUY, 1)
    before = state.copy(), impacts.copy()
    assert kv.vamp_update(state, impacts, *args) == codes.STATUS_BAD_INPUT
    assert state.tobytes() == before[0].tobytes()
    assert impacts.tobytes() == before[1].tobytes()


def test_corrupted_cursor_empty_ring_and_bad_max_age_are_rejected():
    state, impacts = fresh(capacity=3)
    state[0]["impact_count"] = 4
    assert kv.vamp_update(state, impacts, 0, 1000, 1, BUY, 1) == codes.STATUS_BAD_INPUT
    assert value(state, impacts, 0)[0] == codes.STATUS_BAD_INPUT
    state, _ = fresh()
    assert kv.vamp_update(state, np.zeros(0, VAMP_IMPACT), 0, 1000, 1, BUY, 1) == 2
    assert value(state, fresh()[1], 0, max_age_ns=0)[0] == codes.STATUS_BAD_INPUT


def test_turnover_overflow_is_refused_and_leaves_state_unchanged():
    state, impacts = fresh()
    assert kv.vamp_update(state, impacts, 0, 2**40, 2**20, BUY, 1) == codes.STATUS_OK
    before = state.copy()
    assert kv.vamp_update(state, impacts, 0, 2**42, 2**21, BUY, 1) == codes.STATUS_FULL
    assert state.tobytes() == before.tobytes()


# --- twins: Hypothesis ---------------------------------------------------------------------------

trade = st.tuples(
    st.integers(-1, 400 * S),  # time_ns step (a -1 step can make an invalid negative time)
    st.one_of(st.integers(1, 10**6), st.sampled_from([0, -1, 2**62])),  # price_ticks
    st.one_of(st.integers(1, 10**4), st.sampled_from([0, -1, 2**40])),  # size_lots
    st.sampled_from([BUY, SELL, BUY, SELL, 7]),
    st.sampled_from([0, 1, 1, 3]),
)


@given(
    trades=st.lists(trade, max_size=50),
    capacity=st.integers(1, 8),
    now_offset=st.integers(-10 * S, 700 * S),
    max_age_ns=st.one_of(st.integers(1, 600 * S), st.just(0)),
)
def test_vamp_kernels_match_their_twins(trades, capacity, now_offset, max_age_ns):
    k_state, k_impacts = fresh(capacity)
    r_state, r_impacts = fresh(capacity)
    now = 0
    for step, price, size, side, aggressive in trades:
        now = now + step
        args = (now, price, size, side, aggressive)
        assert kv.vamp_update(k_state, k_impacts, *args) == ref.vamp_update(
            r_state, r_impacts, *args
        )
        assert k_state.tobytes() == r_state.tobytes()
        assert k_impacts.tobytes() == r_impacts.tobytes()
    k_out, r_out = np.zeros(1, VAMP_OUT), np.zeros(1, VAMP_OUT)
    when = now + now_offset
    assert kv.vamp_value(k_state, k_impacts, when, max_age_ns, k_out) == ref.vamp_value(
        r_state, r_impacts, when, max_age_ns, r_out
    )
    records_equal(k_out, r_out)
