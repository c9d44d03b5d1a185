"""The quoter's wake-ups: nothing that should trigger a cycle is lost, nothing redundant runs;
and a transient failure while reconnecting never ends the engine."""

from __future__ import annotations

import trio

from qengine.config import EngineConfig
from qengine.engine._account import Account
from qengine.engine._gate import QuoteGate, Wakeup
from qengine.engine._listener import Listener
from qengine.engine._orders import OrderManager
from qengine.engine._quoter import Quoter
from qengine.engine._state import EngineState, select_instruments
from qengine.io import errors as io_errors
from qengine.io import messages as m
from qengine.io.client import ThalexClient
from qengine.io.rpc_session import Inbound
from qengine.telemetry import Telemetry

from .conftest import BTC, exchange_side_counts, running, wait_until

TICKER = {"best_bid_price": 65000.0, "best_bid_amount": 1.0, "best_ask_price": 65001.0,
          "best_ask_amount": 1.0, "mark_price": 65000.5, "mark_timestamp": 1.0, "index": 65000.0}

_INSTRUMENTS = [m.Instrument(instrument_name=BTC, product="FBTCUSD", type="perpetual",
                             underlying="BTCUSD", tick_size=1.0, volume_tick_size=0.001,
                             min_order_amount=0.001, base_currency="USD",
                             expiration_timestamp=None)]


def _read(*events: m.Notification) -> Inbound:
    """One socket read: a fresh ticker of the quoted instrument, then ``events`` in order."""
    ticker = m.Notification("ticker", BTC, (m.decode_ticker(TICKER, BTC),), False)
    return Inbound(int(trio.current_time() * 1e9), [ticker], list(events))


def _quoter(min_interval_s: float = 0.5) -> tuple[Quoter, list[float]]:
    config = EngineConfig()
    config = EngineConfig(quote=type(config.quote)(min_quote_interval_s=min_interval_s))
    state = EngineState(config, select_instruments(config, _INSTRUMENTS))
    telemetry = Telemetry()
    gate, wakeup = QuoteGate(state.decision_params, state.book), Wakeup()
    listener = Listener(state, telemetry, Account(state, telemetry, wakeup))
    orders = OrderManager(state, listener, telemetry, ThalexClient(), gate, wakeup)
    quoter = Quoter(config, state, listener, orders, gate, wakeup, telemetry)
    gate.open()
    cycles: list[float] = []

    async def fake_quote(tick_ns: int | None) -> None:
        cycles.append(trio.current_time())
        await trio.sleep(0.1)  # a cycle takes a while: wake-ups can arrive meanwhile

    quoter._quote = fake_quote  # type: ignore[method-assign]
    return quoter, cycles


async def test_a_fill_during_a_running_cycle_gets_its_own_cycle(autojump_clock):
    quoter, cycles = _quoter()
    async with trio.open_nursery() as nursery:
        await nursery.start(quoter.run)
        quoter.state.book.updates += 1
        nursery.start_soon(quoter._cycle, None)  # e.g. an inline cycle in the reader
        await trio.sleep(0.05)
        quoter.wakeup.ring(fill=True)  # the fill lands while that cycle runs
        await trio.sleep(1.0)
        nursery.cancel_scope.cancel()
    assert len(cycles) == 2
    assert cycles[1] - cycles[0] < 0.2  # at once, not after the next ticker or a refresh


async def test_state_changes_other_than_the_book_trigger_a_cycle(autojump_clock):
    quoter, cycles = _quoter()
    async with trio.open_nursery() as nursery:
        await nursery.start(quoter.run)
        quoter.wakeup.ring()  # e.g. order replies applied, a risk decision
        await trio.sleep(1.0)
        assert len(cycles) == 1
        quoter.wakeup.ring(market=True)  # a book that is already quoted on: nothing to do
        await trio.sleep(1.0)
        assert len(cycles) == 1
        nursery.cancel_scope.cancel()


