"""End-to-end fixtures: a quiet, deterministic simulator in the test's nursery and an engine
connected to it through ``open_engine`` (autojump clock: simulated minutes take real seconds).

The quiet market has no random takers, no basis noise and a flat index, so the only trades are
the ones a test injects with ``sim.inject_taker``. The crowd is one level per side at mid +- 5
ticks (1 BTC, refreshed every market step): a taker with a limit at our quote sweeps that level
and then exactly our orders at or better than the limit; a flatten IOC always finds liquidity.
"""

from __future__ import annotations

import math
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio

from qengine.config import EngineConfig, load_config
from qengine.engine import Engine, open_engine
from qengine.engine._account import Account
from qengine.engine._gate import Wakeup
from qengine.engine._listener import Listener
from qengine.engine._state import EngineState, select_instruments
from qengine.io import messages as m
from qengine.io.auth import DEMO_KEY_ID, demo_credentials, demo_public_key_pem
from qengine.io.thalex import open_thalex_client
from qengine.kernels import codes
from qengine.kernels.position import position_unrealised
from qengine.sim import (
    FaultConfig,
    IndexSpec,
    InstrumentSpec,
    MarketTap,
    Simulator,
    SimulatorConfig,
    serve_simulator,
)
from qengine.telemetry import Telemetry

from ..io.contract.schema import FrameRecorder, thalex_schema

BTC = "BTC-PERPETUAL"
LABEL = "qengine"
#: Live statuses of our order table.
LIVE = (codes.ORDER_PENDING_INSERT, codes.ORDER_OPEN, codes.ORDER_PENDING_AMEND,
        codes.ORDER_PENDING_CANCEL)


