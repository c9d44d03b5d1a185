"""The tick path's stages timed in a hot loop inside the engine process, after a measuring window.

The same code the engine ran per tick, called back to back (caches and branch predictors warm, no
other process in between), so that a stage's in-situ figure from the probe can be compared with
what the code itself costs here: the difference is what the machine adds (cold caches after
every wake-up, a shared core), not Python work we could remove. Run in the bench child only, at
the end of the window (it writes the book and runs quote cycles without sending their actions).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from perf._harness import time_calls_ns

ITERATIONS = 3000


def hot_costs_ns(engine: Any) -> dict[str, float]:
    """Median ns per call of each stage's code, run hot in this (engine) process."""
    from perf._feeder import RandomWalkBook
    from qengine.io._websocket import encode_frame
    from qengine.io.jsonrpc import encode_request, parse_frame
    from qengine.io.messages import DecodeStats, decode_notification

    payload = RandomWalkBook(seed=5, move_prob=0.2).frames(1)[4:]  # a 126-length header
    stats = DecodeStats()

    def decode() -> Any:
        frame = parse_frame(payload)
        return decode_notification(frame.channel_name, frame.payload, frame.snapshot, stats)

    notification = decode()
    listener, quoter, frames = engine.listener, engine.quoter, engine.orders.frames
    if not listener.lane.decode(payload):
        raise RuntimeError("the ticker lane does not take the feeder's ticker")
    spec = engine.state.spec
    price, amount = spec.price(65_000), spec.amount(100)

    def encode_three_amends() -> bytes:
        keys = os.urandom(12)
        return b"".join(encode_frame(0x1, encode_request(*frames.amend(7 + i, amount, price), i),
                                     mask_key=keys[4 * i:4 * i + 4]) for i in range(3))

    calls = {
        "JSON + message decode": decode,
        "state update": lambda: listener.on_ticker(notification, 1),
        "kernel call": quoter.run_cycle,
        # The ticker lane (the engine's path for a read of only its ticker): the raw frame's
        # decode kernel, the book written from it, and the one call of decode + pacing + cycle
        # with the book write (``Quoter.tick_raw``; min_quote_interval_s = 0: it quotes).
        "lane: decode kernel": lambda: listener.lane.decode(payload),
        "lane: state update": lambda: listener.took_ticker(1),
        "lane: decode + state + cycle": lambda: quoter.tick_raw(payload, 1),
        "order encoding (3 amends)": encode_three_amends,
    }
    return {name: float(np.median(time_calls_ns(fn, iterations=ITERATIONS, warmup=300)))
            for name, fn in calls.items()}
