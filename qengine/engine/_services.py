"""The services of one engine, and the one place they are built with their collaborators.

:class:`Engine` is the record ``open_engine`` yields: state, telemetry, the gate, the client
and the services. :func:`build_engine` builds every one of them with what it needs, in
dependency order, before anything connects: nothing is patched in afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio

from ..config import EngineConfig
from ..io.thalex import ThalexClient
from ..kernels.decision import bucket_set_rate, bucket_take, engine_tick, pacing_due
from ..kernels.intensity import intensity_update
from ..kernels.order_batch import order_batch_prepare
from ..kernels.order_wire import order_wire_encode
from ..kernels.orders import (
    order_apply_update,
    order_book_lots,
    order_find_by_client_id,
    order_find_by_key,
    order_release,
    order_reserve,
)
from ..kernels.position import position_apply_fill, position_reconcile, position_unrealised
from ..kernels.risk_actions import risk_check_interval_ns, risk_step
from ..kernels.ticker_wire import ticker_decode, ticker_tick
from ..strategy.setup import InstrumentSpec
from ..telemetry import Telemetry
from ._account import Account
from ._gate import QuoteGate, Wakeup
from ._listener import Listener
from ._orders import OrderManager
from ._quoter import Quoter
from ._risk import RiskMonitor
from ._state import EngineState
from ._ticker_lane import ticker_channel

__all__ = ["ENGINE_KERNELS", "Engine", "build_engine"]

#: The kernels the engine calls from Python, loaded before it connects; the kernels they call
#: are in their cached machine code and are not loaded on their own.
ENGINE_KERNELS = (
    engine_tick, ticker_tick, ticker_decode, pacing_due, bucket_take, bucket_set_rate,
    order_batch_prepare, order_wire_encode, order_apply_update, order_find_by_client_id,
    order_find_by_key, order_release, order_reserve, position_apply_fill, position_reconcile,
    position_unrealised, intensity_update, risk_step, risk_check_interval_ns, order_book_lots,
)


@dataclass
class Engine:
    """A running engine: its state, services and (after exit) its summary."""

    config: EngineConfig
    state: EngineState
    telemetry: Telemetry
    #: Whether quoting is allowed now (ready, risk state, stale book): its one writer.
    gate: QuoteGate
    client: ThalexClient
    account: Account
    listener: Listener
    orders: OrderManager
    quoter: Quoter
    monitor: RiskMonitor
    url: str
    reconnects: int = 0
    started_s: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)
    stopped: trio.Event = field(default_factory=trio.Event)

    async def wait_stopped(self) -> None:
        """Wait until the engine stopped by itself (it normally runs until cancelled)."""
        await self.stopped.wait()


def build_engine(config: EngineConfig, specs: list[InstrumentSpec], url: str) -> Engine:
    """Every service, built with its collaborators: the one place the engine is wired."""
    state = EngineState(config, specs)
    telemetry = Telemetry()
    gate = QuoteGate(state.decision_params, state.book)
    wakeup = Wakeup()
    client = ThalexClient(request_timeout_s=config.connection.request_timeout_s,
                          raw_market=(ticker_channel(state.spec),))
    account = Account(state, telemetry, wakeup)
    listener = Listener(state, telemetry, account, decode_raw=client.decode_raw)
    orders = OrderManager(state, listener, telemetry, client, gate, wakeup)
    quoter = Quoter(config, state, listener, orders, gate, wakeup, telemetry)
    monitor = RiskMonitor(config, state, telemetry, gate, wakeup,
                          cancel_everything=orders.cancel_everything, flatten=orders.flatten,
                          reconcile_positions=account.reconcile_positions,
                          wait_next_ticker=listener.wait_next_ticker)
    return Engine(config=config, state=state, telemetry=telemetry, gate=gate, client=client,
                  account=account, listener=listener, orders=orders, quoter=quoter,
                  monitor=monitor, url=url, started_s=trio.current_time())
