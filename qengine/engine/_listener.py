"""The listener: turns decoded exchange pushes (and RPC order results) into state-array writes.

:meth:`Listener.apply` takes one socket read from io (in the reader task, sync, cheap): first the
newest market data of the read (ticker, index: conflated, the newest book overwrites the last; the
quoted ticker comes as its raw frame, decoded by the ticker lane's kernel, see ``_ticker_lane``),
then every other push in order (public trades, orders, portfolio, trade history, protection,
system): nothing is dropped. Every fill is booked exactly once (keyed by trade id), from
``session.orders`` fills, from order RPC results, or from ``account.trade_history`` if that arrives
first; ``account.portfolio`` is the truth for the position and is reconciled when a mismatch
outlives a short grace period (pushes of the two channels are not ordered against each other).
Each newly booked fill is credited to its order's row (``booked_lots``, matched by order id): a
report can state a fill before the fill is booked, and the position limit counts what is not
booked yet.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable

import numpy as np
import trio

from ..clock import now_ns
from ..io import messages as m
from ..io.rpc_session import Inbound
from ..kernels import codes
from ..kernels.intensity import intensity_update
from ..kernels.orders import (
    order_apply_update,
    order_book_lots,
    order_find_by_client_id,
    order_find_by_key,
)
from ..kernels.position import position_apply_fill, position_reconcile
from ..telemetry import COUNTER, Telemetry
from ._gate import Wakeup
from ._state import Book, EngineState, id_key
from ._ticker_lane import TickerLane

log = logging.getLogger("qengine.listener")

_SIDES = {"buy": codes.SIDE_BUY, "sell": codes.SIDE_SELL}
#: Channel prefixes of market data: io keeps only the newest push per channel in one read.
MARKET_CHANNELS = ("ticker.", "price_index.")
_MESSAGES, _TICKERS = COUNTER["messages"], COUNTER["tickers"]
_LANE, _FALLBACKS = COUNTER["ticker_lane"], COUNTER["ticker_fallbacks"]
#: A position mismatch with the exchange must outlive this before it is reconciled.
RECONCILE_GRACE_S = 2.0


class ExchangePosition:
    """The exchange's last reported position of one instrument (from ``account.portfolio``)."""

    __slots__ = ("average_ticks", "lots", "mark_price", "seen_s")

    def __init__(self) -> None:
        self.lots: int | None = None
        self.average_ticks = 0
        self.seen_s = 0.0
        self.mark_price = math.nan


