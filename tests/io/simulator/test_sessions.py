"""Mass quoting, market-maker protection, rate limits, cancel-on-disconnect, cancel_session and
subscription snapshots, without sockets."""

from __future__ import annotations

import trio

BTC = "BTC-PERPETUAL"


def _quote(client, bid=None, ask=None, **extra):
    quote = {"i": BTC}
    if bid is not None:
        quote["b"] = bid
    if ask is not None:
        quote["a"] = ask
    return client.call("private/mass_quote", {"quotes": [quote], **extra})


async def test_mass_quote_needs_protection_and_checks_quote_amount(harness):
    _, make = harness()
    client = make()
    client.login()
    assert _quote(client, {"p": 64990, "a": 0.1})["error"]["code"] == 23
    assert client.error_code("private/set_mm_protection", {"product": "FXXX", "trade_amount": 1,
                                                           "quote_amount": 1}) == 17
    assert client.result("private/set_mm_protection", {"product": "FBTCUSD", "trade_amount": 0.5,
                                                       "quote_amount": 0.5}) is None
    result = _quote(client, {"p": 64990, "a": 0.6}, {"p": 65010, "a": 0.1})["result"]
    assert result["n_success"] == 1
    assert result["n_fail"] == 1
    assert result["errors"][0]["code"] == 44
    assert result["errors"][0]["side"] == "bid"
    assert _quote(client, {"p": 64990.5, "a": 0.1})["result"]["errors"][0]["code"] == 15
    assert client.call("private/mass_quote", {"quotes": [{"i": "NOPE"}]})["error"]["code"] == 5
    assert client.call("private/mass_quote", {"quotes": "x"})["error"]["code"] == 6


async def test_protection_with_trade_amount_above_quote_amount_is_refused(harness):
    # Thalex: trade_amount "must be lower or equal to the quote_amount"; the group is not set.
    _, make = harness()
    client = make()
    client.login()
    client.result("private/subscribe", {"channels": ["session.mm_protection"]})
    reply = client.call("private/set_mm_protection", {"product": "FBTCUSD", "trade_amount": 1,
                                                      "quote_amount": 0.5})
    assert reply["error"]["code"] == 22
    assert "quote_amount" in reply["error"]["message"]
    assert client.pushes("session.mm_protection") == []
    assert _quote(client, {"p": 64990, "a": 0.1})["error"]["code"] == 23
    assert client.result("private/set_mm_protection", {"product": "FBTCUSD", "trade_amount": 0.5,
                                                       "quote_amount": 0.5}) is None
    assert client.result("private/set_mm_protection", {"product": "FBTCUSD", "amount": 2}) is None


async def test_identical_resend_keeps_priority_and_zero_deletes(harness):
    ex, make = harness()
    client = make()
    client.login()
    client.result("private/set_mm_protection", {"product": "FBTCUSD", "trade_amount": 1,
                                                "quote_amount": 1})
    _quote(client, {"p": 64990, "a": 0.1}, {"p": 65010, "a": 0.1})
    bid = ex.markets[BTC].book.bids[64990][0]
    assert bid.mass_quote
    assert not bid.persistent
    again = _quote(client, {"p": 64990, "a": 0.1})["result"]
    assert again == {"n_success": 1, "n_fail": 0, "errors": []}
    assert ex.markets[BTC].book.bids[64990][0] is bid
    _quote(client, {"p": 64991, "a": 0.1})
    assert 64990 not in ex.markets[BTC].book.bids
    assert bid.delete_reason == "client_cancel"
    _quote(client, {"p": 64991, "a": 0.2})
    replaced = [o for o in ex.accounts["test-key"].closed_orders if o.delete_reason == "replaced"]
    assert replaced == []  # unfilled mass quotes are not kept in order history
    _quote(client, {"p": 64991, "a": 0})
    assert 64991 not in ex.markets[BTC].book.bids
    assert 65010 in ex.markets[BTC].book.asks  # the untouched side stays