@pytest.fixture(scope="session", autouse=True)
def demo_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A private config dir for the demo key pair (created once, shared with subprocesses)."""
    path = tmp_path_factory.mktemp("qengine-config")
    old = os.environ.get("QENGINE_CONFIG_DIR")
    os.environ["QENGINE_CONFIG_DIR"] = str(path)
    demo_public_key_pem()  # create the pair now: not on the event loop during a test
    yield path
    if old is None:
        os.environ.pop("QENGINE_CONFIG_DIR", None)
    else:
        os.environ["QENGINE_CONFIG_DIR"] = old


def quiet_instruments(**overrides: Any) -> tuple[InstrumentSpec, ...]:
    """BTC and ETH perpetuals without random takers or basis noise, one crowd level per side."""
    common = {"taker_intensity_per_s": 0.0, "basis_volatility_ticks_per_sqrt_s": 0.0,
              "crowd_levels": 1, "crowd_level_lots": 1000, **overrides}
    return (
        InstrumentSpec(instrument_name=BTC, product="FBTCUSD", underlying="BTCUSD",
                       tick_size=1.0, volume_tick_size=0.001, min_order_amount=0.001, **common),
        InstrumentSpec(instrument_name="ETH-PERPETUAL", product="FETHUSD", underlying="ETHUSD",
                       tick_size=0.1, volume_tick_size=0.01, min_order_amount=0.01, **common),
    )


def sim_config(faults: FaultConfig | None = None, **overrides: Any) -> SimulatorConfig:
    """A deterministic simulator: flat index at 65,000, quiet market, the demo key."""
    base: dict[str, Any] = {
        "api_keys": {DEMO_KEY_ID: demo_public_key_pem()},
        "instruments": quiet_instruments(),
        "indices": (IndexSpec(underlying="BTCUSD", initial_price=65000.0,
                              volatility_per_sqrt_s=0.0),
                    IndexSpec(underlying="ETHUSD", initial_price=3500.0,
                              volatility_per_sqrt_s=0.0)),
        "start_time_s": 1.7e9,
        "seed": 3,
        "faults": faults or FaultConfig(),
    }
    base.update(overrides)
    return SimulatorConfig(**base)


def engine_config(url: str, **dotted: Any) -> EngineConfig:
    """Engine config for ``url``; ``dotted`` keys use ``__`` for dots (``risk__max_position``)."""
    overrides: dict[str, Any] = {
        "connection.url": url,
        "connection.network": "sim",
        # Intensity from priors only: the quiet tape must not move the model between cycles.
        "quote.estimate_intensity": False,
    }
    overrides.update({key.replace("__", "."): value for key, value in dotted.items()})
    return load_config(None, overrides)


@asynccontextmanager
async def running(sim_cfg: SimulatorConfig | None = None, *, market_tap: MarketTap | None = None,
                  **dotted: Any) -> AsyncIterator[tuple[Simulator, Engine]]:
    """Start a simulator (with ``market_tap``, e.g. a ``MarketRecorder``) and an engine on it;
    stop both when the block exits.

    Every frame of the session is recorded; after a block that ended normally, each must
    conform to Thalex's API description (``tests/io/contract/schema.py``).
    """
    recorder = FrameRecorder(thalex_schema())
    async with trio.open_nursery() as nursery:
        sim = await nursery.start(partial(serve_simulator, sim_cfg or sim_config(),
                                          wire_tap=recorder, market_tap=market_tap))
        async with open_engine(engine_config(sim.url, **dotted), url=sim.url,
                               credentials=demo_credentials()) as engine:
            yield sim, engine
        nursery.cancel_scope.cancel()
    assert recorder.problems() == [], "frames that do not match Thalex's API description"


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0,
                     step_s: float = 0.05) -> None:
    """Poll ``predicate`` on trio's clock; fail the test after ``timeout_s`` (virtual) seconds."""
    with trio.move_on_after(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polled state has no event
            await trio.sleep(step_s)
        return
    raise AssertionError(f"condition not met within {timeout_s} s: {predicate}")


def ours(sim: Simulator) -> list[dict[str, Any]]:
    """Our open orders on the exchange."""
    return [o for o in sim.open_orders() if o.get("label") == LABEL]


def exchange_side_counts(sim: Simulator) -> tuple[int, int]:
    """(bids, asks) of our open orders on the exchange."""
    orders = ours(sim)
    return (sum(1 for o in orders if o["direction"] == "buy"),
            sum(1 for o in orders if o["direction"] == "sell"))


def table_rows(engine: Engine) -> list[Any]:
    """Live rows of the engine's order table."""
    orders = engine.state.orders
    return [row for row in orders if int(row["status"]) in LIVE]


def quoted_prices(sim: Simulator) -> tuple[list[float], list[float]]:
    """(bid prices best first, ask prices best first) of our orders on the exchange."""
    orders = ours(sim)
    bids = sorted((o["price"] for o in orders if o["direction"] == "buy"), reverse=True)
    asks = sorted(o["price"] for o in orders if o["direction"] == "sell")
    return bids, asks


def assert_matches_exchange(sim: Simulator, engine: Engine) -> None:
    """Scenario 10: position, PnL, fees and fill count equal the exchange's account.

    The engine books fills as FIFO lots, the exchange (Thalex and the simulator) realises
    against the average price. The two agree exactly on realised PnL whenever the position is
    flat, and always on total PnL (realised + unrealised) at one mark; both are checked.
    ``test_accounting.py`` pins the partial-close difference.
    """
    account = sim.account_state()
    state = engine.state
    lots = account.position_lots.get(BTC, 0)
    assert state.position_lots(0) == lots
    pos = state.positions[0]
    realised = float(pos["realised_pnl_quote"])
    fees = float(pos["maker_fees_quote"]) + float(pos["taker_fees_quote"])
    assert math.isclose(fees, account.fees, rel_tol=0, abs_tol=1e-6)
    # Every execution booked exactly once: no double counting, none missing.
    assert engine.telemetry.counters.snapshot()["fills"] == account.trade_count
    mark = sim.exchange.markets[BTC].mark
    (exchange_account,) = sim.exchange.accounts.values()
    average = float(exchange_account.position(BTC).avg_price)
    exchange_total = account.realised_pnl + (mark - average) * account.positions.get(BTC, 0.0)
    spec = state.spec
    our_total = realised + float(position_unrealised(state.positions, state.lots, 0,
                                                     mark / spec.tick_size, spec.lot_tick_value))
    assert math.isclose(our_total, exchange_total, rel_tol=0, abs_tol=1e-6)
    if lots == 0:
        assert math.isclose(realised, account.realised_pnl, rel_tol=0, abs_tol=1e-6)
    assert sim.internal_errors == 0


def hit_bids(sim: Simulator, levels: int) -> float:
    """A crowd seller sweeps down to our ``levels``-th best bid; return our filled amount."""
    bids, _ = quoted_prices(sim)
    before = sim.positions().get(BTC, 0.0)
    sim.inject_taker(BTC, "sell", 100.0, limit_price=bids[levels - 1])
    return round(sim.positions()[BTC] - before, 9)


def lift_asks(sim: Simulator, levels: int) -> float:
    """A crowd buyer sweeps up to our ``levels``-th best ask; return our (negative) fill."""
    _, asks = quoted_prices(sim)
    before = sim.positions().get(BTC, 0.0)
    sim.inject_taker(BTC, "buy", 100.0, limit_price=asks[levels - 1])
    return round(sim.positions()[BTC] - before, 9)


def closed_orders(sim: Simulator) -> list[Any]:
    """The exchange's closed Order objects of our account (for flatten-order checks)."""
    (account,) = sim.exchange.accounts.values()
    return list(account.closed_orders)


async def manual_trade(sim: Simulator, direction: str, amount: float, price: float) -> float:
    """Trade ``amount`` on our account from a second session (a manual IOC, not our label).

    Returns the filled amount in coins.
    """
    async with open_thalex_client(sim.url, credentials=demo_credentials(), reconnect=None
                                  ) as client:
        result = await client.insert(direction, BTC, amount, price,
                                     time_in_force="immediate_or_cancel", label="manual")
    return result.filled_amount


def btc_state() -> EngineState:
    """The default config's state for BTC-PERPETUAL (tick 1, lot 0.001), with no connection."""
    listed = [m.decode_instrument_row({"instrument_name": "BTC-PERPETUAL", "product": "FBTCUSD",
                                       "type": "perpetual", "tick_size": 1,
                                       "volume_tick_size": 0.001})]
    config = EngineConfig()
    return EngineState(config, select_instruments(config, listed))


def offline_listener() -> Listener:
    """A listener and its account on :func:`btc_state`, fed by hand (no io, no quoter)."""
    state, telemetry = btc_state(), Telemetry()
    return Listener(state, telemetry, Account(state, telemetry, Wakeup()))
