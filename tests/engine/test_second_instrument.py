"""``second_instrument`` end to end against the simulator's dated futures and rolls: the engine
quotes only its main instrument, and tracks the second one's position separately, through an
outright fill and through a roll that moves both legs at once."""

from __future__ import annotations

import dataclasses

import trio

from qengine.io.auth import demo_credentials
from qengine.io.simulator import Simulator, thalex_instruments
from qengine.io.thalex import open_thalex_client

from .conftest import BTC, exchange_side_counts, ours, running, sim_config, wait_until


def _quiet_listing():
    """Thalex's listing at the quiet engine market's start time, with no random takers."""
    return tuple(dataclasses.replace(spec, taker_intensity_per_s=0.0,
                                     basis_volatility_ticks_per_sqrt_s=0.0, crowd_levels=1,
                                     crowd_level_lots=1000)
                 for spec in thalex_instruments(1.7e9))


async def _manual_ioc(sim: Simulator, instrument: str, direction: str, amount: float,
                      price: float) -> float:
    """Trade on our account from a second session (not our label); return the filled amount."""
    async with open_thalex_client(sim.url, credentials=demo_credentials(), reconnect=None
                                  ) as client:
        result = await client.insert(direction, instrument, amount, price,
                                     time_in_force="immediate_or_cancel", label="manual")
    return result.filled_amount


async def test_second_instrument_position_is_tracked_separately(autojump_clock, caplog):
    listing = _quiet_listing()
    future = next(s.instrument_name for s in listing if s.type == "future"
                  and s.underlying == "BTCUSD")
    roll = f"{future}-PERPETUAL"
    assert any(s.instrument_name == roll and s.type == "combination" for s in listing)
    with trio.fail_after(120):
        async with running(sim_config(instruments=listing), second_instrument=future) as (
                sim, engine):
            state = engine.state
            assert [spec.name for spec in state.specs] == [BTC, future]
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            assert {o["instrument_name"] for o in ours(sim)} == {BTC}  # quotes the main only
            fills_before = engine.telemetry.counters.snapshot()["fills"]

            # An outright fill in the future moves only the second position.
            ask = sim.mid_price(future) + 5  # the quiet crowd quotes mid +- 5 ticks
            assert await _manual_ioc(sim, future, "buy", 0.3, ask) == 0.3
            await wait_until(lambda: state.position(1) == 0.3)
            assert state.position(0) == 0.0
            assert engine.telemetry.counters.snapshot()["fills"] == fills_before + 1

            # Selling the roll sells the future and buys the perpetual: both positions move.
            bid = sim.mid_price(roll) - 3  # the roll crowd quotes mid +- 3 ticks
            assert await _manual_ioc(sim, roll, "sell", 0.2, bid) == 0.2
            assert sim.positions() == {future: 0.1, BTC: 0.2}
            await wait_until(lambda: (state.position(0), state.position(1)) == (0.2, 0.1))
            # Each leg of the roll is booked as a fill from the trade history, not left for
            # the portfolio reconcile to adopt.
            await wait_until(
                lambda: engine.telemetry.counters.snapshot()["fills"] == fills_before + 3)
            assert "reconciled with the exchange" not in caplog.text
            account = sim.account_state()
            assert state.position_lots(0) == account.position_lots[BTC]
            assert state.position_lots(1) == account.position_lots[future]
            assert {o["instrument_name"] for o in ours(sim)} == {BTC}
            assert sim.internal_errors == 0
