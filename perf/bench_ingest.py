"""Ingest speed of the Thalex client: ticker notifications through websocket, decode and state.

A sender in a separate process (this file with ``--serve``) accepts one websocket connection on
loopback and streams Thalex-shaped ticker notifications (about 570 bytes each). The receiver is
the real client stack: ``open_thalex_client`` -> lean websocket reader -> JSON-RPC classification
-> ``messages.decode_notification`` -> the ``on_inbound`` consumer (one batch per read), which
converts prices to ticks and writes them into preallocated numpy arrays (the engine's state
update).

Two phases:

1. **throughput**: the sender writes as fast as it can; socket buffers fill and the sender
   blocks, so the rate measured at the receiver is the client's sustained capacity with a
   bounded backlog (it lives in the kernel's socket buffers, never in our process);
2. **latency at a fixed rate**: the sender paces messages at the target rate (50,000 msgs/s);
   each message carries its send time (``time.monotonic_ns``, system-wide on Linux) in
   ``mark_timestamp``, and the receiver records arrival-to-state latency. "No growing backlog"
   means the median latency of the last tenth of the run is not far above the first tenth's.

``--mode`` picks the consumer: ``every`` (the default, the figure of earlier runs) decodes and
applies every ticker (no conflation); ``conflated`` is the engine's io before the ticker lane
(the newest ticker of each read decoded by io, older ones skipped unparsed); ``lane`` is the
engine's path now (io hands the newest ticker of a read over as bytes, the ``ticker_decode``
kernel writes ticks and lots). In the two conflating modes the rate counts every frame read
(each ticker carries its sequence number in ``index``, which every decoder reads) and the
latency is that of the tickers applied.

Run: ``python perf/bench_ingest.py [--quick] [--mode every|conflated|lane] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import gc_disabled, machine_info, percentiles_ns, progress, write_json

TARGET_RATE = 50_000  # msgs/s of the paced latency phase
TARGET_SUSTAINED = 150_000  # msgs/s the client must sustain on one core (issue 13)
CHANNEL = "ticker.BTC-PERPETUAL.raw"
# A complete Thalex ticker (thalex-protocol.md 9.3) with the send time in mark_timestamp.
TEMPLATE = (
    '{"channel_name":"' + CHANNEL + '","notification":{"best_bid_price":%d,'
    '"best_bid_amount":0.512,"best_ask_price":%d,"best_ask_amount":0.327,"last_price":%d,'
    '"mark_price":%d.25,"mark_timestamp":%.9f,"delta":1,"index":%d.5,"volume_24h":812.4,'
    '"value_24h":52800000,"low_price_24h":64100,"high_price_24h":65900,"change_24h":-150,'
    '"collar_low":63050,"collar_high":66950,"open_interest":2511.7,"funding_rate":0.00012,'
    '"funding_mark":3.21,"realised_funding_24h":7.8,"average_funding_rate_24h":0.0001,'
    '"mark_volatility":0.42}}'
)


# -- sender (separate process) -----------------------------------------------------------------


def _frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes([0x81, n]) + payload
    if n < 65536:
        return bytes([0x81, 126]) + n.to_bytes(2, "big") + payload
    return bytes([0x81, 127]) + n.to_bytes(8, "big") + payload


def _message(i: int) -> bytes:
    bid = 64_900 + (i % 50)
    now_s = time.monotonic_ns() / 1e9
    return _frame((TEMPLATE % (bid, bid + 10, bid + 5, bid + 4, now_s, i)).encode())


def _accept_websocket(listener: socket.socket) -> socket.socket:
    import base64
    import hashlib

    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    key = next(
        line.split(b":", 1)[1].strip()
        for line in data.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    return conn


def _answer_first_request(conn: socket.socket) -> None:
    # The receiver registers its callback, then sends one request; answering it starts the run.
    data = b""
    while True:
        data += conn.recv(65536)
        if len(data) >= 6 and len(data) >= 6 + (data[1] & 0x7F):
            break
    length = data[1] & 0x7F  # requests here are short: the 7-bit length form
    key = data[2:6]
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(data[6 : 6 + length]))
    request = json.loads(payload)
    conn.sendall(_frame(json.dumps({"id": request["id"], "result": None}).encode()))


def serve(count: int, rate: float) -> None:
    """Accept one client; send ``count`` tickers (``rate`` msgs/s, 0 = as fast as possible)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print(listener.getsockname()[1], flush=True)
    conn = _accept_websocket(listener)
    _answer_first_request(conn)
    burst = 64
    start = time.monotonic()
    sent = 0
    while sent < count:
        n = min(burst, count - sent)
        if rate > 0:
            due = start + (sent + n) / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # no spinning: the receiver needs the other core
        conn.sendall(b"".join(_message(sent + k) for k in range(n)))
        sent += n
    # Linger until the client closes (it reads everything first).
    conn.settimeout(30)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


