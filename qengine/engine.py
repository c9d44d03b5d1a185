"""``open_engine``: owns the engine's nursery, starts its services, and leaves the market safely.

Start-up: warm up kernels (compile before connecting) -> start the embedded simulator when the
network is ``sim`` -> connect and validate the configured instruments (an unknown one is a clear
``StartupError`` before any login or order) -> connect with keys: login, cancel-on-disconnect,
cancel leftover orders of ours, subscribe, reconcile orders and portfolio -> start the listener,
quoter, risk monitor, heartbeat and telemetry with ``nursery.start``. Every reconnect re-runs
login, cancel-on-disconnect, resubscription and reconciliation before quoting resumes.

Exit (normal, cancelled or failed): the services stop, then a shielded, time-limited
``cancel_all`` + ``cancel_session`` runs, the exchange's open orders are checked and reported.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from . import kernels
from .clock import now_ns
from .config import EngineConfig
from .errors import StartupError
from .io import auth
from .io import errors as io_errors
from .io.simulator import SimulatorConfig, serve_simulator
from .io.simulator.config import InstrumentSpec as SimInstrument
from .io.simulator.config import default_instruments
from .io.thalex import ThalexClient, open_thalex_client, url_for_network
from .io.transport import ReconnectPolicy
from .listener import EVENT_CHANNELS, Listener
from .order_manager import OrderManager
from .quoter import Quoter
from .risk import RiskControl, RiskMonitor
from .state import EngineState, select_instruments
from .telemetry import COUNTER, Telemetry, rss_mb
from .telemetry_task import heartbeat, status_reporter

log = logging.getLogger("qengine.engine")

#: Trades read back from the account's history after a reconnect (newest first).
CATCH_UP_TRADES = 500


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


def _simulator_config(config: EngineConfig) -> SimulatorConfig:
    # The A-S world made concrete for a short demo: a thin crowd that takers sweep through,
    # so a quote d ticks from the mid is reached with intensity about A exp(-kappa d).
    instruments = tuple(
        SimInstrument(**{**_spec_fields(spec), "taker_intensity_per_s": 2.0,
                         "crowd_level_lots": 5,
                         "taker_kappa_per_tick": 0.05 if spec.tick_size >= 1 else 0.02})
        for spec in default_instruments()
    )
    return SimulatorConfig(seed=config.simulator.seed, time_scale=config.simulator.time_scale,
                           instruments=instruments)


def _spec_fields(spec: Any) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__dataclass_fields__}


def _credentials(config: EngineConfig, local: bool) -> auth.Credentials:
    if local or config.connection.network == "sim":
        return auth.demo_credentials()
    # A .env file in the working directory may hold the keys (the old bot loaded one); the
    # process environment wins over it.
    environ = {**auth.read_env_file(".env"), **os.environ}
    try:
        return auth.load_credentials(config.connection.network, environ)
    except auth.AuthError as exc:
        raise StartupError(str(exc)) from None


async def _validate_instruments(config: EngineConfig, url: str) -> list[Any]:
    # A short unauthenticated connection: nothing private is sent before validation.
    async with open_thalex_client(url, reconnect=None,
                                  request_timeout_s=config.connection.request_timeout_s) as probe:
        listed = await probe.instruments()
    return select_instruments(config, listed)


@asynccontextmanager
async def open_engine(config: EngineConfig) -> AsyncIterator[Engine]:
    """Start an engine for ``config``; quote until the block exits; then leave the market safely.

    Raises
    ------
    StartupError
        Unknown instrument, missing keys, or a refused login; nothing was quoted.
    """
    report = kernels.warm_up()
    log.debug("kernels ready: %d in %.2f s (%d from cache)", report.kernels, report.seconds,
              report.cache_hits)
    async with trio.open_nursery() as outer:
        simulator = None
        url = config.connection.url
        if not url:
            if config.connection.network == "sim":
                simulator = await outer.start(serve_simulator, _simulator_config(config))
                url = simulator.url
            else:
                url = url_for_network(config.connection.network)
        try:
            specs = await _validate_instruments(config, url)
        except io_errors.ConnectionLost as exc:
            raise StartupError(f"cannot connect to {url}: {exc}") from None
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
            async with _connected(engine, _credentials(config, simulator is not None)) as client:
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
                        try:
                            yield engine
                        finally:
                            services.cancel_scope.cancel()
                finally:
                    quoter.ready = False
                    await _leave_market(engine, client)
        finally:
            engine.summary = build_summary(engine)
            engine.stopped.set()
            outer.cancel_scope.cancel()


@asynccontextmanager
async def _connected(engine: Engine, credentials: auth.Credentials
                     ) -> AsyncIterator[ThalexClient]:
    config = engine.config
    first = True

    async def on_connect(client: ThalexClient) -> None:
        nonlocal first
        engine.quoter.ready = False
        rate = await client.set_cancel_on_disconnect(config.connection.cancel_on_disconnect_s)
        engine.orders.set_message_rate(rate)
        if first:
            engine.known_trade_ids = {t.trade_id for t in await _recent_trades(engine, client)}
            _register_channels(engine, client)
            await _subscribe(engine, client)
        else:
            engine.reconnects += 1
            engine.telemetry.counters.values[COUNTER["reconnects"]] += 1
            log.warning("reconnected (#%d): re-logged in, cancel-on-disconnect re-armed, "
                        "resubscribed; reconciling", engine.reconnects)
        await _reconcile(engine, client, leftovers=True, catch_up=not first)
        if config.order_mode == "mass_quote":
            await client.set_mm_protection(engine.state.spec.product,
                                           config.risk.mm_protection_trade_amount,
                                           max(config.risk.mm_protection_trade_amount,
                                               engine.state.spec.amount(
                                                   int(engine.state.params[0]["base_size_lots"])
                                                   * 4)))
        first = False
        engine.quoter.ready = True
        engine.quoter.poke()

    c = config.connection
    try:
        async with open_thalex_client(
            engine.url, credentials=credentials, on_connect=on_connect,
            request_timeout_s=c.request_timeout_s,
            ping_interval_s=min(c.ping_interval_s, c.cancel_on_disconnect_s / 2),
            stale_after_s=max(15.0, 3 * c.ping_interval_s),
            reconnect=ReconnectPolicy(initial_delay_s=c.reconnect_min_s,
                                      max_delay_s=c.reconnect_max_s),
            user_agent="qengine", seed=config.simulator.seed,
        ) as client:
            yield client
    except io_errors.AuthenticationFailed:
        raise StartupError("login refused (error 19): check the API key id and private key"
                           ) from None


def _register_channels(engine: Engine, client: ThalexClient) -> None:
    listener, quoter = engine.listener, engine.quoter

    def on_ticker(notification: Any) -> None:
        listener.on_ticker(notification)
        quoter.poke()

    client.on_notification("ticker.", on_ticker)
    client.on_notification("price_index.", listener.on_index)
    client.on_notification("recent_trades.", listener.on_public_trades)
    events, _subs = client.open_event_channel(EVENT_CHANNELS, max_buffer=4096)
    engine.events = events


async def _subscribe(engine: Engine, client: ThalexClient) -> None:
    spec = engine.state.spec
    public = [f"ticker.{spec.name}.raw", f"price_index.{spec.underlying}",
              f"recent_trades.{spec.name}.single", "system"]
    for extra in engine.state.specs[1:]:
        public.append(f"ticker.{extra.name}.1000ms")
    private = ["session.orders", "account.portfolio", "account.trade_history"]
    if engine.config.order_mode == "mass_quote":
        private.append("session.mm_protection")
    for attempt in range(3):  # the old bot retried subscriptions 3 times, 1 s apart
        try:
            await client.public_subscribe(public)
            await client.private_subscribe(private)
            return
        except io_errors.ThalexError as exc:
            if attempt == 2:
                raise StartupError(f"subscription refused: {exc}") from None
            await trio.sleep(1.0)


async def _recent_trades(engine: Engine, client: ThalexClient) -> tuple[Any, ...]:
    names = [spec.name for spec in engine.state.specs]
    trades, _bookmark = await client.trade_history(limit=CATCH_UP_TRADES, sort="descending",
                                                   instrument_names=names)
    return trades


async def _book_missed_fills(engine: Engine, client: ThalexClient) -> None:
    # Fills whose pushes died with the old connection: book them from the account's history
    # (deduplicated by trade id, oldest first) *before* the portfolio snapshot is adopted, so
    # the fill count, fees and PnL stay exact instead of the position jumping to the truth.
    trades = await _recent_trades(engine, client)
    engine.listener.apply_trades(t for t in reversed(trades)
                                 if t.trade_id not in engine.known_trade_ids)


async def _reconcile(engine: Engine, client: ThalexClient, *, leftovers: bool,
                     catch_up: bool = False) -> None:
    # After a (re)connect nothing of ours may rest unmanaged: cancel our leftover orders (of
    # earlier runs or of the dropped session), start from an empty order table, and take the
    # exchange's positions as the truth.
    state, label = engine.state, engine.config.label
    names = {spec.name for spec in state.specs}
    cancelled = 0
    if leftovers:
        for order in await client.open_orders():
            if order.instrument_name in names and order.label == label and order.is_live:
                try:
                    await client.cancel(order_id=order.order_id)
                    cancelled += 1
                except io_errors.OrderNotFound:
                    pass
    engine.orders.reset_table()
    if catch_up:
        await _book_missed_fills(engine, client)
    if cancelled:
        log.warning("cancelled %d leftover order(s) of ours before quoting", cancelled)
    engine.listener.apply_portfolio(await client.portfolio(), snapshot=True)
    engine.listener.reconcile_positions(force=True)


async def _start_services(engine: Engine, services: trio.Nursery) -> None:
    events = engine.events
    control, state = engine.control, engine.state
    monitor = RiskMonitor(
        engine.config, state, engine.telemetry, control,
        cancel_everything=engine.orders.cancel_everything,
        flatten=engine.orders.flatten,
        wake_quoter=engine.quoter.poke,
        reconcile_positions=engine.listener.reconcile_positions,
    )
    listener = engine.listener

    def on_fill_wake() -> None:
        engine.quoter.poke(fill=True)

    listener.on_fill = on_fill_wake

    def may_quote_level(level: int) -> bool:
        return engine.quoter.ready and level < control.levels_allowed

    engine.orders.may_quote_level = may_quote_level
    await services.start(listener.run, events)
    await services.start(engine.quoter.run)
    await services.start(monitor.run)
    await services.start(heartbeat, engine)
    await services.start(status_reporter, engine, monitor)


async def _leave_market(engine: Engine, client: ThalexClient) -> None:
    timeout = engine.config.connection.shutdown_timeout_s
    open_after: int | None = None
    with trio.move_on_after(timeout, shield=True) as scope:
        try:
            await client.cancel_all()
            await client.cancel_session()
        except (io_errors.ThalexClientError, io_errors.ConnectionLost) as exc:
            log.error("shutdown cancel failed: %s", exc)
        try:
            names = {spec.name for spec in engine.state.specs}
            open_after = sum(1 for order in await client.open_orders()
                             if order.instrument_name in names and order.is_live)
        except (io_errors.ThalexClientError, io_errors.ConnectionLost) as exc:
            log.error("could not check open orders at exit: %s", exc)
    if scope.cancelled_caught:
        log.error("shutdown cleanup timed out after %.1f s", timeout)
    engine.summary["open_orders_at_exit"] = open_after
    if open_after:
        log.error("%d order(s) still open on the exchange after shutdown", open_after)


def build_summary(engine: Engine) -> dict[str, Any]:
    """The numbers a trader wants at exit (also written by ``--summary-json``)."""
    state, counters = engine.state, engine.telemetry.counters.snapshot()
    pos = state.positions[0]
    mark = state.book.mark_ticks
    from .kernels.position import position_unrealised

    upnl = float(position_unrealised(state.positions, state.lots, 0, mark,
                                     state.spec.lot_tick_value)) if math.isfinite(mark) else 0.0
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
