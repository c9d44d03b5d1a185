"""The ticker lane in the engine: a raw ticker frame leaves the book, counters, exchange time and
telemetry exactly as the same ticker decoded by io and applied by ``on_ticker``; frames the
kernel leaves to io are decoded (or rejected and counted) by io as before; a read of only the
raw ticker is quoted on in one kernel call."""

from __future__ import annotations

import orjson
import pytest
import trio

from qengine.config import EngineConfig
from qengine.engine._account import Account
from qengine.engine._gate import QuoteGate, Wakeup
from qengine.engine._listener import Listener
from qengine.engine._orders import OrderManager
from qengine.engine._quoter import Quoter
from qengine.engine._state import EngineState, select_instruments
from qengine.engine._ticker_lane import ticker_channel
from qengine.io import messages as m
from qengine.io.client import ThalexClient
from qengine.io.jsonrpc import parse_frame
from qengine.io.rpc_session import Inbound
from qengine.kernels import codes
from qengine.telemetry import COUNTER, Telemetry

from .conftest import BTC

_INSTRUMENTS = [m.Instrument(instrument_name=BTC, product="FBTCUSD", type="perpetual",
                             underlying="BTCUSD", tick_size=0.5, volume_tick_size=0.001,
                             min_order_amount=0.001, base_currency="USD",
                             expiration_timestamp=None)]
CHANNEL = f"ticker.{BTC}.raw"
TICKER = {"best_bid_price": 64999.5, "best_bid_amount": 0.636, "best_ask_price": 65001,
          "best_ask_amount": 0.915, "last_price": 65000, "mark_price": 65000.25,
          "mark_timestamp": 1767865600.101, "delta": 1, "index": 64990.5, "collar_low": 63050.3,
          "collar_high": 66950, "funding_rate": 0.00012, "volume_24h": 812.4}


def frame(**fields: object) -> bytes:
    return orjson.dumps({"channel_name": CHANNEL, "notification": {**TICKER, **fields}})


def build(min_interval_s: float = 0.0, *, to_quoter: bool = False
          ) -> tuple[Quoter, ThalexClient]:
    """A quoter and its client; io's reads go to the quoter when ``to_quoter`` (the engine's
    wiring), else nowhere."""
    config = EngineConfig()
    config = EngineConfig(quote=type(config.quote)(min_quote_interval_s=min_interval_s))
    state = EngineState(config, select_instruments(config, _INSTRUMENTS))
    telemetry = Telemetry()
    gate, wakeup = QuoteGate(state.decision_params, state.book), Wakeup()
    client = ThalexClient(raw_market=(ticker_channel(state.spec),))

    async def nobody(_inbound: Inbound) -> None:
        pass

    listener = Listener(state, telemetry, Account(state, telemetry, wakeup),
                        decode_raw=client.decode_raw)
    orders = OrderManager(state, listener, telemetry, client, gate, wakeup)
    quoter = Quoter(config, state, listener, orders, gate, wakeup, telemetry)
    client._session.deliver_to(quoter.on_inbound if to_quoter else nobody,
                               conflate=("ticker.", "price_index."))  # io's wiring
    return quoter, client


def seen(quoter: Quoter) -> tuple[object, ...]:
    book, listener = quoter.state.book, quoter.listener
    counters = listener.counters
    return (tuple(getattr(book, name) for name in book.__slots__), book.exchange_time_s,
            int(counters[COUNTER["messages"]]), int(counters[COUNTER["tickers"]]))


def old_path(data: bytes, arrival_ns: int) -> tuple[object, ...]:
    """The same frame decoded by io and applied through ``on_ticker`` (the path before)."""
    quoter, _ = build()
    parsed = parse_frame(data)
    stats = m.DecodeStats()
    record = m.decode_notification(parsed.channel_name, parsed.payload, parsed.snapshot, stats)
    quoter.listener.apply(Inbound(arrival_ns, [] if record is None else [record]))
    return seen(quoter)


@pytest.mark.parametrize("data", [
    frame(),
    frame(best_bid_amount=0),  # an empty side
    frame(best_ask_price=None, collar_low=None),
    frame(best_bid_price=64999.3),  # off the grid: nearest tick by its decimal
    frame(mark_price=65000.123456789012),  # 17 digits: still the lane
    frame(best_bid_price=64999.50000000000001),  # parsed by orjson to 64999.5
    orjson.dumps({"notification": TICKER, "channel_name": CHANNEL}),  # another key order
])
async def test_a_raw_ticker_writes_what_the_old_path_writes(data):
    quoter, _ = build()
    quoter.listener.apply(Inbound(5_000, [data]))
    assert quoter.listener.counters[COUNTER["ticker_lane"]] == 1
    assert seen(quoter) == old_path(data, 5_000)


@pytest.mark.parametrize("data", [
    frame(best_bid_price=1.2345678901234567e4),  # more digits than the lane's exact rounding
    orjson.dumps({"channel_name": CHANNEL, "notification": TICKER, "snapshot": False}),
    frame().replace(b'"index"', b'"ind\\u0065x"'),  # an escaped key
])
async def test_frames_the_lane_leaves_to_io_are_decoded_by_io_as_before(data):
    quoter, _ = build()
    quoter.listener.apply(Inbound(5_000, [data]))
    assert quoter.listener.counters[COUNTER["ticker_fallbacks"]] == 1
    assert seen(quoter) == old_path(data, 5_000)
    assert quoter.state.book.updates == 1


@pytest.mark.parametrize("data", [frame(best_bid_amount=-1), frame(index=None), frame()[:-5],
                                  frame(mark_price="65000")])