# -- receiver (this process) -----------------------------------------------------------------


async def _receive(port: int, count: int, mode: str) -> dict[str, Any]:
    import trio

    from qengine.engine._ticker_lane import TickerLane
    from qengine.io.thalex import open_thalex_client
    from qengine.kernels.ticker_wire import OUT_INDEX, OUT_MARK_TIMESTAMP
    from qengine.strategy.setup import InstrumentSpec
    from qengine.units import price_to_ticks_nearest

    bid_ticks = np.zeros(1024, dtype=np.int64)
    ask_ticks = np.zeros(1024, dtype=np.int64)
    latency_ns = np.zeros(count, dtype=np.int64)
    state = {"n": 0, "first_ns": 0, "last_ns": 0, "fallbacks": 0}
    done = trio.Event()
    clock = time.monotonic_ns

    def applied(sequence: int, stamp_s: float) -> None:
        # ``sequence``: frames read so far - 1 (every frame in the conflating modes).
        i = state["n"]
        now = clock()
        latency_ns[i] = now - int(stamp_s * 1e9)
        if i == 0:
            state["first_ns"] = now
            state["first_seq"] = sequence
        state["n"] = i + 1
        if sequence + 1 == count:
            state["last_ns"] = now
            state["last_seq"] = sequence
            done.set()

    def on_ticker(notification: Any) -> None:
        ticker = notification.records[0]
        slot = state["n"] & 1023
        bid_ticks[slot] = price_to_ticks_nearest(ticker.best_bid_price, 1.0)
        ask_ticks[slot] = price_to_ticks_nearest(ticker.best_ask_price, 1.0)
        applied(int(ticker.index), ticker.mark_timestamp)

    spec = InstrumentSpec(index=0, name="BTC-PERPETUAL", product="FBTCUSD",
                          underlying="BTCUSD", tick_size=1.0, volume_tick=0.001,
                          min_order_lots=1)
    lane = TickerLane(spec)
    ticks, values = lane.ticks, lane.values

    async def on_inbound(inbound: Any) -> None:
        if mode == "every":  # not conflated: every ticker is measured
            for notification in inbound.events:
                on_ticker(notification)
            return
        for item in inbound.market:
            if type(item) is bytes:
                if not lane.decode(item):
                    state["fallbacks"] += 1
                    continue
                slot = state["n"] & 1023
                bid_ticks[slot] = ticks[0]
                ask_ticks[slot] = ticks[1]
                applied(int(values[OUT_INDEX]), values[OUT_MARK_TIMESTAMP])
            else:
                on_ticker(item)

    conflate = () if mode == "every" else ("ticker.",)
    client = _client_for(mode)
    async with open_thalex_client(f"ws://127.0.0.1:{port}/ws/api/v2", reconnect=None,
                                  on_inbound=on_inbound, conflate=conflate,
                                  client=client) as client:
        await client.call("bench/start")
        with trio.fail_after(120):
            await done.wait()
        stats = client.statistics()
    elapsed_ns = max(state["last_ns"] - state["first_ns"], 1)
    frames = state["last_seq"] - state["first_seq"]
    return {
        "messages": count,
        "msgs_per_s": frames / (elapsed_ns / 1e9),
        "latency_ns": latency_ns[:state["n"]],
        "applied": state["n"],
        "undecodable": stats.undecodable_notifications + state["fallbacks"],
    }