async def test_multi_level_form_replaces_the_side_atomically(harness):
    ex, make = harness()
    client = make()
    client.login()
    client.result("private/set_mm_protection", {"product": "FBTCUSD", "amount": 1})
    result = _quote(client, [[64990, 0.1], [64989, 0.2], [64988, 0.3]])["result"]
    assert result["n_success"] == 1
    assert sorted(ex.markets[BTC].book.bids) == [64988, 64989, 64990]
    _quote(client, [[64989, 0.2], [64987, 0.1]])
    assert sorted(ex.markets[BTC].book.bids) == [64987, 64989]
    bad = _quote(client, [[64980, 0.1], [64981, 5.0]])["result"]
    assert bad["n_fail"] == 1
    assert sorted(ex.markets[BTC].book.bids) == [64987, 64989]
    _quote(client, [])
    assert ex.markets[BTC].book.bids == {}


async def test_mm_protection_exhaustion_pulls_the_group(harness):
    ex, make = harness()
    client = make()
    client.login()
    client.result("private/subscribe", {"channels": ["session.mm_protection", "session.orders"]})
    client.result("private/set_mm_protection", {"product": "FBTCUSD", "trade_amount": 0.15,
                                                "quote_amount": 1})
    refill = client.pushes("session.mm_protection")[0]["notification"][0]
    assert refill == {"product": "FBTCUSD", "remaining_amount": 0.15, "reason": "refill"}
    _quote(client, {"p": 64998, "a": 0.1}, {"p": 65002, "a": 0.1})
    client.pushes()
    ex.crowd_take(ex.markets[BTC], True, 5, 100, ex.now_s())  # fills the ask: 0.05 left
    ex.crowd_take(ex.markets[BTC], False, 5, 100, ex.now_s())  # fills the bid: -0.05
    ex.flush()
    reasons = [r for n in client.pushes("session.mm_protection") for r in n["notification"]]
    assert [r["remaining_amount"] for r in reasons] == [0.05, -0.05]
    assert all(r["reason"] == "executions" for r in reasons)
    assert _quote(client, {"p": 64990, "a": 0.1})["error"]["code"] == 23


async def test_mm_protection_cancels_remaining_quotes_with_reason(harness):
    ex, make = harness()
    client = make()
    client.login()
    client.result("private/subscribe", {"channels": ["session.orders"]})
    client.result("private/set_mm_protection", {"product": "FBTCUSD", "trade_amount": 0.1,
                                                "quote_amount": 1})
    _quote(client, {"p": 64998, "a": 0.1}, {"p": 65002, "a": 0.1})
    client.pushes()
    ex.crowd_take(ex.markets[BTC], True, 5, 100, ex.now_s())
    ex.flush()
    items = client.order_items()
    assert [(i["direction"], i["status"], i.get("delete_reason")) for i in items] == [
        ("sell", "filled", "filled"), ("buy", "cancelled", "mm_protection")]


async def test_rate_limits_before_and_after_cod_and_cancel_budget(harness, autojump_clock):
    _, make = harness()
    client = make()
    codes = [client.call("public/system_info").get("error", {}).get("code") for _ in range(12)]
    assert codes[:10] == [None] * 10
    assert codes[10:] == [4, 4]
    await trio.sleep(1.0)
    client.login(cod=True)  # 2 messages; COD raises the rate to 50 and refills
    codes = [client.call("public/system_info").get("error", {}).get("code") for _ in range(51)]
    assert codes.count(4) == 1
    assert codes[-1] == 4
    assert client.call("private/cancel_all").get("result") == 0  # separate cancel budget
    await trio.sleep(0.1)
    assert "result" in client.call("public/system_info")  # 5 tokens refilled


