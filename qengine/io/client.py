"""``ThalexClient``: one typed, awaited async method per exchange call a market maker uses.

It holds an :class:`~qengine.io.rpc_session.RpcSession` (requests, the inbound path) and adds
the exchange's calls; :func:`qengine.io.thalex.open_thalex_client` builds and connects it. Every
method sends one request, awaits its answer under a timeout and returns a decoded record from
``qengine.io.messages`` or raises a typed error (``qengine.io.errors``: ``OrderNotFound``,
``Throttled``, ..., ``RequestTimeout``, ``ConnectionLost``).

Prices and amounts are exchange units (floats) here: this is the io boundary, and
``qengine.units`` converts ticks and lots. Request ids come from the JSON-RPC layer's own counter;
``client_order_id`` is the caller's, a separate space.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import messages as m
from .auth import Credentials
from .errors import BadResponse
from .rpc_session import Inbound, PendingBatch, RpcSession, SessionStatistics
from .thalex_replies import OrderBatch, one_order_id, order_history_page, records, time_window

__all__ = ["ThalexClient"]


class ThalexClient:
    """Typed Thalex calls over an :class:`RpcSession`. Build it with :func:`open_thalex_client`.

    Every method takes an optional keyword ``timeout_s`` (seconds; default ``request_timeout_s``)
    and raises ``ThalexError`` subclasses, ``RequestTimeout`` or ``ConnectionLost``. Pushes go to
    the ``on_inbound`` consumer given to :func:`open_thalex_client`, one batch per socket read;
    those of the ``raw_market`` channels (exact names) as their frames' bytes (see
    ``RpcSession``).
    """

    def __init__(self, *, request_timeout_s: float = 10.0,
                 raw_market: tuple[str, ...] = ()) -> None:
        self._session = RpcSession(request_timeout_s=request_timeout_s, raw_market=raw_market)
        self._public_channels: dict[str, None] = {}  # insertion-ordered sets
        self._private_channels: dict[str, None] = {}
        #: Account number returned by the last successful login ("" before).
        self.account_number = ""

    # -- requests of any method, the connection, counters ------------------------------------------

    @property
    def request_timeout_s(self) -> float:
        """Default timeout of every request, seconds."""
        return self._session.request_timeout_s

    @property
    def connected(self) -> bool:
        """True while the websocket is open."""
        return self._session.connected

    @property
    def decode_stats(self) -> m.DecodeStats:
        """Counters of notification decoding (never raised)."""
        return self._session.decode_stats

    def decode_raw(self, data: bytes, arrival_ns: int) -> Inbound:
        """Decode a raw market push the consumer could not (see ``RpcSession.decode_raw``)."""
        return self._session.decode_raw(data, arrival_ns)

    def statistics(self) -> SessionStatistics:
        """A snapshot of the request, transport and inbound counters."""
        return self._session.statistics()

    def drop_connection(self, reason: str) -> None:
        """Close the current connection; the transport reconnects (and re-runs its hooks)."""
        self._session.drop_connection(reason)

    async def call(self, method: str, params: Mapping[str, Any] | None = None, *,
                   timeout_s: float | None = None) -> Any:
        """Send one request and return its ``result`` (see :meth:`RpcSession.call`)."""
        return await self._session.call(method, params, timeout_s=timeout_s)

    async def call_decoded(self, method: str, params: Mapping[str, Any] | None,
                           decode: Callable[[Any], Any], *, timeout_s: float | None = None) -> Any:
        """:meth:`call`, then ``decode(result)``; a shape error raises ``BadResponse``."""
        return await self._session.call_decoded(method, params, decode, timeout_s=timeout_s)

    async def send_batch(self,
                         requests: Sequence[tuple[str, Mapping[str, Any] | bytes | None]], *,
                         timeout_s: float | None = None) -> PendingBatch:
        """Send several requests in one socket write (see :meth:`RpcSession.send_batch`)."""
        return await self._session.send_batch(requests, timeout_s=timeout_s)

    async def call_batch(self, requests: Sequence[tuple[str, Mapping[str, Any] | None]], *,
                         timeout_s: float | None = None) -> list[Any]:
        """:meth:`send_batch` and wait for every answer."""
        return await self._session.call_batch(requests, timeout_s=timeout_s)

    # -- session ----------------------------------------------------------------------------------

    async def login(
        self,
        credentials: Credentials,
        *,
        account: str | None = None,
        timeout_s: float | None = None,
    ) -> str:
        """Log in with a fresh RS512 token; return the account number. The key is never logged."""
        token = credentials.login_token()
        result = await self.call(
            "public/login", {"token": token, "account": account}, timeout_s=timeout_s
        )
        if type(result) is not dict or type(result.get("account_number")) is not str:
            raise BadResponse("public/login: result lacks account_number")
        self.account_number = result["account_number"]
        return self.account_number

    async def set_cancel_on_disconnect(
        self, timeout_secs: int, *, timeout_s: float | None = None
    ) -> int:
        """Make the session non-persistent; return the granted ``message_rate`` (messages/s).

        ``timeout_secs`` is the exchange's heartbeat interval in whole seconds (our pings count).
        """
        result = await self.call(
            "private/set_cancel_on_disconnect",
            {"timeout_secs": int(timeout_secs)},
            timeout_s=timeout_s,
        )
        rate = result.get("message_rate") if type(result) is dict else None
        if type(rate) is not int:
            raise BadResponse("private/set_cancel_on_disconnect: no integer message_rate")
        return rate

    async def cancel_session(self, *, timeout_s: float | None = None) -> None:
        """Delete every non-persistent order of this session, in flight ones included."""
        await self.call("private/cancel_session", None, timeout_s=timeout_s)

    # -- market data ------------------------------------------------------------------------------

    async def instruments(
        self, *, timeout_s: float | None = None
    ) -> list[m.Instrument | m.SkippedRow]:
        """All active instruments; a row lacking a field an Instrument needs (the schema requires
        none) comes back as a ``SkippedRow`` naming the field, so one odd row fails nothing."""
        return await self.call_decoded(
            "public/instruments", None, records(m.decode_instrument_row), timeout_s=timeout_s
        )

    async def instrument(
        self, instrument_name: str, *, timeout_s: float | None = None
    ) -> m.Instrument:
        """One instrument by name (``UnknownInstrument`` if there is none)."""
        return await self.call_decoded(
            "public/instrument",
            {"instrument_name": instrument_name},
            m.decode_instrument,
            timeout_s=timeout_s,
        )

    async def ticker(self, instrument_name: str, *, timeout_s: float | None = None) -> m.Ticker:
        """A ticker snapshot (subscribe to ``ticker.<name>.<delay>`` instead of polling)."""
        return await self.call_decoded(
            "public/ticker",
            {"instrument_name": instrument_name},
            lambda result: m.decode_ticker(result, instrument_name),
            timeout_s=timeout_s,
        )

    async def index(self, underlying: str, *, timeout_s: float | None = None) -> m.IndexPrice:
        """The index price of ``underlying`` (e.g. ``"BTCUSD"``)."""
        return await self.call_decoded(
            "public/index", {"underlying": underlying}, m.decode_index, timeout_s=timeout_s
        )

    async def book(self, instrument_name: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        """Top of book ``{"bids": [[price, amount, outright], ...], "asks": ..., "last", "time"}``
        (raw JSON: ``messages`` has no decoder for this one-off result)."""
        result = await self.call(
            "public/book", {"instrument_name": instrument_name}, timeout_s=timeout_s
        )
        if type(result) is not dict or "bids" not in result or "asks" not in result:
            raise BadResponse("public/book: result lacks bids/asks")
        return result

    async def system_info(self, *, timeout_s: float | None = None) -> dict[str, Any]:
        """``{"environment", "api_version", "banners"}``; also a cheap round-trip probe."""
        result = await self.call("public/system_info", None, timeout_s=timeout_s)
        if type(result) is not dict:
            raise BadResponse("public/system_info: result is not an object")
        return result

    # -- subscriptions (remembered and restored on every reconnect) -------------------------------

    async def _subscribe(
        self, method: str, channels: Sequence[str], into: dict[str, None], timeout_s: float | None
    ) -> list[str]:
        result = await self.call(method, {"channels": list(channels)}, timeout_s=timeout_s)
        if type(result) is not list:
            raise BadResponse(f"{method}: result is not a list")
        for channel in result:
            into[channel] = None
        return result

    async def public_subscribe(
        self, channels: Sequence[str], *, timeout_s: float | None = None
    ) -> list[str]:
        """Subscribe to public channels; return those actually subscribed (invalid ones are
        dropped silently by the exchange, so check the result)."""
        return await self._subscribe("public/subscribe", channels, self._public_channels, timeout_s)

    async def private_subscribe(
        self, channels: Sequence[str], *, timeout_s: float | None = None
    ) -> list[str]:
        """Subscribe to private channels (needs login); return those actually subscribed."""
        return await self._subscribe(
            "private/subscribe", channels, self._private_channels, timeout_s
        )

    async def unsubscribe(
        self, channels: Sequence[str], *, timeout_s: float | None = None
    ) -> list[str]:
        """Unsubscribe public and/or private channels; return those unsubscribed."""
        for channel in channels:  # forget first: never resurrect them on a reconnect
            self._public_channels.pop(channel, None)
            self._private_channels.pop(channel, None)
        result = await self.call("unsubscribe", {"channels": list(channels)}, timeout_s=timeout_s)
        if type(result) is not list:
            raise BadResponse("unsubscribe: result is not a list")
        return result

    async def _resubscribe(self, *, timeout_s: float | None = None) -> None:
        """Subscribe again to every remembered channel (run by the reconnect hook)."""
        if self._public_channels:
            await self.call(
                "public/subscribe", {"channels": list(self._public_channels)}, timeout_s=timeout_s
            )
        if self._private_channels:
            await self.call(
                "private/subscribe", {"channels": list(self._private_channels)}, timeout_s=timeout_s
            )
    # -- orders -----------------------------------------------------------------------------------

    async def insert(
        self,
        direction: str,
        instrument_name: str,
        amount: float,
        price: float | None = None,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> m.OrderUpdate:
        """Insert an order; return its status after the insert.

        Parameters
        ----------
        direction : {"buy", "sell"}
        instrument_name : str
        amount : float
            Size in base currency (e.g. BTC).
        price : float, optional
            Limit price in quote currency (USD); omit for market orders.
        **options
            ``order_type`` ("limit" | "market"), ``time_in_force`` ("good_till_cancelled" |
            "immediate_or_cancel"), ``post_only``, ``reject_post_only``, ``reduce_only``,
            ``collar`` ("ignore" | "reject" | "clamp"), ``label``, ``client_order_id`` (int),
            ``stp_level``, ``stp_action``; see ``messages.insert_params``.

        Notes
        -----
        Post-only re-pricing, book-or-cancel and IOC remainders are *not* errors: the result's
        ``status`` is then ``cancelled`` with ``delete_reason == "immediate_cancel"``.
        """
        params = m.insert_params(
            direction=direction,
            instrument_name=instrument_name,
            amount=amount,
            price=price,
            **options,
        )
        return await self.call_decoded(
            "private/insert", params, m.decode_order, timeout_s=timeout_s
        )

    async def buy(
        self,
        instrument_name: str,
        amount: float,
        price: float | None = None,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> m.OrderUpdate:
        """``private/buy``: :meth:`insert` without ``direction``."""
        return await self._directed("buy", instrument_name, amount, price, timeout_s, options)

    async def sell(
        self,
        instrument_name: str,
        amount: float,
        price: float | None = None,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> m.OrderUpdate:
        """``private/sell``: :meth:`insert` without ``direction``."""
        return await self._directed("sell", instrument_name, amount, price, timeout_s, options)

    async def _directed(self, direction: str, instrument_name: str, amount: float,
                        price: float | None, timeout_s: float | None,
                        options: dict[str, Any]) -> m.OrderUpdate:
        # private/buy and private/sell take the insert params without ``direction``.
        params = m.insert_params(direction=direction, instrument_name=instrument_name,
                                 amount=amount, price=price, **options)
        del params["direction"]
        return await self.call_decoded(f"private/{direction}", params, m.decode_order,
                                       timeout_s=timeout_s)

    async def amend(
        self,
        *,
        amount: float,
        price: float,
        order_id: str | None = None,
        client_order_id: int | None = None,
        collar: str | None = None,
        timeout_s: float | None = None,
    ) -> m.OrderUpdate:
        """Change price and/or original ``amount`` (base currency) of an open order, named by
        exactly one of ``order_id`` or ``client_order_id``. An amount at or below the filled
        amount deletes the order."""
        params = one_order_id(order_id, client_order_id)
        params.update(amount=amount, price=price, collar=collar)
        return await self.call_decoded("private/amend", params, m.decode_order, timeout_s=timeout_s)

    async def cancel(
        self,
        *,
        order_id: str | None = None,
        client_order_id: int | None = None,
        timeout_s: float | None = None,
    ) -> m.OrderUpdate:
        """Cancel one order by ``order_id`` or ``client_order_id`` (``OrderNotFound`` if it is
        already closed)."""
        params = one_order_id(order_id, client_order_id)
        return await self.call_decoded(
            "private/cancel", params, m.decode_order, timeout_s=timeout_s
        )

    async def send_order_batch(
        self,
        requests: Sequence[tuple[str, dict[str, Any]]],
        *,
        timeout_s: float | None = None,
    ) -> OrderBatch:
        """Send insert / amend / cancel requests in one socket write, without waiting.

        ``requests`` are ``(kind, arguments)`` pairs with ``kind`` one of ``"insert"``
        (``insert`` keywords, ``direction`` included), ``"amend"`` or ``"cancel"`` (their
        keywords). ``await batch.wait()`` returns per request the decoded order, or the error
        as an exception object (returned, not raised).
        """
        calls: list[tuple[str, dict[str, Any]]] = []
        for kind, arguments in requests:
            if kind == "insert":
                calls.append(("private/insert", m.insert_params(**arguments)))
            elif kind in ("amend", "cancel"):
                args = dict(arguments)
                params = one_order_id(args.pop("order_id", None),
                                       args.pop("client_order_id", None))
                params.update(args)
                calls.append((f"private/{kind}", params))
            else:
                raise ValueError(f"unknown order request kind {kind!r}")
        return await self._session.send_batch(calls, timeout_s=timeout_s, batch_type=OrderBatch)

    async def send_encoded_orders(
        self,
        requests: Sequence[tuple[str, bytes]],
        *,
        timeout_s: float | None = None,
    ) -> OrderBatch:
        """Like :meth:`send_order_batch` for requests already encoded by
        :class:`~qengine.io.order_frames.OrderFrames`: ``(method, params JSON)`` pairs."""
        return await self._session.send_batch(requests, timeout_s=timeout_s,
                                              batch_type=OrderBatch)

    async def send_order_frames(self, methods: Sequence[str],
                                build: Callable[[int, bytes], bytes | None], *,
                                timeout_s: float | None = None) -> OrderBatch | None:
        """Like :meth:`send_encoded_orders` for requests whose masked frames ``build`` writes
        (see :meth:`RpcSession.send_prebuilt`); ``None`` when it could not (nothing sent)."""
        return await self._session.send_prebuilt(methods, build, timeout_s=timeout_s,
                                                 batch_type=OrderBatch)

    async def order_batch(
        self,
        requests: Sequence[tuple[str, dict[str, Any]]],
        *,
        timeout_s: float | None = None,
    ) -> list[m.OrderUpdate | BaseException]:
        """:meth:`send_order_batch` and wait for every answer."""
        batch = await self.send_order_batch(requests, timeout_s=timeout_s)
        return await batch.wait()

    async def cancel_all(self, *, timeout_s: float | None = None) -> int:
        """Cancel every order of the account; return how many were deleted."""
        result = await self.call("private/cancel_all", None, timeout_s=timeout_s)
        if type(result) is not int:
            raise BadResponse("private/cancel_all: result is not an integer")
        return result

    async def open_orders(self, *, timeout_s: float | None = None) -> list[m.OrderUpdate]:
        """All open orders of the account."""
        return await self.call_decoded(
            "private/open_orders", None, records(m.decode_order), timeout_s=timeout_s
        )
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
            "private/portfolio", None, records(m.decode_portfolio_row), timeout_s=timeout_s
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
            **time_window(time_low_s, time_high_s),
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
            **time_window(time_low_s, time_high_s),
            "bookmark": bookmark,
        }
        return await self.call_decoded(
            "private/order_history", params, order_history_page, timeout_s=timeout_s
        )