def _client_for(mode: str) -> Any:
    """The client of ``mode``: with the ticker channel raw in ``lane`` mode."""
    from qengine.io.client import ThalexClient

    return ThalexClient(raw_market=(CHANNEL,) if mode == "lane" else ())


def _run_phase(count: int, rate: float, mode: str) -> dict[str, Any]:
    import trio

    sender = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(count), str(rate)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(sender.stdout.readline())
        with gc_disabled():
            result = trio.run(_receive, port, count, mode)
        sender.wait(timeout=30)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
    return result


def run(quick: bool, mode: str = "every") -> dict[str, Any]:
    """Run both phases; return the result dict (also what ``--json`` writes)."""
    count = 60_000 if quick else 300_000
    progress(f"ingest throughput: {count} tickers as fast as the sender can write")
    blast = _run_phase(count, 0, mode)
    paced_count = TARGET_RATE * (1 if quick else 4)
    progress(f"ingest latency: {paced_count} tickers paced at {TARGET_RATE} msgs/s")
    paced = _run_phase(paced_count, TARGET_RATE, mode)
    lat = paced["latency_ns"]
    tenth = max(len(lat) // 10, 1)
    first_p50 = float(np.median(lat[:tenth]))
    last_p50 = float(np.median(lat[-tenth:]))
    return {
        "benchmark": "ingest",
        "quick": quick,
        "mode": mode,
        "applied_in_throughput_phase": blast["applied"],
        "message_bytes": len(_message(0)) - 4,
        # The names: sustained rate (the backlog stays in bounded socket buffers) and
        # arrival-to-state latency at the paced rate, in microseconds.
        "msgs_per_s": blast["msgs_per_s"],
        "p50_us": float(np.percentile(lat, 50)) / 1e3,
        "p99_us": float(np.percentile(lat, 99)) / 1e3,
        "throughput_msgs_per_s": blast["msgs_per_s"],
        "throughput_latency_ns": percentiles_ns(blast["latency_ns"]),
        "paced_rate_msgs_per_s": TARGET_RATE,
        "paced_achieved_msgs_per_s": paced["msgs_per_s"],
        "paced_latency_ns": percentiles_ns(lat),
        "paced_first_tenth_p50_ns": first_p50,
        "paced_last_tenth_p50_ns": last_p50,
        "backlog_growing": last_p50 > max(4 * first_p50, 2_000_000),
        "target_msgs_per_s": TARGET_SUSTAINED,
        "meets_target": blast["msgs_per_s"] >= TARGET_SUSTAINED,
        "undecodable": blast["undecodable"] + paced["undecodable"],
        "machine": machine_info(),
    }


def _summary(result: dict[str, Any]) -> str:
    paced = result["paced_latency_ns"]
    return (
        f"ingest ({result['mode']}): {result['throughput_msgs_per_s']:,.0f} msgs/s sustained "
        f"(target {result['target_msgs_per_s']:,}; {'met' if result['meets_target'] else 'MISSED'})"
        f"; at {result['paced_rate_msgs_per_s']:,} msgs/s latency p50 {paced['p50'] / 1e3:.0f} us,"
        f" p99 {paced['p99'] / 1e3:.0f} us, max {paced['max'] / 1e3:.0f} us; backlog "
        f"{'GROWING' if result['backlog_growing'] else 'flat'}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run for smoke tests")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON")
    parser.add_argument("--mode", choices=("every", "conflated", "lane"), default="every",
                        help="every ticker decoded (default); the engine's io before the "
                        "ticker lane (conflated); the engine's ticker lane (lane)")
    parser.add_argument("--serve", nargs=2, metavar=("COUNT", "RATE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), float(args.serve[1]))
        return 0
    result = run(args.quick, args.mode)
    print(_summary(result))
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
