"""``open_engine``: owns the engine's nursery, starts its services, and leaves the market safely.

Start-up: warm up kernels (compile before connecting) -> start the embedded simulator when the
network is ``sim`` -> connect and validate the configured instruments (an unknown one is a clear
``StartupError`` before any login or order) -> connect with keys: login, cancel-on-disconnect,
cancel leftover orders of ours, subscribe, reconcile orders and portfolio -> start the listener,
quoter, risk monitor, heartbeat and telemetry with ``nursery.start``. Every reconnect re-runs
login, cancel-on-disconnect, resubscription and reconciliation before quoting resumes.

Exit (normal, cancelled or failed): the services stop, then a shielded, time-limited
``cancel_session`` + ``cancel_all`` runs, the exchange's open orders are checked and reported.
The connection steps and the reconnect hooks live in ``connection.py``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from . import kernels
from .clock import now_ns
from .config import EngineConfig
from .connection import credentials_for, open_connection, simulator_config, validate_instruments
from .errors import ConfigError, StartupError
from .io import errors as io_errors
from .io.simulator import serve_simulator
from .io.thalex import ThalexClient, url_for_network
from .listener import Listener
from .order_manager import OrderManager
from .our_orders import cancel_our_orders, our_live_orders
from .quoter import Quoter
from .risk import RiskControl, RiskMonitor
from .state import EngineState
from .telemetry import Telemetry, rss_mb
from .telemetry_task import heartbeat, status_reporter

log = logging.getLogger("qengine.engine")

@dataclass
class Engine:
    """A running engine: its state, services and (after exit) its summary."""

    config: EngineConfig
    state: EngineState
    telemetry: Telemetry
    listener: Listener
    orders: OrderManager
    quoter: Quoter
    control: RiskControl
    url: str
    simulator: Any = None
    client: ThalexClient | None = None
    reconnects: int = 0
    started_s: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)
    #: Ordered pushes (orders, portfolio, trades) for the listener task.
    events: Any = None
    stopped: trio.Event = field(default_factory=trio.Event)
    #: Trade ids of the account's history at the first login: fills of earlier runs, never
    #: booked (their result is in the portfolio position the engine adopts).
    known_trade_ids: set[str] = field(default_factory=set)

    async def wait_stopped(self) -> None:
        """Wait until the engine stopped by itself (it normally runs until cancelled)."""
        await self.stopped.wait()


class _Startup:
    # Whether the engine reached ``yield``: failures before it are start-up failures.
    reached = False


def _startup_failure(group: BaseExceptionGroup) -> StartupError | ConfigError | None:
    """The StartupError to raise for a group of start-up failures, or None if it is not one."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    if not leaves or len(leaves) > 1:
        return None
    (leaf,) = leaves
    if isinstance(leaf, StartupError | ConfigError):
        return leaf
    if isinstance(leaf, io_errors.AuthenticationFailed):
        return StartupError("login refused (error 19): check the API key id and private key")
    if isinstance(leaf, io_errors.ConnectionLost):
        return StartupError(f"cannot connect: {leaf}")
    if isinstance(leaf, io_errors.ThalexError):
        return StartupError(f"the exchange refused a start-up request: {leaf}")
    if isinstance(leaf, io_errors.ThalexClientError):  # a timeout or a malformed answer
        return StartupError(f"start-up request failed: {leaf}")
    return None


@asynccontextmanager
async def open_engine(config: EngineConfig) -> AsyncIterator[Engine]:
    """Start an engine for ``config``; quote until the block exits; then leave the market safely.

    Raises
    ------
    StartupError
        Unknown instrument, missing keys, unreachable venue or a refused login; nothing was
        quoted. Failures after start-up propagate as raised by the failing task (an exception
        group, per trio's rules).
    ConfigError
        A setting found invalid only once the instrument is known (mm protection amounts).
    """
    startup = _Startup()
    try:
        async with _open_engine(config, startup) as engine:
            yield engine
    except BaseExceptionGroup as group:
        failure = None if startup.reached else _startup_failure(group)
        if failure is None:
            raise
        raise failure from None


@asynccontextmanager
async def _open_engine(config: EngineConfig, startup: _Startup) -> AsyncIterator[Engine]:
    report = kernels.warm_up()
    log.debug("kernels ready: %d in %.2f s (%d from cache)", report.kernels, report.seconds,
              report.cache_hits)
    async with trio.open_nursery() as outer:
        simulator = None
        url = config.connection.url
        if not url:
            if config.connection.network == "sim":
                simulator = await outer.start(serve_simulator, simulator_config(config))
                url = simulator.url
            else:
                url = url_for_network(config.connection.network)
        specs = await validate_instruments(config, url)
        state = EngineState(config, specs)
        telemetry = Telemetry()
        listener = Listener(state, telemetry)
        orders = OrderManager(state, listener, telemetry)
        control = RiskControl(config.quote.levels)
        quoter = Quoter(config, state, listener, orders, control, telemetry)
        engine = Engine(config=config, state=state, telemetry=telemetry, listener=listener,
                        orders=orders, quoter=quoter, control=control, url=url,
                        simulator=simulator, started_s=trio.current_time())
        try:
            credentials = credentials_for(config, simulator is not None)
            async with open_connection(engine, credentials) as client:
                engine.client = client
                orders.client = client
                try:
                    async with trio.open_nursery() as services:
                        await _start_services(engine, services)
                        log.info(
                            "qengine quoting %s on %s (%s model, %d levels, %s mode); "
                            "position %s; kernels %d in %.2f s",
                            state.spec.name, "simulator" if simulator is not None else url,
                            config.quote.model, config.quote.levels, config.order_mode,
                            state.position(), report.kernels, report.seconds)
                        startup.reached = True
                        try:
                            yield engine
                        finally:
                            quoter.ready = False  # nothing new is sent while services stop
                            services.cancel_scope.cancel()
                finally:
                    quoter.ready = False
                    await _leave_market(engine, client)
        finally:
            engine.summary = build_summary(engine)
            engine.stopped.set()
            outer.cancel_scope.cancel()


