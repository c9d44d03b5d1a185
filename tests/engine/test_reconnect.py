"""Scenario 6: the simulator drops the connection; the engine reconnects, logs in again, re-arms
cancel-on-disconnect, resubscribes and reconciles, leaving no duplicate and no orphan orders."""

from __future__ import annotations

import logging

import trio

from qengine.sim import FaultConfig

from .conftest import (
    BTC,
    assert_matches_exchange,
    exchange_side_counts,
    hit_bids,
    ours,
    running,
    sim_config,
    table_rows,
    wait_until,
)

LEVELS = 3


def assert_orders_agree(sim, engine) -> None:
    """Every open order of ours on the exchange is in our table and vice versa (by client id),
    with at most ``LEVELS`` per side."""
    exchange_ids = sorted(o["client_order_id"] for o in ours(sim))
    table_ids = sorted(int(row["client_order_id"]) for row in table_rows(engine))
    assert exchange_ids == table_ids
    assert len(set(exchange_ids)) == len(exchange_ids)
    bids, asks = exchange_side_counts(sim)
    assert bids <= LEVELS
    assert asks <= LEVELS


def assert_session_armed(sim, engine) -> None:
    """One session, logged in, cancel-on-disconnect armed, private channels subscribed."""
    (session,) = list(sim.exchange.sessions.values())
    assert session.account is not None
    assert session.cod_timeout_s == engine.config.connection.cancel_on_disconnect_s
    for channel in ("session.orders", "account.portfolio", "account.trade_history",
                    "ticker.BTC-PERPETUAL.raw"):
        assert channel in session.subscriptions


async def _settled(sim, engine) -> None:
    await wait_until(lambda: exchange_side_counts(sim) == (LEVELS, LEVELS)
                     and len(table_rows(engine)) == 2 * LEVELS
                     and all(int(r["status"]) == 2 for r in table_rows(engine)))


async def test_dropped_connection_reconnects_rearms_and_reconciles(autojump_clock):
    with trio.fail_after(120):
        async with running(quote__levels=LEVELS) as (sim, engine):
            await _settled(sim, engine)
            assert_session_armed(sim, engine)
            for drop in range(1, 3):
                before = {o["order_id"] for o in ours(sim)}
                assert await sim.drop_connections() == 1
                await wait_until(lambda n=drop: engine.reconnects == n)
                await _settled(sim, engine)
                assert_session_armed(sim, engine)
                assert_orders_agree(sim, engine)
                # The old session's orders went with it (cancel-on-disconnect): all are new.
                assert before.isdisjoint(o["order_id"] for o in ours(sim))
                assert_matches_exchange(sim, engine)
            assert engine.telemetry.counters.snapshot()["reconnects"] == 2
        assert_matches_exchange(sim, engine)
        assert sim.open_orders() == []


async def test_fill_just_before_a_drop_is_booked_once(autojump_clock):
    with trio.fail_after(120):
        async with running(quote__levels=LEVELS) as (sim, engine):
            await _settled(sim, engine)
            assert hit_bids(sim, 2) == 0.05
            await sim.drop_connections()  # the fill's pushes may die with the connection
            await wait_until(lambda: engine.reconnects == 1)
            await _settled(sim, engine)
            await trio.sleep(3.0)  # past the listener's reconcile grace period
            assert engine.state.position() == 0.05
            assert_orders_agree(sim, engine)
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)


async def test_periodic_drops_leave_no_duplicates_or_orphans(autojump_clock):
    faults = FaultConfig(drop_every_s=4.0)
    with trio.fail_after(120):
        async with running(sim_config(faults=faults), quote__levels=LEVELS) as (sim, engine):
            await wait_until(lambda: engine.reconnects >= 3, timeout_s=60.0)
            for _ in range(3):
                await _settled(sim, engine)
                assert_session_armed(sim, engine)
                assert_orders_agree(sim, engine)
                hit_bids(sim, 1)
                await wait_until(lambda: sim.positions().get("BTC-PERPETUAL", 0.0)
                                 == engine.state.position())
                reconnects = engine.reconnects
                await wait_until(lambda r=reconnects: engine.reconnects == r + 1)
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)
        assert sim.open_orders() == []


async def test_reconnects_re_read_booked_fills_silently_and_count_them(autojump_clock, caplog):
    # Every reconnect reads the account's trade history again: trades booked before an earlier
    # reconnect also predate the adopted position. They are duplicates, not skips: no warning.
    caplog.set_level(logging.WARNING, logger="qengine")
    with trio.fail_after(120):
        async with running(quote__levels=LEVELS) as (sim, engine):
            for drop in range(1, 4):
                await _settled(sim, engine)
                assert hit_bids(sim, 1) > 0
                await wait_until(lambda: engine.state.position() == sim.positions()[BTC])
                await sim.drop_connections()
                await wait_until(lambda n=drop: engine.reconnects == n)
            await _settled(sim, engine)
            assert not [r for r in caplog.records if "predates" in r.getMessage()]
            assert engine.account.skipped_adopted_fills == 0
            counters = engine.telemetry.counters.snapshot()
            # Three fills, each re-read by every later reconnect (besides its own push pair).
            assert counters["duplicate_fills"] >= 3 + 2 + 1
            assert counters["fills"] == 3
            assert_matches_exchange(sim, engine)
            # A real skip is still logged: a fill never booked whose time is inside the
            # adopted position (its push came after the portfolio was adopted).
            position = engine.state.position_lots()
            cutoff_s = engine.account.adoption_cutoff_s
            assert not engine.account.book_fill(0, "late-trade-1", "buy", 65000.0, 0.02, True,
                                                 0.0, "qengine", cutoff_s - 1.0)
            assert engine.account.skipped_adopted_fills == 1
            assert [r for r in caplog.records if "late-trade-1 predates" in r.getMessage()]
            assert engine.state.position_lots() == position
            # ... and only once: its next report is known and silent.
            caplog.clear()
            assert not engine.account.book_fill(0, "late-trade-1", "buy", 65000.0, 0.02, True,
                                                 0.0, "qengine", cutoff_s - 1.0)
            assert caplog.records == []
        assert_matches_exchange(sim, engine)
