"""Volatility kernels: hand-worked cases, twin comparison, and recovery of a known GBM sigma."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, volatility
from qengine.kernels.dtypes import VOL_RETURN, VOL_STATE
from tests.reference import volatility as twin

S = 1_000_000_000  # ns per second
HALF_LIFE_S = 60.0
WINDOW_NS = 120 * S
EWMA = codes.VOL_EWMA
REALISED = codes.VOL_REALISED


def _new(capacity=16):
    return np.zeros(1, VOL_STATE), np.zeros(capacity, VOL_RETURN)


def _feed(state, returns, points, half_life_s=HALF_LIFE_S, window_ns=WINDOW_NS, fn=None):
    fn = fn or volatility.vol_update
    return [int(fn(state, returns, t, m, half_life_s, window_ns)) for t, m in points]


def _sigma(state, estimator, min_samples=1, fallback=-1.0, floor=0.0, ceiling=1e9):
    return volatility.vol_sigma(state, estimator, min_samples, fallback, floor, ceiling)


# --- input handling -------------------------------------------------------------------------------


def test_first_mid_is_stored_without_a_return_and_sigma_falls_back():
    state, returns = _new()
    assert _feed(state, returns, [(5 * S, 100.0)]) == [codes.STATUS_OK]
    assert state[0]["has_mid"] == 1
    assert state[0]["last_mid_ticks"] == 100.0
    assert state[0]["return_count"] == 0
    assert _sigma(state, EWMA, fallback=0.123) == 0.123
    assert _sigma(state, REALISED, fallback=0.123) == 0.123


@pytest.mark.parametrize("mid", [math.nan, 0.0, -1.0, math.inf, -math.inf])
def test_unusable_mid_is_rejected_and_state_is_unchanged(mid):
    state, returns = _new()
    _feed(state, returns, [(1 * S, 100.0), (2 * S, 101.0)])
    before = state.tobytes(), returns.tobytes()
    assert _feed(state, returns, [(3 * S, mid)]) == [codes.STATUS_BAD_INPUT]
    assert (state.tobytes(), returns.tobytes()) == before


@pytest.mark.parametrize(
    ("half_life_s", "window_ns"), [(0.0, S), (-1.0, S), (math.nan, S), (math.inf, S), (1.0, 0)]
)
def test_bad_half_life_or_window_is_rejected(half_life_s, window_ns):
    state, returns = _new()
    _feed(state, returns, [(1 * S, 100.0)])
    before = state.tobytes()
    status = volatility.vol_update(state, returns, 2 * S, 101.0, half_life_s, window_ns)
    assert status == codes.STATUS_BAD_INPUT
    assert state.tobytes() == before


def test_time_going_backwards_is_ignored_with_out_of_order_status():
    state, returns = _new()
    _feed(state, returns, [(10 * S, 100.0), (11 * S, 101.0)])
    before = state.tobytes(), returns.tobytes()
    assert _feed(state, returns, [(10 * S, 150.0)]) == [codes.STATUS_OUT_OF_ORDER]
    assert (state.tobytes(), returns.tobytes()) == before


def test_zero_dt_repeat_replaces_the_last_mid_without_a_return():
    state, returns = _new()
    _feed(state, returns, [(1 * S, 100.0), (2 * S, 100.0), (2 * S, 110.0)])
    assert state[0]["return_count"] == 1
    assert state[0]["last_mid_ticks"] == 110.0
    _feed(state, returns, [(3 * S, 121.0)])
    # The second return is measured from the replaced mid 110, over 1 s.
    r2 = math.log(121.0 / 110.0) ** 2
    assert state[0]["window_sum_log_return_sq"] == pytest.approx(r2, rel=1e-12)


# --- estimator maths ------------------------------------------------------------------------------


def test_single_return_gives_its_own_rate_for_both_estimators():
    state, returns = _new()
    _feed(state, returns, [(0, 100.0), (4 * S, 102.0)])
    expected = abs(math.log(1.02)) / math.sqrt(4.0)
    assert _sigma(state, EWMA) == pytest.approx(expected, rel=1e-12)
    assert _sigma(state, REALISED) == pytest.approx(expected, rel=1e-12)


def test_ewma_weights_two_returns_by_decay_and_interval_length():
    state, returns = _new()
    _feed(state, returns, [(0, 100.0), (2 * S, 101.0), (5 * S, 99.0)], half_life_s=10.0)
    lam = math.log(2.0) / 10.0
    x1 = math.log(1.01) ** 2 / 2.0
    x2 = math.log(99.0 / 101.0) ** 2 / 3.0
    a1, a2 = 1 - math.exp(-lam * 2.0), 1 - math.exp(-lam * 3.0)
    expected_var = (math.exp(-lam * 3.0) * a1 * x1 + a2 * x2) / (math.exp(-lam * 3.0) * a1 + a2)
    assert _sigma(state, EWMA) ** 2 == pytest.approx(expected_var, rel=1e-12)
    realised_var = (math.log(1.01) ** 2 + math.log(99.0 / 101.0) ** 2) / 5.0
    assert _sigma(state, REALISED) ** 2 == pytest.approx(realised_var, rel=1e-12)


def _constant_rate_path(start_ns, mid, rate_per_s, seconds, ticks):
    """Mids whose every return has variance rate ``rate_per_s`` over ``ticks`` equal intervals."""
    points = []
    step_ns = int(seconds * S) // ticks
    for i in range(1, ticks + 1):
        mid *= math.exp(math.sqrt(rate_per_s * step_ns / S))
        points.append((start_ns + i * step_ns, mid))
    return points, mid


@pytest.mark.parametrize("ticks", [1, 7, 400])
def test_ewma_half_life_is_in_seconds_whatever_the_tick_spacing(ticks):
    # Converge at rate 1e-6/s, then hold rate 9e-6/s for exactly one half-life: the average must
    # sit halfway, however the half-life was chopped into ticks.
    state, returns = _new(0)
    _feed(state, returns, [(0, 100.0)], half_life_s=10.0)
    warm, mid = _constant_rate_path(0, 100.0, 1e-6, 1000.0, 50)
    _feed(state, returns, warm, half_life_s=10.0)
    test_path, _ = _constant_rate_path(warm[-1][0], mid, 9e-6, 10.0, ticks)
    _feed(state, returns, test_path, half_life_s=10.0)
    assert _sigma(state, EWMA) ** 2 == pytest.approx(5e-6, rel=1e-9)


def test_constant_prices_give_zero_sigma_which_the_floor_lifts():
    state, returns = _new()
    _feed(state, returns, [(i * S, 250.5) for i in range(10)])
    assert _sigma(state, EWMA, floor=0.0) == 0.0
    assert _sigma(state, REALISED, floor=0.0) == 0.0
    assert _sigma(state, EWMA, floor=1e-4) == 1e-4
    assert _sigma(state, REALISED, floor=1e-4) == 1e-4


def test_sigma_is_clamped_to_the_ceiling_and_the_ceiling_wins_a_crossed_clamp():
    state, returns = _new()
    _feed(state, returns, [(0, 100.0), (S, 200.0)])  # sigma = ln 2 per sqrt(s)
    assert _sigma(state, EWMA, ceiling=0.5) == 0.5
    assert _sigma(state, REALISED, floor=0.0, ceiling=0.5) == 0.5
    assert _sigma(state, EWMA, floor=0.9, ceiling=0.8) == 0.8


@pytest.mark.parametrize("estimator", [EWMA, REALISED])
def test_fallback_is_returned_unclamped_until_min_samples_returns(estimator):
    state, returns = _new()
    points = [(i * S, 100.0 + i) for i in range(4)]
    for i, point in enumerate(points):
        _feed(state, returns, [point])
        sigma = _sigma(state, estimator, min_samples=3, fallback=5.0, floor=0.0, ceiling=1.0)
        if i < 3:
            assert sigma == 5.0
        else:
            assert 0.0 < sigma < 1.0


def test_unknown_estimator_returns_the_fallback():
    state, returns = _new()
    _feed(state, returns, [(0, 100.0), (S, 101.0)])
    assert _sigma(state, 7, fallback=0.25) == 0.25


# --- realised window ------------------------------------------------------------------------------


def test_realised_window_evicts_returns_that_ended_before_the_window():
    state, returns = _new(16)
    _feed(state, returns, [(0, 100.0), (S, 101.0), (2 * S, 100.0), (3 * S, 104.0)], window_ns=2 * S)
    # Returns end at 1 s, 2 s, 3 s; the window at 3 s keeps ends in (1 s, 3 s].
    assert state[0]["window_count"] == 2
    expected = (math.log(100 / 101) ** 2 + math.log(1.04) ** 2) / 2.0
    assert _sigma(state, REALISED) ** 2 == pytest.approx(expected, rel=1e-12)


def test_vol_expire_empties_a_stale_window_and_resets_sums_exactly():
    state, returns = _new(8)
    _feed(state, returns, [(i * S, 100.0 + (i % 3)) for i in range(6)], window_ns=10 * S)
    assert state[0]["window_count"] == 5
    assert volatility.vol_expire(state, returns, 12 * S, 10 * S) == codes.STATUS_OK
    assert state[0]["window_count"] == 3
    assert volatility.vol_expire(state, returns, 100 * S, 10 * S) == codes.STATUS_OK
    assert state[0]["window_count"] == 0
    assert state[0]["window_sum_log_return_sq"] == 0.0
    assert state[0]["window_sum_dt_s"] == 0.0
    assert _sigma(state, REALISED, fallback=0.5) == 0.5
    assert volatility.vol_expire(state, returns, 100 * S, 0) == codes.STATUS_BAD_INPUT


def test_full_return_ring_shortens_the_window_to_its_newest_returns():
    state, returns = _new(3)
    mids = [100.0, 101.0, 103.0, 100.0, 98.0, 99.0]
    _feed(state, returns, [(i * S, m) for i, m in enumerate(mids)], window_ns=1000 * S)
    assert state[0]["window_count"] == 3
    newest = [math.log(mids[i] / mids[i - 1]) ** 2 for i in (3, 4, 5)]
    assert state[0]["window_sum_log_return_sq"] == pytest.approx(sum(newest), rel=1e-12)
    assert state[0]["window_sum_dt_s"] == pytest.approx(3.0, rel=1e-12)


def test_zero_capacity_return_ring_disables_only_the_realised_estimator():
    state, returns = _new(0)
    _feed(state, returns, [(0, 100.0), (S, 101.0)])
    assert _sigma(state, REALISED, fallback=0.5) == 0.5
    assert _sigma(state, EWMA) == pytest.approx(math.log(1.01), rel=1e-12)


def test_corrupt_window_cursor_restarts_the_window_instead_of_indexing_out_of_bounds():
    state, returns = _new(4)
    _feed(state, returns, [(0, 100.0), (S, 101.0)])
    state[0]["window_head"] = 99
    assert _feed(state, returns, [(2 * S, 102.0)]) == [codes.STATUS_OK]
    assert state[0]["window_count"] == 1
    assert state[0]["window_sum_log_return_sq"] == pytest.approx(math.log(102 / 101) ** 2)


def test_running_sums_stay_close_to_fresh_sums_over_many_wraparounds():
    state, returns = _new(32)
    rng = np.random.default_rng(7)
    mid, t = 1000.0, 0
    for _ in range(5000):
        t += int(rng.integers(1, 3 * S))
        mid *= math.exp(rng.normal(0.0, 1e-3))
        volatility.vol_update(state, returns, t, mid, HALF_LIFE_S, 20 * S)
    live, _ = twin._live_returns(state, returns)
    assert state[0]["window_sum_log_return_sq"] == pytest.approx(sum(e[1] for e in live), rel=1e-9)
    assert state[0]["window_sum_dt_s"] == pytest.approx(sum(e[2] for e in live), rel=1e-9)


# --- synthetic GBM --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_estimators_recover_the_sigma_of_an_irregularly_sampled_gbm(seed):
    sigma_true = 2e-4  # per sqrt(second), about 5.9 % a day
    rng = np.random.default_rng(seed)
    state, returns = _new(8192)
    # Bursts of 5 ms ticks mixed with multi-second gaps.
    gaps_ns = np.where(
        rng.random(20_000) < 0.7,
        rng.integers(1_000_000, 10_000_000, 20_000),
        rng.integers(S // 10, 3 * S, 20_000),
    )
    times_ns = np.cumsum(gaps_ns)
    shocks = rng.normal(0.0, 1.0, 20_000) * sigma_true * np.sqrt(gaps_ns / S)
    mids = 50_000.0 * np.exp(np.cumsum(shocks - 0.5 * (sigma_true**2) * gaps_ns / S))
    volatility.vol_update(state, returns, 0, 50_000.0, 600.0, 1800 * S)
    for t, m in zip(times_ns.tolist(), mids.tolist(), strict=True):
        assert volatility.vol_update(state, returns, t, m, 600.0, 1800 * S) == codes.STATUS_OK
    assert _sigma(state, EWMA) == pytest.approx(sigma_true, rel=0.10)
    assert _sigma(state, REALISED) == pytest.approx(sigma_true, rel=0.10)


# --- kernel versus twin ---------------------------------------------------------------------------

_MIDS = st.one_of(
    st.floats(min_value=50.0, max_value=200.0),
    st.sampled_from([math.nan, 0.0, -3.0, math.inf]),
)
_STEPS = st.lists(
    st.tuples(st.integers(min_value=-2 * S, max_value=5 * S), _MIDS), min_size=0, max_size=40
)


def _assert_states_close(a, b):
    for name in VOL_STATE.names:
        if VOL_STATE[name].kind == "i":
            assert a[0][name] == b[0][name], name
        else:
            assert math.isclose(a[0][name], b[0][name], rel_tol=1e-9, abs_tol=1e-12), name


@pytest.mark.slow  # Hypothesis runs the kernel, its py_func and the twin
@given(
    capacity=st.integers(min_value=0, max_value=6),
    steps=_STEPS,
    half_life_s=st.sampled_from([0.5, 3.0, 100.0]),
    window_ns=st.sampled_from([1, 2 * S, 10 * S, 10**15]),
    min_samples=st.integers(min_value=0, max_value=5),
    expire_after_ns=st.integers(min_value=0, max_value=20 * S),
)
def test_kernels_match_twins_on_random_mid_streams(
    capacity, steps, half_life_s, window_ns, min_samples, expire_after_ns
):
    runs = []
    for update, expire in (
        (volatility.vol_update, volatility.vol_expire),
        (volatility.vol_update.py_func, volatility.vol_expire.py_func),
        (twin.vol_update, twin.vol_expire),
    ):
        state, returns = _new(capacity)
        t = 1_000 * S
        statuses = []
        for dt_ns, mid in steps:
            t += dt_ns
            statuses.append(int(update(state, returns, t, mid, half_life_s, window_ns)))
        sigmas = []
        for estimator in (EWMA, REALISED, 9):
            for fn in (volatility.vol_sigma, twin.vol_sigma):
                sigmas.append(fn(state, estimator, min_samples, 0.07, 1e-5, 0.5))
        expire_status = int(expire(state, returns, t + expire_after_ns, window_ns))
        sigmas.append(volatility.vol_sigma(state, REALISED, min_samples, 0.07, 1e-5, 0.5))
        runs.append((statuses, state, sigmas, expire_status))
    (k_status, k_state, k_sigmas, k_exp), *others = runs
    for status, state, sigmas, exp in others:
        assert status == k_status
        assert exp == k_exp
        _assert_states_close(k_state, state)
        assert sigmas == pytest.approx(k_sigmas, rel=1e-9, abs=1e-15)