async def _start_services(engine: Engine, services: trio.Nursery) -> None:
    events = engine.events
    control, state = engine.control, engine.state
    monitor = RiskMonitor(
        engine.config, state, engine.telemetry, control,
        cancel_everything=engine.orders.cancel_everything,
        flatten=engine.orders.flatten,
        wake_quoter=engine.quoter.poke,
        reconcile_positions=engine.listener.reconcile_positions,
        wait_next_ticker=engine.listener.wait_next_ticker,
    )
    listener = engine.listener

    def on_fill_wake() -> None:
        engine.quoter.poke(fill=True)

    listener.on_fill = on_fill_wake

    def may_quote_level(level: int) -> bool:
        return engine.quoter.ready and level < control.levels_allowed

    engine.orders.may_quote_level = may_quote_level
    engine.orders.wake_quoter = engine.quoter.poke
    await services.start(listener.run, events)
    await services.start(engine.orders.run)
    await services.start(engine.quoter.run)
    await services.start(monitor.run)
    await services.start(heartbeat, engine)
    await services.start(status_reporter, engine, monitor)


async def _leave_market(engine: Engine, client: ThalexClient) -> None:
    # Shielded and time-limited: runs on every exit path, cancellation included. cancel_session
    # reaches this session's in-flight orders; cancel_all (configurable: it is account-wide)
    # reaches orders of ours a dropped session may have left. Each step is tried on its own.
    timeout = engine.config.connection.shutdown_timeout_s
    label = engine.config.label
    names = {spec.name for spec in engine.state.specs}
    ours_open: int | None = None
    with trio.move_on_after(timeout, shield=True) as scope:
        steps = [("cancel_session", client.cancel_session)]
        if engine.config.connection.cancel_all_on_exit:
            steps.append(("cancel_all", client.cancel_all))
        for name, step in steps:
            try:
                await step()
            except io_errors.ThalexClientError as exc:
                log.error("shutdown %s failed: %s", name, exc)
        try:
            # A last, per-order sweep of anything of ours, then the count that is reported.
            await cancel_our_orders(client, label, names, keep_going=True)
            ours_open = len(our_live_orders(await client.open_orders(), label, names))
        except io_errors.ThalexClientError as exc:
            log.error("could not check open orders at exit: %s", exc)
    if scope.cancelled_caught:
        log.error("shutdown cleanup timed out after %.1f s", timeout)
    engine.summary["open_orders_at_exit"] = ours_open
    if ours_open:
        log.error("%d order(s) of ours still open on the exchange after shutdown", ours_open)


def build_summary(engine: Engine) -> dict[str, Any]:
    """The numbers a trader wants at exit (also written by ``--summary-json``)."""
    state, counters = engine.state, engine.telemetry.counters.snapshot()
    pos = state.positions[0]
    upnl = state.unrealised_quote()
    upnl = upnl if math.isfinite(upnl) else 0.0
    latency = engine.telemetry.latency_summary()
    return {
        "instrument": state.spec.name,
        "duration_s": round(trio.current_time() - engine.started_s, 3),
        "orders_inserted": counters["inserts"],
        "orders_amended": counters["amends"],
        "orders_cancelled": counters["cancels"],
        "mass_quotes": counters["mass_quotes"],
        "fills": counters["fills"],
        "final_position": state.position(),
        "realised_pnl_usd": float(pos["realised_pnl_quote"]),
        "unrealised_pnl_usd": upnl,
        "fees_usd": float(pos["maker_fees_quote"]) + float(pos["taker_fees_quote"]),
        "funding_usd": float(pos["funding_quote"]),
        "reconnects": engine.reconnects,
        "errors": counters["errors"],
        "rejects": counters["rejects"],
        "throttled": counters["throttled"],
        "risk_breaches": counters["risk_breaches"],
        "quote_cycles": engine.quoter.cycles,
        "tick_to_quote_p50_us": latency["tick_to_quote_p50_us"],
        "tick_to_quote_p99_us": latency["tick_to_quote_p99_us"],
        "rss_mb": round(rss_mb(), 1),
        "open_orders_at_exit": engine.summary.get("open_orders_at_exit"),
        "time_ns": now_ns(),
    }
