"""Arrival-intensity kernels: hand-worked cases, twin comparison, and a synthetic trade stream."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, intensity
from qengine.kernels.dtypes import INTENSITY_STATE
from tests.reference import intensity as twin

S = 1_000_000_000  # ns per second
BUY, SELL = codes.SIDE_BUY, codes.SIDE_SELL
HALF_LIFE_S = 100.0
LAM = math.log(2.0) / HALF_LIFE_S


def _new(reference_depth_ticks=0.0, now_ns=0):
    state = np.zeros(2, INTENSITY_STATE)
    assert intensity.intensity_reset(state, now_ns, reference_depth_ticks) == codes.STATUS_OK
    return state


def _fit(state, side, now_ns, prior=(1.0, 1.0, 0.0), kappa_range=(1e-3, 1e3), fn=None):
    fn = fn or intensity.intensity_fit
    out = np.full(2, -1.0)
    prior_a, prior_kappa, weight = prior
    status = fn(state, side, now_ns, HALF_LIFE_S, prior_a, prior_kappa, weight, *kappa_range, out)
    return int(status), float(out[0]), float(out[1])


def _trade(state, time_ns, price_ticks, mid_ticks, taker_side, half_life_s=HALF_LIFE_S):
    return intensity.intensity_update(
        state, time_ns, price_ticks, mid_ticks, taker_side, half_life_s
    )


# --- reset and update -----------------------------------------------------------------------------


def test_reset_starts_both_clocks_and_sets_the_reference_depth():
    state = np.zeros(2, INTENSITY_STATE)
    state["decayed_count"] = 5.0
    assert intensity.intensity_reset(state, 42, 0.5) == codes.STATUS_OK
    for row in state:
        assert row.tolist() == (42, 1, 0, 0.5, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("depth", [-0.1, math.nan, math.inf])
def test_reset_rejects_a_bad_reference_depth(depth):
    state = np.zeros(2, INTENSITY_STATE)
    assert intensity.intensity_reset(state, 1, depth) == codes.STATUS_BAD_INPUT
    assert not state["observing"].any()


def test_taker_buy_counts_on_our_ask_side_at_price_minus_mid():
    state = _new(reference_depth_ticks=0.5)
    assert _trade(state, 0, 103, 100.5, BUY) == codes.STATUS_OK
    assert state[SELL]["decayed_count"] == 1.0
    assert state[SELL]["decayed_excess_ticks"] == 2.0  # d = 2.5, d0 = 0.5
    assert state[BUY]["decayed_count"] == 0.0


def test_taker_sell_counts_on_our_bid_side_at_mid_minus_price():
    state = _new(reference_depth_ticks=0.5)
    assert _trade(state, 0, 97, 100.5, SELL) == codes.STATUS_OK
    assert state[BUY]["decayed_count"] == 1.0
    assert state[BUY]["decayed_excess_ticks"] == 3.0
    assert state[SELL]["trade_count"] == 0


def test_trade_through_a_stale_mid_is_clamped_to_zero_distance_and_counted():
    state = _new()
    assert _trade(state, 0, 98, 100.0, BUY) == codes.STATUS_OK  # d = -2
    assert state[SELL]["decayed_count"] == 1.0
    assert state[SELL]["decayed_excess_ticks"] == 0.0
    assert state[SELL]["trade_count"] == 1


@pytest.mark.parametrize(
    ("mid", "taker_side", "half_life_s"),
    [
        (math.nan, BUY, 1.0),
        (math.inf, BUY, 1.0),
        (0.0, SELL, 1.0),
        (100.0, 2, 1.0),
        (100.0, -1, 1.0),
        (100.0, BUY, 0.0),
        (100.0, BUY, math.nan),
    ],
)
def test_unusable_trade_is_rejected_and_state_is_unchanged(mid, taker_side, half_life_s):
    state = _new()
    _trade(state, S, 101, 100.0, BUY)
    before = state.tobytes()
    status = _trade(state, 2 * S, 101, mid, taker_side, half_life_s)
    assert status == codes.STATUS_BAD_INPUT
    assert state.tobytes() == before


def test_statistics_halve_over_one_half_life_and_time_integrates_the_decay():
    state = _new()
    _trade(state, 0, 102, 100.0, BUY)
    _trade(state, int(HALF_LIFE_S * S), 100, 100.0, BUY)
    row = state[SELL]
    assert row["decayed_count"] == pytest.approx(1.5, rel=1e-12)
    assert row["decayed_excess_ticks"] == pytest.approx(1.0, rel=1e-12)
    assert row["decayed_elapsed_s"] == pytest.approx(0.5 / LAM, rel=1e-12)


def test_late_trade_counts_with_its_decayed_weight_without_moving_the_clock():
    state = _new()
    _trade(state, 10 * S, 100, 100.0, BUY)
    elapsed = float(state[SELL]["decayed_elapsed_s"])
    assert _trade(state, 10 * S - int(HALF_LIFE_S * S), 104, 100.0, BUY) == codes.STATUS_OK
    assert state[SELL]["last_time_ns"] == 10 * S
    assert state[SELL]["decayed_count"] == pytest.approx(1.5, rel=1e-12)
    assert state[SELL]["decayed_excess_ticks"] == pytest.approx(2.0, rel=1e-12)
    assert state[SELL]["decayed_elapsed_s"] == elapsed


def test_first_trade_without_reset_starts_both_clocks_at_the_trade():
    state = np.zeros(2, INTENSITY_STATE)
    _trade(state, 7 * S, 101, 100.0, SELL)
    assert state["observing"].tolist() == [1, 1]
    assert state["last_time_ns"].tolist() == [7 * S, 7 * S]
    assert state[BUY]["decayed_elapsed_s"] == 0.0


# --- fit ------------------------------------------------------------------------------------------


def test_fit_without_trades_warms_up_on_the_prior():
    state = _new(reference_depth_ticks=0.5)
    status, a, kappa = _fit(state, BUY, 0, prior=(2.0, 0.8, 5.0))
    assert status == codes.STATUS_WARMING_UP
    assert a == pytest.approx(2.0, rel=1e-12)
    assert kappa == pytest.approx(0.8, rel=1e-12)


def test_fit_without_trades_lowers_the_rate_as_silence_accumulates():
    state = _new()
    status, a, kappa = _fit(state, SELL, 50 * S, prior=(2.0, 0.8, 5.0))
    elapsed_s = (1 - 0.5 ** (50 / HALF_LIFE_S)) / LAM
    assert status == codes.STATUS_WARMING_UP
    assert a == pytest.approx(5.0 / (5.0 / 2.0 + elapsed_s), rel=1e-12)
    assert kappa == pytest.approx(0.8, rel=1e-12)


def test_fit_without_prior_and_without_data_returns_the_prior():
    state = np.zeros(2, INTENSITY_STATE)
    assert _fit(state, BUY, 0, prior=(2.0, 0.8, 0.0)) == (codes.STATUS_WARMING_UP, 2.0, 0.8)


def test_fit_matches_the_posterior_formulas_on_a_small_example():
    state = _new(reference_depth_ticks=1.0)
    for i, price in enumerate([102, 101, 104]):  # d = 2, 1, 4 -> excess 1, 0, 3
        _trade(state, i * S, price, 100.0, BUY)
    now_ns = 10 * S
    status, a, kappa = _fit(state, SELL, now_ns, prior=(3.0, 0.5, 2.0))
    decays = [0.5 ** ((10 - i) / HALF_LIFE_S) for i in range(3)]
    n = sum(decays)
    s_ticks = decays[0] * 1 + decays[2] * 3
    t_s = (1 - 0.5 ** (10 / HALF_LIFE_S)) / LAM
    expected_kappa = (2.0 + n) / (2.0 / 0.5 + s_ticks)
    prior_rate = 3.0 * math.exp(-0.5 * 1.0)
    expected_rate = (2.0 + n) / (2.0 / prior_rate + t_s)
    assert status == codes.STATUS_OK
    assert kappa == pytest.approx(expected_kappa, rel=1e-12)
    assert a == pytest.approx(expected_rate * math.exp(expected_kappa * 1.0), rel=1e-12)


def test_fit_does_not_change_the_state():
    state = _new()
    _trade(state, 0, 103, 100.0, BUY)
    before = state.tobytes()
    _fit(state, SELL, 500 * S, prior=(1.0, 1.0, 1.0))
    assert state.tobytes() == before


@pytest.mark.parametrize("weight", [0.0, 3.0])
def test_all_hits_at_the_touch_drive_kappa_to_its_ceiling_with_a_finite_a(weight):
    state = _new(reference_depth_ticks=0.5)
    for i in range(200):
        _trade(state, i * S // 2, 101, 100.5, BUY)  # d = 0.5 = d0: zero excess
    status, a, kappa = _fit(state, SELL, 100 * S, prior=(1.0, 1.0, weight), kappa_range=(0.05, 4.0))
    assert status == codes.STATUS_OK
    assert kappa == 4.0
    assert math.isfinite(a)
    assert a > 0.0


def test_trades_far_from_the_mid_drive_kappa_to_its_floor():
    state = _new()
    for i in range(50):
        _trade(state, i * S, 100_000, 100.0, BUY)
    _, _, kappa = _fit(state, SELL, 50 * S, prior=(1.0, 1.0, 1.0), kappa_range=(0.05, 4.0))
    assert kappa == 0.05


@pytest.mark.parametrize(
    ("side", "prior", "kappa_range"),
    [
        (2, (1.0, 1.0, 1.0), (0.1, 5.0)),
        (BUY, (0.0, 1.0, 1.0), (0.1, 5.0)),
        (BUY, (1.0, math.nan, 1.0), (0.1, 5.0)),
        (BUY, (1.0, 1.0, -1.0), (0.1, 5.0)),
        (BUY, (1.0, 1.0, math.inf), (0.1, 5.0)),
        (BUY, (1.0, 1.0, 1.0), (0.0, 5.0)),
        (BUY, (1.0, 1.0, 1.0), (5.0, 0.1)),
        (BUY, (1.0, 1.0, 1.0), (0.1, math.inf)),
    ],
)
def test_fit_rejects_bad_arguments_and_leaves_outputs_untouched(side, prior, kappa_range):
    state = _new()
    assert _fit(state, side, S, prior=prior, kappa_range=kappa_range) == (
        codes.STATUS_BAD_INPUT,
        -1.0,
        -1.0,
    )


def test_fit_rejects_a_short_output_array():
    state = _new()
    out = np.zeros(1)
    status = intensity.intensity_fit(state, BUY, 0, 1.0, 1.0, 1.0, 1.0, 0.1, 5.0, out)
    assert status == codes.STATUS_BAD_INPUT


# --- synthetic Poisson-exponential stream ---------------------------------------------------------


@pytest.mark.parametrize("seed", [11, 12])
def test_fit_recovers_a_and_kappa_of_a_poisson_exponential_trade_stream(seed):
    a_true, kappa_true, d0 = 3.0, 0.6, 0.5
    rate_per_side = a_true * math.exp(-kappa_true * d0)  # trades per second at depth >= d0
    half_life_s, duration_s = 1500.0, 4000.0
    rng = np.random.default_rng(seed)
    n_trades = rng.poisson(2 * rate_per_side * duration_s)
    times_ns = np.sort(rng.integers(1, int(duration_s * S), n_trades))
    takers = rng.integers(0, 2, n_trades)
    distances = d0 + rng.exponential(1.0 / kappa_true, n_trades)
    levels = 50_000 + rng.integers(-100, 100, n_trades)
    state = _new(reference_depth_ticks=d0)
    for t, taker, d, price in zip(
        times_ns.tolist(), takers.tolist(), distances.tolist(), levels.tolist(), strict=True
    ):
        mid = price - d if taker == BUY else price + d
        status = intensity.intensity_update(state, t, price, mid, taker, half_life_s)
        assert status == codes.STATUS_OK
    out = np.zeros(2)
    for side in (BUY, SELL):
        status = intensity.intensity_fit(
            state, side, int(duration_s * S), half_life_s, 1.0, 2.0, 2.0, 0.01, 20.0, out
        )
        assert status == codes.STATUS_OK
        assert out[0] == pytest.approx(a_true, rel=0.15)
        assert out[1] == pytest.approx(kappa_true, rel=0.15)


# --- kernel versus twin ---------------------------------------------------------------------------

_MIDS = st.one_of(
    st.floats(min_value=90.0, max_value=110.0), st.sampled_from([math.nan, 0.0, -1.0, math.inf])
)
_TRADES = st.lists(
    st.tuples(
        st.integers(min_value=-2_000, max_value=50_000),  # time step in ms, negative = late
        st.integers(min_value=85, max_value=115),  # trade price in ticks
        _MIDS,
        st.integers(min_value=-1, max_value=2),  # taker side, 2 values out of range
    ),
    max_size=30,
)


def _assert_states_close(a, b):
    for name in INTENSITY_STATE.names:
        if INTENSITY_STATE[name].kind == "i":
            assert a[name].tolist() == b[name].tolist(), name
        else:
            assert a[name] == pytest.approx(b[name], rel=1e-9, abs=1e-12), name


@pytest.mark.slow  # Hypothesis runs the kernel, its py_func and the twin
@given(
    trades=_TRADES,
    reset_depth=st.one_of(st.none(), st.sampled_from([0.0, 0.5, 2.0])),
    half_life_s=st.sampled_from([0.5, 10.0, 1000.0]),
    prior=st.tuples(
        st.sampled_from([0.5, 3.0]), st.sampled_from([0.2, 1.5]), st.sampled_from([0.0, 1.0, 8.0])
    ),
    kappa_range=st.sampled_from([(0.01, 100.0), (0.5, 0.9), (1.0, 1.0)]),
    fit_after_ms=st.integers(min_value=-5_000, max_value=100_000),
)
def test_kernels_match_twins_on_random_trade_streams(
    trades, reset_depth, half_life_s, prior, kappa_range, fit_after_ms
):
    runs = []
    for reset, update, fit in (
        (intensity.intensity_reset, intensity.intensity_update, intensity.intensity_fit),
        (
            intensity.intensity_reset.py_func,
            intensity.intensity_update.py_func,
            intensity.intensity_fit.py_func,
        ),
        (twin.intensity_reset, twin.intensity_update, twin.intensity_fit),
    ):
        state = np.zeros(2, INTENSITY_STATE)
        t_ns = 1_000 * S
        statuses = []
        if reset_depth is not None:
            statuses.append(int(reset(state, t_ns, reset_depth)))
        for step_ms, price, mid, taker in trades:
            t_ns += step_ms * 1_000_000
            statuses.append(int(update(state, t_ns, price, mid, taker, half_life_s)))
        fits = []
        for side in (BUY, SELL):
            out = np.full(2, -1.0)
            status = fit(
                state, side, t_ns + fit_after_ms * 1_000_000, half_life_s, *prior, *kappa_range, out
            )
            fits.append((int(status), out.tolist()))
        runs.append((statuses, state, fits))
    (k_statuses, k_state, k_fits), *others = runs
    for statuses, state, fits in others:
        assert statuses == k_statuses
        _assert_states_close(k_state, state)
        for (k_status, k_out), (status, out) in zip(k_fits, fits, strict=True):
            assert status == k_status
            assert out == pytest.approx(k_out, rel=1e-9)
