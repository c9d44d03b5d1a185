"""Scenario 13: mass-quote mode sets mm protection, quotes every level, books its fills and
leaves nothing on the exchange at exit."""

from __future__ import annotations

from fractions import Fraction

import trio

from .conftest import (
    assert_matches_exchange,
    exchange_side_counts,
    hit_bids,
    ours,
    running,
    wait_until,
)


async def test_mass_quote_mode_protects_quotes_and_cancels_at_exit(autojump_clock):
    with trio.fail_after(120):
        async with running(order_mode="mass_quote", quote__levels=3,
                           risk__mm_protection_trade_amount=0.5) as (sim, engine):
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            (session,) = list(sim.exchange.sessions.values())
            group = session.mm_groups["FBTCUSD"]
            assert group.trade_amount == Fraction("0.5")
            assert all(o.mass_quote for o in session.open_mass_quotes())
            assert len(session.open_mass_quotes()) == 6
            assert {o["direction"] for o in ours(sim)} == {"buy", "sell"}
            assert hit_bids(sim, 1) == 0.02
            await wait_until(lambda: engine.state.position() == 0.02)
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            counters = engine.telemetry.counters.snapshot()
            assert counters["mass_quotes"] >= 2
            assert counters["inserts"] == 0
            assert_matches_exchange(sim, engine)
        assert sim.open_orders() == []
        assert engine.summary["open_orders_at_exit"] == 0
        assert_matches_exchange(sim, engine)
