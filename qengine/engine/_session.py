"""The engine's session with the venue: instrument validation, the hooks that run on every
(re)connect and disconnect, the heartbeat (liveness) and leaving the market at exit.

Every connect: login (the client does it), cancel-on-disconnect re-armed (its ``message_rate``
sizes the order manager's token bucket), subscriptions (first time; the client resubscribes
later), our leftover orders cancelled, fills missed while disconnected booked from the account's
trade history, the exchange's positions adopted, mm protection set when mass quoting. Only then
is the quoter allowed to quote, on a ticker that arrived after the reconnect.

A transient failure inside the hook (timeout, throttle, temporary failure) becomes
``ConnectionLost``, so the transport reconnects with backoff instead of the engine dying; only
failures that retrying cannot fix (authentication, unknown instrument, ...) end the engine.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from ..clock import now_ns
from ..config import EngineConfig
from ..errors import ConfigError, StartupError
from ..io import auth
from ..io import errors as io_errors
from ..io.messages import SkippedRow
from ..io.thalex import ThalexClient, open_thalex_client
from ..io.transport import ReconnectPolicy
from ..strategy.setup import InstrumentSpec, build_quote_params
from ..telemetry import COUNTER
from ..units import ns_to_seconds
from ._listener import MARKET_CHANNELS
from ._our_orders import OnRefusal, cancel_our_orders, our_live_orders
from ._services import Engine
from ._state import select_instruments
from ._ticker_lane import ticker_channel

log = logging.getLogger("qengine.connection")
#: The heartbeat reports under the status logger, as before the move.
heartbeat_log = logging.getLogger("qengine.status")

#: Trades read back from the account's history after a reconnect (newest first).
CATCH_UP_TRADES = 500


async def validate_instruments(config: EngineConfig, url: str) -> list[InstrumentSpec]:
    """Check the configured instruments on a short unauthenticated connection.

    Nothing private is sent before this passes.
    """
    async with open_thalex_client(url, reconnect=None,
                                  request_timeout_s=config.connection.request_timeout_s) as probe:
        listed = await probe.instruments()
    specs = select_instruments(config, listed)
    skipped = [row for row in listed if isinstance(row, SkippedRow)]
    if skipped:
        log.info("public/instruments: %d row(s) of other instruments skipped, e.g. %s: %s",
                 len(skipped), skipped[0].instrument_name, skipped[0].reason)
    spec = specs[0]
    if config.quote.base_size < spec.amount(spec.min_order_lots):
        raise StartupError(
            f"quote.base_size {config.quote.base_size} is below {spec.name}'s minimum order "
            f"{spec.amount(spec.min_order_lots)} (sizes are never silently raised)")
    if config.order_mode == "mass_quote":
        mm_protection_amounts(config, spec)  # fails here, before anything private is sent
    return specs


def mm_protection_amounts(config: EngineConfig, spec: InstrumentSpec) -> tuple[float, float]:
    """(trade_amount, quote_amount) for ``set_mm_protection``, always trade <= quote.

    ``quote_amount`` bounds one level (each level is its own order on the exchange): it is the
    configured value, or else the larger of the largest level the ladder can send and
    ``trade_amount``.

    Raises
    ------
    ConfigError
        A configured ``risk.mm_protection_quote_amount`` below the largest level (the exchange
        would reject those quotes with code 44).
    """
    params = build_quote_params(config, spec)[0]
    largest_multiplier = max(max(config.quote.bid_size_multipliers),
                             max(config.quote.ask_size_multipliers))
    largest_lots = int(params["base_size_lots"] * largest_multiplier
                       * max(1.0, float(params["size_grow_cap_ratio"]))) + 1
    largest = spec.amount(largest_lots)
    risk = config.risk
    trade_amount = risk.mm_protection_trade_amount
    if not risk.mm_protection_quote_amount:
        return trade_amount, max(largest, trade_amount)
    if spec.amount_lots(risk.mm_protection_quote_amount) < largest_lots:
        raise ConfigError(
            f"risk.mm_protection_quote_amount: {risk.mm_protection_quote_amount} is below the "
            f"largest level the ladder can send on {spec.name} ({largest}); the exchange "
            "would reject those quotes (code 44)")
    return trade_amount, risk.mm_protection_quote_amount


@asynccontextmanager
async def open_connection(engine: Engine, credentials: auth.Credentials
                          ) -> AsyncIterator[ThalexClient]:
    """Connect the engine's client with the connect/disconnect hooks of this module."""
    config = engine.config
    first = True

    async def on_connect(client: ThalexClient) -> None:
        nonlocal first
        engine.gate.close()
        try:
            await _on_connect(engine, client, first)
        except io_errors.ThalexClientError as exc:
            if io_errors.is_permanent(exc) or isinstance(exc, io_errors.ConnectionLost):
                raise
            # Transient: let the transport reconnect with backoff rather than end the engine.
            log.warning("connect steps failed (%s); reconnecting", exc)
            raise io_errors.ConnectionLost(f"reconnect steps failed: {exc}") from exc
        first = False
        engine.gate.open()
        engine.quoter.wakeup.ring()

    def on_disconnect(_exc: BaseException) -> None:
        # Stop quoting at once and forget the book: after the reconnect, quote only on a
        # ticker that arrived after it (never on the pre-disconnect market).
        engine.gate.close()
        engine.listener.forget_book()

    c = config.connection
    async with open_thalex_client(
        engine.url, credentials=credentials, on_connect=on_connect, on_disconnect=on_disconnect,
        ping_interval_s=min(c.ping_interval_s, c.cancel_on_disconnect_s / 2),
        stale_after_s=max(15.0, 3 * c.ping_interval_s),
        reconnect=ReconnectPolicy(initial_delay_s=c.reconnect_min_s,
                                  max_delay_s=c.reconnect_max_s),
        user_agent="qengine", seed=config.simulator.seed,
        client=engine.client, on_inbound=engine.quoter.on_inbound, conflate=MARKET_CHANNELS,
    ) as client:
        yield client


