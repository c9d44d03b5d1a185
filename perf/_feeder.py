"""A lean Thalex-protocol feeder: paced ticker stream plus the order methods an engine needs.

Runs in its own process (``python -m perf._feeder --rate 10000``) and prints its websocket URL on
the first stdout line, like ``qengine simulate --port 0``. One thread, ``select`` on blocking
sockets, any number of connections (the engine opens a short validation connection first).

What it answers (thalex-protocol.md 3): ``public/login`` (any token), ``set_cancel_on_disconnect``
(a ``message_rate`` high enough that the engine never throttles itself: the benchmark measures
latency, not the exchange's rate limit), ``public/instruments`` (BTC- and ETH-PERPETUAL),
``public/subscribe`` / ``private/subscribe``, ``open_orders``, ``portfolio`` (flat), ``insert``
(and ``buy`` / ``sell``), ``amend``, ``cancel``, ``cancel_all``, ``cancel_session``,
``set_mm_protection``, ``trade_history`` and ``order_history`` (empty). Orders rest and never
fill; each change is answered and pushed on ``session.orders`` like the exchange does. A
connection's orders go when it closes (cancel-on-disconnect).

What it streams: ``ticker.BTC-PERPETUAL.raw`` notifications of about 570 bytes at a fixed rate
with a random-walk top of book, pre-encoded (:class:`RandomWalkBook`): each wake-up writes every
frame due by then in one ``sendall``, so the stream is even at 10,000 msgs/s (mostly one frame a
write) and reaches 50,000 msgs/s on a shared core (a few frames a write). Nothing is dropped
unless the process fell over a second behind. ``mark_timestamp`` carries the write time on the
system-wide monotonic clock (seconds, the same clock in every process on Linux), so the receiver
can measure from the moment a frame left here; qengine does not read that field.

The process stops by itself after ``--max-seconds`` or when its stdin closes (the parent is done
or died); it then prints a second stdout line, a JSON :meth:`Feeder.report` (frames written,
writes, skipped, and a send timeline from which :func:`frames_between` gives the rate a reader
actually got in its window).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import select
import socket
import sys
import time
from typing import Any

import orjson

INSTRUMENT = "BTC-PERPETUAL"
TICKER_CHANNEL = f"ticker.{INSTRUMENT}.raw"
#: Granted by set_cancel_on_disconnect: far above what the engine sends, so it never throttles.
MESSAGE_RATE = 100_000
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_INSTRUMENTS = [
    {"instrument_name": "BTC-PERPETUAL", "product": "FBTCUSD", "tick_size": 1.0,
     "volume_tick_size": 0.001, "min_order_amount": 0.001, "underlying": "BTCUSD",
     "type": "perpetual", "base_currency": "USD", "create_time": 1.6e9},
    {"instrument_name": "ETH-PERPETUAL", "product": "FETHUSD", "tick_size": 0.1,
     "volume_tick_size": 0.01, "min_order_amount": 0.01, "underlying": "ETHUSD",
     "type": "perpetual", "base_currency": "USD", "create_time": 1.6e9},
]
#: Methods whose answer never changes.
_SESSION_RESULTS: dict[str, Any] = {
    "public/login": {"account_number": "PERF-1"},
    "private/set_cancel_on_disconnect": {"message_rate": MESSAGE_RATE},
    "public/instruments": _INSTRUMENTS,
    "private/portfolio": [],
    "private/set_mm_protection": None,
    "private/trade_history": {"trades": [], "bookmark": None},
    "private/order_history": {"orders": [], "bookmark": None},
}
# A complete Thalex ticker (thalex-protocol.md 4.1), about 570 bytes.
_TICKER = (
    '{"channel_name":"' + TICKER_CHANNEL + '","notification":{"best_bid_price":%d,'
    '"best_bid_amount":%.3f,"best_ask_price":%d,"best_ask_amount":%.3f,"last_price":%d,'
    '"mark_price":%d.25,"mark_timestamp":@STAMP@,"delta":1,"index":%d.5,"volume_24h":812.4,'
    '"value_24h":52800000,"low_price_24h":64100,"high_price_24h":65900,"change_24h":-150,'
    '"collar_low":%d,"collar_high":%d,"open_interest":2511.7,"funding_rate":0.00012,'
    '"funding_mark":3.21,"realised_funding_24h":7.8,"average_funding_rate_24h":0.0001,'
    '"mark_volatility":0.42}}'
)


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked server frame (FIN set) carrying ``payload``."""
    n = len(payload)
    if n < 126:
        return bytes([0x80 | opcode, n]) + payload
    if n < 65536:
        return bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big") + payload
    return bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big") + payload