async def test_frames_io_rejects_are_rejected_and_counted(data):
    quoter, client = build()
    before = seen(quoter)
    quoter.listener.apply(Inbound(5_000, [data]))
    assert seen(quoter) == before  # the book is kept
    stats = client.statistics()
    assert stats.rpc.unknown_frames + client.decode_stats.malformed == 1


async def test_a_read_of_only_the_raw_ticker_is_quoted_in_one_kernel_call(autojump_clock):
    quoter, _ = build()
    quoter.gate.open()
    quoter.orders.sends_without_waiting = lambda: True  # type: ignore[method-assign]
    sent: list[tuple[int, int | None]] = []

    async def execute(n_actions: int, tick_ns: int | None) -> None:
        sent.append((n_actions, tick_ns))

    quoter.orders.execute = execute  # type: ignore[method-assign]
    calls = []
    engine_tick = quoter._engine_tick
    quoter._engine_tick = lambda *args: calls.append(args) or engine_tick(*args)
    await trio.sleep(1.0)  # the trio clock starts at 0: a book time of 0 means "no book"
    now_ns = int(trio.current_time() * 1e9)
    await quoter.on_inbound(Inbound(now_ns, [frame()]))
    assert calls == []  # the lane's call ran the cycle
    assert quoter.cycles == 1
    assert sent[0][0] > 0
    assert sent[0][1] == now_ns == quoter.state.book.time_ns
    assert seen(quoter)[0] == old_path(frame(), now_ns)[0]
    # A frame the lane leaves to io is still quoted on (through engine_tick).
    await trio.sleep(1.0)
    later = int(trio.current_time() * 1e9)
    await quoter.on_inbound(Inbound(later, [frame(best_bid_price=1.2345678901234567e4)]))
    assert len(calls) == 1
    assert quoter.cycles == 2
    assert quoter.listener.counters[COUNTER["ticker_fallbacks"]] == 1


async def test_tick_raw_reports_a_fallback_without_touching_the_book():
    quoter, _ = build()
    before = seen(quoter)
    assert quoter.tick_raw(frame()[:-1], 1) == codes.TICK_FALLBACK
    assert seen(quoter) == before


ORDER = {"order_id": "00011E5700000102", "order_type": "limit",
         "time_in_force": "good_till_cancelled", "instrument_name": BTC, "direction": "buy",
         "price": 64990.0, "amount": 0.01, "filled_amount": 0.0, "remaining_amount": 0.01,
         "label": "other", "client_order_id": 77, "status": "open", "fills": [],
         "change_reason": "insert", "insert_reason": "client_request", "create_time": 1.0,
         "persistent": False}
FILL = {"trade_id": "T1", "price": 64990.0, "amount": 0.004, "time": 1767865600.2,
        "maker_taker": "maker", "leg_index": 0}


@pytest.mark.parametrize(("fills", "push_first"), [([], True), ([FILL], True), ([FILL], False)])
async def test_a_read_with_order_news_and_the_ticker(autojump_clock, fills, push_first):
    # Order news without a fill: the ticker is quoted at once, in the lane's one kernel call,
    # and the news is applied after. With a fill, before or after the ticker in the read: the
    # fill is booked before the cycle.
    quoter, client = build(to_quoter=True)
    quoter.gate.open()
    quoter.orders.sends_without_waiting = lambda: True  # type: ignore[method-assign]
    seen_at_execute: list[tuple[int, int]] = []
    counters = quoter.listener.counters

    async def execute(n_actions: int, tick_ns: int | None) -> None:
        seen_at_execute.append((int(counters[COUNTER["order_updates"]]),
                                quoter.state.position_lots(0)))

    quoter.orders.execute = execute  # type: ignore[method-assign]
    calls = []
    engine_tick = quoter._engine_tick
    quoter._engine_tick = lambda *args: calls.append(args) or engine_tick(*args)
    await trio.sleep(1.0)
    push = orjson.dumps({"channel_name": "session.orders", "notification": [{
        **ORDER, "fills": fills, "filled_amount": 0.004 if fills else 0.0}]})
    await client._session.handle_read([push, frame()] if push_first else [frame(), push])
    assert quoter.cycles == 1
    assert int(counters[COUNTER["order_updates"]]) == 1
    if fills:
        assert seen_at_execute == [(1, 4)]  # booked, then quoted (through engine_tick)
        assert len(calls) == 1
    else:
        assert seen_at_execute == [(0, 0)]  # quoted before the push was applied
        assert calls == []


async def test_the_status_line_and_summary_tell_how_tickers_were_decoded(autojump_clock):
    from qengine.config import load_config
    from qengine.engine._services import build_engine
    from qengine.engine._status import build_summary, status_line
    from qengine.strategy.setup import InstrumentSpec

    spec = InstrumentSpec(0, BTC, "FBTCUSD", "BTCUSD", 0.5, 0.001, 1)
    engine = build_engine(load_config(None, {}), [spec], "ws://127.0.0.1:1/ws/api/v2")
    engine.listener.apply(Inbound(5_000, [frame()]))
    line, _ = status_line(engine, {}, 60.0)
    assert "decoded by io" not in line
    engine.listener.apply(Inbound(6_000, [frame(best_bid_price=1.2345678901234567e4)]))
    line, _ = status_line(engine, {}, 60.0)
    assert "| 1 tickers decoded by io (not the lane)" in line
    summary = build_summary(engine, 0)
    assert (summary["tickers_by_lane"], summary["tickers_by_io"]) == (1, 1)
