"""The quoting strategy's setup: an :class:`EngineConfig` and an instrument in, kernel arrays out.

One translation, used by the live engine and by the backtester alike, so a config quotes the same
in both: ``QUOTE_PARAMS`` (model, estimators, ladder), the level multipliers, ``RISK_LIMITS`` and
``DECISION_PARAMS`` (pacing, levels allowed, breach actions, recovery), and the decision kernels'
initial states.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import units
from ..config import EngineConfig, sigma_per_sqrt_s
from ..kernels import codes
from ..kernels.dtypes import (
    BUCKET_STATE,
    DECISION_PARAMS,
    GATE_STATE,
    PACING_STATE,
    RISK_ACTION,
    RISK_INPUTS,
    RISK_LIMITS,
)
from ..kernels.params import make_quote_params
from . import rules

_MODEL_CODES = {"as": codes.MODEL_AS, "glft": codes.MODEL_GLFT, "legacy": codes.MODEL_LEGACY}
_HORIZON_CODES = {
    "fixed": codes.HORIZON_FIXED,
    "session_end": codes.HORIZON_SESSION_END,
    "rolling": codes.HORIZON_ROLLING,
}
_VOL_CODES = {"ewma": codes.VOL_EWMA, "realised": codes.VOL_REALISED}


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """A validated instrument and its integer grids."""

    index: int
    name: str
    product: str
    underlying: str
    tick_size: float
    volume_tick: float
    min_order_lots: int
    price_grid: units.StepGrid = field(init=False, repr=False, compare=False)
    lot_grid: units.StepGrid = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "price_grid", units.StepGrid(self.tick_size))
        object.__setattr__(self, "lot_grid", units.StepGrid(self.volume_tick))

    @property
    def lot_tick_value(self) -> float:
        """Quote currency per tick per lot (one contract is one coin at 1 USD per index point)."""
        return self.tick_size * self.volume_tick

    def price_ticks(self, price: float) -> int:
        """Nearest tick of an exchange price (exchange prices sit on the grid)."""
        return self.price_grid.nearest(price)

    def price_in_ticks(self, price: float) -> float:
        """An off-grid price (mark, collar, average) in fractional ticks."""
        return self.price_grid.in_steps(price)

    def amount_lots(self, amount: float) -> int:
        """Nearest lot of an exchange amount (exchange amounts sit on the grid)."""
        return self.lot_grid.nearest(amount)

    def price(self, ticks: int) -> float:
        """Exchange price of ``ticks`` without float noise."""
        return self.price_grid.value(ticks)

    def amount(self, lots: int) -> float:
        """Exchange amount of ``lots`` without float noise."""
        return self.lot_grid.value(lots)


def build_quote_params(config: EngineConfig, spec: InstrumentSpec) -> np.ndarray:
    """Translate the quote and risk config into the one-row ``QUOTE_PARAMS`` for ``spec``."""
    q, r = config.quote, config.risk
    base_size_lots = max(spec.min_order_lots, spec.amount_lots(q.base_size))
    # Config gamma is 1/(USD x coin). A-S kernels take 1/(tick x coin); GLFT measures inventory
    # in quote sizes, so its gamma is 1/(tick x quote size).
    gamma_per_tick = q.gamma * spec.tick_size
    if q.model == "glft":
        gamma_per_tick *= spec.amount(base_size_lots)
    fields = {
        "model_code": _MODEL_CODES[q.model],
        "tick_size_quote": spec.tick_size,
        "lot_size_coins": spec.volume_tick,
        "gamma_per_tick_unit": gamma_per_tick,
        "horizon_mode_code": _HORIZON_CODES[q.horizon],
        "horizon_s": q.horizon_s,
        "session_end_ns": units.seconds_to_ns(q.session_end_unix_s),
        "min_spread_ticks": q.min_spread_ticks,
        "max_spread_ticks": q.max_spread_ticks,
        "maker_fee_bps": units.fraction_to_bps(q.maker_fee_rate),
        "profit_margin_bps": units.fraction_to_bps(q.profit_margin_rate),
        "fee_coverage_ratio": q.fee_coverage_multiplier,
        "level_count": q.levels,
        "base_step_ticks": float(q.spacing_ticks),
        "position_limit_lots": max(1, spec.amount_lots(r.max_position)),
        "base_size_lots": base_size_lots,
        "min_order_lots": spec.min_order_lots,
        "min_level_lots": spec.min_order_lots,
        "vol_estimator_code": _VOL_CODES[q.volatility_estimator],
        "vol_half_life_s": q.volatility_half_life_s,
        "vol_window_ns": units.seconds_to_ns(q.volatility_window_s),
        "vol_min_sample_count": q.volatility_min_samples,
        "sigma_fallback_per_sqrt_s": sigma_per_sqrt_s(q.sigma_fallback_daily),
        "sigma_floor_per_sqrt_s": sigma_per_sqrt_s(q.sigma_floor_daily),
        "sigma_ceiling_per_sqrt_s": sigma_per_sqrt_s(q.sigma_ceiling_daily),
        # The ladder's volatility scaling is in the estimator's unit (per sqrt s).
        "step_vol_reference_per_sqrt_s": sigma_per_sqrt_s(0.025),
        "size_vol_sensitivity_sqrt_s": 0.0,
        "intensity_mode_code": (codes.INTENSITY_FIT if q.estimate_intensity
                                else codes.INTENSITY_FIXED),
        "intensity_half_life_s": q.intensity_half_life_s,
        "prior_a_per_s": q.intensity_a_per_s,
        "prior_kappa_per_tick": q.kappa_per_usd * spec.tick_size,
        "prior_weight_trades": 5.0,
        "legacy_gamma_ratio": q.legacy_gamma,
    }
    if q.model == "legacy":
        fields["fixed_sigma_per_sqrt_s"] = 0.01  # the old bot's effective sigma, in its own unit
    return make_quote_params(**fields)


def build_risk_limits(config: EngineConfig, spec: InstrumentSpec) -> np.ndarray:
    """Translate the risk config into the one-row ``RISK_LIMITS`` (percent fields in percent)."""
    r = config.risk
    limits = np.zeros(1, RISK_LIMITS)
    row = limits[0]
    row["max_position_lots"] = max(1, spec.amount_lots(r.max_position))
    row["max_notional_quote"] = r.max_notional_usd
    row["stop_loss_pct"] = r.stop_loss_pct * 100.0
    row["take_profit_pct"] = r.take_profit_pct * 100.0 if r.take_profit_enabled else 0.0
    row["upnl_take_profit_quote"] = r.upnl_take_profit_usd if r.take_profit_enabled else 0.0
    row["max_drawdown_pct"] = r.max_drawdown_pct * 100.0
    row["max_consecutive_losses"] = r.max_consecutive_losses
    return limits


#: After a pacing pause, how long the quoter waits for a fresh book before quoting the aged one.
FRESH_BOOK_WAIT_S = 0.2
#: How long a take profit waits, after pulling the quotes, for a book newer than the cancel.
TAKE_PROFIT_BOOK_TIMEOUT_S = 1.0


def build_decision_params(config: EngineConfig, spec: InstrumentSpec) -> np.ndarray:
    """Translate the quote pacing and the risk actions into the one-row ``DECISION_PARAMS``
    (times in ns, positions in lots of ``spec``, the breach table as masks)."""
    q, r = config.quote, config.risk
    ns = units.seconds_to_ns
    params = np.zeros(1, DECISION_PARAMS)
    row = params[0]
    row["full_levels"] = q.levels
    row["max_book_age_ns"] = ns(q.max_book_age_s)
    row["min_quote_interval_ns"] = ns(q.min_quote_interval_s)
    row["force_refresh_ns"] = ns(q.force_refresh_s)
    row["fresh_book_wait_ns"] = ns(FRESH_BOOK_WAIT_S)
    row["halt_mask"] = rules.HALT_MASK
    row["stop_mask"] = rules.STOP_MASK
    row["take_profit_mask"] = rules.TAKE_PROFIT_MASK
    row["flatten_all_mask"] = rules.FLATTEN_ALL_MASK
    row["flatten_to_threshold_mask"] = rules.FLATTEN_TO_THRESHOLD_MASK
    row["streak_restart_mask"] = rules.STREAK_RESTART_MASK
    row["recovery_enabled"] = int(r.recovery_enabled)
    row["flatten_enabled"] = int(r.flatten_position_enabled)
    row["take_profit_halts"] = int(r.take_profit_halts)
    row["recovery_cooldown_ns"] = ns(r.recovery_cooldown_s)
    row["recovery_check_interval_ns"] = ns(r.recovery_check_interval_s)
    row["gradual_recovery_steps"] = r.gradual_recovery_steps
    row["recovery_threshold_ratio"] = r.recovery_threshold_pct
    row["take_profit_interval_ns"] = ns(max(r.take_profit_check_interval_s,
                                            r.take_profit_cooldown_s))
    row["take_profit_book_timeout_ns"] = ns(TAKE_PROFIT_BOOK_TIMEOUT_S)
    row["flatten_slippage_ratio"] = units.bps_to_fraction(r.flatten_slippage_bps)
    row["lot_tick_value_quote"] = spec.lot_tick_value
    row["large_position_lots"] = spec.amount_lots(r.large_position)
    row["small_position_lots"] = spec.amount_lots(r.small_position)
    row["check_interval_ns"] = ns(r.monitor_interval_s)
    row["check_fast_interval_ns"] = ns(r.monitor_fast_interval_s)
    row["check_slow_interval_ns"] = ns(r.monitor_slow_interval_s)
    return params


def new_gate_state(*, ready: bool = False) -> np.ndarray:
    """A fresh ``GATE_STATE`` row: not halted, no take profit under way."""
    gate = np.zeros(1, GATE_STATE)
    gate[0]["ready"] = int(ready)
    gate[0]["last_recovery_check_ns"] = codes.NEVER_NS
    return gate


def new_pacing_state(params: np.ndarray, now_ns: int) -> np.ndarray:
    """A fresh ``PACING_STATE`` row at ``now_ns``: never quoted, the first forced refresh
    ``force_refresh_ns`` from now."""
    pacing = np.zeros(1, PACING_STATE)
    pacing[0]["last_cycle_ns"] = codes.NEVER_NS
    pacing[0]["refresh_due_ns"] = now_ns + int(params[0]["force_refresh_ns"])
    pacing[0]["wake_ns"] = pacing[0]["refresh_due_ns"]
    return pacing


def new_bucket_state(rate_per_s: float, now_ns: int) -> np.ndarray:
    """A full ``BUCKET_STATE`` row: ``rate_per_s`` tokens a second, burst of one second."""
    bucket = np.zeros(1, BUCKET_STATE)
    bucket[0]["rate_per_s"] = rate_per_s
    bucket[0]["tokens"] = rate_per_s
    bucket[0]["updated_ns"] = now_ns
    return bucket


def new_risk_io() -> tuple[np.ndarray, np.ndarray]:
    """The one-row ``RISK_INPUTS`` and ``RISK_ACTION`` arrays ``risk_step`` reads and writes."""
    return np.zeros(1, RISK_INPUTS), np.zeros(1, RISK_ACTION)