async def test_end_session_cancels_non_persistent_orders_only(harness):
    ex, make = harness()
    persistent = make()
    persistent.login(cod=False)
    keep = persistent.result("private/insert", {"direction": "buy", "instrument_name": BTC,
                                                "amount": 0.1, "price": 64900})
    cod = make()
    cod.login(cod=True)
    watcher = make()
    watcher.login(cod=False)
    watcher.result("private/subscribe", {"channels": ["account.orders"]})
    watcher.pushes()
    cod.result("private/insert", {"direction": "buy", "instrument_name": BTC, "amount": 0.1,
                                  "price": 64901})
    watcher.pushes()
    ex.end_session(cod.session)
    items = [i for m in watcher.pushes("account.orders") for i in m["notification"]]
    assert [(i["price"], i["delete_reason"]) for i in items] == [(64901, "session_end")]
    open_ids = [o["order_id"] for o in watcher.result("private/open_orders")]
    assert open_ids == [keep["order_id"]]
    ex.end_session(persistent.session)
    assert [o["order_id"] for o in watcher.result("private/open_orders")] == [keep["order_id"]]


async def test_cancel_session_requires_cod(harness):
    ex, make = harness()
    client = make()
    client.login(cod=False)
    assert client.error_code("private/cancel_session") == 52
    client.result("private/set_cancel_on_disconnect", {"timeout_secs": 3})
    client.result("private/insert", {"direction": "buy", "instrument_name": BTC, "amount": 0.1,
                                     "price": 64900})
    assert client.result("private/cancel_session") is None
    assert client.result("private/open_orders") == []
    assert ex.accounts["test-key"].closed_orders[-1].delete_reason == "session_end"


async def test_subscription_snapshots_and_unknown_channels(harness):
    _, make = harness()
    client = make()
    client.login()
    client.result("private/insert", {"direction": "buy", "instrument_name": BTC, "amount": 0.1,
                                     "price": 64900})
    got = client.result("private/subscribe", {"channels": [
        "session.orders", "account.orders", "ticker.BTC-PERPETUAL.100ms", "ticker.NOPE.raw",
        "book.BTC-PERPETUAL.none.3.raw", "recent_trades.BTCUSD.all", "bogus"]})
    assert got == ["session.orders", "account.orders", "ticker.BTC-PERPETUAL.100ms",
                   "book.BTC-PERPETUAL.none.3.raw", "recent_trades.BTCUSD.all"]
    notes = {n["channel_name"]: n for n in client.pushes()}
    existing = notes["session.orders"]["notification"]
    assert notes["session.orders"]["snapshot"] is True
    assert [o["change_reason"] for o in existing] == ["existing"]
    book = notes["book.BTC-PERPETUAL.none.3.raw"]
    assert book["snapshot"] is True
    assert len(book["notification"]["bid_changes"]) == 3
    assert notes["recent_trades.BTCUSD.all"]["notification"] == []
    assert client.result("public/subscribe", {"channels": ["session.orders"]}) == []
    assert client.result("unsubscribe", {"channels": ["account.orders", "nope"]}) == [
        "account.orders"]


async def test_market_steps_publish_throttled_tickers(harness, autojump_clock):
    ex, make = harness()
    client = make()
    client.result("public/subscribe", {"channels": [
        "ticker.BTC-PERPETUAL.raw", "ticker.BTC-PERPETUAL.500ms", "price_index.BTCUSD",
        "lwt.ETH-PERPETUAL.1000ms"]})
    client.pushes()
    for _ in range(10):
        await trio.sleep(ex.config.step_s)
        ex.step_market()
        ex.publisher.publish_step(trio.current_time())
    counts = {}
    for note in client.pushes():
        counts[note["channel_name"]] = counts.get(note["channel_name"], 0) + 1
    assert counts["ticker.BTC-PERPETUAL.raw"] == 10
    assert counts["price_index.BTCUSD"] == 10
    assert counts["ticker.BTC-PERPETUAL.500ms"] == 2
    assert counts["lwt.ETH-PERPETUAL.1000ms"] == 1
