"""The quoting strategy's setup: an :class:`EngineConfig` and an instrument in, kernel arrays out.

One translation, used by the live engine and by the backtester alike, so a config quotes the same
in both: ``QUOTE_PARAMS`` (model, estimators, ladder), the level multipliers and ``RISK_LIMITS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import units
from ..config import EngineConfig, sigma_per_sqrt_s
from ..kernels import codes
from ..kernels.dtypes import RISK_LIMITS
from ..kernels.params import make_quote_params

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
