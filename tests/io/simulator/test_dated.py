"""Dated futures and rolls (``combination`` instruments): Thalex's names and fields, prices
consistent with the perpetual, and trading a roll books its legs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest

from qengine.io.simulator import (
    IndexSpec,
    InstrumentSpec,
    SimulatorConfig,
    thalex_instruments,
)
from qengine.io.simulator.listing import CARRY_PER_YEAR

from .conftest import Client, make_config, make_exchange

START_S = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC).timestamp()  # a Sunday
DAILY, WEEKLY, QUARTERLY = "BTC-07DEC26", "BTC-11DEC26", "BTC-26MAR27"
PERP = "BTC-PERPETUAL"
ROLL = f"{QUARTERLY}-PERPETUAL"
FLAT = (IndexSpec(underlying="BTCUSD", initial_price=65000.0, volatility_per_sqrt_s=0.0),
        IndexSpec(underlying="ETHUSD", initial_price=3500.0, volatility_per_sqrt_s=0.0))


def _quiet(**overrides):
    return tuple(dataclasses.replace(spec, taker_intensity_per_s=0.0,
                                     basis_volatility_ticks_per_sqrt_s=0.0, **overrides)
                 for spec in thalex_instruments(START_S))


def _listed(harness, **overrides):
    ex, make = harness(instruments=_quiet(), indices=FLAT, start_time_s=START_S, **overrides)
    for _ in range(100):  # let the marks' premium EMAs settle on the basis
        ex.step_market()
    client = make()
    client.login()
    return ex, client


def _ticker(client, name):
    return client.result("public/ticker", {"instrument_name": name})


def test_listing_names_types_expiries_and_legs():
    specs = {s.instrument_name: s for s in thalex_instruments(START_S)}
    rolls = ["07DEC26-PERPETUAL", "11DEC26-PERPETUAL", "26MAR27-PERPETUAL", "11DEC26-07DEC26",
             "26MAR27-07DEC26", "26MAR27-11DEC26"]
    assert list(specs) == [
        "BTC-PERPETUAL", "ETH-PERPETUAL",
        DAILY, WEEKLY, QUARTERLY, *(f"BTC-{r}" for r in rolls),
        "ETH-07DEC26", "ETH-11DEC26", "ETH-26MAR27", *(f"ETH-{r}" for r in rolls)]
    assert specs[DAILY].expiration_timestamp - START_S == 20 * 3600  # Monday 08:00 UTC
    quarterly = specs[QUARTERLY]
    assert (quarterly.type, quarterly.expiry_date) == ("future", "2027-03-26")
    assert quarterly.expiration_timestamp == dt.datetime(2027, 3, 26, 8,
                                                         tzinfo=dt.UTC).timestamp()
    assert (quarterly.tick_size, quarterly.volume_tick_size, quarterly.min_order_amount) == (
        1.0, 0.001, 0.001)
    roll = specs["BTC-26MAR27-11DEC26"]
    assert roll.type == "combination"
    assert roll.legs == ((QUARTERLY, 1), (WEEKLY, -1))  # buying it buys the later expiry
    assert roll.expiry_date == "2026-12-11"  # it ends with its earlier leg
    assert (roll.tick_size, roll.volume_tick_size, roll.min_order_amount) == (1.0, 0.001, 0.1)
    eth_roll = specs["ETH-11DEC26-PERPETUAL"]
    assert eth_roll.legs == (("ETH-11DEC26", 1), ("ETH-PERPETUAL", -1))
    assert (eth_roll.tick_size, eth_roll.volume_tick_size, eth_roll.min_order_amount) == (
        0.1, 0.01, 1.0)
    assert {s.product for s in specs.values() if s.underlying == "BTCUSD"} == {"FBTCUSD"}


async def test_public_instruments_fields_and_filters(harness):
    _, client = _listed(harness)
    roll = client.result("public/instrument", {"instrument_name": ROLL})
    assert roll["type"] == "combination"
    assert roll["legs"] == [{"instrument_name": QUARTERLY, "quantity": 1},
                            {"instrument_name": PERP, "quantity": -1}]
    assert (roll["expiry_date"], roll["underlying"], roll["product"]) == (
        "2027-03-26", "BTCUSD", "FBTCUSD")
    future = client.result("public/instrument", {"instrument_name": WEEKLY})
    assert future["type"] == "future"
    assert "legs" not in future
    assert future["expiration_timestamp"] == 1796976000  # 2026-12-11 08:00 UTC

    def names(**params):
        return [i["instrument_name"] for i in client.result("public/instruments", params)]

    assert names(underlying="BTCUSD", instrument_type="futures") == [PERP, DAILY, WEEKLY,
                                                                     QUARTERLY]
    assert names(underlying="BTCUSD", instrument_type="future_rolls") == [
        "BTC-07DEC26-PERPETUAL", "BTC-11DEC26-PERPETUAL", ROLL, "BTC-11DEC26-07DEC26",
        "BTC-26MAR27-07DEC26", "BTC-26MAR27-11DEC26"]
    assert names(instrument_type="options") == []
    assert names(expiry_date="2027-03-26", underlying="ETHUSD") == [
        "ETH-26MAR27", "ETH-26MAR27-PERPETUAL"]


async def test_futures_carry_a_basis_and_rolls_price_off_their_legs(harness):
    _ex, client = _listed(harness)
    perp, weekly, quarterly = (_ticker(client, n) for n in (PERP, WEEKLY, QUARTERLY))
    years = (dt.datetime(2027, 3, 26, 8, tzinfo=dt.UTC).timestamp() - START_S) / (
        365.25 * 86400)
    carry = 65000.0 * CARRY_PER_YEAR * years  # about 966 USD
    assert abs(quarterly["mark_price"] - perp["mark_price"] - carry) < 2.0
    assert 0 < weekly["mark_price"] - perp["mark_price"] < quarterly["mark_price"] - \
        perp["mark_price"]
    assert "funding_rate" not in quarterly
    assert quarterly["forward"] == quarterly["mark_price"]
    assert "funding_rate" in perp
    roll = _ticker(client, ROLL)
    assert math.isclose(roll["mark_price"], quarterly["mark_price"] - perp["mark_price"],
                        abs_tol=1e-6)
    mid = (roll["best_bid_price"] + roll["best_ask_price"]) / 2
    legs_mid = ((quarterly["best_bid_price"] + quarterly["best_ask_price"]) / 2
                - (perp["best_bid_price"] + perp["best_ask_price"]) / 2)
    assert mid == legs_mid
    assert roll["delta"] == 0.0
    for absent in ("last_price", "volume_24h", "open_interest", "funding_rate", "forward"):
        assert absent not in roll
    # A combination's collar is the quantity-weighted sum of its legs' collars.
    assert roll["collar_high"] == quarterly["collar_high"] - perp["collar_low"]
    assert roll["collar_low"] == quarterly["collar_low"] - perp["collar_high"]
    book = client.result("public/book", {"instrument_name": ROLL})
    assert book["asks"][0][0] == roll["best_ask_price"]


async def test_buying_a_roll_books_both_legs(harness):
    ex, client = _listed(harness)
    client.result("private/subscribe", {"channels": [
        "session.orders", "account.portfolio", "account.trade_history"]})
    client.pushes()
    ask = _ticker(client, ROLL)["best_ask_price"]
    order = client.result("private/insert", {"direction": "buy", "instrument_name": ROLL,
                                             "amount": 0.2, "price": ask, "label": "r"})
    assert (order["instrument_name"], order["status"], order["filled_amount"]) == (
        ROLL, "filled", 0.2)
    fills = order["fills"]
    assert [f["leg_index"] for f in fills] == [0, 1]
    assert fills[0]["price"] - fills[1]["price"] == ask  # leg prices add up to the roll's
    trades = [t for n in client.pushes("account.trade_history") for t in n["notification"]]
    assert [(t["instrument_name"], t["direction"], t["amount"], t["trade_type"],
             t["leg_index"], t["label"]) for t in trades] == [
        (QUARTERLY, "buy", 0.2, "combo", 0, "r"), (PERP, "sell", 0.2, "combo", 1, "r")]
    assert [t["trade_id"] for t in trades] == [f["trade_id"] for f in fills]
    assert trades[1]["fee"] == 0.0  # a roll pays its fee once
    assert math.isclose(trades[0]["fee"], 0.0005 * fills[0]["price"] * 0.2)
    assert ex.accounts["test-key"].state(ex.instruments).positions == {QUARTERLY: 0.2,
                                                                        PERP: -0.2}
    lines = {line["instrument_name"]: line["position"]
             for n in client.pushes("account.portfolio") for line in n["notification"]}
    assert lines == {QUARTERLY: 0.2, PERP: -0.2}
    portfolio = {line["instrument_name"] for line in client.result("private/portfolio")}
    assert portfolio == {QUARTERLY, PERP}  # positions live in the legs, never in the roll


async def test_resting_roll_orders_at_any_sign_and_maker_fills(harness, key_pair,
                                                                other_key_pair):
    ex, client = _listed(harness, api_keys={kp.key_id: kp.public_pem
                                            for kp in (key_pair, other_key_pair)})
    roll = "BTC-26MAR27-11DEC26"
    for price in (-25, 0):  # backwardation: a roll's price may be zero or negative
        rested = client.result("private/insert", {"direction": "sell", "instrument_name": roll,
                                                  "amount": 0.1, "price": 2000 + price})
        assert rested["status"] == "open"
    bid = client.result("private/insert", {"direction": "buy", "instrument_name": roll,
                                           "amount": 0.3, "price": -20})
    assert (bid["status"], bid["price"]) == ("open", -20.0)
    bid = client.result("private/amend", {"order_id": bid["order_id"], "price": -25,
                                          "amount": 0.3})
    assert (bid["status"], bid["price"], bid["change_reason"]) == ("open", -25.0, "amend")
    assert client.error_code("private/insert", {"direction": "buy", "instrument_name": roll,
                                                "amount": 0.05, "price": 700}) == 14  # < 0.1
    bought = client.call("private/insert", {"direction": "buy", "instrument_name": roll,
                                            "amount": 0.1, "price": 700,
                                            "reduce_only": True})
    assert bought["error"]["code"] == 37  # no position in a roll to reduce
    other = Client(ex, other_key_pair)
    other.login()
    crowd = sum(level[1] for level in client.result("public/book",
                                                    {"instrument_name": roll})["bids"])
    sold = other.result("private/insert", {"direction": "sell", "instrument_name": roll,
                                           "amount": crowd + 0.3, "price": -25,
                                           "time_in_force": "immediate_or_cancel"})
    assert sold["filled_amount"] == crowd + 0.3  # the crowd's bids, then ours
    state = ex.accounts["test-key"].state(ex.instruments)
    assert state.positions == {QUARTERLY: 0.3, WEEKLY: -0.3}
    other_state = ex.accounts[other_key_pair.key_id].state(ex.instruments)
    assert other_state.positions == {QUARTERLY: -(crowd + 0.3), WEEKLY: crowd + 0.3}
    (row,) = [o for o in ex.accounts["test-key"].closed_orders if o.order_id == bid["order_id"]]
    assert row.fills[0].maker_taker == "maker"
    assert row.fills[0].price_ticks - row.fills[1].price_ticks == -25


async def test_listing_dated_instruments_keeps_the_perpetual_path_of_a_seed(key_pair):
    def path(instruments):
        ex = make_exchange(make_config(key_pair, seed=5, instruments=instruments,
                                       start_time_s=START_S))
        steps = []
        for _ in range(100):
            ex.step_market()
            market = ex.markets[PERP]
            steps.append((market.mid_ticks, market.last_price_ticks, market.mark))
        return steps

    assert path(SimulatorConfig().instruments) == path(thalex_instruments(START_S))


@pytest.mark.parametrize(("legs", "message"), [
    ((), "needs 2 to 4"),
    (((QUARTERLY, 1),), "needs 2 to 4"),
    (((QUARTERLY, 1), (QUARTERLY, -1)), "distinct"),
    (((QUARTERLY, 2), (PERP, -2)), r"\+1 or -1"),
    (((QUARTERLY, 1), (PERP, 0)), "non-zero"),
    (((QUARTERLY, True), (PERP, -1)), "non-zero int"),
])
def test_combination_legs_are_validated(legs, message):
    with pytest.raises(ValueError, match=rf"InstrumentSpec\('R'\)\.legs: .*{message}"):
        InstrumentSpec(instrument_name="R", product="FBTCUSD", underlying="BTCUSD",
                       type="combination", tick_size=1.0, volume_tick_size=0.001,
                       min_order_amount=0.1, legs=legs)
    with pytest.raises(ValueError, match="only a combination has legs"):
        InstrumentSpec(instrument_name="F", product="FBTCUSD", underlying="BTCUSD",
                       tick_size=1.0, volume_tick_size=0.001, min_order_amount=0.001,
                       legs=((PERP, 1), (QUARTERLY, -1)))


def test_combination_legs_must_be_listed_outrights_on_the_same_grid():
    specs = {s.instrument_name: s for s in thalex_instruments(START_S)}
    perps = (specs[PERP], specs["ETH-PERPETUAL"])
    roll = specs[ROLL]
    with pytest.raises(ValueError, match=r"leg 'BTC-26MAR27' is not a listed"):
        SimulatorConfig(instruments=(*perps, roll))
    eth_legged = dataclasses.replace(roll, legs=((QUARTERLY, 1), ("ETH-PERPETUAL", -1)))
    with pytest.raises(ValueError, match="needs the combination's underlying"):
        SimulatorConfig(instruments=(*perps, specs[QUARTERLY], eth_legged))
    with pytest.raises(ValueError, match="is not a listed perpetual or future"):
        SimulatorConfig(instruments=(*perps, specs[QUARTERLY], roll, dataclasses.replace(
            roll, instrument_name="R2", legs=((ROLL, 1), (PERP, -1)))))


async def test_roll_market_data_channels(harness):
    ex, client = _listed(harness)
    got = client.result("public/subscribe", {"channels": [
        f"ticker.{ROLL}.raw", f"book.{ROLL}.none.all.raw", "recent_trades.BTCUSD.future_rolls",
        "recent_trades.BTCUSD.all", "recent_trades.BTC-PERPETUAL.future_rolls"]})
    assert got == [f"ticker.{ROLL}.raw", f"book.{ROLL}.none.all.raw",
                   "recent_trades.BTCUSD.future_rolls", "recent_trades.BTCUSD.all"]
    client.pushes()
    ask = _ticker(client, ROLL)["best_ask_price"]
    client.result("private/insert", {"direction": "buy", "instrument_name": ROLL, "amount": 0.1,
                                     "price": ask})
    client.result("private/insert", {"direction": "buy", "instrument_name": PERP,
                                     "amount": 0.1, "price": 65005})
    ex.step_market()
    ex.publisher.publish_step(0.0)
    notes = {n["channel_name"]: n["notification"] for n in client.pushes()}
    assert [row[4] for row in notes["recent_trades.BTCUSD.future_rolls"]] == [ROLL]
    assert sorted(row[4] for row in notes["recent_trades.BTCUSD.all"]) == sorted([PERP, ROLL])
    assert notes[f"book.{ROLL}.none.all.raw"]["trades"][0][:3] == [ask, 0.1, "buy"]
    assert notes[f"ticker.{ROLL}.raw"]["mark_price"] == ex.markets[ROLL].mark
