"""Whether the engine may quote now, and when the quoter should wake: one owner for each flag.

:class:`QuoteGate` owns the decision core's ``GATE_STATE`` row and is its only writer: ``ready``
(the session is connected and reconciled; switched by the session) and the risk state (halted,
stopped, paused, recovery levels, the take-profit phase), written by the ``risk_step`` kernel,
which the gate runs for the risk monitor. The levels a cycle may quote (also 0 on a stale book)
are decided inside the quoter's ``engine_cycle`` kernel, from this row. Everyone else asks the
gate: the order manager right before an insert leaves, the heartbeat and the status line.

:class:`Wakeup` is the quoter's doorbell: other services ring it (a fill, a changed state, a new
book); only the quoter takes what was rung.
"""

from __future__ import annotations

import numpy as np
import trio

from ..kernels.risk_actions import risk_step
from ..strategy.rules import breach_names
from ..strategy.setup import new_gate_state
from ._state import Book


def deadline_s(ns: int) -> float:
    """A kernel's deadline (``clock.now_ns`` ns) as a trio deadline, 1 ns late so that
    ``now_ns()`` (which truncates) never reads it as not reached yet."""
    return (ns + 1) / 1e9


class QuoteGate:
    """Levels per side the engine may quote: 0 when not ready, halted or paused."""

    def __init__(self, params: np.ndarray, book: Book) -> None:
        #: ``DECISION_PARAMS`` (read only).
        self.params = params
        #: ``GATE_STATE``: written only by this object (``open``/``close``, ``risk_step``).
        self.state = new_gate_state()
        self.full_levels = int(params[0]["full_levels"])
        self._book = book
        self._ready = False
        #: ``levels_allowed`` of the kernel's last step (asked per insert).
        self._allowed = self.full_levels

    def _flag(self, name: str) -> bool:
        return bool(self.state[0][name])

    # -- read by everyone -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Connected, logged in and reconciled: the session lets quoting start."""
        return self._ready

    @property
    def halted(self) -> bool:
        """A breach paused (or stopped) quoting."""
        return self._flag("halted")

    @property
    def stopped(self) -> bool:
        """Halted for good (a ``STOP`` breach, or a pause while recovery is disabled)."""
        return self._flag("stopped")

    @property
    def paused(self) -> bool:
        """A risk action is in progress (a take profit): quote nothing meanwhile."""
        return self._flag("paused")

    @property
    def recovering(self) -> bool:
        """Quoting again after a pause, on fewer levels than configured."""
        return self._flag("recovering")

    @property
    def recovery_step(self) -> int:
        """Steps of the gradual recovery taken so far (0 when not recovering)."""
        return int(self.state[0]["recovery_step"])

    @property
    def halt_reason(self) -> str:
        """The breaches behind the last halt."""
        return breach_names(int(self.state[0]["halt_mask"])) if self.halted else ""

    @property
    def levels_allowed(self) -> int:
        """Levels per side the risk state allows (0 when halted or paused)."""
        return self._allowed

    def may_quote_level(self, level: int) -> bool:
        """Asked right before an insert leaves: a halt that landed while a cycle's requests were
        prepared must stop the inserts not yet on the wire."""
        return self._ready and level < self._allowed

    # -- the session's switch ---------------------------------------------------------------------

    def open(self) -> None:
        """Connected and reconciled: quoting may start."""
        self._ready = True
        self.state[0]["ready"] = 1

    def close(self) -> None:
        """Disconnected, reconnecting or leaving: nothing new is sent."""
        self._ready = False
        self.state[0]["ready"] = 0

    # -- the risk monitor's step ------------------------------------------------------------------

    def risk_step(self, limits: np.ndarray, risk_state: np.ndarray, inputs: np.ndarray,
                  action: np.ndarray) -> int:
        """Run the risk state machine once on this gate (``kernels.risk_actions.risk_step``);
        return its ``call_again``. The caller carries out ``action``."""
        call = int(risk_step(self.params, limits, risk_state, self.state, inputs, action))
        self._allowed = int(action[0]["levels_allowed"])
        return call


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
