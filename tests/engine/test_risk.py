"""Scenarios 2-5: position limit, stop loss, recovery steps and UPNL take profit, end to end.

Every test ends by comparing the engine's position, realised PnL, fees and fill count with the
simulator's own account (scenario 10).
"""

from __future__ import annotations

import trio

from qengine.sim.orders import IOC

from .conftest import (
    BTC,
    assert_matches_exchange,
    closed_orders,
    exchange_side_counts,
    hit_bids,
    manual_trade,
    ours,
    quoted_prices,
    running,
    wait_until,
)

#: One risk-monitor interval for every position size (the monitor's interval is adaptive).
RISK_INTERVAL_S = 1.0
FAST_MONITOR = {"risk__monitor_interval_s": RISK_INTERVAL_S,
                "risk__monitor_fast_interval_s": RISK_INTERVAL_S,
                "risk__monitor_slow_interval_s": RISK_INTERVAL_S}


async def test_limit_breach_cancels_every_quote_within_one_interval_and_halts(autojump_clock):
    with trio.fail_after(120):
        async with running(risk__max_position=0.05, risk__recovery_cooldown_s=20.0,
                           **FAST_MONITOR) as (sim, engine):
            # Our bids are capped by the room left under the limit: 0.02 + 0.03 = 0.05.
            await wait_until(lambda: exchange_side_counts(sim)[0] == 2
                             and exchange_side_counts(sim)[1] >= 2)
            assert hit_bids(sim, 2) == 0.05
            await wait_until(lambda: engine.state.position() == 0.05)
            await trio.sleep(2 * RISK_INTERVAL_S)
            assert not engine.gate.halted  # at the limit is not past it
            assert exchange_side_counts(sim)[0] == 0  # but no more bids
            # A manual buy on the same account takes the position past the limit.
            assert await manual_trade(sim, "buy", 0.02, 65100.0) == 0.02
            breach_s = trio.current_time()
            await wait_until(lambda: ours(sim) == [], timeout_s=RISK_INTERVAL_S + 0.05,
                             step_s=0.01)
            assert engine.gate.halted
            assert "max position" in engine.gate.halt_reason
            # Reduced to the recovery threshold (80 % of the limit) with a reduce-only IOC.
            await wait_until(lambda: sim.positions()[BTC] == 0.04, timeout_s=2.0)
            (flatten,) = [o for o in closed_orders(sim) if o.time_in_force == IOC
                          and o.label == "qengine"]
            assert flatten.reduce_only
            assert flatten.direction == "sell"
            assert flatten.filled_lots == 30
            # Halted: nothing is quoted during the cool-down.
            while trio.current_time() < breach_s + 19.0:
                assert ours(sim) == []
                await trio.sleep(0.25)
            assert engine.gate.halted
            assert engine.telemetry.counters.snapshot()["risk_breaches"] == 1
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)


async def _long_then_stop_loss(sim, engine, drop_to: float) -> None:
    await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
    assert hit_bids(sim, 2) == 0.05
    await wait_until(lambda: engine.state.position() == 0.05)
    sim.set_index_price("BTCUSD", drop_to)  # mark falls ~1.5 %: beyond the 1 % stop loss


async def test_stop_loss_flattens_inside_the_collar_and_halts(autojump_clock):
    with trio.fail_after(120):
        async with running(risk__stop_loss_pct=0.01, risk__recovery_enabled=False,
                           **FAST_MONITOR) as (sim, engine):
            await _long_then_stop_loss(sim, engine, 64000.0)
            await wait_until(lambda: sim.positions()[BTC] == 0.0, timeout_s=2 * RISK_INTERVAL_S)
            assert engine.gate.halted
            assert "stop loss" in engine.gate.halt_reason
            (flatten,) = [o for o in closed_orders(sim) if o.time_in_force == IOC]
            assert flatten.reduce_only
            assert flatten.direction == "sell"
            # The falling market may also have run through a resting bid: all of it is sold.
            assert flatten.filled_lots == flatten.amount_lots >= 50
            # A sell limit at or above the collar low: inside the collar, so never rejected.
            market = sim.exchange.markets[BTC]
            collar_low, _ = market.collar_ticks(sim.exchange.config.collar_fraction)
            assert collar_low <= flatten.price_ticks < 64000
            assert ours(sim) == []  # no insert raced past the halt
            await trio.sleep(30.0)
            assert ours(sim) == []
            assert engine.gate.halted
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)


async def test_recovery_quotes_one_level_then_two_then_all(autojump_clock):
    with trio.fail_after(300):
        async with running(risk__stop_loss_pct=0.01, risk__recovery_cooldown_s=3.0,
                           risk__recovery_check_interval_s=5.0,
                           risk__gradual_recovery_steps=3, **FAST_MONITOR) as (sim, engine):
            await _long_then_stop_loss(sim, engine, 64000.0)
            await wait_until(lambda: engine.gate.halted)
            seen: list[tuple[int, int]] = []
            with trio.move_on_after(30.0):
                while True:
                    counts = exchange_side_counts(sim)
                    if not seen or seen[-1] != counts:
                        seen.append(counts)
                    await trio.sleep(0.02)
            # Transitions may pass through a one-sided moment while inserts land; the
            # settled states must be exactly 0, 1, 2 and then all 3 levels per side.
            settled = [c for c in seen if c[0] == c[1]]
            assert settled == [(0, 0), (1, 1), (2, 2), (3, 3)], seen
            assert not engine.gate.halted
            assert not engine.gate.recovering
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)


async def test_upnl_take_profit_closes_in_profit_without_halting(autojump_clock):
    with trio.fail_after(120):
        async with running(risk__upnl_take_profit_usd=5.0, risk__take_profit_pct=0.5,
                           **FAST_MONITOR) as (sim, engine):
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            bids, _ = quoted_prices(sim)
            assert hit_bids(sim, 3) == 0.09
            await wait_until(lambda: engine.state.position() == 0.09)
            entry = (bids[0] * 0.02 + bids[1] * 0.03 + bids[2] * 0.04) / 0.09
            # upnl ~ 0.09 x (65030 - entry) ~ 7 USD; the crowd's bid (65025) stays below our
            # asks, so only the take profit can close the position.
            sim.set_index_price("BTCUSD", 65030.0)
            await wait_until(lambda: sim.positions()[BTC] == 0.0, timeout_s=10.0)
            (flatten,) = [o for o in closed_orders(sim) if o.time_in_force == IOC]
            assert flatten.reduce_only
            assert flatten.direction == "sell"
            assert flatten.price_ticks > entry  # only when the touch beats the entry
            assert not engine.gate.halted
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3), timeout_s=5.0)
            assert engine.telemetry.counters.snapshot()["risk_breaches"] == 0
            assert engine.state.positions[0]["realised_pnl_quote"] > 0
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)