def _unmask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        n, "little")


class RandomWalkBook:
    """Pre-encoded tickers of a random-walk top of book, replayed in a loop.

    The mid (whole ticks) steps +-1 with probability ``move_prob``; the walk's first half is
    followed by itself reversed, so the loop closes without a jump. Each ticker is kept as two
    byte strings around ``mark_timestamp``: sending one costs a clock read and three joins, not a
    JSON encode (the feeder must reach 50,000 msgs/s on a core it shares with the engine).
    """

    def __init__(self, seed: int, move_prob: float, mid_ticks: int = 65_000,
                 size: int = 8192) -> None:
        rng = random.Random(seed)
        mids = [mid_ticks]
        for _ in range(size // 2 - 1):
            step = (1 if rng.random() < 0.5 else -1) if rng.random() < move_prob else 0
            mids.append(mids[-1] + step)
        mids += mids[::-1]
        self.parts: list[tuple[bytes, bytes]] = []
        for mid in mids:
            half = 1 + (rng.random() < 0.3)
            text = _TICKER % (mid - half, 0.1 + rng.random(), mid + half, 0.1 + rng.random(),
                              mid, mid, mid - 10, mid * 97 // 100, mid * 103 // 100)
            head, tail = text.encode().split(b"@STAMP@")
            self.parts.append((head, tail))
        self.next = 0

    def frames(self, count: int) -> bytes:
        """The next ``count`` ticker frames, stamped now, as one buffer for one write."""
        ns = time.monotonic_ns()
        stamp = b"%d.%09d" % divmod(ns, 1_000_000_000)
        parts, n = self.parts, len(self.parts)
        out = []
        for _ in range(count):
            head, tail = parts[self.next]
            self.next = (self.next + 1) % n
            out.append(frame(head + stamp + tail))
        return b"".join(out)


class Connection:
    """One client websocket: handshake, frame parsing, its orders and subscriptions."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.upgraded = False
        self.wants_ticker = False
        self.wants_orders = False
        self.closed = False

    def send(self, data: bytes) -> None:
        """Write bytes (blocking); a broken peer marks the connection closed."""
        if self.closed:
            return
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def messages(self) -> list[tuple[int, bytes]]:
        """Complete (opcode, payload) frames buffered so far (after the HTTP upgrade)."""
        out: list[tuple[int, bytes]] = []
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return out
            self._upgrade(bytes(self.buf[:end]))
            del self.buf[:end + 4]
        buf = self.buf
        while len(buf) >= 2:
            length, pos = buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    break
                length, pos = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length, pos = int.from_bytes(buf[2:10], "big"), 10
            masked = buf[1] & 0x80
            if len(buf) < pos + (4 if masked else 0) + length:
                break
            opcode = buf[0] & 0x0F
            if masked:
                key = bytes(buf[pos:pos + 4])
                payload = _unmask(bytes(buf[pos + 4:pos + 4 + length]), key)
                pos += 4
            else:
                payload = bytes(buf[pos:pos + length])
            del buf[:pos + length]
            out.append((opcode, payload))
        return out

    def _upgrade(self, head: bytes) -> None:
        key = b""
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        self.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        self.upgraded = True


class Feeder:
    """The server state: connections, live orders, the book, the pacing clock."""

    def __init__(self, rate: float, seed: int, move_prob: float) -> None:
        self.rate = rate
        self.book = RandomWalkBook(seed, move_prob)
        self.connections: dict[int, Connection] = {}
        self.orders: dict[str, dict[str, Any]] = {}  # order_id -> OrderStatus
        self.owner: dict[str, int] = {}  # order_id -> connection fd
        self.by_cid: dict[tuple[int, int], str] = {}  # (fd, client_order_id) -> order_id
        self.next_order = 1
        self.sent = 0  # frames due so far (written or skipped)
        self.started = 0.0
        self.written = 0
        self.writes = 0
        self.skipped = 0
        self.timeline = Timeline()

    # -- requests -------------------------------------------------------------------------------

    def handle(self, conn: Connection, fd: int, payload: bytes) -> None:
        """Answer one JSON-RPC request."""
        try:
            request = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        method, params = request.get("method", ""), request.get("params") or {}
        try:
            result = self.dispatch(conn, fd, method, params)
            reply: dict[str, Any] = {"id": request.get("id"), "result": result}
        except LookupError as exc:
            reply = {"id": request.get("id"), "error": {"code": 1, "message": str(exc)}}
        except ValueError as exc:
            reply = {"id": request.get("id"), "error": {"code": 3, "message": str(exc)}}
        conn.send(frame(orjson.dumps(reply)))

    def dispatch(self, conn: Connection, fd: int, method: str, params: dict[str, Any]) -> Any:
        """The result of ``method`` (raises LookupError for error 1, ValueError otherwise)."""
        if method in _SESSION_RESULTS:
            return _SESSION_RESULTS[method]
        if method.endswith("subscribe"):  # also the unsubscribe methods (they change nothing)
            channels = list(params.get("channels", []))
            if method.endswith("/subscribe"):
                conn.wants_ticker = conn.wants_ticker or TICKER_CHANNEL in channels
                conn.wants_orders = conn.wants_orders or "session.orders" in channels
            return channels
        return self._order_method(conn, fd, method, params)

    def _order_method(self, conn: Connection, fd: int, method: str, params: dict[str, Any]
                      ) -> Any:
        if method == "private/open_orders":
            return [o for o in self.orders.values() if o["status"] == "open"]
        if method in ("private/insert", "private/buy", "private/sell"):
            direction = params.get("direction") or method.rsplit("/", 1)[1]
            return self._insert(conn, fd, direction, params)
        if method == "private/amend":
            order = self._find(fd, params)
            order.update(price=params["price"], amount=params["amount"],
                         remaining_amount=params["amount"], change_reason="amend")
            return self._push(conn, order)
        if method == "private/cancel":
            return self._push(conn, self._close(self._find(fd, params), "client_cancel"))
        if method in ("private/cancel_all", "private/cancel_session"):
            mine = [oid for oid, o in self.orders.items() if o["status"] == "open"
                    and (method == "private/cancel_all" or self.owner[oid] == fd)]
            for oid in mine:
                self._push(conn, self._close(self.orders[oid], "client_bulk_cancel"))
            return len(mine) if method == "private/cancel_all" else None
        raise ValueError(f"method not supported by the perf feeder: {method}")

    def _insert(self, conn: Connection, fd: int, direction: str, params: dict[str, Any]
                ) -> dict[str, Any]:
        oid = f"P{self.next_order:010d}"
        self.next_order += 1
        order = {"order_id": oid, "order_type": "limit", "time_in_force": "good_till_cancelled",
                 "instrument_name": params["instrument_name"], "direction": direction,
                 "price": params["price"], "amount": params["amount"], "filled_amount": 0.0,
                 "remaining_amount": params["amount"], "label": params.get("label"),
                 "client_order_id": params.get("client_order_id"), "status": "open",
                 "fills": [], "change_reason": "insert", "insert_reason": "client_request",
                 "create_time": time.time(), "persistent": False}
        if order["label"] is None:
            del order["label"]
        if order["client_order_id"] is None:
            del order["client_order_id"]
        else:
            self.by_cid[(fd, int(order["client_order_id"]))] = oid
        self.orders[oid] = order
        self.owner[oid] = fd
        return self._push(conn, order)

    def _find(self, fd: int, params: dict[str, Any]) -> dict[str, Any]:
        oid = params.get("order_id")
        if oid is None and params.get("client_order_id") is not None:
            oid = self.by_cid.get((fd, int(params["client_order_id"])))
        order = self.orders.get(oid) if oid is not None else None
        if order is None or order["status"] != "open":
            raise LookupError("order not found")
        return order

    def _close(self, order: dict[str, Any], reason: str) -> dict[str, Any]:
        order.update(status="cancelled", remaining_amount=0.0, change_reason="cancel",
                     delete_reason=reason, close_time=time.time())
        oid = order["order_id"]
        fd = self.owner.pop(oid)
        self.orders.pop(oid)
        if "client_order_id" in order:
            self.by_cid.pop((fd, int(order["client_order_id"])), None)
        return order

    def _push(self, conn: Connection, order: dict[str, Any]) -> dict[str, Any]:
        if conn.wants_orders:
            conn.send(frame(b'{"channel_name":"session.orders","notification":'
                            + orjson.dumps([order]) + b"}"))
        return order

    def drop(self, fd: int) -> None:
        """Forget a closed connection and its orders (cancel-on-disconnect)."""
        conn = self.connections.pop(fd)
        conn.sock.close()
        for oid in [oid for oid, owner in self.owner.items() if owner == fd]:
            self._close(self.orders[oid], "session_end")

    # -- the stream ---------------------------------------------------------------------------

    def stream_due(self) -> float:
        """Send every ticker that is due in one write; return seconds until the next one."""
        subscribers = [c for c in self.connections.values() if c.wants_ticker and not c.closed]
        if not subscribers:
            self.started = 0.0
            return 0.5
        now = time.monotonic()
        if not self.started:
            self.started, self.sent = now, 0
        due = int((now - self.started) * self.rate) + 1 - self.sent
        if due > 0:
            if due > self.rate:  # over a second behind (the process was stopped): never burst
                self.skipped += due - 1
                self.sent += due - 1
                due = 1
            data = self.book.frames(due)
            for conn in subscribers:
                conn.send(data)
            self.sent += due
            self.written += due
            self.writes += 1
            self.timeline.note(self.written)
        return self.started + self.sent / self.rate - time.monotonic()

    def report(self) -> dict[str, Any]:
        """What was sent: frames, writes, skipped frames and the send timeline."""
        return {"frames": self.written, "writes": self.writes, "skipped": self.skipped,
                "timeline": self.timeline.points}


class Timeline:
    """(monotonic ns, frames written so far), one point per ``step_ns`` at most: lets a reader
    count what was sent in any window (the achieved rate), at a few KiB per minute."""

    def __init__(self, step_ns: int = 10_000_000) -> None:
        self.step_ns = step_ns
        self.points: list[tuple[int, int]] = []
        self.last_ns = 0

    def note(self, written: int) -> None:
        now = time.monotonic_ns()
        if now - self.last_ns >= self.step_ns:
            self.points.append((now, written))
            self.last_ns = now


def frames_between(timeline: list[tuple[int, int]], start_ns: int, end_ns: int) -> int:
    """Frames written between two monotonic stamps, from a feeder's :class:`Timeline`
    (to the nearest timeline step)."""
    def written_at(t_ns: int) -> int:
        count = 0
        for stamp, written in timeline:
            if stamp > t_ns:
                break
            count = written
        return count

    return written_at(end_ns) - written_at(start_ns)


def serve(rate: float, seed: int, move_prob: float, max_seconds: float) -> Feeder:
    """Serve on a free loopback port until ``max_seconds`` pass or stdin closes; return the
    feeder (its :meth:`Feeder.report` says what was sent)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    print(f"ws://127.0.0.1:{listener.getsockname()[1]}/ws/api/v2", flush=True)
    feeder = Feeder(rate, seed, move_prob)
    deadline = time.monotonic() + max_seconds
    stdin = sys.stdin.fileno()
    wait = 0.5
    while time.monotonic() < deadline:
        watched = [listener, stdin, *[c.sock for c in feeder.connections.values()]]
        readable, _, _ = select.select(watched, [], [], max(wait, 0.0))
        for item in readable:
            if item is listener:
                sock, _ = listener.accept()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                feeder.connections[sock.fileno()] = Connection(sock)
            elif item == stdin:
                if not sys.stdin.buffer.read1(4096):
                    return feeder  # the parent is done (or went away)
            else:
                fd = item.fileno()
                conn = feeder.connections[fd]
                try:
                    data = item.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    feeder.drop(fd)
                    continue
                conn.buf += data
                for opcode, payload in conn.messages():
                    if opcode == 0x1:
                        feeder.handle(conn, fd, payload)
                    elif opcode == 0x9:
                        conn.send(frame(payload, 0xA))
                    elif opcode == 0x8:
                        conn.send(frame(payload[:2], 0x8))
                        conn.closed = True
                if conn.closed:
                    feeder.drop(fd)
        for fd in [fd for fd, c in feeder.connections.items() if c.closed]:
            feeder.drop(fd)
        wait = feeder.stream_due()
    return feeder


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (the parent reads the URL from the first stdout line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="tickers per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--move-prob", type=float, default=0.2,
                        help="probability that the mid moves one tick per ticker")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args(argv)
    feeder = serve(args.rate, args.seed, args.move_prob, args.max_seconds)
    try:  # the second stdout line: what was sent (the parent may no longer read it)
        sys.stdout.buffer.write(orjson.dumps(feeder.report()) + b"\n")
        sys.stdout.flush()
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
