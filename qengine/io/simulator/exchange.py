"""The exchange core: instruments, markets, accounts, sessions, order placement and executions.

Everything here is synchronous and runs between awaits, so one request (or one market step) is
applied atomically. Notifications produced meanwhile go to an outbox that is flushed after the
RPC reply has been queued: replies come first, then the order pushes (thalex-protocol.md 9).
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import numpy as np
import orjson
import trio

from .accounts import Account
from .book import Match
from .config import SimulatorConfig
from .instruments import Instrument
from .market import IndexProcess, MarketState
from .orders import BUY, IOC, Fill, Order
from .sessions import Session

_ORDER_ID_BASE = 0x00011E5700000000
_TRADE_ID_BASE = 0x00800000000000000000000000000000
_CLOSED_KEEP = 10000
_FLUSH_RANK = {"session.orders": 0, "account.orders": 1, "session.mm_protection": 2,
               "account.trade_history": 3, "account.portfolio": 4}


def notification_frame(channel: str, payload_json: str, snapshot: bool = False) -> str:
    """Text frame of a notification with ``channel_name`` first (byte-prefix parsers)."""
    tail = ',"snapshot":true}' if snapshot else "}"
    return '{"channel_name":' + orjson.dumps(channel).decode() + ',"notification":' + \
        payload_json + tail


class Exchange:
    """State of the simulated exchange.

    Parameters
    ----------
    config : SimulatorConfig
        The validated configuration.
    public_keys : dict[str, str]
        Key id -> public key PEM accepted at login.
    """

    def __init__(self, config: SimulatorConfig, public_keys: dict[str, str]) -> None:
        self.config = config
        self.public_keys = public_keys
        seeds = np.random.SeedSequence(config.seed).spawn(3)
        self.rng = np.random.Generator(np.random.PCG64(seeds[0]))
        self.fault_rng = np.random.Generator(np.random.PCG64(seeds[1]))
        self.epoch_s = config.start_time_s if config.start_time_s is not None else time.time()
        self.sim_elapsed_s = 0.0
        self.last_step_trio_s = trio.current_time()
        self.indices = {s.underlying: IndexProcess(s) for s in config.indices}
        self.instruments: dict[str, Instrument] = {}
        self.markets: dict[str, MarketState] = {}  # legs before the combinations they price
        for spec in sorted(config.instruments, key=lambda s: s.type == "combination"):
            legs = tuple((self.instruments[name], q) for name, q in spec.legs)
            inst = self.instruments[spec.instrument_name] = Instrument(spec, self.epoch_s, legs)
            self.markets[inst.name] = MarketState(
                inst, self.indices[spec.underlying],
                tuple((self.markets[leg.name], q) for leg, q in legs))
            self.markets[inst.name].mark_time_s = self.epoch_s
        self.instruments = {s.instrument_name: self.instruments[s.instrument_name]
                            for s in config.instruments}  # listed in config order
        # Futures and rolls draw from streams of their own: listing them leaves the indices and
        # perpetuals of a seed unchanged.
        dated = [m for m in self.markets.values() if m.inst.spec.type != "perpetual"]
        self._market_rngs = {m.inst.name: np.random.Generator(np.random.PCG64(child))
                             for m, child in zip(dated, seeds[2].spawn(len(dated)), strict=True)}
        self.products = {inst.spec.product for inst in self.instruments.values()}
        self.maker_fee = Fraction(repr(float(config.maker_fee_rate)))
        self.taker_fee = Fraction(repr(float(config.taker_fee_rate)))
        self.accounts: dict[str, Account] = {}
        for key_id in sorted(public_keys):
            self.account_for_key(key_id)
        self.sessions: dict[int, Session] = {}
        self.subscribers: dict[str, dict[Session, None]] = {}
        # (session id, channel) -> merged array items, or (session id, "\x00n") -> a ready frame
        self._outbox: dict[tuple[int, str], list[dict[str, Any]] | str] = {}
        self._frame_seq = 0
        self._order_seq = 0
        self._trade_seq = 0
        self._queue_seq = 0
        self._session_seq = 0
        self.internal_errors = 0
        self.publisher: Any = None  # channels.Publisher, attached by the server

    # ---- time and ids -----------------------------------------------------------------------
    def now_s(self) -> float:
        """Simulated Unix seconds (monotone; advances between steps with trio time)."""
        since_step = min(trio.current_time() - self.last_step_trio_s, self.config.step_s)
        return round(self.epoch_s + self.sim_elapsed_s + max(0.0, since_step) *
                     self.config.time_scale, 6)

    def next_order_id(self) -> str:
        """A fresh 16-hex-digit order id."""
        self._order_seq += 1
        return f"{_ORDER_ID_BASE + self._order_seq:016X}"

    def _next_trade_id(self) -> str:
        self._trade_seq += 1
        return f"{_TRADE_ID_BASE + self._trade_seq:032X}"

    def account_for_key(self, key_id: str) -> Account:
        """The account of an API key, created on first use with a sequential number."""
        account = self.accounts.get(key_id)
        if account is None:
            number = f"A{len(self.accounts) + 1:09d}"
            account = Account(number, Fraction(repr(float(self.config.starting_cash_usd))))
            self.accounts[key_id] = account
        return account

    # ---- sessions ---------------------------------------------------------------------------
    def open_session(self, send_channel: trio.MemorySendChannel[str]) -> Session:
        """Register a new connection's session."""
        self._session_seq += 1
        session = Session(self._session_seq, send_channel, self.config.message_rate_before_cod,
                          self.config.cancel_rate, trio.current_time())
        self.sessions[session.session_id] = session
        return session

    def end_session(self, session: Session) -> None:
        """Connection gone: delete its non-persistent orders and mass quotes (session_end)."""
        now = self.now_s()
        self.cancel_session_orders(session, now)
        session.mm_groups.clear()
        for subs in self.subscribers.values():
            subs.pop(session, None)
        session.subscriptions.clear()
        session.closed = True
        self.sessions.pop(session.session_id, None)
        if session.account is not None and session in session.account.sessions:
            session.account.sessions.remove(session)
        if session.account is not None:
            for order in session.account.open_orders.values():
                if order.session is session:
                    order.session = None  # persistent orders outlive their session
        self.flush()

    def cancel_session_orders(self, session: Session, now: float) -> int:
        """Delete the session's non-persistent orders and all its mass quotes; return the count."""
        account = session.account
        if account is None:
            return 0
        doomed = [o for o in account.open_orders.values()
                  if o.session is session and (not o.persistent or o.mass_quote)]
        for order in doomed:
            self.cancel_order(order, "session_end", now)
        session.mass_quotes.clear()
        return len(doomed)

    # ---- notifications ----------------------------------------------------------------------
    def emit(self, session: Session, channel: str, item: dict[str, Any]) -> None:
        """Queue one array item for a private channel; merged and sent at ``flush``."""
        if channel in session.subscriptions and not session.closed:
            queued = self._outbox.setdefault((session.session_id, channel), [])
            assert isinstance(queued, list)
            queued.append(item)

    def defer_frame(self, session: Session, frame: str) -> None:
        """Queue a ready frame (e.g. a subscription snapshot) to go out at ``flush``."""
        self._frame_seq += 1
        self._outbox[(session.session_id, f"\x00{self._frame_seq}")] = frame

    def emit_account(self, account: Account, channel: str, item: dict[str, Any]) -> None:
        """Queue an item for every session of ``account``."""
        for session in account.sessions:
            self.emit(session, channel, item)

    def flush(self) -> None:
        """Send the merged private notifications queued since the last flush."""
        outbox, self._outbox = self._outbox, {}
        # Per session: order changes first, then protection, trades and portfolio lines.
        entries = sorted(outbox.items(), key=lambda kv: (kv[0][0], _FLUSH_RANK.get(kv[0][1], 9)))
        for (session_id, channel), items in entries:
            session = self.sessions.get(session_id)
            if session is None:
                continue
            if isinstance(items, str):
                session.send(items)
                continue
            if channel == "account.portfolio":
                items = list({item["instrument_name"]: item for item in items}.values())
            session.send(notification_frame(channel, orjson.dumps(items).decode()))

    def order_update(self, order: Order, change_reason: str,
                     new_fills: list[Fill] | None = None) -> dict[str, Any]:
        """Push an order change to its session and its account; return the OrderStatus."""
        status = order.to_status(change_reason, [] if new_fills is None else new_fills)
        if order.session is not None:
            self.emit(order.session, "session.orders", status)
        self.emit_account(order.account, "account.orders", status)
        return status

    def portfolio_changed(self, account: Account, inst: Instrument) -> None:
        """Queue the changed portfolio line of ``inst`` for the account's sessions.

        The mark sent is recorded, so the periodic 1 % mark check does not resend the line.
        """
        market = self.markets[inst.name]
        account.sent_marks[inst.name] = market.mark
        line = account.portfolio_line(inst, market.mark, round(market.index.price, 6),
                                      Fraction(market.funding_mark))
        self.emit_account(account, "account.portfolio", line)

    # ---- order book bookkeeping -------------------------------------------------------------
    def register(self, order: Order) -> None:
        """Track an open order in its account (and session client-order-id map)."""
        order.account.open_orders[order.order_id] = order
        if order.client_order_id is not None and order.session is not None:
            order.session.orders_by_coid[order.client_order_id] = order

    def _retire(self, order: Order) -> None:
        account = order.account
        if account.open_orders.pop(order.order_id, None) is None:
            return  # already retired (pulled during its own sweep)
        if not order.mass_quote or order.filled_lots:
            account.closed_orders.append(order)
            if len(account.closed_orders) > _CLOSED_KEEP:
                del account.closed_orders[: len(account.closed_orders) - _CLOSED_KEEP]
        session = order.session
        if session is not None and order.client_order_id is not None and \
                session.orders_by_coid.get(order.client_order_id) is order:
            del session.orders_by_coid[order.client_order_id]

    def cancel_order(self, order: Order, reason: str, now: float,
                     change_reason: str = "cancel") -> dict[str, Any]:
        """Delete an open order with ``delete_reason`` and push the change."""
        self.markets[order.inst.name].book.remove(order)
        order.close(now, reason)
        self._retire(order)
        return self.order_update(order, change_reason)

    def rest(self, order: Order) -> None:
        """Put an order at the back of its price level."""
        self._queue_seq += 1
        order.seq = self._queue_seq
        self.markets[order.inst.name].book.add(order)

    def place(self, order: Order, limit_ticks: int | None, now: float) -> list[Fill]:
        """Post-only check, matching, then rest (GTC) or close (IOC); return the new fills.

        The order must already be registered; a closed outcome retires it. ``limit_ticks`` is
        the execution limit (None: unbounded market order).
        """
        market = self.markets[order.inst.name]
        book = market.book
        buys = order.direction == BUY
        fills: list[Fill] = []
        if order.post_only and limit_ticks is not None:
            opposite = book.best(not buys)
            if opposite is not None and (limit_ticks >= opposite[0] if buys else
                                         limit_ticks <= opposite[0]):
                repriced = opposite[0] - 1 if buys else opposite[0] + 1
                if order.reject_post_only or (repriced <= 0 and not order.inst.is_combination):
                    order.close(now, "immediate_cancel")
                    self._retire(order)
                    return fills
                order.price_ticks = limit_ticks = repriced
        else:
            stp = None if order.stp_level == "disabled" else order.account
            matches, stp_hit = book.plan(buys, limit_ticks, order.remaining_lots, stp)
            fills = self.execute(market, order, buys, matches, now)
            if stp_hit and order.remaining_lots > 0:
                order.close(now, "self_trade_prevention")
        if order.is_open and order.remaining_lots <= 0:
            order.close(now, "filled")
        elif order.is_open and (order.time_in_force == IOC or limit_ticks is None):
            order.close(now, "immediate_cancel")
        if order.is_open:
            self.rest(order)
        else:
            self._retire(order)
        return fills

    # ---- executions -------------------------------------------------------------------------
    def execute(self, market: MarketState, aggressor: Order | None, taker_buys: bool,
                matches: list[Match], now: float) -> list[Fill]:
        """Apply planned executions in one market; return the aggressor's new fills."""
        fills: list[Fill] = []
        for match in matches:
            maker = match.maker
            lots = match.lots
            if maker is not None:
                lots = min(lots, maker.remaining_lots)  # pulled or cut since the plan
                if lots <= 0:
                    continue
            legs = self._legs(market, match.price_ticks)
            trade_ids = [self._next_trade_id() for _ in legs]
            if maker is not None:
                self._fill(maker, legs, trade_ids, lots, "maker", now)
            if aggressor is not None:
                fills += self._fill(aggressor, legs, trade_ids, lots, "taker", now, notify=False)
            market.record_trade(match.price_ticks, lots, BUY if taker_buys else "sell", now)
        return fills

    @staticmethod
    def _legs(market: MarketState, price_ticks: int) -> list[tuple[MarketState, int, int]]:
        """(market, quantity, price ticks) booked by an execution at ``price_ticks``.

        An outright books itself. A combination books each leg: legs after the first at their
        mids, the first (quantity +-1) at the reference price that makes the legs add up to the
        combination's price (Thalex: "suitable (arbitrary) reference prices").
        """
        if not market.legs:
            return [(market, 1, price_ticks)]
        rest = [(leg, q, leg.mid_ticks) for leg, q in market.legs[1:]]
        first, q0 = market.legs[0]
        return [(first, q0, (price_ticks - sum(q * t for _, q, t in rest)) * q0), *rest]

    def _fill(self, order: Order, legs: list[tuple[MarketState, int, int]], trade_ids: list[str],
              lots: int, maker_taker: str, now: float, notify: bool = True) -> list[Fill]:
        """Book ``lots`` of ``order`` (one trade per leg); return the new fills."""
        account = order.account
        combo = order.inst.is_combination
        fee_rate = self.maker_fee if maker_taker == "maker" else self.taker_fee
        fills, rows = [], []
        for leg_index, ((leg_market, quantity, ticks), trade_id) in enumerate(
                zip(legs, trade_ids, strict=True)):
            leg = leg_market.inst if combo else None
            leg_lots = lots * abs(quantity)
            fills.append(Fill(trade_id, ticks, leg_lots, now, maker_taker, leg_index, leg))
            rows.append(account.book_fill(
                order=order, price_ticks=ticks, lots=leg_lots, maker_taker=maker_taker,
                fee_rate=fee_rate if leg_index == 0 else Fraction(0),  # a roll pays once
                funding_mark=Fraction(leg_market.funding_mark),
                index=round(leg_market.index.price, 6), trade_id=trade_id, now_s=now, leg=leg,
                quantity=quantity, leg_index=leg_index))
        order.fills += fills
        order.filled_lots += lots
        if order.remaining_lots <= 0 and notify:
            self.markets[order.inst.name].book.remove(order)
            order.close(now, "filled")
            self._retire(order)
        if notify:
            self.order_update(order, "fill", fills)
        for row in rows:
            self.emit_account(account, "account.trade_history", row)
        for leg_market, _, _ in legs:
            self.portfolio_changed(account, leg_market.inst)
        if order.mass_quote:
            self._mm_execution(order, lots, now)
        for leg_market, _, _ in legs:
            self._enforce_reduce_only(account, leg_market.inst, now)
        return fills

    def _mm_execution(self, order: Order, lots: int, now: float) -> None:
        session = order.session
        product = order.inst.spec.product
        group = None if session is None else session.mm_groups.get(product)
        if group is None:
            return
        group.remaining -= lots * order.inst.lot
        self.emit(session, "session.mm_protection",
                  {"product": product, "remaining_amount": float(group.remaining),
                   "reason": "executions"})
        if group.remaining <= 0:
            for quote in session.open_mass_quotes(product):
                self.cancel_order(quote, "mm_protection", now)

    def _enforce_reduce_only(self, account: Account, inst: Instrument, now: float) -> None:
        position = account.position_lots(inst.name)
        for order in [o for o in account.open_orders.values()
                      if o.reduce_only and o.inst is inst]:
            allowed = -position if order.direction == BUY else position
            if order.remaining_lots <= 0:
                continue  # an aggressor that just completed; place() closes it as filled
            if allowed <= 0:
                self.cancel_order(order, "immediate_cancel", now)
            elif order.remaining_lots > allowed:
                order.amount_lots = order.filled_lots + allowed
                self.order_update(order, "amend")

    # ---- the market step --------------------------------------------------------------------
    def step_market(self) -> None:
        """Advance the market one step: indices, mids, crowd, stale-quote pick-offs, takers."""
        dt_s = self.config.step_s * self.config.time_scale
        self.sim_elapsed_s += dt_s
        self.last_step_trio_s = trio.current_time()
        now = self.now_s()
        for process in self.indices.values():
            process.step(self.rng, dt_s)
        for market in self.markets.values():
            arrivals = market.step(self._market_rngs.get(market.inst.name, self.rng), dt_s, now)
            book = market.book
            if book.crowd_level_lots > 0:
                for order in book.crossed_by_crowd():
                    if order.is_open:  # the re-posted crowd crosses it: picked off in full
                        match = Match(order, order.price_ticks, order.remaining_lots)
                        self.execute(market, None, order.direction != BUY, [match], now)
            for taker in arrivals:
                self.crowd_take(market, taker.buys, taker.reach_ticks, taker.lots, now)
        self.flush()

    def crowd_take(self, market: MarketState, buys: bool, reach_ticks: int | None, lots: int,
                   now: float) -> int:
        """A crowd taker sweeps up to ``reach_ticks`` from the mid (None: any price); return
        the lots executed."""
        if reach_ticks is None:
            limit = None
        else:
            limit = market.mid_ticks + reach_ticks if buys else market.mid_ticks - reach_ticks
        matches, _ = market.book.plan(buys, limit, lots, None)
        self.execute(market, None, buys, matches, now)
        return sum(m.lots for m in matches)

    def open_interest_lots(self, name: str) -> int:
        """Sum of long positions of all accounts in ``name``, lots."""
        return sum(max(0, a.position_lots(name)) for a in self.accounts.values())
