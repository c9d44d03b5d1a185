"""Real trade histories hold rows that are not our fills (transfers, daily marks, expirations,
rows with fields missing): the engine skips and counts them, live and in the catch-up after a
reconnect, keeps quoting and never loops on reconnects; only a broken fill of ours is an error.
Portfolio lines likewise: only an unreadable line of ours is an error, and it never reads as
flat."""

from __future__ import annotations

import logging

import trio

from qengine.io import messages as m

from .conftest import (
    BTC,
    exchange_side_counts,
    hit_bids,
    offline_listener,
    running,
    wait_until,
)

ODD_ROWS = (
    {"trade_type": "internal_transfer", "trade_id": "X1", "amount": 1.0},
    {"trade_type": "daily_mark", "trade_id": "X2", "instrument_name": BTC, "price": 65000.0},
    {"trade_type": "expiration", "trade_id": "X3", "instrument_name": "BTC-26DEC25"},
    {"trade_id": "X4", "instrument_name": "ETH-PERPETUAL", "trade_type": "normal"},
)
#: A fill on our instrument without price and amount: it cannot be cross-checked.
BROKEN_OWN_FILL = {"trade_id": "X5", "instrument_name": BTC, "trade_type": "normal",
                   "direction": "buy"}


def _inject(sim, rows) -> None:
    (account,) = sim.exchange.accounts.values()
    now = sim.exchange.now_s()
    for row in rows:
        row = {**row, "time": now}
        account.trades.append(row)  # private/trade_history returns it after a reconnect
        sim.exchange.emit_account(account, "account.trade_history", row)
    sim.exchange.flush()


async def test_odd_trade_history_rows_are_skipped_and_the_engine_keeps_quoting(
        autojump_clock, caplog):
    caplog.set_level(logging.ERROR, logger="qengine")
    with trio.fail_after(120):
        async with running(quote__levels=3) as (sim, engine):
            counters = engine.telemetry.counters
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            _inject(sim, (*ODD_ROWS, BROKEN_OWN_FILL))
            await wait_until(lambda: counters.snapshot()["rows_skipped"] == 4)
            await wait_until(lambda: counters.snapshot()["own_rows_invalid"] == 1)
            # The catch-up after a reconnect reads our instrument's rows again: no loop, and
            # each row is counted once.
            assert await sim.drop_connections() == 1
            await wait_until(lambda: engine.reconnects == 1)
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            await trio.sleep(30)
            assert engine.reconnects == 1
            snapshot = counters.snapshot()
            assert (snapshot["rows_skipped"], snapshot["own_rows_invalid"]) == (4, 1)
            # Real fills are still booked exactly.
            assert hit_bids(sim, 1) > 0
            await wait_until(lambda: engine.state.position_lots(0)
                             == sim.account_state().position_lots[BTC])
            injected = len(ODD_ROWS) + 1
            assert counters.snapshot()["fills"] == sim.account_state().trade_count - injected
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("our fill X5 on BTC-PERPETUAL" in e and "'price'" in e for e in errors), errors


async def test_portfolio_lines_of_others_are_skipped_and_ours_never_reads_as_flat(caplog):
    caplog.set_level(logging.ERROR, logger="qengine")
    listener = offline_listener()
    position = listener.account.exchange_positions[0]
    good = {"instrument_name": BTC, "position": 0.25, "average_price": 65000}
    listener.account.apply_portfolio([m.decode_portfolio_row(good)], snapshot=True)
    assert position.lots == 250
    other = m.decode_portfolio_row({"instrument_name": "BTC-27MAR26-90000-C", "iv": 0.5})
    ours = m.decode_portfolio_row({"instrument_name": BTC, "mark_price": 65010})
    assert isinstance(other, m.SkippedRow)
    assert ours.reason == "missing required field 'position'"
    listener.account.apply_portfolio([other, ours], snapshot=True)
    assert position.lots == 250  # kept, not flattened
    counters = listener.telemetry.counters.snapshot()
    assert (counters["rows_skipped"], counters["own_rows_invalid"]) == (1, 1)
    assert any(f"the line of {BTC} cannot be read" in r.getMessage() for r in caplog.records)
    unnamed = m.decode_portfolio_row({"position": 3})
    listener.account.apply_portfolio([unnamed], snapshot=True)
    assert position.lots == 250  # a line without a name could be ours: nothing is flattened
    listener.account.apply_portfolio([], snapshot=True)
    assert position.lots == 0  # an empty snapshot still means flat
