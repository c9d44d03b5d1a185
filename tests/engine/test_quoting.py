"""Scenario 1 (start, quote, fill, inventory skew) end to end against the quiet simulator."""

from __future__ import annotations

import gc

import trio

from .conftest import (
    assert_matches_exchange,
    exchange_side_counts,
    hit_bids,
    lift_asks,
    quoted_prices,
    running,
    table_rows,
    wait_until,
)


async def test_quotes_both_sides_fills_and_skews_with_inventory(autojump_clock):
    with trio.fail_after(120):
        async with running(quote__gamma=1.0, quote__levels=3) as (sim, engine):
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            await trio.sleep(1.0)  # settled: the ladder does not change on a flat market
            bids0, asks0 = quoted_prices(sim)
            reservation0 = engine.state.diag[0]["reservation_ticks"]
            assert bids0[0] < 65000 < asks0[0]
            assert reservation0 == 65000.0  # flat: reservation at the mid
            assert len(table_rows(engine)) == 6

            bought = hit_bids(sim, 1)
            assert bought == 0.02  # level 0 size (base_size)
            await wait_until(lambda: engine.state.position() == 0.02)
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3)
                             and quoted_prices(sim)[1][0] < asks0[0])
            bids1, asks1 = quoted_prices(sim)
            reservation1 = engine.state.diag[0]["reservation_ticks"]
            # Long inventory: the reservation price and both touches move down.
            assert reservation1 < reservation0
            assert bids1[0] < bids0[0]
            assert asks1[0] < asks0[0]
            assert_matches_exchange(sim, engine)

            # Selling back (our asks lifted) flips the skew upwards.
            sold = lift_asks(sim, 2)
            assert sold == -0.05  # level 0 and level 1 asks: 0.02 + 0.03
            await wait_until(lambda: engine.state.position() == -0.03)
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3)
                             and quoted_prices(sim)[0][0] > bids0[0])
            assert engine.state.diag[0]["reservation_ticks"] > reservation0
            assert quoted_prices(sim)[1][0] > asks0[0]
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)
        assert sim.open_orders() == []
        assert engine.summary["open_orders_at_exit"] == 0


async def test_while_quoting_the_startup_objects_are_out_of_the_collector_s_way(autojump_clock):
    # A full collection would otherwise walk every module, kernel and state object (~40 ms).
    assert gc.get_freeze_count() == 0
    with trio.fail_after(60):
        async with running() as (sim, engine):
            await wait_until(lambda: exchange_side_counts(sim) != (0, 0))
            assert gc.get_freeze_count() > 10_000
            assert not gc.is_tracked(engine) or engine not in gc.get_objects(generation=2)
    assert gc.get_freeze_count() == 0  # released with the engine: collectable again


async def test_the_last_engine_to_stop_releases_the_frozen_objects(autojump_clock):
    with trio.fail_after(60):
        async with running() as (sim_a, _):
            await wait_until(lambda: exchange_side_counts(sim_a) != (0, 0))
            async with running() as (sim_b, _):
                await wait_until(lambda: exchange_side_counts(sim_b) != (0, 0))
            assert gc.get_freeze_count() > 10_000  # the first engine still quotes
    assert gc.get_freeze_count() == 0
