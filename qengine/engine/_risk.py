"""The risk monitor: adaptive-interval limit checks, breach actions and the recovery state machine.

Fixes the old bot's risk bugs (original-quoter.md 9, items 1, 2, 4, 5, 6, 15): the monitor is a
supervised task that never exits on a breach or a disconnect; each breach has its own action
(every breach pulls the quotes at once; a stop loss also flattens with a reduce-only IOC limit
inside the collar and halts; a take profit flattens only when the touch is better than the entry
and halts only if configured); recovery really quotes fewer levels (1, then 2, ..., then all)
and honours ``recovery_enabled`` and ``flatten_position_enabled``.

What each breach kind does is one table, :data:`BREACH_RULES` (README.md, "Risk", shows it):
which kinds pause and recover, which stop quoting for good, which flatten, and that the
consecutive-loss streak restarts when its pause starts (or it could never lift).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

import trio

from ..clock import now_ns
from ..config import EngineConfig
from ..io import errors as io_errors
from ..kernels import codes
from ..kernels.risk import risk_check
from ..strategy import rules
from ..telemetry import COUNTER, Telemetry
from ..units import bps_to_fraction
from ._gate import QuoteGate, Wakeup
from ._state import EngineState

log = logging.getLogger("qengine.risk")

_HALTING = rules.HALT_MASK
_STOPPING = rules.STOP_MASK
_TAKE_PROFIT = rules.TAKE_PROFIT_MASK
_FLATTEN_ALL = rules.FLATTEN_ALL_MASK
_FLATTEN_TO_THRESHOLD = rules.FLATTEN_TO_THRESHOLD_MASK
BREACH_RULES, PAUSE, breach_names = rules.BREACH_RULES, rules.PAUSE, rules.breach_names


class RiskMonitor:
    """Periodic checks on an adaptive interval; acts through the order manager's hooks."""

    def __init__(self, config: EngineConfig, state: EngineState, telemetry: Telemetry,
                 gate: QuoteGate, wakeup: Wakeup, *,
                 cancel_everything: Callable[[str], Awaitable[None]],
                 flatten: Callable[[int, int, str], Awaitable[int]],
                 reconcile_positions: Callable[[], int],
                 wait_next_ticker: Callable[[], Awaitable[None]]) -> None:
        self.config = config
        self.state = state
        self.telemetry = telemetry
        #: Written only through its switches (halt, pause, resume, recover_one_step).
        self.gate = gate
        self.wakeup = wakeup
        self.cancel_everything = cancel_everything
        self.flatten = flatten
        self.reconcile_positions = reconcile_positions
        self.wait_next_ticker = wait_next_ticker
        self.take_profit_next_s = 0.0
        self.last_mask = 0
        #: ``round_trip_count`` when the last consecutive-losses pause started: only round trips
        #: after it count towards the streak.
        self.streak_start_trips = 0
        self.breaches = 0
        self.cooldown_until_s = 0.0
        self.last_recovery_check_s = -math.inf

    def interval_s(self) -> float:
        """Adaptive check interval: fast above a large position, slow when nearly flat."""
        r = self.config.risk
        size = abs(self.state.position())
        if size > r.large_position:
            return r.monitor_fast_interval_s
        if size < r.small_position:
            return r.monitor_slow_interval_s
        return r.monitor_interval_s

    def equity_quote(self) -> float:
        """Equity for the drawdown check: base capital + realised - fees + funding + unrealised."""
        pos = self.state.positions[0]
        upnl = self.unrealised_quote()
        if not math.isfinite(upnl):
            upnl = 0.0
        return (self.config.risk.drawdown_base_usd + float(pos["realised_pnl_quote"])
                - float(pos["maker_fees_quote"]) - float(pos["taker_fees_quote"])
                + float(pos["funding_quote"]) + upnl)

    def unrealised_quote(self) -> float:
        """Unrealised PnL of the quoted instrument at the mark (NaN without a mark)."""
        return self.state.unrealised_quote()

    def losing_streak(self) -> int:
        """Losing round trips in a row since the last winning one or the last consecutive-losses
        pause, whichever came later (a halted engine makes no round trips, so a streak that
        never restarted would never let the pause lift)."""
        pos = self.state.positions[0]
        since_pause = int(pos["round_trip_count"]) - self.streak_start_trips
        return max(0, min(int(pos["losing_streak"]), since_pause))

    def check(self) -> int:
        """Run the limit kernel once; return the breach mask."""
        state = self.state
        pos = state.positions[0]
        mark = state.book.mark_ticks
        return int(risk_check(state.risk_limits, state.risk_state, int(pos["position_lots"]),
                              int(pos["cost_ticks_lots"]),
                              mark if math.isfinite(mark) else math.nan,
                              state.spec.lot_tick_value, self.equity_quote(),
                              self.losing_streak(), now_ns()))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The monitor task: never exits on a breach, an error or a disconnect."""
        task_status.started()
        while True:
            await trio.sleep(self.interval_s())
            try:
                await self.step()
            except (io_errors.ThalexClientError, io_errors.ConnectionLost) as exc:
                # A disconnect or a refused request must not end monitoring (old bug 1).
                self.telemetry.counters.values[COUNTER["errors"]] += 1
                log.warning("risk action failed (%s); checking again in %.1f s", exc,
                            self.interval_s())

    async def step(self) -> None:
        """One pass: reconcile positions, check limits, act, advance recovery."""
        self.reconcile_positions()
        mask = self.check()
        new = mask & ~self.last_mask
        self.last_mask = mask
        if mask & _HALTING:
            await self._on_halting_breach(mask, new)
        elif mask & _TAKE_PROFIT:
            await self._take_profit(mask)
        if mask & codes.RISK_NO_MARK and new & codes.RISK_NO_MARK:
            log.error("position open but no usable mark price: price checks skipped")
        if not mask & _HALTING:
            self._advance_recovery()

    async def _on_halting_breach(self, mask: int, new: int) -> None:
        gate, r = self.gate, self.config.risk
        newly = not gate.halted or bool(new & _HALTING)
        if newly:
            self.breaches += 1
            self.telemetry.counters.values[COUNTER["risk_breaches"]] += 1
            log.error("RISK BREACH: %s (position %s, upnl %.2f USD); quotes cancelled",
                      breach_names(mask & _HALTING), self.state.position(),
                      self.unrealised_quote())
        for_good = bool(mask & _STOPPING) or not r.recovery_enabled
        if for_good and not gate.stopped:
            log.error("quoting stopped for the rest of the session (%s)",
                      breach_names(mask & _HALTING))
        gate.halt(breach_names(mask & _HALTING), for_good=for_good)
        self.cooldown_until_s = trio.current_time() + r.recovery_cooldown_s
        if mask & codes.RISK_CONSECUTIVE_LOSSES:
            # The streak restarts with the pause; later losing round trips count anew.
            self.streak_start_trips = int(self.state.positions[0]["round_trip_count"])
        self.wakeup.ring()
        if newly:  # once per breach: the halted quoter's diff cancels anything that remains
            await self.cancel_everything(gate.halt_reason)
        if r.flatten_position_enabled:
            if mask & _FLATTEN_ALL:
                await self._flatten_all(breach_names(mask & _FLATTEN_ALL))
            elif mask & _FLATTEN_TO_THRESHOLD:
                await self._reduce_to_recovery_threshold()

    def flatten_limit_ticks(self, selling: bool) -> int:
        """Limit of a flatten order: ``flatten_slippage_bps`` through the touch (the mark when
        that side is empty), rounded to a tick *inside* the exchange's collar.

        A reduce-only IOC never trades beyond the position; the limit bounds the price paid.
        """
        book = self.state.book
        slip = bps_to_fraction(self.config.risk.flatten_slippage_bps)
        mark = book.mark_ticks if math.isfinite(book.mark_ticks) else 0.0
        if selling:
            touch = book.bid_ticks if book.bid_ticks > 0 else mark
            limit = math.floor(touch * (1.0 - slip))
            if book.collar_low_ticks > 0:  # collar_low bounds new asks from below
                limit = max(limit, math.ceil(book.collar_low_ticks - 1e-9))
            return max(limit, 0)
        touch = book.ask_ticks if book.ask_ticks > 0 else mark
        limit = math.ceil(touch * (1.0 + slip)) if touch > 0 else 0
        if book.collar_high_ticks > 0:  # collar_high bounds new bids from above
            limit = min(limit, math.floor(book.collar_high_ticks + 1e-9))
        return max(limit, 0)

    async def _flatten_all(self, reason: str) -> None:
        lots = self.state.position_lots()
        if lots == 0:
            return
        await self.flatten(lots, self.flatten_limit_ticks(selling=lots > 0), reason)

    def recovery_threshold_lots(self) -> int:
        """Largest |position| in lots under which a pause may lift: ``recovery_threshold_pct``
        of the position limit and of the notional limit (at the mark)."""
        r, limits, state = self.config.risk, self.state.risk_limits[0], self.state
        target = int(int(limits["max_position_lots"]) * r.recovery_threshold_pct)
        mark = state.book.mark_ticks
        per_lot = (mark if math.isfinite(mark) else 0.0) * state.spec.lot_tick_value
        if per_lot > 0:
            target = min(target, math.floor(r.recovery_threshold_pct
                                            * float(limits["max_notional_quote"]) / per_lot))
        return target

    async def _reduce_to_recovery_threshold(self) -> None:
        lots = self.state.position_lots()
        excess = abs(lots) - self.recovery_threshold_lots()
        if excess > 0:
            signed = excess if lots > 0 else -excess
            await self.flatten(signed, self.flatten_limit_ticks(selling=lots > 0),
                               "position above the recovery threshold")

    async def _take_profit(self, mask: int) -> None:
        r = self.config.risk
        now = trio.current_time()
        if now < self.take_profit_next_s:
            return
        self.take_profit_next_s = now + max(r.take_profit_check_interval_s,
                                            r.take_profit_cooldown_s)
        lots = self.state.position_lots()
        pos = self.state.positions[0]
        if lots == 0 or int(pos["position_lots"]) == 0:
            return
        entry_ticks = abs(int(pos["cost_ticks_lots"])) / abs(lots)
        if self._touch_beyond(entry_ticks, lots) is None:
            return
        reason = breach_names(mask & (codes.RISK_TAKE_PROFIT | codes.RISK_UPNL_TAKE_PROFIT))
        # Pause quoting and pull our quotes first: the touch may have been our own order.
        # Then judge the guard again on a book that arrived after the cancel.
        self.gate.pause()
        try:
            await self.cancel_everything(f"take profit ({reason})")
            await self._wait_fresh_book()
            limit = self._touch_beyond(entry_ticks, lots)
            if limit is not None:
                log.info("TAKE PROFIT (%s): upnl %.2f USD, closing %s at the touch", reason,
                         self.unrealised_quote(), self.state.position())
                await self.flatten(lots, limit, f"take profit ({reason})")
        finally:
            self.gate.resume()
        if r.take_profit_halts:  # a pause: cooldown, then gradual recovery
            self.gate.halt(f"take profit ({reason})", for_good=False, restart_recovery=False)
            self.cooldown_until_s = now + r.recovery_cooldown_s
        self.wakeup.ring()

    def _touch_beyond(self, entry_ticks: float, lots: int) -> int | None:
        # The touch we would hit, when it is better than the entry (the old bot's guard).
        book = self.state.book
        if lots > 0:
            return book.bid_ticks if book.bid_ticks > entry_ticks else None
        return book.ask_ticks if 0 < book.ask_ticks < entry_ticks else None

    async def _wait_fresh_book(self, timeout_s: float = 1.0) -> None:
        with trio.move_on_after(timeout_s):
            await self.wait_next_ticker()

    def _advance_recovery(self) -> None:
        gate, r = self.gate, self.config.risk
        if gate.stopped or not (gate.halted or gate.recovering):
            return
        now = trio.current_time()
        if not r.recovery_enabled or now < self.cooldown_until_s:
            return
        if now - self.last_recovery_check_s < r.recovery_check_interval_s and \
                gate.recovery_step > 0:
            return
        self.last_recovery_check_s = now
        if abs(self.state.position_lots()) > self.recovery_threshold_lots():
            return
        if not math.isfinite(self.state.book.mark_ticks) or self.state.book.bid_ticks <= 0:
            return  # no valid market to recover into
        if gate.recover_one_step(r.gradual_recovery_steps):
            log.warning("RECOVERY complete: quoting all %d levels again", gate.full_levels)
        else:
            log.warning("RECOVERY step %d/%d: quoting %d level(s) per side",
                        gate.recovery_step, r.gradual_recovery_steps, gate.levels_allowed)
        self.wakeup.ring()