async def test_a_timed_out_relogin_reconnects_instead_of_ending_the_engine(autojump_clock,
                                                                          monkeypatch):
    with trio.fail_after(120):
        async with running() as (sim, engine):
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            login = ThalexClient.login
            failures = [1]

            async def flaky_login(self, *args, **kwargs):
                if failures:
                    failures.pop()
                    raise io_errors.RequestTimeout("public/login", 10.0)
                return await login(self, *args, **kwargs)

            monkeypatch.setattr(ThalexClient, "login", flaky_login)
            await sim.drop_connections()
            await wait_until(lambda: engine.reconnects >= 1 and engine.gate.ready)
            assert failures == []  # the failing attempt really happened
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))


async def test_a_read_is_applied_in_order_and_quoted_on_at_once_in_the_reader(autojump_clock):
    quoter, cycles = _quoter()
    seen_at_cycle = []

    async def record(tick_ns: int | None) -> None:
        cycles.append(trio.current_time())
        # The read's events were applied before the question "quote now?" was asked.
        seen_at_cycle.append((quoter.state.book.bid_ticks,
                              quoter.listener.account.exchange_positions[0].lots, tick_ns))

    quoter._quote = record  # type: ignore[method-assign]
    portfolio = m.Notification("account.portfolio", None, (m.decode_portfolio_row(
        {"instrument_name": BTC, "position": 0.25, "average_price": 65000}),), False)
    async with trio.open_nursery() as nursery:
        await nursery.start(quoter.orders.run)  # order replies are collected: sends never wait
        read = _read(portfolio)
        await quoter.on_inbound(read)  # no quoter task running: the cycle ran in this call
        assert seen_at_cycle == [(65000, 250, read.arrival_ns)]
        await quoter.on_inbound(_read())  # within min_quote_interval_s: left to the task
        assert len(cycles) == 1
        assert quoter.wakeup.changed is False  # rung as "market", not as a state change
        nursery.cancel_scope.cancel()


async def test_a_read_while_replies_are_outstanding_is_quoted_on_at_once(autojump_clock):
    # Requests are pipelined: the diff leaves orders with a request in flight alone, so the
    # reader's cycle need not wait for earlier batches' answers (its tick is timed).
    quoter, cycles = _quoter(min_interval_s=0.0)
    ticks: list[int | None] = []

    async def record(tick_ns: int | None) -> None:
        cycles.append(trio.current_time())
        ticks.append(tick_ns)

    quoter._quote = record  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        await nursery.start(quoter.orders.run)
        quoter.orders.in_flight = 2  # two order batches' answers are still to come
        read = _read()
        await quoter.on_inbound(read)
        assert ticks == [read.arrival_ns]  # inline, in the reader, and timed from the read
        nursery.cancel_scope.cancel()


async def test_a_read_while_a_reconciliation_is_due_wakes_the_quoter_task(autojump_clock):
    quoter, cycles = _quoter(min_interval_s=0.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(quoter.orders.run)
        quoter.orders.reconcile_needed = True  # the reconciliation awaits the exchange
        await quoter.on_inbound(_read())
        assert cycles == []  # not inline: the reader must never wait for an answer
        nursery.cancel_scope.cancel()


async def test_a_book_left_unquoted_by_an_earlier_read_is_quoted_but_not_timed(autojump_clock):
    quoter, cycles = _quoter(min_interval_s=0.0)
    ticks: list[int | None] = []

    async def record(tick_ns: int | None) -> None:
        cycles.append(trio.current_time())
        ticks.append(tick_ns)

    quoter._quote = record  # type: ignore[method-assign]
    portfolio = m.Notification("account.portfolio", None, (m.decode_portfolio_row(
        {"instrument_name": BTC, "position": 0.0}),), False)
    async with trio.open_nursery() as nursery:
        await nursery.start(quoter.orders.run)
        quoter.orders.reconcile_needed = True
        await quoter.on_inbound(_read())  # a reconciliation is due: the book waits
        quoter.orders.reconcile_needed = False
        await trio.sleep(0.1)
        await quoter.on_inbound(Inbound(int(trio.current_time() * 1e9), [], [portfolio]))
        nursery.cancel_scope.cancel()
    assert ticks == [None]  # quoted at once, but its tick-to-quote would include the wait
