"""Volume-clock candles, signals and adjustments: kernels vs hand-picked cases and twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import candles as kc
from qengine.kernels import codes
from qengine.kernels.dtypes import (
    ADJUSTED_PARAMS,
    CANDLE,
    CANDLE_ADJUST,
    CANDLE_SIGNALS,
    CANDLE_STATE,
)
from tests.reference import candles as ref

S = 1_000_000_000
BUY, SELL = codes.SIDE_BUY, codes.SIDE_SELL
MAX_TIME_NS = 300 * S


def fresh(capacity=100):
    return np.zeros(1, CANDLE_STATE), np.zeros(capacity, CANDLE)


def records_equal(a, b, rel=1e-12, abs_tol=1e-12):
    """Field-by-field equality: integers exactly, floats to ``rel``/``abs_tol``, NaN equal NaN."""
    assert a.dtype == b.dtype
    for name in a.dtype.names:
        for x, y in zip(a[name].tolist(), b[name].tolist(), strict=True):
            if isinstance(x, float):
                same = (math.isnan(x) and math.isnan(y)) or math.isclose(
                    x, y, rel_tol=rel, abs_tol=abs_tol
                )
                assert same, (name, x, y)
            else:
                assert x == y, (name, x, y)


# --- candle_update: hand-picked ------------------------------------------------------------------


def test_candle_closes_when_volume_reaches_threshold():
    state, ring = fresh()
    trades = [(0, 1000, 2, BUY), (S, 1010, 2, SELL), (2 * S, 990, 1, BUY)]
    results = [kc.candle_update(state, ring, *t, 5, MAX_TIME_NS) for t in trades]
    assert results == [codes.STATUS_OK, codes.STATUS_OK, codes.CANDLE_CLOSED]
    c = ring[0]
    assert (c["open_ticks"], c["high_ticks"], c["low_ticks"], c["close_ticks"]) == (
        1000,
        1010,
        990,
        990,
    )
    assert (c["buy_lots"], c["sell_lots"], c["volume_lots"], c["delta_lots"]) == (3, 2, 5, 1)
    assert c["delta_ratio"] == pytest.approx(0.2)
    assert (c["trade_count"], c["open_time_ns"], c["close_time_ns"]) == (3, 0, 2 * S)
    assert c["close_reason"] == codes.CANDLE_CLOSE_VOLUME
    assert (state[0]["count"], state[0]["head"], state[0]["current_trade_count"]) == (1, 1, 0)
    assert state[0]["cumulative_delta_lots"] == 1


def test_candle_closes_on_trade_arriving_max_time_after_open_and_includes_it():
    state, ring = fresh()
    opened = 10 * S
    assert kc.candle_update(state, ring, opened, 1000, 1, BUY, 100, MAX_TIME_NS) == 0
    assert (
        kc.candle_update(state, ring, opened + MAX_TIME_NS - 1, 1001, 1, BUY, 100, MAX_TIME_NS) == 0
    )
    closed = kc.candle_update(state, ring, opened + MAX_TIME_NS, 1005, 1, SELL, 100, MAX_TIME_NS)
    assert closed == codes.CANDLE_CLOSED
    assert ring[0]["close_reason"] == codes.CANDLE_CLOSE_TIME
    assert ring[0]["trade_count"] == 3
    assert ring[0]["close_ticks"] == 1005
    assert ring[0]["close_time_ns"] == 10 * S + MAX_TIME_NS


def test_next_trade_after_a_close_opens_a_new_candle():
    state, ring = fresh()
    kc.candle_update(state, ring, 0, 1000, 5, BUY, 5, MAX_TIME_NS)
    assert kc.candle_update(state, ring, S, 1200, 1, SELL, 5, MAX_TIME_NS) == codes.STATUS_OK
    assert state[0]["current_open_ticks"] == 1200
    assert state[0]["current_open_time_ns"] == S


def test_first_candle_initialises_emas_and_later_candles_smooth_them():
    state, ring = fresh()
    kc.candle_update(state, ring, 0, 1000, 5, BUY, 5, MAX_TIME_NS)
    assert state[0]["ema_close_fast_ticks"] == 1000.0
    assert state[0]["ema_delta_ratio_slow"] == 1.0
    kc.candle_update(state, ring, S, 1090, 5, SELL, 5, MAX_TIME_NS)
    assert state[0]["ema_close_fast_ticks"] == pytest.approx(1000 + 90 * 2 / 9)
    assert state[0]["ema_close_slow_ticks"] == pytest.approx(1000 + 90 * 2 / 56)
    assert state[0]["ema_delta_ratio_fast"] == pytest.approx(1 - 2 * 2 / 9)


def test_ring_wraps_and_keeps_the_newest_candles():
    state, ring = fresh(capacity=3)
    for k in range(5):
        kc.candle_update(state, ring, k * S, 1000 + k, 1, BUY, 1, MAX_TIME_NS)
    assert (state[0]["head"], state[0]["count"], state[0]["closed_total"]) == (2, 3, 5)
    assert [c["close_ticks"] for c in ref.candles_in_order(state, ring)] == [1002, 1003, 1004]


@pytest.mark.parametrize(
    ("args", "corrupt_head"),
    [
        ((0, 0, 1, BUY, 5, MAX_TIME_NS), False),
        ((0, -5, 1, BUY, 5, MAX_TIME_NS), False),
        ((0, 1000, 0, BUY, 5, MAX_TIME_NS), False),
        ((0, 1000, 1, 2, 5, MAX_TIME_NS), False),
        ((-1, 1000, 1, BUY, 5, MAX_TIME_NS), False),
        ((0, 1000, 1, BUY, 0, MAX_TIME_NS), False),
        ((0, 1000, 1, BUY, 5, 0), False),
        ((0, 1000, 1, BUY, 5, MAX_TIME_NS), True),
    ],
)
def test_bad_trade_input_is_rejected_and_leaves_state_unchanged(args, corrupt_head):
    state, ring = fresh(capacity=4)
    kc.candle_update(state, ring, 0, 1000, 1, BUY, 5, MAX_TIME_NS)
    if corrupt_head:
        state[0]["head"] = 4
    before_state, before_ring = state.copy(), ring.copy()
    assert kc.candle_update(state, ring, *args) == codes.STATUS_BAD_INPUT
    assert state.tobytes() == before_state.tobytes()
    assert ring.tobytes() == before_ring.tobytes()


def test_empty_candle_ring_is_rejected():
    state = np.zeros(1, CANDLE_STATE)
    ring = np.zeros(0, CANDLE)
    assert kc.candle_update(state, ring, 0, 1000, 1, BUY, 5, MAX_TIME_NS) == codes.STATUS_BAD_INPUT


# --- candle_signals: hand-picked -----------------------------------------------------------------


def constructed(rows, ema_fast=0.0, ema_slow=0.0):
    """State and ring holding ``rows`` of (open, high, low, close, volume, delta_ratio)."""
    state, ring = fresh(capacity=len(rows))
    for i, (o, h, lo, c, v, d) in enumerate(rows):
        ring[i] = 0
        ring[i]["open_ticks"], ring[i]["high_ticks"] = o, h
        ring[i]["low_ticks"], ring[i]["close_ticks"] = lo, c
        ring[i]["volume_lots"], ring[i]["delta_ratio"] = v, d
        ring[i]["close_time_ns"] = (i + 1) * S
    state[0]["count"] = len(rows)
    state[0]["head"] = 0
    state[0]["ema_delta_ratio_fast"] = ema_fast
    state[0]["ema_delta_ratio_slow"] = ema_slow
    return state, ring


def test_signals_on_a_rally_with_fading_buying_match_the_formulas():
    rows = [
        (100_000, 100_100, 100_000, 100_300, 10, 0.6),
        (100_300, 100_500, 100_400, 100_600, 20, 0.2),
        (100_600, 101_100, 101_000, 101_000, 30, -0.2),
    ]
    state, ring = constructed(rows, ema_fast=0.26, ema_slow=0.3)
    out = np.zeros(1, CANDLE_SIGNALS)
    assert kc.candle_signals(state, ring, out) == codes.STATUS_OK
    # ret = 0.01, mean delta 0.2: 100 * 0.01 * 1 * min(1, 1.0) = 1 (clipped).
    assert out[0]["momentum"] == pytest.approx(1.0)
    # Price up, delta EMA gap -0.04 (down): min(1, 50 * 0.01) * min(1, 0.4) = 0.2.
    assert out[0]["reversal"] == pytest.approx(0.2)
    ranges = (0.001 + 100 / 100_400 + 100 / 101_000) / 3
    volume_cv = math.sqrt(200 / 3) / 20
    delta_std = math.sqrt(0.32 / 3)
    assert out[0]["volatility"] == pytest.approx((50 * ranges + volume_cv + delta_std) / 3)
    # Delta trend -0.8 while price rises: min(1, 5 * 0.8) = 1.
    assert out[0]["exhaustion"] == pytest.approx(1.0)
    assert out[0]["close_step_sign"] == 1
    assert out[0]["time_ns"] == 3 * S


def test_signals_on_a_mild_sell_off_with_consistent_selling():
    rows = [
        (100_000, 100_000, 100_000, 99_950, 10, -0.1),
        (99_950, 99_950, 99_950, 99_900, 10, -0.1),
        (99_900, 99_900, 99_900, 99_800, 10, -0.1),
    ]
    state, ring = constructed(rows, ema_fast=-0.1, ema_slow=-0.1)
    out = np.zeros(1, CANDLE_SIGNALS)
    assert kc.candle_signals(state, ring, out) == codes.STATUS_OK
    # ret = -0.002, mean delta -0.1: -0.2 * -1 * min(1, 0.5) = 0.1 (the old formula's sign).
    assert out[0]["momentum"] == pytest.approx(0.1)
    assert out[0]["reversal"] == 0.0
    assert out[0]["volatility"] == pytest.approx(0.0)
    assert out[0]["exhaustion"] == 0.0
    assert out[0]["close_step_sign"] == -1


def test_signals_on_a_sell_off_where_selling_dries_up_show_exhaustion():
    rows = [
        (100_000, 100_000, 100_000, 99_950, 10, -0.1),
        (99_950, 99_950, 99_950, 99_900, 10, -0.1),
        (99_900, 99_900, 99_900, 99_800, 10, 0.05),
    ]
    state, ring = constructed(rows)
    out = np.zeros(1, CANDLE_SIGNALS)
    assert kc.candle_signals(state, ring, out) == codes.STATUS_OK
    # Delta trend +0.15 > 0.1 while price falls: min(1, 5 * 0.15) = 0.75.
    assert out[0]["exhaustion"] == pytest.approx(0.75)
    # Mean delta -0.05: -0.2 * -1 * min(1, 0.25) = 0.05.
    assert out[0]["momentum"] == pytest.approx(0.05)
    assert out[0]["volatility"] == pytest.approx(math.sqrt(0.015 / 3) / 3)


@pytest.mark.parametrize("closed", [0, 1, 2])
def test_signals_are_zero_and_warming_up_below_three_candles(closed):
    state, ring = fresh(capacity=5)
    for k in range(closed):
        kc.candle_update(state, ring, k * S, 1000 + 50 * k, 1, BUY, 1, MAX_TIME_NS)
    out = np.ones(1, CANDLE_SIGNALS)
    assert kc.candle_signals(state, ring, out) == codes.STATUS_WARMING_UP
    assert [out[0][n] for n in ("momentum", "reversal", "volatility", "exhaustion")] == [0.0] * 4
    assert out[0]["time_ns"] == ((closed - 1) * S if closed else 0)


def test_signals_reject_a_corrupted_candle_without_dividing_by_zero():
    state, ring = constructed([(1000, 1000, 1000, 1000, 1, 0.0)] * 3)
    ring[1]["low_ticks"] = 0
    out = np.ones(1, CANDLE_SIGNALS)
    assert kc.candle_signals(state, ring, out) == codes.STATUS_BAD_INPUT
    assert out[0]["volatility"] == 0.0


# --- predict_adjustments / apply_adjustments: hand-picked ----------------------------------------


def signals(momentum=0.0, reversal=0.0, volatility=0.0, exhaustion=0.0, step=0, time_ns=7):
    out = np.zeros(1, CANDLE_SIGNALS)
    out[0] = (momentum, reversal, volatility, exhaustion, step, time_ns)
    return out


@pytest.mark.parametrize(
    ("sig", "offset_bps", "trend"),
    [
        ({"momentum": 0.5, "exhaustion": 0.2}, 1.5, 1),
        ({"momentum": -0.5, "exhaustion": 0.2}, -1.5, -1),
        ({"momentum": 0.5, "exhaustion": 0.7}, 0.0, 1),
        ({"momentum": 0.25}, 0.75, 0),
        ({"momentum": 0.1, "reversal": 0.8, "step": 1}, -4.0, 0),
        ({"momentum": 0.1, "reversal": 0.8, "step": -1}, 4.0, 0),
        ({"momentum": 0.3, "reversal": 0.8, "step": 1, "exhaustion": 0.9}, 0.0, 0),
        ({"reversal": 0.6, "step": 1}, 0.0, 0),
        ({"reversal": 0.62, "step": 1}, -3.1, 0),
    ],
)
def test_predicted_offset_and_trend_follow_the_old_rules(sig, offset_bps, trend):
    out = np.zeros(1, CANDLE_ADJUST)
    assert kc.predict_adjustments(signals(**sig), out) == codes.STATUS_OK
    assert out[0]["reservation_offset_bps"] == pytest.approx(offset_bps)
    assert out[0]["trend"] == trend
    assert out[0]["time_ns"] == 7


def test_predicted_gamma_kappa_and_vol_adjustments():
    out = np.zeros(1, CANDLE_ADJUST)
    kc.predict_adjustments(signals(volatility=0.5, reversal=0.8), out)
    assert out[0]["gamma_adj"] == pytest.approx(0.44)
    assert out[0]["kappa_adj"] == pytest.approx(-0.15)
    assert out[0]["vol_adj"] == pytest.approx(0.2)


def test_nan_signal_gives_zero_adjustments_and_bad_input():
    out = np.ones(1, CANDLE_ADJUST)
    assert kc.predict_adjustments(signals(volatility=math.nan), out) == codes.STATUS_BAD_INPUT
    assert (out[0]["gamma_adj"], out[0]["vol_adj"], out[0]["trend"]) == (0.0, 0.0, 0)


def adjust(gamma_adj=0.0, kappa_adj=0.0, vol_adj=0.0):
    out = np.zeros(1, CANDLE_ADJUST)
    out[0]["gamma_adj"], out[0]["kappa_adj"], out[0]["vol_adj"] = gamma_adj, kappa_adj, vol_adj
    return out


BOUNDS = (0.1, 1.0, 0.1, 5.0, 0.015, 0.18)  # gamma, kappa, sigma (min, max) pairs


def test_adjustments_apply_to_base_values_above_the_threshold_only():
    out = np.zeros(1, ADJUSTED_PARAMS)
    status = kc.apply_adjustments(adjust(0.5, -0.04, 0.2), 0.4, 0.5, 0.02, 0.05, *BOUNDS, out)
    assert status == codes.STATUS_OK
    assert out[0]["gamma"] == pytest.approx(0.6)
    assert out[0]["kappa"] == 0.5  # |-0.04| is below the 0.05 threshold
    assert out[0]["sigma"] == pytest.approx(0.024)


def test_adjusted_values_are_clamped_to_their_ranges():
    out = np.zeros(1, ADJUSTED_PARAMS)
    kc.apply_adjustments(adjust(5.0, -0.99, 20.0), 0.4, 0.5, 0.02, 0.05, *BOUNDS, out)
    assert (out[0]["gamma"], out[0]["kappa"], out[0]["sigma"]) == (1.0, 0.1, 0.18)


@pytest.mark.parametrize(
    "bad",
    [
        {"base_gamma": math.nan},
        {"base_gamma": 0.0},
        {"base_kappa": -1.0},
        {"base_sigma": math.inf},
        {"gamma_min": 0.0},
        {"gamma_min": 2.0},
        {"sigma_max": math.nan},
        {"min_abs_adj": -0.1},
        {"gamma_adj": math.nan},
    ],
)
def test_bad_parameters_are_rejected_and_output_untouched(bad):
    args = {
        "base_gamma": 0.4, "base_kappa": 0.5, "base_sigma": 0.02, "min_abs_adj": 0.05,
        "gamma_min": 0.1, "gamma_max": 1.0, "kappa_min": 0.1, "kappa_max": 5.0,
        "sigma_min": 0.015, "sigma_max": 0.18,
    }  # fmt: skip
    gamma_adj = bad.pop("gamma_adj", 0.3)
    args.update(bad)
    out = np.full(1, 9.0, ADJUSTED_PARAMS)
    status = kc.apply_adjustments(adjust(gamma_adj), *args.values(), out)
    assert status == codes.STATUS_BAD_INPUT
    assert out[0]["gamma"] == 9.0


def test_gamma_stays_inside_its_bounds_after_10000_strongly_trending_candles():
    gamma_base, gamma_min, gamma_max = 0.4, 0.1, 0.6
    state, ring = fresh()
    sig = np.zeros(1, CANDLE_SIGNALS)
    adj = np.zeros(1, CANDLE_ADJUST)
    params = np.zeros(1, ADJUSTED_PARAMS)
    compounded, gammas = gamma_base, []
    price = 100_000
    for k in range(10_000):
        # Each candle: a buy-led rally of 0.1 % with a 2 % dip sold into (wide, one-sided).
        t = k * 3 * S
        kc.candle_update(state, ring, t, price, 3, BUY, 10, MAX_TIME_NS)
        kc.candle_update(state, ring, t + S, price - price // 50, 1 + k % 4, SELL, 10, MAX_TIME_NS)
        price += price // 1000
        closed = kc.candle_update(state, ring, t + 2 * S, price, 10, BUY, 10, MAX_TIME_NS)
        assert closed == codes.CANDLE_CLOSED
        if kc.candle_signals(state, ring, sig) != codes.STATUS_OK:
            continue
        kc.predict_adjustments(sig, adj)
        kc.apply_adjustments(adj, gamma_base, 0.5, 0.02, 0.05, gamma_min, gamma_max,
                             0.1, 5.0, 0.015, 0.18, params)  # fmt: skip
        gammas.append(params[0]["gamma"])
        if abs(adj[0]["gamma_adj"]) > 0.05 and compounded < 1e9:  # the old bot's update
            compounded = compounded * (1 + adj[0]["gamma_adj"])
    assert len(gammas) == 9_998
    assert min(gammas) >= gamma_min
    assert max(gammas) <= gamma_max
    assert max(gammas) > gamma_base  # the adjustments did act
    assert compounded > 1e6 * gamma_max  # ...and would have run away in the old bot


# --- twins: Hypothesis ---------------------------------------------------------------------------

trade = st.tuples(
    st.integers(0, 400 * S),  # time step added to the previous trade's time
    st.integers(1, 200),  # price step around 100_000 ticks
    st.integers(1, 6),  # size_lots
    st.sampled_from([BUY, SELL]),
)
bad_trade = st.tuples(
    st.integers(-1, 1),
    st.sampled_from([0, -3]),
    st.integers(-1, 6),
    st.integers(-1, 3),
)


@given(
    trades=st.lists(st.one_of(trade, trade, trade, bad_trade), max_size=60),
    capacity=st.integers(1, 6),
    threshold=st.integers(1, 12),
    max_time_s=st.integers(1, 600),
)
def test_candle_kernels_match_their_twins_on_random_tapes(trades, capacity, threshold, max_time_s):
    max_time = max_time_s * S
    k_state, k_ring = fresh(capacity)
    r_state, r_ring = fresh(capacity)
    k_sig, r_sig = np.zeros(1, CANDLE_SIGNALS), np.zeros(1, CANDLE_SIGNALS)
    k_adj, r_adj = np.zeros(1, CANDLE_ADJUST), np.zeros(1, CANDLE_ADJUST)
    now, valid = 0, []
    for step, price_step, size, side in trades:
        if price_step > 0:  # a valid trade: time moves forward by ``step``
            now += step
            args = (now, 100_000 + price_step * 10, size, side, threshold, max_time)
        else:  # a rejected trade: its ``step`` is an absolute (possibly negative) time
            args = (step, price_step, size, side, threshold, max_time)
        got = kc.candle_update(k_state, k_ring, *args)
        assert got == ref.candle_update(r_state, r_ring, *args)
        if got != codes.STATUS_BAD_INPUT:
            valid.append(args[:4])
        records_equal(k_state, r_state)
        records_equal(k_ring, r_ring)
        assert kc.candle_signals(k_state, k_ring, k_sig) == ref.candle_signals(
            r_state, r_ring, r_sig
        )
        records_equal(k_sig, r_sig, rel=1e-9)
        assert kc.predict_adjustments(k_sig, k_adj) == ref.predict_adjustments(k_sig, r_adj)
        records_equal(k_adj, r_adj)
    closed, _ = ref.replay_candles(valid, threshold, max_time, capacity)
    ring = ref.candles_in_order(k_state, k_ring)
    assert len(ring) == len(closed)
    for mine, oracle in zip(ring, closed, strict=True):
        assert mine == pytest.approx(oracle)


finite_or_not = st.one_of(
    st.floats(-2.0, 2.0), st.sampled_from([math.nan, math.inf, -math.inf, 0.0])
)


@given(
    sig=st.tuples(finite_or_not, finite_or_not, finite_or_not, finite_or_not, st.integers(-1, 1)),
    base=st.tuples(finite_or_not, finite_or_not, finite_or_not),
    low=st.floats(0.0, 1.0),
    width=st.floats(0.0, 2.0),
    min_abs_adj=st.sampled_from([0.0, 0.05, 0.5, -1.0, math.nan]),
)
def test_prediction_and_application_match_their_twins(sig, base, low, width, min_abs_adj):
    signal = signals(*sig)
    k_adj, r_adj = np.zeros(1, CANDLE_ADJUST), np.zeros(1, CANDLE_ADJUST)
    assert kc.predict_adjustments(signal, k_adj) == ref.predict_adjustments(signal, r_adj)
    records_equal(k_adj, r_adj)
    bounds = (low, low + width) * 3
    k_out, r_out = np.zeros(1, ADJUSTED_PARAMS), np.zeros(1, ADJUSTED_PARAMS)
    got = kc.apply_adjustments(k_adj, *base, min_abs_adj, *bounds, k_out)
    assert got == ref.apply_adjustments(k_adj, *base, min_abs_adj, *bounds, r_out)
    records_equal(k_out, r_out)
    if got == codes.STATUS_OK:
        assert all(low <= k_out[0][n] <= low + width for n in ("gamma", "kappa", "sigma"))
