"""Pure-Python twin of ``qengine.kernels.ticker_wire``, built on io's decoder and ``StepGrid``.

The frame is parsed by orjson and classified and decoded by ``qengine.io`` (``parse_frame``,
``decode_notification``), then converted the way the engine's listener converts a ticker
(``Listener.on_ticker``: nearest tick and lot, fractional ticks for mark and collars). It
answers ``WIRE_FALLBACK`` only where io does not give a ticker of ``channel``; the kernel may
answer it more often (it takes only what it decodes exactly), never less.
"""

from __future__ import annotations

from qengine.io.jsonrpc import Notification, parse_frame
from qengine.io.messages import DecodeStats, decode_notification
from qengine.kernels import codes
from qengine.units import StepGrid

from .decision import engine_tick


def decoded_ticker(frame, channel):
    """io's Ticker record of ``frame`` when it is a valid ticker push of ``channel``, else None."""
    parsed = parse_frame(frame)
    if type(parsed) is not Notification or parsed.channel_name != channel.decode():
        return None
    record = decode_notification(parsed.channel_name, parsed.payload, parsed.snapshot,
                                 DecodeStats())
    if record is None or record.kind != "ticker":
        return None
    return record.records[0]


def ticker_decode(frame, channel, grid, tick_size, out_ticks, out_values):
    ticker = decoded_ticker(frame, channel)
    if ticker is None:
        return codes.WIRE_FALLBACK
    tick_m, tick_k, lot_m, lot_k = (int(v) for v in grid)
    prices = StepGrid(tick_m / 10**tick_k)
    lots = StepGrid(lot_m / 10**lot_k)
    assert prices.step == tick_size
    bid = ask = (0, 0)
    try:
        if ticker.best_bid_price is not None and ticker.best_bid_amount is not None:
            bid = (prices.nearest(ticker.best_bid_price), lots.nearest(ticker.best_bid_amount))
        if ticker.best_ask_price is not None and ticker.best_ask_amount is not None:
            ask = (prices.nearest(ticker.best_ask_price), lots.nearest(ticker.best_ask_amount))
    except OverflowError:
        return codes.WIRE_FALLBACK  # beyond any integer step count (the listener raises too)
    if not all(-2**63 <= v < 2**63 for v in (*bid, *ask)):
        return codes.WIRE_FALLBACK  # not int64 (the engine's book would hold a Python int)
    out_ticks[:] = (bid[0], ask[0], bid[1], ask[1])
    out_values[:] = (
        prices.in_steps(ticker.mark_price),
        ticker.index,
        prices.in_steps(ticker.collar_low) if ticker.collar_low is not None else 0.0,
        prices.in_steps(ticker.collar_high) if ticker.collar_high is not None else 0.0,
        ticker.mark_timestamp,
    )
    return codes.WIRE_OK


def ticker_tick(decision, now_ns, book_updates, book_time_ns, frame, channel, grid, tick_size,
                out_ticks, out_values, setup, state, positions, out, orders, instrument,
                amend_threshold_ticks, out_actions):
    if ticker_decode(frame, channel, grid, tick_size, out_ticks, out_values) != codes.WIRE_OK:
        return codes.TICK_FALLBACK
    book = (book_time_ns, *(int(v) for v in out_ticks))
    return engine_tick(decision, now_ns, book_updates, True, setup, state, book, positions, out,
                       orders, instrument, amend_threshold_ticks, out_actions)
