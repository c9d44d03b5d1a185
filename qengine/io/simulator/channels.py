"""Subscriptions: channel-name parsing, snapshots on subscribe, and market-data publishing.

Each payload is serialised once per step (orjson) and framed once per channel name; the same
frame string goes to every subscriber. ``raw`` channels publish on every market step. A throttled
subscription (``100ms`` ... ``60000ms``) keeps its own absolute deadlines in trio time: the first
regular push one interval after its snapshot, then every interval on that grid (a late wake-up
does not shift later pushes, and missed deadlines are skipped, never burst). The server's
``throttle_loop`` sends them between market steps too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import orjson
import trio

from .exchange import Exchange, notification_frame
from .instruments import Instrument
from .sessions import Session

DELAYS_S = {"raw": 0.0, "100ms": 0.1, "200ms": 0.2, "500ms": 0.5, "1000ms": 1.0,
            "5000ms": 5.0, "60000ms": 60.0}
PRIVATE_CHANNELS = ("session.orders", "account.orders", "account.persistent_orders",
                    "account.portfolio", "account.trade_history", "account.summary",
                    "session.mm_protection")
_EPS_S = 1e-9


@dataclass(slots=True)
class Channel:
    """A parsed public channel and its publication state."""

    name: str
    kind: str
    key: str
    delay_s: float = 0.0
    group_ticks: int = 0
    nlevels: int = 0
    last_book: tuple[dict[int, int], dict[int, int]] | None = None
    pending_trades: list[list[Any]] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Throttled:
    """One session's subscription to a throttled channel: its next deadline and, for books,
    the levels it was last sent and the trades since."""

    session: Session
    channel: Channel
    due_s: float
    last_book: tuple[dict[int, int], dict[int, int]] | None = None
    pending_trades: list[list[Any]] = field(default_factory=list)


def parse_channel(ex: Exchange, name: str) -> Channel | None:
    """Parse a public channel name; None if it is not one the simulator serves."""
    parts = name.split(".")
    kind = parts[0]
    if name in ("system", "instruments"):
        return Channel(name, name, "")
    if kind in ("ticker", "lwt") and len(parts) == 3 and parts[1] in ex.instruments \
            and parts[2] in DELAYS_S:
        return Channel(name, kind, parts[1], DELAYS_S[parts[2]])
    if kind == "price_index" and len(parts) == 2 and parts[1] in ex.indices:
        return Channel(name, kind, parts[1])
    if kind == "recent_trades" and len(parts) == 3:
        if parts[2] == "single" and parts[1] in ex.instruments:
            return Channel(name, kind, parts[1])
        if parts[2] in ("all", "future_rolls") and parts[1] in ex.indices:
            return Channel(name, f"recent_trades_{parts[2]}", parts[1])
        return None
    if kind == "book" and len(parts) >= 5:
        return _parse_book(ex, name, parts)
    return None


def _parse_book(ex: Exchange, name: str, parts: list[str]) -> Channel | None:
    inst_name, nlevels, delay = parts[1], parts[-2], parts[-1]
    grouping = ".".join(parts[2:-2])  # a USD grouping may itself contain a dot
    inst = ex.instruments.get(inst_name)
    if inst is None or delay not in DELAYS_S:
        return None
    if nlevels == "all":
        levels = 0
    elif nlevels.isdigit() and int(nlevels) > 0:
        levels = int(nlevels)
    else:
        return None
    group_ticks = 1
    if grouping != "none":
        try:
            group = float(grouping)
        except ValueError:
            return None
        ratio = group / inst.spec.tick_size
        if not ratio >= 1 or abs(ratio - round(ratio)) > 1e-9:
            return None
        group_ticks = round(ratio)
    return Channel(name, "book", inst_name, DELAYS_S[delay], group_ticks, levels)


class Publisher:
    """Public channel registry and per-step publication for one exchange."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.channels: dict[str, Channel] = {}
        self.throttled: dict[tuple[int, str], Throttled] = {}
        self._summary_due: dict[int, float] = {}
        self._wakeup = trio.Event()

    # ---- subscribe --------------------------------------------------------------------------
    def subscribe(self, session: Session, names: list[str], allow_private: bool) -> list[str]:
        """Subscribe to valid names, queue snapshots; return the channels actually subscribed."""
        accepted = []
        for name in names:
            if name in PRIVATE_CHANNELS:
                if not allow_private or session.account is None:
                    continue
                self._private_snapshot(session, name)
            else:
                channel = self.channels.get(name) or parse_channel(self.ex, name)
                if channel is None:
                    continue
                self.channels[name] = channel
                self._public_snapshot(session, channel)
                if channel.delay_s > 0:
                    self._throttle(session, channel)
            session.subscriptions.add(name)
            self.ex.subscribers.setdefault(name, {})[session] = None
            accepted.append(name)
        return accepted

    def unsubscribe(self, session: Session, names: list[str]) -> list[str]:
        """Drop subscriptions; return the names that were subscribed."""
        dropped = []
        for name in names:
            if name in session.subscriptions:
                session.subscriptions.discard(name)
                self.throttled.pop((session.session_id, name), None)
                subs = self.ex.subscribers.get(name, {})
                subs.pop(session, None)
                if not subs:
                    self.ex.subscribers.pop(name, None)
                    self.channels.pop(name, None)
                dropped.append(name)
        return dropped

    def _private_snapshot(self, session: Session, name: str) -> None:
        ex = self.ex
        account = session.account
        if name in ("session.orders", "account.orders", "account.persistent_orders"):
            orders = [o for o in account.open_orders.values()
                      if name == "account.orders"
                      or (name == "session.orders" and o.session is session)
                      or (name == "account.persistent_orders" and o.persistent)]
            items = [o.to_status("existing") for o in orders]
            ex.defer_frame(session, notification_frame(name, orjson.dumps(items).decode(), True))
        elif name == "account.portfolio":
            items = self.portfolio(session)
            ex.defer_frame(session, notification_frame(name, orjson.dumps(items).decode(), True))
        elif name == "account.summary":
            ex.defer_frame(session, notification_frame(
                name, orjson.dumps(self.summary(session)).decode()))
            self._summary_due[session.session_id] = \
                trio.current_time() + ex.config.summary_interval_s

    def _public_snapshot(self, session: Session, channel: Channel) -> None:
        ex = self.ex
        now = ex.now_s()
        if channel.kind in ("ticker", "lwt", "price_index"):
            payload = self._market_payload(channel.kind, channel.key, now)
            frame = notification_frame(channel.name, orjson.dumps(payload).decode())
            ex.defer_frame(session, frame)
        elif channel.kind == "book":
            if channel.delay_s > 0 or channel.last_book is None:
                channel.last_book = self._book_levels(channel)
            bids, asks = channel.last_book
            inst = ex.instruments[channel.key]
            trades = [[t[0], t[1], t[2], t[3], t[5]] for t in ex.markets[channel.key].tape]
            payload = self._book_payload(inst, bids, asks, bids, asks, trades, now)
            ex.defer_frame(session, notification_frame(channel.name, orjson.dumps(payload).decode(),
                                                       True))
        elif channel.kind.startswith("recent_trades"):
            tape = sorted((t for m in self._tape_markets(channel) for t in m.tape),
                          key=lambda t: t[3])[-ex.config.recent_trades_snapshot:]
            ex.defer_frame(session, notification_frame(channel.name, orjson.dumps(tape).decode(),
                                                       True))
        elif channel.kind == "instruments":
            items = [{"added": inst.to_json()} for inst in ex.instruments.values()]
            ex.defer_frame(session, notification_frame(channel.name, orjson.dumps(items).decode(),
                                                       True))

    # ---- payloads ---------------------------------------------------------------------------
    def _market_payload(self, kind: str, key: str, now: float) -> dict[str, Any]:
        ex = self.ex
        if kind == "price_index":
            return {"index_name": key, "price": round(ex.indices[key].price, 6), "timestamp": now}
        market = ex.markets[key]
        if kind == "lwt":
            return market.lwt()
        return market.ticker(now, ex.config.collar_fraction, ex.open_interest_lots(key))

    def _tape_markets(self, channel: Channel) -> list[Any]:
        if channel.kind == "recent_trades":
            return [self.ex.markets[channel.key]]
        rolls_only = channel.kind == "recent_trades_future_rolls"
        return [m for m in self.ex.markets.values() if m.inst.spec.underlying == channel.key
                and (m.inst.is_combination or not rolls_only)]

    def _book_levels(self, channel: Channel) -> tuple[dict[int, int], dict[int, int]]:
        book = self.ex.markets[channel.key].book
        out = []
        for is_bid in (True, False):
            grouped: dict[int, int] = {}
            for price, lots in book.levels(is_bid):
                g = channel.group_ticks
                bucket = (price // g) * g if is_bid else -((-price) // g) * g
                grouped[bucket] = grouped.get(bucket, 0) + lots
            keys = sorted(grouped, reverse=is_bid)
            if channel.nlevels:
                keys = keys[: channel.nlevels]
            out.append({k: grouped[k] for k in keys})
        return out[0], out[1]

    @staticmethod
    def _book_payload(inst: Instrument, bids: dict[int, int], asks: dict[int, int],
                      bid_changes: dict[int, int], ask_changes: dict[int, int],
                      trades: list[list[Any]], now: float) -> dict[str, Any]:
        def rows(changes: dict[int, int], reverse: bool) -> list[list[float]]:
            return [[inst.price(p), inst.amount(n), inst.amount(n)]
                    for p, n in sorted(changes.items(), reverse=reverse)]
        return {"bid_changes": rows(bid_changes, True), "ask_changes": rows(ask_changes, False),
                "trades": trades, "total_bid_amount": inst.amount(sum(bids.values())),
                "total_ask_amount": inst.amount(sum(asks.values())), "time": now}

    def portfolio(self, session: Session) -> list[dict[str, Any]]:
        """Full portfolio of the session's account (every instrument it has traded)."""
        ex = self.ex
        account = session.account
        lines = []
        for name in account.positions:
            market = ex.markets[name]
            lines.append(account.portfolio_line(market.inst, market.mark,
                                                round(market.index.price, 6),
                                                _fraction(market.funding_mark)))
        return lines

    def summary(self, session: Session) -> dict[str, Any]:
        """AccountSummary of the session's account."""
        return session.account.summary(self.portfolio(session), self.ex.config.initial_margin_rate)

    # ---- per-step publication ---------------------------------------------------------------
    def publish_step(self, now_trio: float) -> None:
        """After a market step: raw channels, trades for throttled books, periodic private
        pushes, then every throttled subscription that is due."""
        ex = self.ex
        now = ex.now_s()
        cache: dict[tuple[str, str], str] = {}
        book_trades = {name: [[t[0], t[1], t[2], t[3], t[5]] for t in m.new_trades]
                       for name, m in ex.markets.items()}
        tape = {name: list(m.new_trades) for name, m in ex.markets.items()}
        for market in ex.markets.values():
            market.new_trades.clear()
        for sub in self.throttled.values():
            if sub.channel.kind == "book":
                sub.pending_trades += book_trades[sub.channel.key]
        for name, channel in list(self.channels.items()):
            subs = ex.subscribers.get(name)
            if not subs or channel.delay_s > 0:
                continue
            if channel.kind == "book":
                channel.pending_trades += book_trades[channel.key]
            frame = self._raw_frame(channel, now, tape, cache)
            if frame is not None:
                for session in subs:
                    session.send(frame)
        self._private_periodic(now_trio)
        self.publish_due(now_trio)

    def _raw_frame(self, channel: Channel, now: float, tape: dict[str, list[list[Any]]],
                   cache: dict[tuple[str, str], str]) -> str | None:
        if channel.kind in ("ticker", "lwt", "price_index"):
            return self._market_frame(channel, now, cache)
        if channel.kind == "book":
            return self._book_frame(channel, channel, now)
        if channel.kind.startswith("recent_trades"):
            rows = sorted((t for m in self._tape_markets(channel) for t in tape[m.inst.name]),
                          key=lambda t: t[3])
            return notification_frame(channel.name, orjson.dumps(rows).decode()) if rows else None
        return None

    def _market_frame(self, channel: Channel, now: float,
                      cache: dict[tuple[str, str], str]) -> str:
        key = (channel.kind, channel.key)
        if key not in cache:
            cache[key] = orjson.dumps(self._market_payload(channel.kind, channel.key,
                                                           now)).decode()
        return notification_frame(channel.name, cache[key])

    def _book_frame(self, channel: Channel, state: Channel | Throttled, now: float
                    ) -> str | None:
        """Changes since ``state``'s last levels plus its pending trades (None: nothing new)."""
        bids, asks = self._book_levels(channel)
        old_bids, old_asks = state.last_book or ({}, {})
        bid_changes = _diff(old_bids, bids)
        ask_changes = _diff(old_asks, asks)
        if not bid_changes and not ask_changes and not state.pending_trades:
            return None
        state.last_book = (bids, asks)
        payload = self._book_payload(self.ex.instruments[channel.key], bids, asks, bid_changes,
                                     ask_changes, state.pending_trades, now)
        state.pending_trades = []
        return notification_frame(channel.name, orjson.dumps(payload).decode())

    # ---- throttled subscriptions ------------------------------------------------------------
    def _throttle(self, session: Session, channel: Channel) -> None:
        self.throttled[(session.session_id, channel.name)] = Throttled(
            session, channel, trio.current_time() + channel.delay_s, channel.last_book)
        self._wakeup.set()

    def wakeup(self) -> trio.Event:
        """A fresh event set by the next subscription to a throttled channel."""
        self._wakeup = trio.Event()
        return self._wakeup

    def next_due_s(self) -> float:
        """Trio time of the earliest throttled deadline (inf when there is none)."""
        return min((sub.due_s for sub in self.throttled.values()), default=math.inf)

    def publish_due(self, now_trio: float) -> None:
        """Send every throttled subscription whose deadline has come; advance its deadline on
        its own grid, skipping (not bursting) deadlines missed entirely."""
        now = self.ex.now_s()
        cache: dict[tuple[str, str], str] = {}
        for key, sub in list(self.throttled.items()):
            if sub.session.closed:
                del self.throttled[key]
                continue
            if sub.due_s > now_trio + _EPS_S:
                continue
            channel = sub.channel
            if channel.kind == "book":
                frame = self._book_frame(channel, sub, now)
            else:
                frame = self._market_frame(channel, now, cache)
            if frame is not None:
                sub.session.send(frame)
            while sub.due_s <= now_trio + _EPS_S:
                sub.due_s += channel.delay_s

    def _private_periodic(self, now_trio: float) -> None:
        ex = self.ex
        interval = ex.config.summary_interval_s
        for session in list(ex.subscribers.get("account.summary", {})):
            due = self._summary_due.get(session.session_id, now_trio)
            if due <= now_trio + _EPS_S:
                while due <= now_trio + _EPS_S:
                    due += interval
                self._summary_due[session.session_id] = due
                session.send(notification_frame("account.summary",
                                                orjson.dumps(self.summary(session)).decode()))
        for account in ex.accounts.values():
            if not any("account.portfolio" in s.subscriptions for s in account.sessions):
                continue
            for name, pos in account.positions.items():
                mark = ex.markets[name].mark
                last = account.sent_marks.get(name)
                if pos.lots and (last is None or abs(mark - last) > 0.01 * abs(last)):
                    ex.portfolio_changed(account, ex.instruments[name])
        ex.flush()


def _diff(old: dict[int, int], new: dict[int, int]) -> dict[int, int]:
    changes = {p: n for p, n in new.items() if old.get(p) != n}
    changes.update({p: 0 for p in old if p not in new})
    return changes


def _fraction(value: float) -> Fraction:
    return Fraction(value)
