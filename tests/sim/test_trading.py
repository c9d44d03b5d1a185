"""Order entry without sockets: validation codes, post-only, IOC, priority, reduce-only, collar,
fees and PnL. The BTC crowd quotes 64995 / 65005 with 0.5 BTC per level (5 levels)."""

from __future__ import annotations

import pytest

BTC = "BTC-PERPETUAL"


def _buy(client, price, amount=0.1, **extra):
    params = {"direction": "buy", "instrument_name": BTC, "amount": amount, "price": price}
    params.update(extra)
    return client.call("private/insert", params)


def _sell(client, price, amount=0.1, **extra):
    params = {"direction": "sell", "instrument_name": BTC, "amount": amount, "price": price}
    params.update(extra)
    return client.call("private/insert", params)


async def test_insert_rests_and_reports_order_status(harness):
    _ex, make = harness()
    client = make()
    client.login()
    client.result("private/subscribe", {"channels": ["session.orders"]})
    assert client.pushes("session.orders")[0]["snapshot"] is True
    order = _buy(client, 64990, label="qe", client_order_id=1001)["result"]
    assert order["status"] == "open"
    assert order["price"] == 64990
    assert order["amount"] == 0.1
    assert order["persistent"] is False
    assert order["client_order_id"] == 1001
    assert order["change_reason"] == "insert"
    assert order["insert_reason"] == "client_request"
    pushed = client.order_items()
    assert [o["order_id"] for o in pushed] == [order["order_id"]]
    # The reply frame is queued before the push.
    replies = [i for i, f in enumerate(client.frames) if f.startswith('{"id":')]
    pushes = [i for i, f in enumerate(client.frames) if '"order_id"' in f and
              f.startswith('{"channel_name"')]
    assert replies[-1] < pushes[-1]


@pytest.mark.parametrize(("params", "code"), [
    ({"price": 0}, 13),
    ({"price": -5}, 13),
    ({"price": 64990.5}, 15),
    ({"price": 64990.5, "amount": 0.0001}, 15),  # price is checked before amount
    ({"amount": 0.0015}, 14),
    ({"amount": 0.0}, 14),
    ({"instrument_name": "NOPE"}, 5),
    ({"order_type": "market", "time_in_force": "good_till_cancelled"}, 25),
    ({"time_in_force": "immediate_or_cancel", "post_only": True}, 25),
    ({"order_type": "stop"}, 6),
    ({"amount": "1"}, 6),
    ({"post_only": "yes"}, 6),
    ({"price": 70000}, 43),  # default collar for limits is reject
    ({"client_order_id": -1}, 6),
])
async def test_insert_rejections(harness, params, code):
    ex, make = harness()
    client = make()
    client.login()
    base = {"direction": "buy", "instrument_name": BTC, "amount": 0.1, "price": 64990}
    base.update(params)
    assert client.error_code("private/insert", base) == code
    assert ex.accounts["test-key"].open_orders == {}


async def test_private_methods_need_login_and_unknown_methods_are_31(harness):
    _, make = harness()
    client = make()
    assert client.error_code("private/insert", {"direction": "buy"}) == 7
    assert client.error_code("private/cancel_all") == 7
    assert client.error_code("private/frobnicate") == 31
    assert client.error_code("public/login", {"token": "garbage"}) == 19


async def test_duplicate_client_order_id_only_while_open(harness):
    _, make = harness()
    client = make()
    client.login()
    _buy(client, 64990, client_order_id=7)
    assert _buy(client, 64980, client_order_id=7)["error"]["code"] == 2
    client.result("private/cancel", {"client_order_id": 7})
    assert _buy(client, 64980, client_order_id=7)["result"]["status"] == "open"


async def test_open_order_cap(harness):
    _, make = harness(max_open_orders=2)
    client = make()
    client.login()
    _buy(client, 64990)
    _buy(client, 64989)
    assert _buy(client, 64988)["error"]["code"] == 49


