"""Whether the engine may quote now, and when the quoter should wake: one owner for each flag.

:class:`QuoteGate` is the only writer of what allows quoting: ``ready`` (the session is
connected and reconciled; written by the session), the risk state (halted, stopped, paused,
recovery levels; written through the risk monitor's calls) and the book's freshness (read from
the book). Everyone else asks it: the quoter for the levels of a cycle, the order manager right
before an insert leaves, the heartbeat and the status line.

:class:`Wakeup` is the quoter's doorbell: other services ring it (a fill, a changed state, a new
book); only the quoter takes what was rung.
"""

from __future__ import annotations

import trio

from ..clock import now_ns
from ..units import seconds_to_ns
from ._state import Book


class QuoteGate:
    """Levels per side the engine may quote now: 0 when not ready, halted, paused or stale."""

    def __init__(self, levels: int, book: Book, max_book_age_s: float) -> None:
        self.full_levels = levels
        self._book = book
        self._max_book_age_ns = seconds_to_ns(max_book_age_s)
        self._ready = False
        self._halted = False
        self._stopped = False
        self._paused = False
        self._recovering = False
        self._recovery_step = 0
        self._halt_reason = ""

    # -- read by everyone -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Connected, logged in and reconciled: the session lets quoting start."""
        return self._ready

    @property
    def halted(self) -> bool:
        """A breach paused (or stopped) quoting."""
        return self._halted

    @property
    def stopped(self) -> bool:
        """Halted for good (a ``STOP`` breach, or a pause while recovery is disabled)."""
        return self._stopped

    @property
    def paused(self) -> bool:
        """A risk action is in progress (e.g. a take profit): quote nothing meanwhile."""
        return self._paused

    @property
    def recovering(self) -> bool:
        """Quoting again after a pause, on fewer levels than configured."""
        return self._recovering

    @property
    def recovery_step(self) -> int:
        """Steps of the gradual recovery taken so far (0 when not recovering)."""
        return self._recovery_step

    @property
    def halt_reason(self) -> str:
        """The breaches behind the last halt."""
        return self._halt_reason

    @property
    def levels_allowed(self) -> int:
        """Levels per side the risk state allows (0 when halted or paused)."""
        if self._halted or self._paused:
            return 0
        if self._recovering:
            return max(1, min(self._recovery_step, self.full_levels))
        return self.full_levels

    def levels_now(self) -> int:
        """Levels per side to quote now: also 0 when not ready or the book is stale."""
        if not self._ready:
            return 0
        book_time_ns = self._book.time_ns
        if book_time_ns == 0 or now_ns() - book_time_ns > self._max_book_age_ns:
            return 0
        return self.levels_allowed

    def may_quote_level(self, level: int) -> bool:
        """Asked right before an insert leaves: a halt that landed while a cycle's requests were
        prepared must stop the inserts not yet on the wire."""
        return self._ready and level < self.levels_allowed

    # -- the session's switch ---------------------------------------------------------------------

    def open(self) -> None:
        """Connected and reconciled: quoting may start."""
        self._ready = True

    def close(self) -> None:
        """Disconnected, reconnecting or leaving: nothing new is sent."""
        self._ready = False

    # -- the risk monitor's switches --------------------------------------------------------------

    def halt(self, reason: str, *, for_good: bool, restart_recovery: bool = True) -> None:
        """Stop quoting for ``reason``; ``for_good`` means no recovery this session."""
        self._halted = True
        self._halt_reason = reason
        self._stopped = self._stopped or for_good
        if restart_recovery:
            self._recovering = False
            self._recovery_step = 0

    def pause(self) -> None:
        """Quote nothing while a risk action runs."""
        self._paused = True

    def resume(self) -> None:
        """The risk action is over."""
        self._paused = False

    def recover_one_step(self, steps: int) -> bool:
        """Lift the halt and quote one more level; return True when all levels are back."""
        self._halted = False
        self._recovering = True
        self._recovery_step += 1
        if self._recovery_step >= steps:
            self._recovering = False
            self._recovery_step = 0
            return True
        return False


class Wakeup:
    """The quoter's doorbell: rung by anyone (sync), taken only by the quoter."""

    def __init__(self) -> None:
        self._event = trio.Event()
        self._fill = False
        self._changed = False

    def ring(self, *, fill: bool = False, market: bool = False) -> None:
        """``fill``: quote at once, skipping the pacing. ``market``: only a new book (a cycle is
        due only if that book is not quoted on yet); any other ring (order replies, risk
        decisions, reconnects) means the state changed and a cycle is due."""
        if fill:
            self._fill = True
        if not market:
            self._changed = True
        self._event.set()

    @property
    def fill_pending(self) -> bool:
        """A fill rang since the quoter last took the flags."""
        return self._fill

    @property
    def changed(self) -> bool:
        """Something other than the book changed since the quoter last took the flags."""
        return self._changed

    def set(self) -> None:
        """Wake the quoter with the flags as they are (a wake-up it missed while busy)."""
        self._event.set()

    def take(self) -> None:
        """The quoter starts a cycle: what it sees is consumed; later rings stay pending."""
        self._fill = False
        self._changed = False

    async def wait(self) -> None:
        """Wait for the next ring (the quoter task)."""
        await self._event.wait()
        self._event = trio.Event()

    def clear(self) -> None:
        """Forget a ring that came before now (the quoter waits for a newer one)."""
        self._event = trio.Event()
