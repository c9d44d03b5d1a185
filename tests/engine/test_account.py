"""The account on its own, without a listener: it books a trade history exactly once, adopts the
exchange's portfolio after the grace period (at once when forced), and takes the newest exchange
time of the market (the book, the listener's) or of a fill as the adoption cutoff."""

from __future__ import annotations

import pytest
import trio

from qengine.engine._account import RECONCILE_GRACE_S, Account
from qengine.engine._gate import Wakeup
from qengine.io import messages as m
from qengine.telemetry import Telemetry

from .conftest import btc_state

BTC = "BTC-PERPETUAL"
LOT = 0.001
PRICE = 65000.0


def _account() -> Account:
    return Account(btc_state(), Telemetry(), Wakeup())


def _trade(trade_id: str, lots: int, time_s: float, direction: str = "buy") -> m.Trade:
    return m.decode_trade({"trade_id": trade_id, "order_id": "X1", "instrument_name": BTC,
                           "direction": direction, "price": PRICE, "amount": lots * LOT,
                           "maker_taker": "maker", "time": time_s, "trade_type": "normal"})


def _portfolio(lots: int) -> list[m.PortfolioEntry | m.SkippedRow]:
    return [m.decode_portfolio_row({"instrument_name": BTC, "position": lots * LOT,
                                    "average_price": PRICE})]


async def test_a_trade_history_is_booked_once_and_rings_the_quoter():
    account = _account()
    account.apply_trades([_trade("T1", 3, 10.0), _trade("T2", 2, 11.0, "sell")])
    assert account.state.position_lots(0) == 1
    assert account.wakeup.fill_pending
    account.apply_trades([_trade("T1", 3, 10.0)])  # re-read: a duplicate, not booked again
    counters = account.telemetry.counters.snapshot()
    assert (account.state.position_lots(0), counters["fills"], counters["duplicate_fills"]) == (
        1, 2, 1)
    assert account.exchange_time_s == 11.0  # no ticker yet: the newest fill's


async def test_trades_of_earlier_runs_are_never_booked():
    account = _account()
    account.know_trades(["OLD"])
    account.apply_trades([_trade("OLD", 4, 5.0)])
    assert account.state.position_lots(0) == 0
    assert account.telemetry.counters.snapshot()["fills"] == 0


async def test_a_portfolio_mismatch_is_adopted_after_the_grace_period(autojump_clock):
    account = _account()
    account.apply_trades([_trade("T1", 3, 10.0)])
    account.apply_portfolio(_portfolio(5), snapshot=True)
    assert account.exchange_positions[0].lots == 5
    assert account.reconcile_positions() == 0  # the mismatch is fresh: pushes may be in flight
    assert account.state.position_lots(0) == 3
    await trio.sleep(RECONCILE_GRACE_S)
    assert account.reconcile_positions() == 1
    assert account.state.position_lots(0) == 5
    assert account.adoption_cutoff_s == 10.0
    # A fill never booked from before the cutoff is inside the adopted position already.
    account.apply_trades([_trade("T0", 2, 9.0)])
    assert (account.state.position_lots(0), account.skipped_adopted_fills) == (5, 1)
    # One after it moves the position.
    account.apply_trades([_trade("T3", 1, 12.0)])
    assert account.state.position_lots(0) == 6


@pytest.mark.parametrize(("ticker_s", "fill_s", "cutoff_s"), [
    (20.0, 10.0, 20.0),  # the ticker's mark is newer than any fill
    (20.0, 30.0, 30.0),  # a fill is newer than the last ticker
])
async def test_a_forced_adoption_cuts_off_at_the_newest_exchange_time(ticker_s, fill_s,
                                                                      cutoff_s):
    account = _account()
    account.state.book.exchange_time_s = ticker_s  # as the listener writes it
    account.apply_trades([_trade("T1", 3, fill_s)])
    account.apply_portfolio(_portfolio(7), snapshot=True)
    assert account.reconcile_positions(force=True) == 1
    assert (account.state.position_lots(0), account.adoption_cutoff_s) == (7, cutoff_s)
