"""Every row of the README's breach table, end to end against the simulator.

Pausing breaches: breach -> quotes pulled within one monitor interval -> nothing quoted during
the cool-down -> 1 level, 2 levels, ... -> every level again. Stopping breaches (and any pause
while recovery is disabled): quotes pulled and never quoted again in the session. The README
table and ``qengine.engine._risk.BREACH_RULES`` are checked against each other.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from qengine.engine._risk import BREACH_RULES, PAUSE

from .conftest import (
    BTC,
    assert_matches_exchange,
    exchange_side_counts,
    hit_bids,
    lift_asks,
    manual_trade,
    ours,
    quoted_prices,
    running,
    wait_until,
)
from .test_risk import FAST_MONITOR, RISK_INTERVAL_S

COOLDOWN_S = 3.0
STEP_S = 5.0
RECOVERY = {"risk__recovery_cooldown_s": COOLDOWN_S, "risk__recovery_check_interval_s": STEP_S,
            "risk__gradual_recovery_steps": 3, **FAST_MONITOR}
README = Path(__file__).resolve().parents[2] / "README.md"


async def _long(sim, engine, levels: int = 2) -> float:
    await wait_until(lambda: exchange_side_counts(sim)[0] >= levels
                     and exchange_side_counts(sim)[1] >= levels)
    filled = hit_bids(sim, levels)
    await wait_until(lambda: engine.state.position() == filled)
    return filled


async def _max_position(sim, engine) -> None:
    await _long(sim, engine)  # 0.05: at the limit, not past it
    assert await manual_trade(sim, "buy", 0.02, 65100.0) == 0.02


async def _max_notional(sim, engine) -> None:
    await _long(sim, engine)  # 0.05 BTC at ~65,000: above 3,000 USD


async def _stop_loss(sim, engine) -> None:
    await _long(sim, engine)
    sim.set_index_price("BTCUSD", 64000.0)  # ~1.5 % below the entry: beyond the 1 % stop


async def _losing_round_trip(sim, engine) -> None:
    # Bought at our best bid; the market falls through it; our best ask, now below the
    # entry, is lifted: the position closes (or flips) at a loss.
    await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
    bids, _ = quoted_prices(sim)
    assert hit_bids(sim, 1) > 0
    await wait_until(lambda: engine.state.position() == sim.positions()[BTC])
    entry = bids[0]
    index = sim.exchange.indices["BTCUSD"].price
    while not (exchange_side_counts(sim)[1] == 3 and quoted_prices(sim)[1][0] < entry - 5):
        index -= 10.0  # in steps our bids follow, so the crowd never runs through them
        sim.set_index_price("BTCUSD", index)
        await trio.sleep(1.0)
    assert engine.state.position() == sim.positions()[BTC] > 0
    lift_asks(sim, 1)
    await wait_until(lambda: int(engine.state.positions[0]["round_trip_count"]) >= 1)


async def _take_profit(sim, engine) -> None:
    await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
    assert hit_bids(sim, 3) == 0.09
    await wait_until(lambda: engine.state.position() == 0.09)
    sim.set_index_price("BTCUSD", 65030.0)  # upnl ~ 7 USD, the touch above the entry


Trigger = Callable[[Any, Any], Awaitable[None]]
PAUSES: dict[str, tuple[Trigger, dict[str, Any]]] = {
    "max position": (_max_position, {"risk__max_position": 0.05}),
    "max notional": (_max_notional, {"risk__max_notional_usd": 3000.0}),
    "stop loss": (_stop_loss, {"risk__stop_loss_pct": 0.01}),
    "consecutive losses": (_losing_round_trip, {"risk__max_consecutive_losses": 1}),
    "take profit": (_take_profit, {"risk__upnl_take_profit_usd": 5.0,
                                   "risk__take_profit_pct": 0.5,
                                   "risk__take_profit_halts": True}),
}


async def _watch(sim, engine, duration_s: float) -> tuple[list[int], list[int], float]:
    """Deduplicated levels the risk layer allowed and the most levels of one side on the
    exchange, over ``duration_s``; and when quoting first resumed."""
    allowed: list[int] = []
    quoted: list[int] = []
    resumed_s = -1.0
    with trio.move_on_after(duration_s):
        while True:
            levels = engine.gate.levels_allowed
            on_exchange = max(exchange_side_counts(sim))
            if not allowed or allowed[-1] != levels:
                allowed.append(levels)
            if not quoted or quoted[-1] != on_exchange:
                quoted.append(on_exchange)
            if on_exchange and resumed_s < 0:
                resumed_s = trio.current_time()
            await trio.sleep(0.02)
    return allowed, quoted, resumed_s


@pytest.mark.parametrize("kind", sorted(PAUSES))
async def test_a_pausing_breach_cools_down_then_quotes_one_two_then_all_levels(autojump_clock,
                                                                               kind):
    trigger, settings = PAUSES[kind]
    with trio.fail_after(300):
        async with running(**settings, **RECOVERY) as (sim, engine):
            await trigger(sim, engine)
            await wait_until(lambda: engine.gate.halted, timeout_s=5 * RISK_INTERVAL_S)
            halted_s = trio.current_time()
            assert kind in engine.gate.halt_reason
            assert not engine.gate.stopped
            await wait_until(lambda: ours(sim) == [], timeout_s=2.0)
            allowed, quoted, resumed_s = await _watch(sim, engine, 40.0)
            assert allowed == [0, 1, 2, 3], allowed
            assert quoted == [0, 1, 2, 3], quoted
            assert resumed_s >= halted_s + COOLDOWN_S - RISK_INTERVAL_S
            assert not engine.gate.halted
            assert not engine.gate.recovering
            assert exchange_side_counts(sim)[1] == 3
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)


async def test_the_losing_streak_restarts_with_its_pause_and_counts_anew(autojump_clock):
    trigger, settings = PAUSES["consecutive losses"]
    with trio.fail_after(300):
        async with running(**settings, **RECOVERY) as (sim, engine):
            await trigger(sim, engine)
            await wait_until(lambda: engine.gate.halted, timeout_s=5 * RISK_INTERVAL_S)
            # The round trip was a loss and no winning one followed: the position's own streak
            # still says so; the pause lifts because the monitor's streak restarted.
            assert int(engine.state.positions[0]["losing_streak"]) == 1
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3), timeout_s=40.0)
            assert not engine.gate.halted
            assert engine.telemetry.counters.snapshot()["risk_breaches"] == 1
            # Flat again, then one more losing round trip: a new streak, a new pause.
            if engine.state.position_lots():
                side = "sell" if engine.state.position_lots() > 0 else "buy"
                price = 60000.0 if side == "sell" else 70000.0
                await manual_trade(sim, side, abs(engine.state.position()), price)
                await wait_until(lambda: engine.state.position_lots() == 0)
            trips = int(engine.state.positions[0]["round_trip_count"])
            await _losing_round_trip(sim, engine)
            await wait_until(lambda: engine.gate.halted, timeout_s=5 * RISK_INTERVAL_S)
            assert int(engine.state.positions[0]["round_trip_count"]) > trips
            assert engine.telemetry.counters.snapshot()["risk_breaches"] == 2
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)


async def _drawdown(sim, engine) -> None:
    await _long(sim, engine)
    await trio.sleep(2 * RISK_INTERVAL_S)  # the monitor saw the peak equity
    sim.set_index_price("BTCUSD", 64900.0)  # several USD down: most of the 10 USD base


STOPS: dict[str, tuple[Trigger, dict[str, Any]]] = {
    "max drawdown": (_drawdown, {"risk__drawdown_base_usd": 10.0,
                                 "risk__max_drawdown_pct": 0.10}),
    # Recovery disabled: a pausing breach stops quoting for good.
    "consecutive losses": (_losing_round_trip, {"risk__max_consecutive_losses": 1,
                                                "risk__recovery_enabled": False}),
}


@pytest.mark.parametrize("kind", sorted(STOPS))
async def test_a_stopping_breach_never_quotes_again(autojump_clock, kind):
    trigger, settings = STOPS[kind]
    with trio.fail_after(300):
        async with running(**settings, **RECOVERY) as (sim, engine):
            await trigger(sim, engine)
            await wait_until(lambda: engine.gate.halted, timeout_s=5 * RISK_INTERVAL_S)
            assert kind in engine.gate.halt_reason
            assert engine.gate.stopped
            await wait_until(lambda: ours(sim) == [], timeout_s=2.0)
            if kind == "max drawdown":  # it also closes the position
                await wait_until(lambda: sim.positions()[BTC] == 0.0, timeout_s=5.0)
            allowed, quoted, _ = await _watch(sim, engine, COOLDOWN_S + 4 * STEP_S)
            assert allowed == [0]
            assert quoted == [0]
            assert engine.gate.halted
            assert engine.telemetry.counters.snapshot()["risk_breaches"] == 1
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)


def _readme_rows() -> dict[str, list[str]]:
    text = README.read_text()
    section = text[text.index("### Breach table"):]
    rows = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        name = re.sub(r"[*`]|\(.*\)", "", cells[0]).strip() if len(cells) > 3 else ""
        if name and not set(name) <= {"-"} and name != "Breach":
            rows[name] = cells
    return rows


def test_the_readme_table_is_the_engine_table():
    rows = _readme_rows()
    assert set(rows) == {rule.name for rule in BREACH_RULES}
    for rule in BREACH_RULES:
        outcome = rows[rule.name][3]
        assert outcome.strip("*").startswith(rule.outcome), (rule, outcome)
        if rule.outcome == PAUSE:
            assert "cool" in rows[rule.name][4]