class Listener:
    """Applies exchange reports to :class:`EngineState`; wakes the quoter on news."""

    def __init__(self, state: EngineState, telemetry: Telemetry, wakeup: Wakeup, *,
                 decode_raw: Callable[[bytes, int], Inbound] | None = None) -> None:
        self.state = state
        #: The quoted ticker's wire decoder; raw frames it does not take go to ``decode_raw``
        #: (io's decoder, ``ThalexClient.decode_raw``: required when io hands raw frames over).
        self.lane = TickerLane(state.spec)
        self.decode_raw = decode_raw
        self.telemetry = telemetry
        self.counters = telemetry.counters.values
        #: Rung after every newly booked fill (the quoter quotes at once).
        self.wakeup = wakeup
        self.exchange_positions = [ExchangePosition() for _ in state.specs]
        self.index_by_name = {spec.name: spec.index for spec in state.specs}
        self.last_fill_s = -math.inf
        self._reconnect_request = trio.Event()
        self.mm_protection_remaining: dict[str, float] = {}
        #: Set when the exchange pulled our mass quotes (protection used up, session end).
        self.mm_protection_exhausted = False
        #: Exchange time (Unix s) of the newest event seen (tickers, fills, trades).
        self.exchange_time_s = -math.inf
        #: Trades at or before this exchange time are already in a position we adopted from the
        #: portfolio: a late push of one must not move the position again.
        self.adoption_cutoff_s = -math.inf
        #: Trade ids of the account's history at the first login (fills of earlier runs).
        self.known_trade_ids: set[str] = set()
        self.skipped_adopted_fills = 0
        #: Trade ids of history rows that were not complete fills (counted once each).
        self.skipped_trade_ids: set[str] = set()
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
        if stamp > self.exchange_time_s:
            self.exchange_time_s = stamp
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
        if ticker.mark_timestamp > self.exchange_time_s:
            self.exchange_time_s = ticker.mark_timestamp
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
            side = _SIDES.get(trade.taker_side)
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

    # -- orders, fills, positions ----------------------------------------------------------------

    def apply_order(self, update: m.OrderUpdate) -> None:
        """Apply one order report (push or RPC result): table row, then its new fills."""
        state = self.state
        index = self.index_by_name.get(update.instrument_name or "", -1)
        if index < 0:
            return
        spec = state.specs[index]
        key = id_key(update.order_id)
        cid = update.client_order_id
        if cid is None:
            cid = state.client_id_by_key.get(key)
        slot = self.our_slot(key, cid)
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
        for fill in update.fills:
            self.book_fill(index, fill.trade_id, update.direction, fill.price, fill.amount,
                           fill.maker_taker == "maker", None, update.label, fill.time, slot=slot)

    def our_slot(self, key: int, cid: int | None) -> int:
        """The order-table row of the exchange order ``key`` (client id ``cid``), or -1.

        The exchange order id decides; the client id only finds our insert whose answer has
        not come yet (its row has no exchange id). An order of another process that carries
        one of our client ids is never taken for ours.
        """
        orders = self.state.orders
        slot = order_find_by_key(orders, key)
        if slot >= 0 or cid is None:
            return slot
        slot = order_find_by_client_id(orders, cid)
        if slot >= 0 and int(orders[slot]["order_key"]) < 0:
            return slot
        return -1

    def book_fill(self, index: int, trade_id: str, direction: str, price: float, amount: float,
                  is_maker: bool, fee: float | None, label: str | None,
                  time_s: float | None = None, *, slot: int = -1) -> bool:
        """Book one execution exactly once; log it as one line. Return True when it was new.

        ``slot`` is the order-table row of the order that traded (-1: none of ours): a fill
        the position takes, or already holds (adopted), is credited to it once.
        """
        state = self.state
        spec = state.specs[index]
        side = _SIDES.get(direction)
        if side is None or trade_id in self.known_trade_ids:
            return False
        key = id_key(trade_id)
        if time_s is not None:
            if time_s <= self.adoption_cutoff_s:
                # Duplicates first: a trade already booked (re-read from the history after a
                # reconnect) is expected, silent and counted. Only a fill never booked that is
                # already inside the adopted portfolio position (its push came late) is skipped
                # with a warning.
                if self._already_booked(key):
                    self.counters[COUNTER["duplicate_fills"]] += 1
                    return False
                self.skipped_adopted_fills += 1
                log.warning("fill %s predates the adopted portfolio position; not booked again",
                            trade_id)
                self.known_trade_ids.add(trade_id)
                self._credit(slot, spec.amount_lots(amount))
                return False
            self.exchange_time_s = max(self.exchange_time_s, time_s)
        q = state.config.quote
        if fee is None:  # order pushes carry no fee: use the configured rate until history says
            fee = (q.maker_fee_rate if is_maker else q.taker_fee_rate) * price * amount
        row = state.fill_scratch[0]
        row["trade_id"] = key
        row["instrument"] = index
        row["side"] = side
        row["price_ticks"] = spec.price_ticks(price)
        row["amount_lots"] = spec.amount_lots(amount)
        row["fee_quote"] = fee
        row["is_maker"] = 1 if is_maker else 0
        row["time_ns"] = now_ns()
        status = position_apply_fill(state.positions, state.lots, state.seen_trade_ids,
                                     state.seen_cursor, state.fill_scratch, 0,
                                     spec.lot_tick_value)
        if status == codes.STATUS_DUPLICATE:
            self.counters[COUNTER["duplicate_fills"]] += 1
            return False
        if status != codes.STATUS_OK:
            self.counters[COUNTER["errors"]] += 1
            log.error("fill %s could not be booked (status %d); reconciling with the exchange",
                      trade_id, status)
            return False
        self._credit(slot, int(row["amount_lots"]))
        self.counters[COUNTER["fills"]] += 1
        self.last_fill_s = trio.current_time()
        large = amount >= state.config.telemetry.large_fill
        log.info("%sFILL %s %s %s @ %s (%s) position %s", "LARGE " if large else "",
                 spec.name, direction.upper(), spec.amount(spec.amount_lots(amount)), price,
                 "maker" if is_maker else "taker", state.position(index))
        self.telemetry.record_fill(index, direction, price, amount, is_maker, label)
        self.wakeup.ring(fill=True)
        return True

    def _credit(self, slot: int, lots: int) -> None:
        # The row of the order that traded now counts those lots as in the position.
        if slot >= 0 and order_book_lots(self.state.orders, slot, lots, now_ns()) != \
                codes.STATUS_OK:
            self.counters[COUNTER["errors"]] += 1
            log.error("booked lots %d could not be credited to order row %d", lots, slot)

    def _already_booked(self, key: int) -> bool:
        # The position kernel's ring of booked trade ids (filled from slot 0, so the first
        # ``count`` slots are the valid ones).
        count = int(self.state.seen_cursor[0]["count"])
        return bool(np.any(self.state.seen_trade_ids[:count] == key))

    def apply_portfolio(self, entries: Iterable[m.PortfolioEntry | m.SkippedRow],
                        snapshot: bool) -> None:
        """Record the exchange's positions; instruments missing from a snapshot are flat.

        An unreadable line of ours keeps the position we knew (and is an error); one without an
        instrument name could be ours, so that snapshot flattens nothing it does not list.
        """
        seen = set()
        unnamed = False
        for entry in entries:
            if isinstance(entry, m.SkippedRow):
                index = self.index_by_name.get(entry.instrument_name, -1)
                seen.add(index)
                unnamed = unnamed or entry.instrument_name is None
                if index >= 0:
                    self.counters[COUNTER["own_rows_invalid"]] += 1
                    log.error("account.portfolio: the line of %s cannot be read (%s); keeping "
                              "the position last reported", entry.instrument_name, entry.reason)
                else:
                    self.counters[COUNTER["rows_skipped"]] += 1
                continue
            index = self.index_by_name.get(entry.instrument_name, -1)
            if index < 0:
                continue
            seen.add(index)
            spec = self.state.specs[index]
            exchange = self.exchange_positions[index]
            exchange.lots = spec.amount_lots(entry.position)
            average = entry.average_price or 0.0
            exchange.average_ticks = spec.price_ticks(average) if average > 0 else 0
            exchange.seen_s = trio.current_time()
            if entry.mark_price is not None:
                exchange.mark_price = entry.mark_price
        if snapshot and not unnamed:
            for index, exchange in enumerate(self.exchange_positions):
                if index not in seen:
                    exchange.lots, exchange.average_ticks = 0, 0
                    exchange.seen_s = trio.current_time()

    def reconcile_positions(self, *, force: bool = False) -> int:
        """Adopt the exchange position where ours differs (after the grace period unless forced).

        Returns the number of instruments reconciled.
        """
        changed = 0
        now_s = trio.current_time()
        if force:
            self.adoption_cutoff_s = self.exchange_time_s
        for index, exchange in enumerate(self.exchange_positions):
            if exchange.lots is None or self.state.position_lots(index) == exchange.lots:
                continue
            quiet = now_s - max(exchange.seen_s, self.last_fill_s) >= RECONCILE_GRACE_S
            if not (force or quiet):
                continue
            average = exchange.average_ticks
            if exchange.lots != 0 and average <= 0:
                average = max(1, round(self.state.book.mark_ticks)) if math.isfinite(
                    self.state.book.mark_ticks) else 1
            ours = self.state.position_lots(index)
            status = position_reconcile(self.state.positions, self.state.lots, index,
                                        exchange.lots, average, now_ns())
            if status == codes.STATUS_MISMATCH:
                changed += 1
                self.adoption_cutoff_s = self.exchange_time_s
                self._settle_closed_rows(index)
                spec = self.state.specs[index]
                log.warning("position of %s reconciled with the exchange: %s -> %s",
                            spec.name, spec.amount(ours), spec.amount(exchange.lots))
        return changed

    def _settle_closed_rows(self, index: int) -> None:
        # The adopted position holds what the exchange executed: a closed order's fills not
        # booked yet are in it (a late push of one is skipped), so its row may be released.
        orders = self.state.orders
        for slot in np.flatnonzero((orders["status"] == codes.ORDER_CLOSED) &
                                   (orders["instrument"] == index) &
                                   (orders["booked_lots"] < orders["filled_lots"])):
            row = orders[slot]
            self._credit(int(slot), int(row["filled_lots"]) - int(row["booked_lots"]))

    def apply_trades(self, trades: Iterable[m.Trade | m.SkippedRow]) -> None:
        """Cross-check fills against the account's trade history; book any we missed."""
        for trade in trades:
            if isinstance(trade, m.SkippedRow):
                self.skip_trade_row(trade)
                continue
            index = self.index_by_name.get(trade.instrument_name, -1)
            # Every execution moves the position: outright fills, and the legs of a roll
            # (``combo``), block, RFQ and liquidation trades alike.
            if index < 0 or (trade.trade_type is not None
                             and trade.trade_type not in m.FILL_TRADE_TYPES):
                continue
            order_key = id_key(trade.order_id) if trade.order_id is not None else -1
            if self.book_fill(index, trade.trade_id, trade.direction, trade.price, trade.amount,
                              trade.maker_taker == "maker", trade.fee, trade.label, trade.time,
                              slot=self.our_slot(order_key, trade.client_order_id)):
                log.warning("fill %s was missing from the order feed; booked from trade history",
                            trade.trade_id)

    def skip_trade_row(self, row: m.SkippedRow) -> None:
        """Count a trade-history row that is not a complete fill (each trade id once). Only a
        fill on one of our instruments is an error: the order feed and the portfolio still
        carry it, but it cannot be cross-checked from the history."""
        if row.trade_id is not None:
            if row.trade_id in self.skipped_trade_ids:
                return
            self.skipped_trade_ids.add(row.trade_id)
        ours = row.instrument_name in self.index_by_name
        if ours and (row.trade_type is None or row.trade_type in m.FILL_TRADE_TYPES):
            self.counters[COUNTER["own_rows_invalid"]] += 1
            log.error("account.trade_history: our fill %s on %s cannot be booked from the "
                      "history: %s", row.trade_id, row.instrument_name, row.reason)
            return
        self.counters[COUNTER["rows_skipped"]] += 1
        if self.verbose:
            log.debug("account.trade_history row skipped (%s %s): %s", row.instrument_name,
                      row.trade_id, row.reason)

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
            self.apply_portfolio(notification.records, notification.snapshot)
        elif kind == "account.trade_history":
            self.apply_trades(notification.records)
        elif kind == "session.mm_protection":
            for item in notification.records:
                self.mm_protection_remaining[item.product] = item.remaining_amount
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
