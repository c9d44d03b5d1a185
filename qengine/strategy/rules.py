"""What each breach kind does: the one table the engine and the backtester share.

:data:`BREACH_RULES` (README.md, "Risk", shows it) says which kinds pause and recover, which stop
quoting for good, which flatten, and that the consecutive-loss streak restarts when its pause
starts (or it could never lift). ``setup.build_decision_params`` turns it into the masks of
``DECISION_PARAMS`` that ``kernels.risk_actions.risk_step`` acts on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..kernels import codes

#: Outcomes of a breach kind.
PAUSE = "pause"  # quotes pulled; cooldown, then 1, 2, ... levels, then all (if recovery_enabled)
STOP = "stop"  # quotes pulled; no quoting for the rest of the session
ACT = "act"  # quoting pauses only while the action runs (a pause if take_profit_halts)
LOG = "log"  # reported and counted, no action
#: Flatten actions (reduce-only IOC limits; only with ``flatten_position_enabled``).
FLATTEN_NONE = "none"
FLATTEN_ALL = "all"
FLATTEN_TO_THRESHOLD = "to_threshold"  # down to ``recovery_threshold_pct`` of the limits
FLATTEN_AT_TOUCH = "at_touch"  # only when the touch is better than the entry


@dataclass(frozen=True, slots=True)
class BreachRule:
    """What one breach kind (one ``codes.RISK_*`` bit) makes the risk state machine do."""

    bit: int
    name: str
    outcome: str
    flatten: str


#: The semantics of every breach kind, in one place (README.md's risk table is this table).
BREACH_RULES = (
    BreachRule(codes.RISK_MAX_POSITION, "max position", PAUSE, FLATTEN_TO_THRESHOLD),
    BreachRule(codes.RISK_MAX_NOTIONAL, "max notional", PAUSE, FLATTEN_TO_THRESHOLD),
    BreachRule(codes.RISK_STOP_LOSS, "stop loss", PAUSE, FLATTEN_ALL),
    # Its streak restarts when the pause starts (see STREAK_RESTART_MASK).
    BreachRule(codes.RISK_CONSECUTIVE_LOSSES, "consecutive losses", PAUSE, FLATTEN_NONE),
    BreachRule(codes.RISK_MAX_DRAWDOWN, "max drawdown", STOP, FLATTEN_ALL),
    BreachRule(codes.RISK_TAKE_PROFIT, "take profit", ACT, FLATTEN_AT_TOUCH),
    BreachRule(codes.RISK_UPNL_TAKE_PROFIT, "UPNL take profit", ACT, FLATTEN_AT_TOUCH),
    BreachRule(codes.RISK_NO_MARK, "no mark price", LOG, FLATTEN_NONE),
)


def rule_mask(predicate: Callable[[BreachRule], bool]) -> int:
    """OR of the bits of the rules ``predicate`` accepts."""
    mask = 0
    for rule in BREACH_RULES:
        if predicate(rule):
            mask |= rule.bit
    return mask


HALT_MASK = rule_mask(lambda rule: rule.outcome in (PAUSE, STOP))
STOP_MASK = rule_mask(lambda rule: rule.outcome == STOP)
TAKE_PROFIT_MASK = rule_mask(lambda rule: rule.outcome == ACT)
FLATTEN_ALL_MASK = rule_mask(lambda rule: rule.flatten == FLATTEN_ALL)
FLATTEN_TO_THRESHOLD_MASK = rule_mask(lambda rule: rule.flatten == FLATTEN_TO_THRESHOLD)
#: The losing streak restarts when this breach's pause starts.
STREAK_RESTART_MASK = codes.RISK_CONSECUTIVE_LOSSES
_NAMES = {rule.bit: rule.name for rule in BREACH_RULES}


def breach_names(mask: int) -> str:
    """Human-readable list of the breach bits in ``mask``."""
    return ", ".join(name for bit, name in _NAMES.items() if mask & bit) or "none"
