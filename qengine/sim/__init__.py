"""A Thalex exchange on loopback, speaking the protocol of thalex-protocol.md: a venue beside
``qengine.io`` (it imports io; only the command line imports it).

Start it inside your nursery::

    async with trio.open_nursery() as nursery:
        sim = await nursery.start(serve_simulator, SimulatorConfig(seed=7))
        url = sim.url            # ws://127.0.0.1:PORT/ws/api/v2; int(sim) is the port
        ...
        sim.account_state()      # the exchange's own view of positions, PnL, open orders

``SimulatorConfig()`` lists the two perpetuals; ``SimulatorConfig(instruments=
thalex_instruments(start_s), start_time_s=start_s)`` adds dated futures and their rolls (as
``qengine simulate`` does, also as the venue of ``qengine quote --network sim``).

Time: the market advances in fixed steps of ``step_s`` trio seconds, each moving simulated time by
``step_s * time_scale``; timestamps in messages are simulated Unix seconds. Protocol timers (rate
limits, cancel-on-disconnect, throttled channel delays, faults) run on trio time, so tests under
``autojump_clock`` are fast and deterministic for a seed.
"""

from __future__ import annotations

import trio

from .accounts import AccountState
from .config import FaultConfig, IndexSpec, InstrumentSpec, SimulatorConfig
from .handle import Simulator
from .listing import thalex_instruments
from .recorder import MarketRecorder
from .server import MarketTap, WireTap, start_server

__all__ = ["AccountState", "FaultConfig", "IndexSpec", "InstrumentSpec", "MarketRecorder",
           "MarketTap", "Simulator", "SimulatorConfig", "WireTap", "serve_simulator",
           "thalex_instruments"]


async def _public_keys(config: SimulatorConfig) -> dict[str, str]:
    if config.api_keys:
        return dict(config.api_keys)
    from ..io.auth import DEMO_KEY_ID, demo_public_key_pem

    # Creating the demo key pair is slow the first time (RSA 2048): keep it off the event loop.
    pem = await trio.to_thread.run_sync(demo_public_key_pem, config.demo_config_dir)
    return {DEMO_KEY_ID: pem}


async def serve_simulator(config: SimulatorConfig | None = None, *,
                          wire_tap: WireTap | None = None,
                          market_tap: MarketTap | None = None,
                          task_status: trio.TaskStatus[Simulator] = trio.TASK_STATUS_IGNORED
                          ) -> None:
    """Run the simulator until cancelled.

    Parameters
    ----------
    config : SimulatorConfig, optional
        Configuration (defaults: loopback, port 0, seed 0, demo key).
    wire_tap : callable(session_id, direction, text), optional
        Sees every text frame as it is received (``"in"``) or sent (``"out"``): recording,
        e.g. for checking the frames against Thalex's API description. Must not block.
    market_tap : callable(exchange), optional
        Called when the market starts and after every market step, before the step is
        published: e.g. a :class:`MarketRecorder`, which records an instrument's book and trades
        as backtester event rows (``qengine simulate --record``). Must not block.
    task_status : trio.TaskStatus
        ``nursery.start`` protocol: reports a ``Simulator`` (an int equal to the bound port,
        with ``url`` and in-process accessors).
    """
    config = config if config is not None else SimulatorConfig()
    keys = await _public_keys(config)
    async with trio.open_nursery() as nursery:
        ex, server, port = await start_server(config, keys, nursery, wire_tap, market_tap)
        task_status.started(Simulator(port, exchange=ex, server=server, host=config.host,
                                      cancel_scope=nursery.cancel_scope))
