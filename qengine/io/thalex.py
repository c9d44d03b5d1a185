"""``ThalexClient``: one typed, awaited async method per exchange call a market maker uses.

Open it with :func:`open_thalex_client`, an async context manager that owns the connection's
nursery (reader, keepalive, reconnect supervisor). On *every* (re)connect it logs in (when given
credentials), re-arms cancel-on-disconnect, resubscribes every channel subscribed so far and then
runs the caller's ``on_connect`` hook (e.g. reconcile orders and positions). Every method sends
one request, awaits its answer under a timeout and returns a decoded record from
``qengine.io.messages`` or raises a typed error (``qengine.io.errors``: ``OrderNotFound``,
``Throttled``, ..., ``RequestTimeout``, ``ConnectionLost``).

Prices and amounts are exchange units (floats) here: this is the io boundary, and
``qengine.units`` converts ticks and lots. Request ids come from the JSON-RPC layer's own counter;
``client_order_id`` is the caller's, a separate space.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from . import messages as m
from .auth import Credentials
from .errors import BadResponse
from .thalex_orders import ThalexOrderCalls
from .transport import ReconnectPolicy, Transport, TransportConfig, open_transport

__all__ = ["NETWORK_URLS", "ThalexClient", "open_thalex_client", "url_for_network"]

#: WebSocket URLs of the real exchange (thalex-protocol.md 1.1); "sim" needs a port.
NETWORK_URLS = {
    "test": "wss://testnet.thalex.com/ws/api/v2",
    "prod": "wss://thalex.com/ws/api/v2",
}
SIM_PATH = "/ws/api/v2"


def url_for_network(name: str, *, sim_port: int | None = None, sim_host: str = "127.0.0.1") -> str:
    """Return the websocket URL of ``"sim"`` (the default everywhere), ``"test"`` or ``"prod"``.

    Parameters
    ----------
    name : {"sim", "test", "prod"}
        Network name as given to ``--network``.
    sim_port : int, optional
        TCP port of the local simulator; required for ``"sim"``.
    sim_host : str
        Host of the local simulator.
    """
    if name == "sim":
        if sim_port is None:
            raise ValueError("the 'sim' network needs the simulator's port")
        return f"ws://{sim_host}:{sim_port}{SIM_PATH}"
    try:
        return NETWORK_URLS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; use sim, test or prod") from None


def _records(decode: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def decode_all(result: Any) -> list[Any]:
        if type(result) is not list:
            raise BadResponse(f"expected a list, got {type(result).__name__}")
        return [decode(item) for item in result]

    return decode_all


def _order_history_page(result: Any) -> tuple[tuple[m.OrderUpdate, ...], str | None]:
    # OrderHistory rows are closed orders without ``remaining_amount``, ``change_reason`` and
    # ``time_in_force`` (Thalex's schema): nothing remains on a closed order, "existing" is the
    # reason the exchange gives for a state it reports rather than changes, and the time in
    # force of a closed order is not reported ("unknown").
    defaults = {"remaining_amount": 0, "change_reason": "existing", "time_in_force": "unknown"}
    decoded = tuple(m.decode_order({**defaults, **o}) for o in result["orders"])
    bookmark = result.get("bookmark")
    return decoded, bookmark if type(bookmark) is str else None


def _time_window(low_s: float | None, high_s: float | None) -> dict[str, int | None]:
    # The history calls take whole Unix seconds (the schema's integers): widen the window
    # outwards so that no trade inside the one asked for is left out.
    return {
        "time_low": None if low_s is None else math.floor(low_s),
        "time_high": None if high_s is None else math.ceil(high_s),
    }


class ThalexClient(ThalexOrderCalls):
    """Typed Thalex calls. Build it with :func:`open_thalex_client`.

    Every method takes an optional keyword ``timeout_s`` (seconds; default ``request_timeout_s``)
    and raises ``ThalexError`` subclasses, ``RequestTimeout`` or ``ConnectionLost``. Session,
    market-data and subscription calls come from ``ThalexSessionCalls``; request plumbing and
    notification dispatch (``on_notification``, ``latest``, ``open_event_channel``) from
    ``RpcSession``.
    """

    # -- mass quoting -----------------------------------------------------------------------------

    async def set_mm_protection(
        self,
        product: str,
        trade_amount: float,
        quote_amount: float,
        *,
        timeout_s: float | None = None,
    ) -> None:
        """Set (and refill) the session's protection group ``product`` (e.g. ``"FBTCUSD"``):
        ``trade_amount`` may execute before the group's quotes are pulled, no single quote may
        exceed ``quote_amount`` (both base currency)."""
        params = {"product": product, "trade_amount": trade_amount, "quote_amount": quote_amount}
        await self.call("private/set_mm_protection", params, timeout_s=timeout_s)

    async def mass_quote(
        self,
        quotes: Sequence[m.QuoteRequest],
        *,
        label: str | None = None,
        post_only: bool = False,
        reject_post_only: bool = False,
        stp_level: str | None = None,
        stp_action: str | None = None,
        timeout_s: float | None = None,
    ) -> m.MassQuoteResult:
        """Replace quote sides atomically per instrument; a side given as a tuple of
        ``QuoteLevel`` uses the multi-level form (at most 10 levels)."""
        params = m.mass_quote_params(
            quotes,
            label=label,
            post_only=post_only,
            reject_post_only=reject_post_only,
            stp_level=stp_level,
            stp_action=stp_action,
        )
        return await self.call_decoded(
            "private/mass_quote", params, m.decode_mass_quote_result, timeout_s=timeout_s
        )

    async def cancel_mass_quote(
        self, product: str | None = None, *, timeout_s: float | None = None
    ) -> None:
        """Cancel mass quotes across all sessions (of one ``product`` or all); groups reset."""
        await self.call("private/cancel_mass_quote", {"product": product}, timeout_s=timeout_s)

    # -- account ----------------------------------------------------------------------------------

    async def portfolio(
        self, *, timeout_s: float | None = None
    ) -> list[m.PortfolioEntry | m.SkippedRow]:
        """Positions per instrument (short is negative); a line without a field an entry needs
        (the schema requires none) is a ``SkippedRow`` naming it."""
        return await self.call_decoded(
            "private/portfolio", None, _records(m.decode_portfolio_row), timeout_s=timeout_s
        )

    async def account_summary(self, *, timeout_s: float | None = None) -> m.AccountSummary:
        """Margin, cash and P&L of the account."""
        return await self.call_decoded(
            "private/account_summary", None, m.decode_account_summary, timeout_s=timeout_s
        )

    async def trade_history(
        self,
        *,
        limit: int | None = None,
        time_low_s: float | None = None,
        time_high_s: float | None = None,
        bookmark: str | None = None,
        sort: str | None = None,
        instrument_names: Sequence[str] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[tuple[m.Trade | m.SkippedRow, ...], str | None]:
        """One page of trades ``(trades, bookmark)``; times are Unix seconds (sent as whole
        seconds, the window widened outwards), ``sort`` is
        ``"ascending"`` or ``"descending"``; pass the bookmark back for the next page. Rows that
        are not complete fills (other ``trade_type``, missing fields) are ``SkippedRow``."""
        params = {
            "limit": limit,
            **_time_window(time_low_s, time_high_s),
            "bookmark": bookmark,
            "sort": sort,
            "instrument_names": ",".join(instrument_names) if instrument_names else None,
        }
        return await self.call_decoded(
            "private/trade_history", params, m.decode_trade_history_page, timeout_s=timeout_s
        )

    async def order_history(
        self,
        *,
        limit: int | None = None,
        time_low_s: float | None = None,
        time_high_s: float | None = None,
        bookmark: str | None = None,
        timeout_s: float | None = None,
    ) -> tuple[tuple[m.OrderUpdate, ...], str | None]:
        """One page of closed orders ``(orders, bookmark)``; times are Unix seconds (sent as
        whole seconds, the window widened outwards)."""
        params = {
            "limit": limit,
            **_time_window(time_low_s, time_high_s),
            "bookmark": bookmark,
        }
        return await self.call_decoded(
            "private/order_history", params, _order_history_page, timeout_s=timeout_s
        )


ConnectHook = Callable[[ThalexClient], Awaitable[None]]


@asynccontextmanager
async def open_thalex_client(
    url: str,
    *,
    credentials: Credentials | None = None,
    account: str | None = None,
    cancel_on_disconnect_s: int | None = None,
    on_connect: ConnectHook | None = None,
    on_disconnect: Callable[[BaseException], None] | None = None,
    request_timeout_s: float = 10.0,
    ping_interval_s: float = 5.0,
    stale_after_s: float = 15.0,
    connect_timeout_s: float = 10.0,
    reconnect: ReconnectPolicy | None = ReconnectPolicy(),  # noqa: B008 - frozen, shared safely
    user_agent: str = "qengine",
    seed: int | None = None,
) -> AsyncIterator[ThalexClient]:
    """Connect a :class:`ThalexClient` and keep it connected until the block exits.

    Parameters
    ----------
    url : str
        Websocket URL (:func:`url_for_network`).
    credentials : Credentials, optional
        API key; when given, every (re)connect logs in first.
    account : str, optional
        Sub-account number for the login.
    cancel_on_disconnect_s : int, optional
        When given, every (re)connect arms cancel-on-disconnect with this heartbeat (whole
        seconds; keep ``ping_interval_s`` below it).
    on_connect : async callable(client), optional
        Runs after login, cancel-on-disconnect and resubscription on every (re)connect.
    on_disconnect : callable(exception), optional
        Called (sync) when a connection is lost, after pending requests have failed.
    request_timeout_s : float
        Default per-request timeout, seconds.
    ping_interval_s, stale_after_s, connect_timeout_s : float
        Keepalive ping period, silence after which the link is dead, connect limit (seconds).
    reconnect : ReconnectPolicy or None
        Backoff after a loss; ``None`` lets a loss end the block with ``ConnectionLost``.
    user_agent : str
        ``User-Agent`` header.
    seed : int, optional
        Seed of the backoff jitter.

    Raises
    ------
    ConnectionLost
        The first connection failed (or a later one could not be restored).
    ThalexError
        Login or cancel-on-disconnect was refused (e.g. ``AuthenticationFailed``).
    """
    if cancel_on_disconnect_s is not None and not ping_interval_s < cancel_on_disconnect_s:
        raise ValueError("ping_interval_s must be shorter than cancel_on_disconnect_s")
    client = ThalexClient(request_timeout_s=request_timeout_s)

    async def on_every_connect(transport: Transport) -> None:
        client.attach(transport)
        if credentials is not None:
            await client.login(credentials, account=account)
        if cancel_on_disconnect_s is not None:
            await client.set_cancel_on_disconnect(cancel_on_disconnect_s)
        await client.resubscribe()
        if on_connect is not None:
            await on_connect(client)

    def lost(exc: BaseException) -> None:
        client.connection_lost(exc)
        if on_disconnect is not None:
            on_disconnect(exc)

    config = TransportConfig(
        url=url,
        ping_interval_s=ping_interval_s,
        stale_after_s=stale_after_s,
        connect_timeout_s=connect_timeout_s,
        reconnect=reconnect,
        user_agent=user_agent,
        seed=seed,
    )
    async with open_transport(
        config,
        on_batch=client.handle_batch,
        on_connect=on_every_connect,
        on_disconnect=lost,
    ):
        yield client
