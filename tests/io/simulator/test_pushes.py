"""Push fidelity without sockets: one portfolio push per change, and no negative zero in any
float the simulator sends."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import orjson

from qengine.io.simulator import IndexSpec, thalex_instruments

BTC = "BTC-PERPETUAL"


def _step(ex, n=1):
    for _ in range(n):
        ex.step_market()
        ex.publisher.publish_step(0.0)


def _portfolio_lines(client, name=BTC):
    return [line for note in client.pushes("account.portfolio") if not note.get("snapshot")
            for line in note["notification"] if line["instrument_name"] == name]


async def test_first_fill_pushes_the_portfolio_line_once(harness):
    ex, make = harness()
    client = make()
    client.login()
    client.result("private/subscribe", {"channels": ["account.portfolio"]})
    client.pushes()
    client.result("private/insert", {"direction": "buy", "instrument_name": BTC,
                                     "amount": 0.2, "price": 65005})  # lifts the crowd ask
    assert [line["position"] for line in _portfolio_lines(client)] == [0.2]
    _step(ex, 30)  # quiet market: the mark moves far less than 1 %
    assert _portfolio_lines(client) == []


async def test_a_mark_move_over_one_percent_pushes_the_line_once(harness):
    ex, make = harness()
    client = make()
    client.login()
    client.result("private/subscribe", {"channels": ["account.portfolio"]})
    client.result("private/insert", {"direction": "sell", "instrument_name": BTC,
                                     "amount": 0.1, "price": 64995})
    client.pushes()
    ex.indices["BTCUSD"].price = 65000.0 * 1.03  # the mark's EMA follows within seconds
    _step(ex, 300)
    lines = _portfolio_lines(client)
    marks = [line["mark_price"] for line in lines]
    assert len(lines) >= 1
    # Each push is more than 1 % away from the previous one: none is a resend.
    assert all(abs(b - a) > 0.01 * a for a, b in zip([64995.0, *marks], marks, strict=False))
    _step(ex, 50)
    assert _portfolio_lines(client) == []


def _negative_zeros(value: Any, path: str = "") -> list[str]:
    if isinstance(value, float):
        return [path] if value == 0.0 and math.copysign(1.0, value) < 0 else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _negative_zeros(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _negative_zeros(v, f"{path}[{i}]")]
    return []


async def test_no_negative_zero_in_any_frame(harness):
    # Index a fraction of a tick above the mid: a small negative premium, inside the funding
    # dampener, which used to give "funding_rate": -0.0. Every listed instrument, rolls too.
    listing = tuple(dataclasses.replace(spec, taker_intensity_per_s=0.0)
                    for spec in thalex_instruments(1.7e9))
    ex, make = harness(instruments=listing,
                       indices=(IndexSpec(underlying="BTCUSD", initial_price=65000.3,
                                          volatility_per_sqrt_s=0.0),
                                IndexSpec(underlying="ETHUSD", initial_price=3500.04,
                                          volatility_per_sqrt_s=0.0)))
    client = make()
    client.login()
    channels = ["session.orders", "account.orders", "account.portfolio", "account.summary",
                "account.trade_history", "price_index.BTCUSD", "recent_trades.BTCUSD.all"]
    for name in ex.instruments:
        channels += [f"ticker.{name}.raw", f"lwt.{name}.raw", f"book.{name}.none.all.raw"]
    client.result("private/subscribe", {"channels": channels})
    _step(ex, 20)
    roll = next(name for name, inst in ex.instruments.items() if inst.is_combination)
    roll_ask = client.result("public/ticker", {"instrument_name": roll})["best_ask_price"]
    for direction, name, price in (("buy", BTC, 65005), ("sell", BTC, 64995),
                                   ("sell", BTC, 64995), ("buy", roll, roll_ask)):
        client.result("private/insert", {"direction": direction, "instrument_name": name,
                                         "amount": 0.1, "price": price})
    _step(ex, 20)
    requests = [("public/ticker", {"instrument_name": name}) for name in ex.instruments]
    requests += [("private/portfolio", {}), ("private/account_summary", {}),
                 ("private/trade_history", {}), ("public/book", {"instrument_name": BTC}),
                 ("public/instruments", {})]
    for method, params in requests:
        client.result(method, params)
    client.pushes()
    assert client.notes == []
    ticker = client.result("public/ticker", {"instrument_name": BTC})
    assert ticker["funding_rate"] == 0.0
    found = [p for frame in client.frames for p in _negative_zeros(orjson.loads(frame))]
    assert found == []
    assert len(client.frames) > 1000