async def test_post_only_reprices_one_tick_inside_and_book_or_cancel(harness):
    _, make = harness()
    client = make()
    client.login()
    repriced = _buy(client, 65010, post_only=True)["result"]
    assert repriced["price"] == 65004
    assert repriced["status"] == "open"
    rejected = _sell(client, 64000, post_only=True, reject_post_only=True)["result"]
    assert rejected["status"] == "cancelled"
    assert rejected["delete_reason"] == "immediate_cancel"


async def test_ioc_partial_fill_cancels_the_remainder(harness):
    ex, make = harness()
    client = make()
    client.login()
    # 0.5 BTC at 65005 and 65006 are inside the limit: 1.0 fills, 0.2 is cancelled.
    order = _buy(client, 65006, amount=1.2, time_in_force="immediate_or_cancel")["result"]
    assert order["status"] == "cancelled_partially_filled"
    assert order["filled_amount"] == 1.0
    assert order["remaining_amount"] == 0
    assert order["delete_reason"] == "immediate_cancel"
    assert [f["price"] for f in order["fills"]] == [65005, 65006]
    assert all(f["maker_taker"] == "taker" for f in order["fills"])
    assert ex.accounts["test-key"].position_lots(BTC) == 1000


async def test_gtc_remainder_rests_after_crossing(harness):
    _, make = harness()
    client = make()
    client.login()
    order = _buy(client, 65005, amount=0.7)["result"]
    assert order["status"] == "partially_filled"
    assert order["filled_amount"] == 0.5
    assert order["remaining_amount"] == 0.2


async def test_market_order_clamped_to_collar_and_reject_collar(harness):
    _, make = harness()
    client = make()
    client.login()
    order = client.result("private/buy", {"instrument_name": BTC, "amount": 0.3,
                                          "order_type": "market"})
    assert order["status"] == "filled"
    assert "price" not in order
    assert client.error_code("private/buy", {"instrument_name": BTC, "amount": 0.3,
                                             "order_type": "market", "collar": "reject"}) == 43
    assert client.error_code("private/buy", {"instrument_name": BTC, "amount": 0.3,
                                             "order_type": "market", "collar": "ignore"}) == 6
    clamped = _buy(client, 70000, collar="clamp", post_only=True)["result"]
    assert clamped["price"] == 65004  # clamped to collar_high, then post-only re-priced


async def test_price_time_priority_and_partial_maker_fills(harness):
    ex, make = harness()
    client = make()
    client.login()
    client.result("private/subscribe", {"channels": ["session.orders"]})
    client.pushes()
    first = _sell(client, 65002, amount=0.1)["result"]["order_id"]
    second = _sell(client, 65002, amount=0.1)["result"]["order_id"]
    client.pushes()
    sim_taker_lots = ex.crowd_take(ex.markets[BTC], True, 10, 150, ex.now_s())
    ex.flush()
    assert sim_taker_lots == 150
    updates = client.order_items()
    assert [(u["order_id"], u["status"]) for u in updates] == [
        (first, "filled"), (second, "partially_filled")]
    assert updates[1]["filled_amount"] == 0.05
    assert len(updates[1]["fills"]) == 1
    assert updates[1]["fills"][0]["maker_taker"] == "maker"


async def test_reduce_only_rejects_without_position_and_cuts_to_position(harness):
    _ex, make = harness()
    client = make()
    client.login()
    assert _sell(client, 65100, reduce_only=True)["error"]["code"] == 37
    client.result("private/buy", {"instrument_name": BTC, "amount": 0.2, "order_type": "market"})
    cut = _sell(client, 65100, amount=0.5, reduce_only=True)["result"]
    assert cut["amount"] == 0.2
    assert cut["reduce_only"] is True
    assert _buy(client, 64000, reduce_only=True)["error"]["code"] == 37


