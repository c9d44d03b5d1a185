"""The tick path's stages timed in a hot loop inside the engine process, after a measuring window.

The same code the engine ran per tick, called back to back (caches and branch predictors warm, no
other process in between), so that a stage's in-situ figure from the probe can be compared with
what the code itself costs here: the difference is what the machine adds (cold caches after
every wake-up, a shared core), not Python work we could remove. Run in the bench child only, at
the end of the window (it writes the book and runs quote cycles without sending their actions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perf._harness import time_calls_ns

ITERATIONS = 3000


def hot_costs_ns(engine: Any) -> dict[str, float]:
    """Median ns per call of each stage's code, run hot in this (engine) process."""
    from perf._feeder import RandomWalkBook
    from qengine.engine._ticker_lane import ticker_channel
    from qengine.io.jsonrpc import RpcProtocol, parse_frame
    from qengine.io.messages import DecodeStats, decode_notification
    from qengine.io.read_plan import is_raw, push_heads
    from qengine.io.rpc_session import Inbound
    from qengine.io.ws_frames import FrameReader, MaskKeys

    wire_frame = RandomWalkBook(seed=5, move_prob=0.2).frames(1)
    payload = wire_frame[4:]  # without its 126-length header
    stats = DecodeStats()
    reader, messages = FrameReader(16 * 1024 * 1024), []
    heads = push_heads((ticker_channel(engine.state.spec).encode(),))  # the engine's own

    def frame_decode() -> list[bytes]:
        # The websocket layer's work on a read of one ticker frame.
        messages.clear()
        reader.buffer += wire_frame
        reader.read(messages)
        return messages

    def read_plan() -> Any:
        # io's sorting of a one-frame read: a raw ticker push, handed on undecoded.
        if is_raw(payload, heads):
            return Inbound(1, [payload])
        raise RuntimeError("the feeder's ticker is not a raw push")

    def decode() -> Any:
        frame = parse_frame(payload)
        return decode_notification(frame.channel_name, frame.payload, frame.snapshot, stats)

    notification = decode()
    listener, quoter = engine.listener, engine.quoter
    encode_ten = _ten_action_encoding(engine, RpcProtocol(), MaskKeys())
    if not listener.lane.decode(payload):
        raise RuntimeError("the ticker lane does not take the feeder's ticker")

    calls = {
        "frame decode (websocket)": frame_decode,
        "read plan (one-frame read)": read_plan,
        "JSON + message decode": decode,
        "state update": lambda: listener.on_ticker(notification, 1),
        "kernel call": quoter.run_cycle,
        "order encoding (10 actions)": encode_ten,
        # The ticker lane (the engine's path for a read of only its ticker): the raw frame's
        # decode kernel, the book written from it, and the one call of decode + pacing + cycle
        # with the book write (``Quoter.tick_raw``; min_quote_interval_s = 0: it quotes).
        "lane: decode kernel": lambda: listener.lane.decode(payload),
        "lane: state update": lambda: listener.took_ticker(1),
        "lane: decode + state + cycle": lambda: quoter.tick_raw(payload, 1),
    }
    n_prepared, prepare = _batch_prepare(engine, quoter, payload)
    calls[f"order batch prepare ({n_prepared} actions)"] = prepare
    return {name: float(np.median(time_calls_ns(fn, iterations=ITERATIONS, warmup=300)))
            for name, fn in calls.items()}


def _batch_prepare(engine: Any, quoter: Any, payload: bytes) -> tuple[int, Any]:
    """``OrderManager.execute``'s one kernel call before the wire bytes (``order_batch_prepare``:
    mark the table, meter the batch), on the actions of one quoted cycle, each call on a fresh
    copy of the order table and token bucket taken after that cycle (the copies are timed too)."""
    from qengine.kernels._jit import entry_point
    from qengine.kernels.order_batch import order_batch_prepare

    orders, state = engine.orders, engine.state
    n = max(quoter.tick_raw(payload, 1), 0)
    table0, bucket0 = state.orders.copy(), orders.bucket.state.copy()
    table, bucket, actions = table0.copy(), bucket0.copy(), state.actions.copy()
    batch, counts = np.zeros_like(orders._batch), np.zeros_like(orders._counts)
    prepare = entry_point(order_batch_prepare, table, actions, 0, bucket, 0, 0, 0,
                          state.spec.index, batch, counts)
    levels = engine.gate.insert_levels

    def call() -> list[int]:
        table[:] = table0
        bucket[:] = bucket0
        prepare(table, actions, n, bucket, 1, levels, 1, state.spec.index, batch, counts)
        return counts.tolist()

    return n, call


def _ten_action_encoding(engine: Any, rpc: Any, keys: Any) -> Any:
    """What ``OrderManager.execute`` does from a prepared 10-action batch (5 levels x 2 sides:
    2 inserts, 6 amends, 2 cancels) to the bytes it hands to the socket: the methods, one
    pending batch with its ids, the mask keys and the one ``OrderWire.build`` kernel call. On
    the order manager's own frames and grids, over a batch array of its own."""
    from qengine.kernels import codes

    orders = engine.orders
    batch = np.zeros_like(orders._batch)
    wire = type(orders.wire)(orders.frames, engine.state.spec.price_grid,
                             engine.state.spec.lot_grid, batch)
    kinds = [codes.ACTION_INSERT] * 2 + [codes.ACTION_AMEND] * 6 + [codes.ACTION_CANCEL] * 2
    for i, kind in enumerate(kinds):
        side = i % 2
        price = 130_000 - 10 * (i // 2 + 1) if side == codes.SIDE_BUY else 130_000 + 10 * i
        batch[i] = (kind, i, 7_000_000_000 + i, side, i // 2, price, 100 + i)

    def encode() -> bytes:
        methods = wire.methods(10)
        pending = rpc.start_batch(len(methods), now_s=0.0, timeout_s=10.0)
        data = wire.build(10, pending.first_id, keys.take(40))
        rpc.abandon_batch(pending)  # (not on the real path: keeps the table empty)
        return data

    return encode
