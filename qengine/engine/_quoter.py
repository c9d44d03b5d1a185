"""The quoter: the single quoting actor.

The engine's one inbound function is :meth:`Quoter.on_inbound`: io hands it each socket read
(newest market data, then the ordered order/portfolio/trade events); the listener applies it,
and one question follows: quote now? Yes when the read brought a book not quoted on yet and a
cycle can run at once without waiting for an answer (the quoter idle, the gate open, no
reconciliation due, the pacing over): the cycle runs right there, saving a task switch. Order
batches still awaiting their answers do not hold it back: the diff leaves every order with a
request in flight alone, so the cycle acts on the others at once (requests are pipelined).
Otherwise the quoter task is woken; it quotes no sooner than ``min_quote_interval_s`` after the
last cycle, at once on a fill, and at least every ``force_refresh_s``. Both questions are
answered by the decision core's pacing kernels (``pacing_inline``, ``pacing_due``: the backtest
asks the same ones). Every cycle is one fused kernel call, ``engine_tick`` (in the reader it
asks ``pacing_inline`` first, so a quoted tick crosses into Numba once): the levels the gate
allows now, then ``quote_cycle`` (estimators, model, ladder, diff against the live orders) on
the book and the position table; its arrays are bound once and it is called through its
compiled entry point (no per-call argument typing). A read that brought only the quoted
ticker, as raw bytes (the ticker lane), is one call of ``ticker_tick``: the wire decode, the
pacing question and the cycle. io hands a read over in two parts, that ticker first, when its
other frames are only answers and order pushes of live orders without a fill
(``io.read_plan``): the ticker is quoted before the rest is even parsed, and fills are still
booked before a cycle.
The actions go to the order manager.
Cycles never overlap (the old bot's fill-spawned requotes raced its quote loop, bug 9).
"""

from __future__ import annotations

import logging

import trio

from ..clock import now_ns
from ..config import EngineConfig
from ..io import errors as io_errors
from ..io.rpc_session import Inbound
from ..kernels import codes
from ..kernels._jit import entry_point
from ..kernels.decision import engine_tick, pacing_due
from ..kernels.ticker_wire import ticker_tick
from ..strategy.setup import new_pacing_state
from ..telemetry import COUNTER, Telemetry
from ._gate import QuoteGate, Wakeup, deadline_s
from ._listener import Listener
from ._orders import OrderManager
from ._state import EngineState

log = logging.getLogger("qengine.quoter")