async def _on_connect(engine: Engine, client: ThalexClient, first: bool) -> None:
    config = engine.config
    rate = await client.set_cancel_on_disconnect(config.connection.cancel_on_disconnect_s)
    engine.orders.set_message_rate(rate)
    if first:
        engine.account.know_trades(
            t.trade_id for t in await _recent_trades(engine, client) if t.trade_id is not None)
        await _subscribe(engine, client)
    else:
        engine.reconnects += 1
        engine.telemetry.counters.values[COUNTER["reconnects"]] += 1
        log.warning("reconnected (#%d): re-logged in, cancel-on-disconnect re-armed, "
                    "resubscribed; reconciling", engine.reconnects)
    await _reconcile(engine, client, catch_up=not first)
    if config.order_mode == "mass_quote":
        await engine.orders.refill_mm_protection(
            *mm_protection_amounts(config, engine.state.spec))


async def _subscribe(engine: Engine, client: ThalexClient) -> None:
    spec = engine.state.spec
    public = [ticker_channel(spec), f"price_index.{spec.underlying}",
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


async def _reconcile(engine: Engine, client: ThalexClient, *, catch_up: bool) -> None:
    # Nothing of ours may rest unmanaged after a (re)connect: cancel our leftover orders (of
    # earlier runs or of the dropped session), start from an empty order table, book fills
    # whose pushes died with the old connection, and take the exchange's positions as truth.
    names = {spec.name for spec in engine.state.specs}
    cancelled = await cancel_our_orders(client, engine.config.label, names)
    engine.orders.reset_table()
    if cancelled:
        log.warning("cancelled %d leftover order(s) of ours before quoting", cancelled)
    if catch_up:
        # Oldest first, deduplicated by trade id, before the portfolio is adopted: the fill
        # count, fees and PnL stay exact instead of the position jumping to the truth.
        trades = await _recent_trades(engine, client)
        engine.account.apply_trades(t for t in reversed(trades)
                                    if t.trade_id not in engine.account.known_trade_ids)
    engine.account.apply_portfolio(await client.portfolio(), snapshot=True)
    engine.account.reconcile_positions(force=True)


async def heartbeat(engine: Engine, *,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Force a reconnect when no ticker arrived for the stale limit or the exchange asks.

    Websocket pings themselves are sent by the transport every few seconds (they also keep
    cancel-on-disconnect alive); this task watches the *data*.
    """
    task_status.started()
    stale_s = engine.config.connection.stale_ticker_s
    listener, client = engine.listener, engine.client
    forced_ns = 0  # when the last stale reconnect was forced: one per stale period
    while True:
        if await listener.reconnect_requested(timeout_s=min(1.0, stale_s / 4)):
            client.drop_connection("exchange announced a reconnect")
            continue
        last = max(engine.telemetry.last_ticker_ns, forced_ns)
        if engine.gate.ready and last and ns_to_seconds(now_ns() - last) > stale_s:
            engine.telemetry.counters.values[COUNTER["stale_reconnects"]] += 1
            heartbeat_log.warning("no ticker for %.0f s: forcing a reconnect",
                                  ns_to_seconds(now_ns() - last))
            forced_ns = now_ns()
            client.drop_connection("stale market data")


async def busy_poll(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Keep trio's run loop polling (``connection.busy_poll``): with this task always ready,
    the loop asks epoll for I/O without waiting, so it never sleeps between two messages and
    a ticker is read as soon as it lands, on a core whose caches stayed warm."""
    heartbeat_log.info("busy polling: the event loop does not sleep (one core at 100 %)")
    task_status.started()
    while True:
        await trio.lowlevel.checkpoint()


async def leave_market(engine: Engine, client: ThalexClient) -> int | None:
    """Pull everything of ours from the market, on every exit path (shielded, time-limited).

    Returns how many orders of ours the exchange still lists afterwards (None: not known)."""
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
            await cancel_our_orders(client, label, names, on_refusal=OnRefusal.SKIP)
            ours_open = len(our_live_orders(await client.open_orders(), label, names))
        except io_errors.ThalexClientError as exc:
            log.error("could not check open orders at exit: %s", exc)
    if scope.cancelled_caught:
        log.error("shutdown cleanup timed out after %.1f s", timeout)
    if ours_open:
        log.error("%d order(s) of ours still open on the exchange after shutdown", ours_open)
    return ours_open
