"""The quoter: the single quoting actor.

It wakes on fresh market state (conflated: it always works on the newest book), no sooner than
``min_quote_interval_s`` after its last cycle, at once on a fill, and at least every
``force_refresh_s``. Each wake-up runs one fused kernel call (``quote_cycle``: estimators, model,
ladder, diff against the live orders) and hands the resulting actions to the order manager.
There is never a second concurrent quoting task (the old bot's fill-spawned requotes raced its
quote loop, bug 9).
"""

from __future__ import annotations

import logging
import math

import trio

from .clock import now_ns
from .config import EngineConfig
from .io import errors as io_errors
from .kernels.quote_cycle import quote_cycle
from .listener import Listener
from .order_manager import OrderManager
from .risk import RiskControl
from .state import EngineState
from .telemetry import COUNTER, Telemetry
from .units import ns_to_seconds

log = logging.getLogger("qengine.quoter")

#: After a pacing pause, how long to wait for a fresh ticker before quoting on the aged book.
FRESH_TICK_WAIT_S = 0.2



class Quoter:
    """Sequences one quote cycle per wake-up; owns ``quotes``, ``diag`` and ``actions``."""

    def __init__(self, config: EngineConfig, state: EngineState, listener: Listener,
                 orders: OrderManager, control: RiskControl, telemetry: Telemetry) -> None:
        self.config = config
        self.state = state
        self.listener = listener
        self.orders = orders
        self.control = control
        self.telemetry = telemetry
        self.wake = trio.Event()
        self.fill_pending = False
        #: False while (re)connecting: nothing is quoted until orders and positions reconciled.
        self.ready = False
        self.cycles = 0
        self.last_cycle_s = -math.inf
        #: True while a cycle runs (in the quoter task or inline in the reader): one at a time.
        self.cycling = False
        self.missed_wake = False
        #: Something other than the book changed since the last cycle started.
        self.changed = False
        #: ``book.updates`` seen by the last cycle.
        self.market_seen = 0

    def poke(self, *, fill: bool = False, market: bool = False) -> None:
        """Wake the quoter (sync; called from callbacks and other tasks).

        ``fill``: quote at once, skipping the pacing. ``market``: only a new book (a cycle is
        due only if that book is not quoted on yet); any other poke (order replies, risk
        decisions, reconnects) means the state changed and a cycle is due.
        """
        if fill:
            self.fill_pending = True
        if not market:
            self.changed = True
        self.wake.set()

    def levels_allowed(self) -> int:
        """Levels per side right now: 0 when halted, not ready or the book is stale."""
        if not self.ready:
            return 0
        book_age_s = ns_to_seconds(now_ns() - self.state.book.time_ns)
        if self.state.book.time_ns == 0 or book_age_s > self.config.quote.max_book_age_s:
            return 0
        return self.control.levels_allowed

    def run_cycle(self) -> int:
        """Run the fused kernel once on the newest book; return the number of actions."""
        state, book = self.state, self.state.book
        started = now_ns()
        inputs = (book.time_ns, book.bid_ticks, book.ask_ticks, book.bid_lots, book.ask_lots,
                  state.position_lots(0), self.levels_allowed())
        n = quote_cycle(
            state.quote_setup, state.quote_state, inputs, state.quote_out, state.orders,
            state.spec.index, self.config.quote.amend_threshold_ticks, state.actions,
        )
        self.telemetry.quote_cycle.record(now_ns() - started)
        self.cycles += 1
        self.telemetry.counters.values[COUNTER["quote_updates"]] += 1
        if log.isEnabledFor(logging.DEBUG):
            diag = state.diag[0]
            log.debug("cycle %d: mid %.1f sigma %.3g spread %.1f ticks, %d quotes, %d actions",
                      self.cycles, diag["mid_ticks"], diag["sigma_per_sqrt_s"],
                      diag["spread_ticks"], diag["quote_count"], n)
        return max(n, 0)

    async def _wait_for_wake(self) -> tuple[bool, int | None]:
        """Wait until a cycle is due; return (run a cycle?, tick time to measure from).

        A cycle is due on a fill (at once), on a forced refresh, or when a book update is not
        quoted on yet (at most every ``min_quote_interval_s``). Tick-to-quote is measured only
        when a fresh ticker triggered the cycle directly: not after a pacing pause (the book
        aged), not for fills or refreshes. Fresh tickers are normally quoted on inline (see
        :meth:`on_market_batch`); this task covers what that path leaves to it.
        """
        q = self.config.quote
        with trio.move_on_after(q.force_refresh_s) as timer:
            await self.wake.wait()
        self.wake = trio.Event()
        aged = False
        since = trio.current_time() - self.last_cycle_s
        if not self.fill_pending and since < q.min_quote_interval_s:
            await trio.sleep(q.min_quote_interval_s - since)
            if not self.fill_pending:
                # Pacing is over: the next ticker is quoted on as it arrives (inline, or by a
                # poke back here). Only if none comes soon, quote on the book that aged.
                before = self.state.book.updates
                self.wake = trio.Event()
                with trio.move_on_after(FRESH_TICK_WAIT_S):
                    await self.wake.wait()
                self.wake = trio.Event()
                aged = self.state.book.updates == before
        fill = self.fill_pending
        unquoted = self.state.book.updates != self.market_seen
        if not (fill or self.changed or timer.cancelled_caught or unquoted):
            return False, None  # the inline path already quoted on this book
        fresh = unquoted and not aged and not fill
        return True, self.state.book.time_ns if fresh else None

    async def _mass_quote_cycle(self, tick_ns: int | None) -> None:
        self.run_cycle()
        n_quotes = int(self.state.diag[0]["quote_count"])
        if self.listener.mm_protection_exhausted:
            self.listener.mm_protection_exhausted = False
            self.orders.mm_protection_needed = True
            self.orders.last_mass_quote = None
        # With no level allowed (halted, stale book) the ladder is empty: pull both sides.
        if self.levels_allowed() == 0:
            n_quotes = 0
        try:
            await self.orders.mass_quote(n_quotes, tick_ns)
        except io_errors.ThalexClientError as exc:
            log.warning("mass quote not sent: %s", exc)

    async def on_market_batch(self, events_in_read: bool = False) -> None:
        """After the reader applied a socket read that carried a fresh ticker: quote at once in
        the reader's task when the quoter is idle and no pacing applies (this saves a task
        switch on the hot path); otherwise wake the quoter task. Cycles never overlap.

        ``events_in_read``: the same read also carried order/portfolio pushes, which the
        listener task applies later; quoting inline would use the table from before them.
        """
        if self.state.book.updates == self.market_seen:
            return  # no ticker in this read
        # Never await an RPC answer here (this is the reader: it would wait for itself), so
        # reconciliation and mass quotes go through the quoter task.
        # While order replies are outstanding, leave it to the quoter task: it conflates
        # several reads into one cycle, so a fast feed cannot make us quote per read.
        if self.cycling or self.fill_pending or not self.ready or self.orders.in_flight or \
                events_in_read or not self.orders.collecting_replies or \
                self.orders.reconcile_needed or self.config.order_mode != "orders" or \
                trio.current_time() - self.last_cycle_s < self.config.quote.min_quote_interval_s:
            self.poke(market=True)
            return
        await self._cycle(self.state.book.time_ns)

    async def _cycle(self, tick_ns: int | None) -> None:
        self.cycling = True
        # What this cycle sees is consumed now; pokes during it stay pending for the next one.
        self.fill_pending = False
        self.changed = False
        try:
            self.last_cycle_s = trio.current_time()
            self.market_seen = self.state.book.updates
            await self._quote(tick_ns)
        finally:
            self.cycling = False
            if self.missed_wake:  # a wake-up came in while we were busy: its flags are kept
                self.missed_wake = False
                self.wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The quoter task: paced cycles, fills, forced refreshes (fresh ticks come inline)."""
        task_status.started()
        while True:
            due, tick_ns = await self._wait_for_wake()
            if not due:
                continue
            if self.cycling:
                self.missed_wake = True
                continue
            await self._cycle(tick_ns)

    async def _quote(self, tick_ns: int | None) -> None:
        if self.state.book.time_ns == 0 or not self.ready:
            return
        if self.orders.reconcile_needed:
            try:
                await self.orders.reconcile_orders()
            except io_errors.ThalexClientError as exc:
                self.orders.reconcile_needed = True  # keep trying; never die on it
                log.warning("order reconciliation failed (%s); retrying", exc)
                return
        if self.config.order_mode == "mass_quote":
            await self._mass_quote_cycle(tick_ns)
            return
        n_actions = self.run_cycle()
        if n_actions:
            await self.orders.execute(n_actions, tick_ns)
            self.orders.note_success()
