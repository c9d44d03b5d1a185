"""Risk limits: each breach bit on its own, disabled limits, drawdown memory, side gating."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, risk
from qengine.kernels.dtypes import RISK_LIMITS, RISK_STATE
from tests.reference import risk as twin

BUY, SELL = codes.SIDE_BUY, codes.SIDE_SELL
VALUE = 0.01  # quote per tick per lot


def limits(**overrides):
    row = np.zeros(1, dtype=RISK_LIMITS)
    defaults = dict(
        max_position_lots=100,
        max_notional_quote=1e6,
        stop_loss_pct=6.0,
        take_profit_pct=2.2,
        upnl_take_profit_quote=50.0,
        max_drawdown_pct=10.0,
        max_consecutive_losses=5,
    )
    defaults.update(overrides)
    for name, value in defaults.items():
        row[0][name] = value
    return row


def check(lim, q=0, cost=0, mark=100.0, equity=math.nan, losses=0, state=None):
    state = np.zeros(1, dtype=RISK_STATE) if state is None else state
    twin_state = state.copy()
    mask = risk.risk_check(lim, state, q, cost, mark, VALUE, equity, losses, 5)
    assert mask == twin.risk_check(lim, twin_state, q, cost, mark, VALUE, equity, losses, 5)
    for name in RISK_STATE.names:
        assert state[0][name] == twin_state[0][name] or (
            math.isnan(state[0][name]) and math.isnan(twin_state[0][name])
        ), name
    assert state[0]["last_mask"] == mask
    return mask


def test_flat_and_within_limits_is_clean():
    assert check(limits()) == 0
    assert check(limits(), q=10, cost=1000, mark=100.0) == 0


def test_max_position_is_strictly_above_the_limit():
    assert check(limits(), q=100, cost=10000) == 0
    assert check(limits(), q=-101, cost=10100) == codes.RISK_MAX_POSITION


def test_max_notional_uses_mark_times_size():
    lim = limits(max_notional_quote=9.99, upnl_take_profit_quote=0.0)
    assert (
        check(lim, q=10, cost=1000, mark=100.0) == codes.RISK_MAX_NOTIONAL
    )  # 10 lots * 100 * 0.01 = 10
    assert check(limits(max_notional_quote=10.0), q=10, cost=1000, mark=100.0) == 0


def test_stop_loss_at_six_percent_of_cost_basis_long_and_short():
    lim = limits()
    assert check(lim, q=10, cost=1000, mark=94.0) == codes.RISK_STOP_LOSS
    assert check(lim, q=10, cost=1000, mark=94.5) == 0
    assert check(lim, q=-10, cost=1000, mark=106.0) == codes.RISK_STOP_LOSS
    assert check(limits(stop_loss_pct=0.0), q=10, cost=1000, mark=50.0) == 0


def test_take_profit_pct_and_upnl_take_profit_are_separate_bits():
    lim = limits(take_profit_pct=5.0, upnl_take_profit_quote=1000.0)
    assert check(lim, q=10, cost=1000, mark=105.5) == codes.RISK_TAKE_PROFIT
    lim = limits(take_profit_pct=0.0, upnl_take_profit_quote=0.19)  # short 10 @ 100
    assert check(lim, q=-10, cost=1000, mark=98.0) == codes.RISK_UPNL_TAKE_PROFIT
    assert check(lim, q=-10, cost=1000, mark=98.5) == 0


def test_missing_mark_with_a_position_is_reported_not_ignored():
    state = np.zeros(1, dtype=RISK_STATE)
    assert check(limits(), q=5, cost=500, mark=math.nan, state=state) == codes.RISK_NO_MARK
    assert math.isnan(state[0]["upnl_quote"])
    assert check(limits(), q=0, mark=math.nan) == 0


def test_drawdown_is_measured_from_the_remembered_peak():
    lim = limits()
    state = np.zeros(1, dtype=RISK_STATE)
    assert check(lim, equity=1000.0, state=state) == 0
    assert check(lim, equity=1200.0, state=state) == 0
    assert check(lim, equity=1081.0, state=state) == 0
    assert check(lim, equity=1080.0, state=state) == codes.RISK_MAX_DRAWDOWN
    assert state[0]["peak_equity_quote"] == 1200.0
    assert state[0]["drawdown_pct"] == pytest.approx(10.0)
    assert check(lim, equity=math.nan, state=state) == 0  # unknown equity: skip, keep the peak
    assert state[0]["peak_equity_quote"] == 1200.0


def test_consecutive_losses_limit():
    assert check(limits(), losses=4) == 0
    assert check(limits(), losses=5) == codes.RISK_CONSECUTIVE_LOSSES
    assert check(limits(max_consecutive_losses=0), losses=50) == 0


def test_several_breaches_combine():
    mask = check(limits(max_position_lots=5), q=-10, cost=1000, mark=110.0, losses=9)
    assert mask == codes.RISK_MAX_POSITION | codes.RISK_STOP_LOSS | codes.RISK_CONSECUTIVE_LOSSES


def test_side_gating_stops_at_the_limit_and_capacity_never_overshoots():
    assert risk.side_allowed(19, 20, BUY)
    assert not risk.side_allowed(20, 20, BUY)  # the old bot still bid at exactly the limit
    assert risk.side_allowed(20, 20, SELL)
    assert not risk.side_allowed(-20, 20, SELL)
    assert not risk.side_allowed(0, 20, 7)
    assert risk.side_capacity_lots(18, 20, BUY, 5) == 2
    assert risk.side_capacity_lots(18, 20, SELL, 5) == 5
    assert risk.side_capacity_lots(25, 20, BUY, 5) == 0
    assert risk.side_capacity_lots(0, 20, 9, 5) == 0


LIMIT_VALUES = st.one_of(st.just(math.nan), st.floats(-1.0, 20.0))


@given(
    st.integers(-50, 50),
    st.integers(0, 6000),
    st.one_of(st.just(math.nan), st.floats(-5, 200)),
    st.lists(st.one_of(st.just(math.nan), st.floats(-100, 2000)), max_size=5),
    st.integers(0, 8),
    st.integers(-1, 40),
    LIMIT_VALUES,
    LIMIT_VALUES,
    LIMIT_VALUES,
)
def test_risk_check_matches_twin(q, cost, mark, equities, losses, max_pos, sl, tp, dd):
    lim = limits(
        max_position_lots=max_pos,
        stop_loss_pct=sl,
        take_profit_pct=tp,
        max_drawdown_pct=dd,
        upnl_take_profit_quote=sl * 3,
        max_notional_quote=tp * 50,
    )
    state = np.zeros(1, dtype=RISK_STATE)
    for equity in equities or [math.nan]:
        check(lim, q=q, cost=cost, mark=mark, equity=equity, losses=losses, state=state)


@given(st.integers(-30, 30), st.integers(-5, 30), st.integers(0, 2), st.integers(-3, 10))
def test_side_kernels_match_twins_and_a_full_fill_stays_within_the_limit(q, limit, side, size):
    assert risk.side_allowed(q, limit, side) == twin.side_allowed(q, limit, side)
    capped = risk.side_capacity_lots(q, limit, side, size)
    assert capped == twin.side_capacity_lots(q, limit, side, size)
    assert 0 <= capped <= max(size, 0)
    if capped > 0:
        after = q + capped if side == BUY else q - capped
        assert abs(after) <= limit or abs(after) < abs(q)
