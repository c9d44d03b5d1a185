"""The listener: turns decoded exchange pushes (and RPC order results) into state-array writes.

:meth:`Listener.apply` takes one socket read from io (in the reader task, sync, cheap): first the
newest market data of the read (ticker, index: conflated, the newest book overwrites the last; the
quoted ticker comes as its raw frame, decoded by the ticker lane's kernel, see ``_ticker_lane``),
then every other push in order (public trades, orders, portfolio, trade history, protection,
system): nothing is dropped. The listener writes the book and the order rows; fills, the
portfolio and the trade history go to the account (``_account``), which books every fill once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from ..clock import now_ns
from ..io import messages as m
from ..io.rpc_session import Inbound
from ..kernels import codes
from ..kernels.intensity import intensity_update
from ..kernels.orders import order_apply_update
from ..telemetry import COUNTER, Telemetry
from ._account import SIDES, Account
from ._state import Book, EngineState, id_key
from ._ticker_lane import TickerLane

log = logging.getLogger("qengine.listener")

#: Channel prefixes of market data: io keeps only the newest push per channel in one read.
MARKET_CHANNELS = ("ticker.", "price_index.")
_MESSAGES, _TICKERS = COUNTER["messages"], COUNTER["tickers"]
_LANE, _FALLBACKS = COUNTER["ticker_lane"], COUNTER["ticker_fallbacks"]


class Listener:
    """Applies exchange reports to :class:`EngineState` (fills, portfolio and trade history
    through the account); wakes waiters on a new ticker."""

    def __init__(self, state: EngineState, telemetry: Telemetry, account: Account, *,
                 decode_raw: Callable[[bytes, int], Inbound] | None = None) -> None:
        self.state = state
        #: Books the fills of order reports; applies the portfolio and the trade history.
        self.account = account
        #: The quoted ticker's wire decoder; raw frames it does not take go to ``decode_raw``
        #: (io's decoder, ``ThalexClient.decode_raw``: required when io hands raw frames over).
        self.lane = TickerLane(state.spec)
        self.decode_raw = decode_raw
        self.telemetry = telemetry
        self.counters = telemetry.counters.values
        self._reconnect_request = trio.Event()
        #: Set when the exchange pulled our mass quotes (protection used up, session end).
        self.mm_protection_exhausted = False
        #: ``--verbose``: every event is logged in full (checked once, not per message).
        self.verbose = state.config.telemetry.verbose_logging
        self._next_ticker: trio.Event | None = None

    def apply(self, inbound: Inbound) -> None:
        """Apply one socket read: its newest market data, then its other pushes in order."""
        for notification in inbound.market:
            if type(notification) is bytes:
                self.apply_raw(notification, inbound.arrival_ns)
            elif notification.kind == "ticker":
                self.on_ticker(notification, inbound.arrival_ns)
            else:
                self.on_index(notification)
        for notification in inbound.events:
            if notification.kind == "recent_trades":
                self.on_public_trades(notification)
            else:
                self.handle_event(notification)

    def take_mm_protection_exhausted(self) -> bool:
        """Whether the exchange pulled our mass quotes since the last call (then forgets it)."""
        exhausted, self.mm_protection_exhausted = self.mm_protection_exhausted, False
        return exhausted

    # -- market data ------------------------------------------------------------------------------

    def apply_raw(self, frame: bytes, arrival_ns: int) -> None:
        """A raw push of the quoted ticker: decoded by the lane's kernel, or by io (always
        with ``--verbose``, which logs every ticker record in full)."""
        if not self.verbose and self.lane.decode(frame):
            self.took_ticker(arrival_ns or now_ns())
        else:
            self.apply_fallback(frame, arrival_ns)

    def apply_fallback(self, frame: bytes, arrival_ns: int) -> None:
        """A raw frame the lane does not take: io decodes it (or rejects and counts it) exactly
        as any other frame, and its pushes are applied as usual."""
        self.counters[_FALLBACKS] += 1
        if self.decode_raw is None:
            raise RuntimeError("a raw market frame arrived, but the listener has no decoder")
        self.apply(self.decode_raw(frame, arrival_ns))

    def took_ticker(self, time_ns: int) -> None:
        """Write the book from the lane's decoded ticker (read at ``time_ns``, trio clock)."""
        counters = self.counters
        counters[_LANE] += 1
        counters[_MESSAGES] += 1
        counters[_TICKERS] += 1
        book = self.state.book
        book.time_ns = time_ns
        book.bid_ticks, book.ask_ticks, book.bid_lots, book.ask_lots = self.lane.ticks.tolist()
        (book.mark_ticks, book.index_price, book.collar_low_ticks, book.collar_high_ticks,
         stamp) = self.lane.values.tolist()
        if stamp > book.exchange_time_s:
            book.exchange_time_s = stamp
        self._ticker_written(book)

    def on_ticker(self, notification: m.Notification, arrival_ns: int = 0) -> None:
        """Write the newest top of book, mark and collars (``arrival_ns``: when its frame was
        read from the socket, trio clock; 0 means now)."""
        self.counters[COUNTER["messages"]] += 1
        if notification.key != self.state.spec.name:
            return
        ticker: m.Ticker = notification.records[0]
        if self.verbose:
            log.debug("ticker %s", ticker)
        spec, book = self.state.spec, self.state.book
        self.counters[COUNTER["tickers"]] += 1
        book.time_ns = arrival_ns or now_ns()
        if ticker.best_bid_price is not None and ticker.best_bid_amount is not None:
            book.bid_ticks = spec.price_ticks(ticker.best_bid_price)
            book.bid_lots = spec.amount_lots(ticker.best_bid_amount)
        else:
            book.bid_ticks, book.bid_lots = 0, 0  # a missing side stays missing
        if ticker.best_ask_price is not None and ticker.best_ask_amount is not None:
            book.ask_ticks = spec.price_ticks(ticker.best_ask_price)
            book.ask_lots = spec.amount_lots(ticker.best_ask_amount)
        else:
            book.ask_ticks, book.ask_lots = 0, 0
        book.mark_ticks = spec.price_in_ticks(ticker.mark_price)
        if ticker.mark_timestamp > book.exchange_time_s:
            book.exchange_time_s = ticker.mark_timestamp
        book.index_price = ticker.index
        # Collars as float ticks: the flatten price is rounded *inside* them (ceil / floor).
        book.collar_low_ticks = (spec.price_in_ticks(ticker.collar_low)
                                 if ticker.collar_low is not None else 0.0)
        book.collar_high_ticks = (spec.price_in_ticks(ticker.collar_high)
                                  if ticker.collar_high is not None else 0.0)
        self._ticker_written(book)

    def _ticker_written(self, book: Book) -> None:
        book.updates += 1
        self.telemetry.record_ticker(book.time_ns)
        if self._next_ticker is not None:
            self._next_ticker.set()
            self._next_ticker = None

    def forget_book(self) -> None:
        """The connection dropped: no book until a ticker arrives on the next connection."""
        book = self.state.book
        book.time_ns = 0
        book.bid_ticks = book.ask_ticks = 0

    def on_index(self, notification: m.Notification) -> None:
        """Keep the latest index price (used when the ticker's index is older)."""
        self.counters[COUNTER["messages"]] += 1
        record: m.IndexPrice = notification.records[0]
        if record.index_name == self.state.spec.underlying:
            self.state.book.index_price = record.price

    def on_public_trades(self, notification: m.Notification) -> None:
        """Feed the tape to the intensity estimator."""
        self.counters[COUNTER["messages"]] += 1
        if self.verbose:
            log.debug("public trades %s", notification.records)
        if notification.snapshot:
            return  # the snapshot replays old trades: not arrivals now
        state, spec = self.state, self.state.spec
        book = state.book
        if not (book.bid_ticks > 0 and book.ask_ticks > book.bid_ticks):
            return  # no mid to measure distances from
        mid_ticks = 0.5 * (book.bid_ticks + book.ask_ticks)
        half_life_s = state.config.quote.intensity_half_life_s
        for trade in notification.records:
            if trade.instrument_name != spec.name:
                continue
            side = SIDES.get(trade.taker_side)
            if side is None:
                continue
            self.counters[COUNTER["public_trades"]] += 1
            t_ns = now_ns()
            price_ticks = spec.price_in_ticks(trade.price)
            intensity_update(state.intensity_state, t_ns, price_ticks, mid_ticks, side,
                             half_life_s)

    async def reconnect_requested(self, *, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the exchange to announce a reconnect; True if it did
        (the announcement is then consumed)."""
        with trio.move_on_after(timeout_s):
            await self._reconnect_request.wait()
        if not self._reconnect_request.is_set():
            return False
        self._reconnect_request = trio.Event()
        return True

    async def wait_next_ticker(self) -> None:
        """Wait until the next ticker of the quoted instrument has been applied."""
        if self._next_ticker is None:
            self._next_ticker = trio.Event()
        await self._next_ticker.wait()

    # -- orders -----------------------------------------------------------------------------------

    def apply_order(self, update: m.OrderUpdate) -> None:
        """Apply one order report (push or RPC result): table row, then its new fills."""
        state, account = self.state, self.account
        index = account.index_by_name.get(update.instrument_name or "", -1)
        if index < 0:
            return
        spec = state.specs[index]
        key = id_key(update.order_id)
        cid = update.client_order_id
        if cid is None:
            cid = state.client_id_by_key.get(key)
        slot = account.our_slot(key, cid)
        if slot >= 0:
            cid = int(state.orders[slot]["client_order_id"])
            state.client_id_by_key[key] = cid
            if update.is_live:
                kind = (codes.ORDER_UPDATE_AMENDED if update.change_reason == "amend"
                        else codes.ORDER_UPDATE_LIVE)
            else:
                kind = codes.ORDER_UPDATE_CLOSED
                state.client_id_by_key.pop(key, None)
            price_ticks = spec.price_ticks(update.price) if update.price is not None else 0
            order_apply_update(state.orders, cid, key, kind, price_ticks,
                               spec.amount_lots(update.amount),
                               spec.amount_lots(update.filled_amount), now_ns())
        account.book_order_fills(index, update, slot)

    def handle_event(self, notification: m.Notification) -> None:
        """Dispatch one ordered push (orders, portfolio, trades, protection, system)."""
        if self.verbose:
            log.debug("%s%s: %s", notification.kind, " (snapshot)" if notification.snapshot
                      else "", notification.records)
        self.counters[COUNTER["messages"]] += 1
        kind = notification.kind
        if kind == "session.orders":
            for update in notification.records:
                self.counters[COUNTER["order_updates"]] += 1
                self.apply_order(update)
        elif kind == "account.portfolio":
            self.counters[COUNTER["portfolio_updates"]] += 1
            self.account.apply_portfolio(notification.records, notification.snapshot)
        elif kind == "account.trade_history":
            self.account.apply_trades(notification.records)
        elif kind == "session.mm_protection":
            for item in notification.records:
                if item.remaining_amount <= 0 or item.reason in ("session_end", "client_cancel"):
                    self.mm_protection_exhausted = True
                if item.remaining_amount <= 0:
                    log.warning("mm protection of %s used up (%s): the exchange pulled our "
                                "quotes", item.product, item.reason)
        elif kind == "system":
            for event in notification.records:
                if event.event == "reconnect":
                    log.warning("exchange announced a reconnect; reconnecting")
                    self._reconnect_request.set()
