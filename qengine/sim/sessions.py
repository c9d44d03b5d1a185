"""Per-connection session state: login, cancel-on-disconnect, rate limits, subscriptions,
client order ids, mass quotes and market-maker protection groups, and the outbound queue."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import trio

from .orders import Order


class TokenBucket:
    """Token bucket holding one second of requests.

    Parameters
    ----------
    rate_per_s : float
        Refill rate in requests per (trio) second; also the capacity.
    now_s : float
        Trio time at creation, seconds.
    """

    __slots__ = ("_last_s", "_tokens", "rate_per_s")

    def __init__(self, rate_per_s: float, now_s: float) -> None:
        self.rate_per_s = rate_per_s
        self._tokens = rate_per_s
        self._last_s = now_s

    def set_rate(self, rate_per_s: float) -> None:
        """Change the rate (cancel-on-disconnect raises it); the bucket is refilled."""
        self.rate_per_s = rate_per_s
        self._tokens = rate_per_s

    def take(self, now_s: float) -> bool:
        """Spend one token if there is one; False means throttled."""
        elapsed = max(0.0, now_s - self._last_s)
        self._last_s = now_s
        self._tokens = min(self.rate_per_s, self._tokens + elapsed * self.rate_per_s)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class MmGroup:
    """A session's protection group for one product, amounts in coin units."""

    __slots__ = ("quote_amount", "remaining", "trade_amount")

    def __init__(self, trade_amount: Fraction, quote_amount: Fraction) -> None:
        self.trade_amount = trade_amount
        self.quote_amount = quote_amount
        self.remaining = trade_amount


class Session:
    """One websocket connection's exchange-side state.

    Parameters
    ----------
    session_id : int
        Sequential id (deterministic for a sequence of connections).
    send_channel : trio.MemorySendChannel[str]
        Outbound text frames; the connection's writer task drains it.
    message_rate_per_s, cancel_rate_per_s : float
        Token bucket rates before cancel-on-disconnect.
    now_s : float
        Trio time at connect.
    """

    def __init__(self, session_id: int, send_channel: trio.MemorySendChannel[str],
                 message_rate_per_s: float, cancel_rate_per_s: float, now_s: float) -> None:
        self.session_id = session_id
        self.account: Any = None
        self.key_id: str | None = None
        self.cod_timeout_s: float | None = None
        self.last_rx_s = now_s
        self.connected_s = now_s
        self.subscriptions: set[str] = set()
        self.orders_by_coid: dict[int, Order] = {}
        self.mm_groups: dict[str, MmGroup] = {}
        self.mass_quotes: dict[tuple[str, bool], list[Order]] = {}
        self.message_bucket = TokenBucket(message_rate_per_s, now_s)
        self.cancel_bucket = TokenBucket(cancel_rate_per_s, now_s)
        self.requests_seen = 0
        self.closed = False
        self.kill_reason: str | None = None
        self.frames_queued = 0
        self.frames_sent = 0  # advanced by the connection's writer task
        self._drained: trio.Event | None = None
        self._send = send_channel

    @property
    def persistent(self) -> bool:
        """False once cancel-on-disconnect was set."""
        return self.cod_timeout_s is None

    def send(self, frame: str) -> None:
        """Queue a text frame; a session that falls too far behind is marked for closing."""
        if self.closed:
            return
        try:
            self._send.send_nowait(frame)
            self.frames_queued += 1
        except trio.WouldBlock:
            self.kill_reason = "slow consumer"
            self.closed = True
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.closed = True

    def queued(self) -> int:
        """Frames queued but not yet handed to the websocket."""
        return self.frames_queued - self.frames_sent

    def frame_sent(self) -> None:
        """The writer task handed one frame to the websocket."""
        self.frames_sent += 1
        if self._drained is not None and not self.queued():
            self._drained.set()

    async def drained(self) -> None:
        """Wait until every queued frame has been handed to the websocket."""
        if self.queued():
            self._drained = trio.Event()
            await self._drained.wait()

    def open_mass_quotes(self, product: str | None = None) -> list[Order]:
        """Open mass-quote orders of this session (optionally of one product)."""
        return [o for orders in self.mass_quotes.values() for o in orders
                if o.is_open and (product is None or o.inst.spec.product == product)]
