"""The account: fills booked exactly once, the exchange's positions, and the trade history.

Every fill is booked exactly once (keyed by trade id), from ``session.orders`` fills, from order
RPC results, or from ``account.trade_history`` if that arrives first; ``account.portfolio`` is
the truth for the position and is reconciled when a mismatch outlives a short grace period
(pushes of the two channels are not ordered against each other). Each newly booked fill is
credited to its order's row (``booked_lots``, matched by order id): a report can state a fill
before the fill is booked, and the position limit counts what is not booked yet.

:class:`Account` writes the positions, the fill bookkeeping and the order rows' ``booked_lots``;
the listener hands it the account's pushes and the fills of order reports. It reads the book
(the listener's) for the mark and the newest exchange time of the market data.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import numpy as np
import trio

from ..clock import now_ns
from ..io import messages as m
from ..kernels import codes
from ..kernels.orders import order_book_lots, order_find_by_client_id, order_find_by_key
from ..kernels.position import position_apply_fill, position_reconcile
from ..telemetry import COUNTER, Telemetry
from ._gate import Wakeup
from ._state import EngineState, id_key

log = logging.getLogger("qengine.listener")  # its lines stay where they were logged before

#: An execution's direction as the kernels' side code.
SIDES = {"buy": codes.SIDE_BUY, "sell": codes.SIDE_SELL}
#: A position mismatch with the exchange must outlive this before it is reconciled.
RECONCILE_GRACE_S = 2.0


class ExchangePosition:
    """The exchange's last reported position of one instrument (from ``account.portfolio``)."""

    __slots__ = ("average_ticks", "lots", "seen_s")

    def __init__(self) -> None:
        self.lots: int | None = None
        self.average_ticks = 0
        self.seen_s = 0.0


class Account:
    """Books fills into :class:`EngineState`'s positions; reconciles them with the exchange."""

    def __init__(self, state: EngineState, telemetry: Telemetry, wakeup: Wakeup) -> None:
        self.state = state
        self.telemetry = telemetry
        self.counters = telemetry.counters.values
        #: Rung after every newly booked fill (the quoter quotes at once).
        self.wakeup = wakeup
        self.exchange_positions = [ExchangePosition() for _ in state.specs]
        self.index_by_name = {spec.name: spec.index for spec in state.specs}
        #: When (trio clock) the newest fill was booked.
        self.last_fill_s = -math.inf
        #: Exchange time (Unix s) of the newest booked fill; the book keeps the market's.
        self.fill_time_s = -math.inf
        #: Trades at or before this exchange time are already in a position we adopted from the
        #: portfolio: a late push of one must not move the position again.
        self.adoption_cutoff_s = -math.inf
        #: Trade ids of the account's history at the first login (fills of earlier runs).
        self.known_trade_ids: set[str] = set()
        self.skipped_adopted_fills = 0
        #: Trade ids of history rows that were not complete fills (counted once each).
        self.skipped_trade_ids: set[str] = set()
        self.verbose = state.config.telemetry.verbose_logging

    @property
    def exchange_time_s(self) -> float:
        """Exchange time (Unix s) of the newest event seen: the quoted ticker's or a fill's."""
        return max(self.state.book.exchange_time_s, self.fill_time_s)

    def know_trades(self, trade_ids: Iterable[str]) -> None:
        """Trades of earlier runs (the history at the first login): never booked by this one."""
        self.known_trade_ids.update(trade_ids)

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

    def book_order_fills(self, index: int, update: m.OrderUpdate, slot: int) -> None:
        """Book the fills an order report lists (each once), crediting row ``slot``."""
        for fill in update.fills:
            self.book_fill(index, fill.trade_id, update.direction, fill.price, fill.amount,
                           fill.maker_taker == "maker", None, update.label, fill.time,
                           slot=slot)

    def book_fill(self, index: int, trade_id: str, direction: str, price: float, amount: float,
                  is_maker: bool, fee: float | None, label: str | None,
                  time_s: float | None = None, *, slot: int = -1) -> bool:
        """Book one execution exactly once; log it as one line. Return True when it was new.

        ``slot`` is the order-table row of the order that traded (-1: none of ours): a fill
        the position takes, or already holds (adopted), is credited to it once.
        """
        state = self.state
        spec = state.specs[index]
        side = SIDES.get(direction)
        if side is None or trade_id in self.known_trade_ids:
            return False
        key = id_key(trade_id)
        lots, written_ns = spec.amount_lots(amount), now_ns()
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
                self._credit(slot, lots, written_ns)
                return False
            self.fill_time_s = max(self.fill_time_s, time_s)
        q = state.config.quote
        if fee is None:  # order pushes carry no fee: use the configured rate until history says
            fee = (q.maker_fee_rate if is_maker else q.taker_fee_rate) * price * amount
        row = state.fill_scratch[0]
        row["trade_id"] = key
        row["instrument"] = index
        row["side"] = side
        row["price_ticks"] = spec.price_ticks(price)
        row["amount_lots"] = lots
        row["fee_quote"] = fee
        row["is_maker"] = 1 if is_maker else 0
        row["time_ns"] = written_ns
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
        self._credit(slot, lots, written_ns)
        self.counters[COUNTER["fills"]] += 1
        self.last_fill_s = trio.current_time()
        large = amount >= state.config.telemetry.large_fill
        log.info("%sFILL %s %s %s @ %s (%s) position %s", "LARGE " if large else "",
                 spec.name, direction.upper(), spec.amount(lots), price,
                 "maker" if is_maker else "taker", state.position(index))
        self.telemetry.record_fill(index, direction, price, amount, is_maker, label)
        self.wakeup.ring(fill=True)
        return True

    def _credit(self, slot: int, lots: int, written_ns: int) -> None:
        # The row of the order that traded now counts those lots as in the position.
        if slot >= 0 and order_book_lots(self.state.orders, slot, lots, written_ns) != \
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
        orders, written_ns = self.state.orders, now_ns()
        for slot in np.flatnonzero((orders["status"] == codes.ORDER_CLOSED) &
                                   (orders["instrument"] == index) &
                                   (orders["booked_lots"] < orders["filled_lots"])):
            row = orders[slot]
            self._credit(int(slot), int(row["filled_lots"]) - int(row["booked_lots"]),
                         written_ns)

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