class Quoter:
    """Sequences one quote cycle per wake-up; owns ``quotes``, ``diag``, ``actions`` and the
    pacing state."""

    def __init__(self, config: EngineConfig, state: EngineState, listener: Listener,
                 orders: OrderManager, gate: QuoteGate, wakeup: Wakeup,
                 telemetry: Telemetry) -> None:
        self.config = config
        self.state = state
        self.listener = listener
        self.orders = orders
        self.gate = gate
        self.wakeup = wakeup
        self.telemetry = telemetry
        self.cycles = 0
        #: ``PACING_STATE`` (on trio's clock), written only through the pacing kernels.
        self.pacing = new_pacing_state(gate.params, now_ns())
        self._market_seen = self.pacing["market_seen"]  # a view: read before asking the kernel
        #: ``engine_cycle``'s decision arrays: the gate's row is read, never written, here.
        self.decision = (gate.params, gate.state, self.pacing)
        #: ``engine_tick``'s arrays, bound once: the kernel is called through its compiled entry
        #: point (no per-call argument typing), checked here against its signature.
        self._quote_arrays = (state.quote_setup, state.quote_state)
        self._cycle_arrays = (state.positions, state.quote_out, state.orders, state.spec.index,
                              config.quote.amend_threshold_ticks, state.actions)
        self._engine_tick = entry_point(engine_tick, self.decision, 0, 0, False,
                                        *self._quote_arrays, self._book(), *self._cycle_arrays)
        self._lane_args = listener.lane.args
        self._ticker_tick = entry_point(ticker_tick, self.decision, 0, 0, 0, b"",
                                        *self._lane_args, *self._quote_arrays,
                                        *self._cycle_arrays)
        self.counters = telemetry.counters.values
        self._quote_updates = COUNTER["quote_updates"]
        #: True while a cycle runs (in the quoter task or inline in the reader): one at a time.
        self.cycling = False
        self.missed_wake = False
        #: Actions of the cycle the reader's kernel call just ran (None: the task's cycle).
        self._ran: int | None = None

    @property
    def last_levels(self) -> int:
        """Levels per side the last cycle quoted (the gate's answer inside ``engine_tick``)."""
        return int(self.pacing[0]["levels"])

    def _book(self) -> tuple[int, int, int, int, int]:
        book = self.state.book
        return (book.time_ns, book.bid_ticks, book.ask_ticks, book.bid_lots, book.ask_lots)

    def run_cycle(self, inline: bool = False) -> int:
        """Call the fused kernel once on the newest book: one crossing into Numba per tick.

        ``inline`` (the reader, not busy): the kernel first asks the pacing, and returns
        ``codes.TICK_*`` (< 0) when no cycle ran. Otherwise (and when it quoted) it returns the
        number of actions the cycle wrote."""
        started = now_ns()
        n = self._engine_tick(self.decision, started, self.state.book.updates, inline,
                              *self._quote_arrays, self._book(), *self._cycle_arrays)
        if n >= 0:
            self._cycle_ran(n, started)
        return n

    def tick_raw(self, frame: bytes, arrival_ns: int) -> int:
        """The quoted ticker's raw frame, in one kernel call: decode it, ask the pacing, run the
        cycle (as :meth:`run_cycle` inline); the listener then writes the book. Returns
        ``codes.TICK_FALLBACK`` when the frame must be decoded by io (the book, pacing and
        quote state untouched)."""
        book_ns = arrival_ns or now_ns()
        started = now_ns()
        n = self._ticker_tick(self.decision, started, self.state.book.updates + 1, book_ns,
                              frame, *self._lane_args, *self._quote_arrays, *self._cycle_arrays)
        if n == codes.TICK_FALLBACK:
            return n
        self.listener.took_ticker(book_ns)
        if n >= 0:
            self._cycle_ran(n, started)
        return n

    def _cycle_ran(self, n: int, started: int) -> None:
        self.telemetry.quote_cycle.record(now_ns() - started)
        self.cycles += 1
        self.counters[self._quote_updates] += 1
        if log.isEnabledFor(logging.DEBUG):
            diag = self.state.diag[0]
            log.debug("cycle %d: mid %.1f sigma %.3g spread %.1f ticks, %d quotes, %d actions",
                      self.cycles, diag["mid_ticks"], diag["sigma_per_sqrt_s"],
                      diag["spread_ticks"], diag["quote_count"], n)

    async def _wait_for_wake(self) -> int | None:
        """Wait until the pacing kernel says a cycle is due; return the tick time to measure
        from (None: not timed).

        A cycle is due on a fill (at once), on a forced refresh, on a state change or when a
        book update is not quoted on yet (at most every ``min_quote_interval_s``; after a
        pacing pause, a fresh ticker is awaited briefly). Tick-to-quote is measured only when
        a fresh ticker triggered the cycle directly. Fresh tickers are normally quoted on
        inline (see :meth:`on_inbound`); this task covers what that path leaves to it.
        """
        wakeup, book = self.wakeup, self.state.book
        while True:
            flags = ((codes.PACE_FLAG_FILL if wakeup.fill_pending else 0)
                     | (codes.PACE_FLAG_CHANGED if wakeup.changed else 0)
                     | (codes.PACE_FLAG_BUSY if self.cycling else 0))
            due = pacing_due(self.gate.params, self.pacing, now_ns(), book.updates,
                             flags)
            if due == codes.PACE_CYCLE_FRESH:
                return book.time_ns
            if due == codes.PACE_CYCLE:
                return None
            if due == codes.PACE_BUSY:  # the running cycle rings again when it ends
                self.missed_wake = True
            with trio.move_on_at(deadline_s(int(self.pacing[0]["wake_ns"]))):
                await wakeup.wait()

    async def _mass_quote_cycle(self, tick_ns: int | None) -> None:
        self.run_cycle()
        n_quotes = int(self.state.diag[0]["quote_count"])
        if self.listener.take_mm_protection_exhausted():
            self.orders.mm_protection_lost()
        # With no level allowed (halted, stale book) the ladder is empty: pull both sides.
        if self.last_levels == 0:
            n_quotes = 0
        try:
            await self.orders.mass_quote(n_quotes, tick_ns)
        except io_errors.ThalexClientError as exc:
            log.warning("mass quote not sent: %s", exc)

    async def on_inbound(self, inbound: Inbound) -> None:
        """The engine's inbound path: apply one socket read, then quote now or wake the task.

        Tick-to-quote is measured only when this read brought the book: a book left unquoted
        by an earlier read (its cycle had to wait, e.g. for a reconciliation) is quoted, not
        timed."""
        book = self.state.book
        before = book.updates
        market = inbound.market
        if len(market) == 1 and not inbound.events and type(market[0]) is bytes and \
                not self.listener.verbose and self._inline_ok():
            # Only the quoted ticker, raw: decode, pacing and cycle in one kernel call.
            n = self.tick_raw(market[0], inbound.arrival_ns)
            if n != codes.TICK_FALLBACK:
                await self._ran_inline(n, book.time_ns)
                return
            self.listener.apply_fallback(market[0], inbound.arrival_ns)
        else:
            self.listener.apply(inbound)
        if book.updates == self._market_seen[0]:
            return  # no unquoted book (fills and other news rang the wakeup)
        if not self._inline_ok():
            self.wakeup.ring(market=True)  # busy: pacing_inline would say INLINE_WAKE
            return
        # The pacing question and the cycle in one kernel call (``engine_tick``).
        await self._ran_inline(self.run_cycle(inline=True),
                               book.time_ns if book.updates != before else None)

    def _inline_ok(self) -> bool:
        # A cycle here must never await an answer (the reader would wait for itself):
        # reconciliation and mass quotes go through the quoter task.
        return not self.cycling and self.gate.ready and self.orders.sends_without_waiting()

    async def _ran_inline(self, n: int, tick_ns: int | None) -> None:
        if n == codes.TICK_WAKE:
            self.wakeup.ring(market=True)
        elif n != codes.TICK_NONE:
            self._ran = n  # the cycle ran in the kernel call: ``_quote`` sends its actions
            await self._cycle(tick_ns)

    async def _cycle(self, tick_ns: int | None) -> None:
        self.cycling = True
        # What this cycle sees is consumed now; rings during it stay pending for the next one.
        self.wakeup.take()
        try:
            await self._quote(tick_ns)
        finally:
            self._cycle_done()

    def _cycle_done(self) -> None:
        self.cycling = False
        if self.missed_wake:  # a wake-up came in while we were busy: its flags are kept
            self.missed_wake = False
            self.wakeup.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The quoter task: paced cycles, fills, forced refreshes (fresh ticks come inline)."""
        task_status.started()
        while True:
            tick_ns = await self._wait_for_wake()
            await self._cycle(tick_ns)

    async def _quote(self, tick_ns: int | None) -> None:
        n_actions, self._ran = self._ran, None
        if n_actions is None:  # the quoter task's cycle (the reader's ran in its kernel call)
            if self.state.book.time_ns == 0 or not self.gate.ready:
                return
            if not await self.orders.reconcile_if_needed():
                return
            if self.config.order_mode == "mass_quote":
                await self._mass_quote_cycle(tick_ns)
                return
            n_actions = self.run_cycle()
        if n_actions > 0:  # (TICK_NO_BOOK: the reader's cycle had no book to quote on)
            await self.orders.execute(n_actions, tick_ns)
            self.orders.note_success()