async def test_amend_keeps_priority_only_for_same_price_smaller_amount(harness):
    ex, make = harness()
    client = make()
    client.login()
    a = _sell(client, 65002, amount=0.2, client_order_id=1)["result"]["order_id"]
    b = _sell(client, 65002, amount=0.1, client_order_id=2)["result"]["order_id"]
    amended = client.result("private/amend", {"client_order_id": 1, "price": 65002,
                                              "amount": 0.1})
    assert amended["change_reason"] == "amend"
    assert amended["amount"] == 0.1
    queue = ex.markets[BTC].book.asks[65002]
    assert [o.order_id for o in queue] == [a, b]
    client.result("private/amend", {"order_id": a, "price": 65002, "amount": 0.3})
    assert [o.order_id for o in ex.markets[BTC].book.asks[65002]] == [b, a]
    assert client.error_code("private/amend", {"order_id": "nope", "price": 1, "amount": 1}) == 1
    assert client.error_code("private/amend", {"price": 65002, "amount": 0.1}) == 6


async def test_amend_to_filled_amount_deletes(harness):
    ex, make = harness()
    client = make()
    client.login()
    oid = _sell(client, 65002, amount=0.2)["result"]["order_id"]
    ex.crowd_take(ex.markets[BTC], True, 10, 100, ex.now_s())
    reply = client.result("private/amend", {"order_id": oid, "price": 65002, "amount": 0.1})
    assert reply["status"] == "filled" or reply["status"] == "cancelled_partially_filled"
    assert reply["remaining_amount"] == 0
    assert oid not in ex.accounts["test-key"].open_orders


async def test_cancel_paths_and_codes(harness):
    _, make = harness()
    client = make()
    client.login()
    oid = _buy(client, 64990, client_order_id=5)["result"]["order_id"]
    cancelled = client.result("private/cancel", {"order_id": oid})
    assert cancelled["status"] == "cancelled"
    assert cancelled["delete_reason"] == "client_cancel"
    assert "close_time" in cancelled
    assert client.error_code("private/cancel", {"order_id": oid}) == 1
    assert client.error_code("private/cancel", {"client_order_id": 5}) == 1
    _buy(client, 64990)
    _buy(client, 64991)
    assert client.result("private/cancel_all") == 2
    assert client.result("private/open_orders") == []


async def test_fees_positions_and_exact_realised_pnl(harness):
    ex, make = harness(maker_fee_rate=0.0002, taker_fee_rate=0.0005)
    client = make()
    client.login()
    client.result("private/buy", {"instrument_name": BTC, "amount": 0.1,
                                  "order_type": "market"})  # taker at 65005
    _sell(client, 65004, amount=0.1)  # best ask (maker), filled by a crowd taker
    ex.crowd_take(ex.markets[BTC], True, 20, 100, ex.now_s())
    state = ex.accounts["test-key"].state(ex.instruments)
    assert state.position_lots == {BTC: 0}
    assert state.realised_pnl == pytest.approx(-0.1, abs=1e-12)  # (65004 - 65005) * 0.1
    expected_fees = 65005 * 0.1 * 0.0005 + 65004 * 0.1 * 0.0002
    assert state.fees == pytest.approx(expected_fees, abs=1e-12)
    history = client.result("private/trade_history", {"sort": "ascending"})["trades"]
    assert [t["maker_taker"] for t in history] == ["taker", "maker"]
    assert history[1]["position_after"] == 0
    assert history[1]["position_pnl"] == pytest.approx(-0.1)
    orders = client.result("private/order_history")["orders"]
    assert {o["status"] for o in orders} == {"filled"}
    assert all("remaining_amount" not in o for o in orders)


async def test_stale_quote_is_picked_off_when_the_crowd_moves(harness):
    ex, make = harness()
    client = make()
    client.login()
    _buy(client, 65004, amount=0.1)
    ex.indices["BTCUSD"].price = 64000.0  # crowd re-posts around 64000: our bid is crossed
    ex.step_market()
    assert ex.accounts["test-key"].position_lots(BTC) == 100


async def test_self_trade_prevention_cancels_the_aggressor(harness):
    _ex, make = harness()
    client = make()
    client.login()
    _sell(client, 65003, amount=0.1)
    order = _buy(client, 65003, amount=0.1)["result"]
    assert order["status"] == "cancelled"
    assert order["delete_reason"] == "self_trade_prevention"
