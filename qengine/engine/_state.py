"""The engine's preallocated state: every array the kernels work on, and who writes it.

Writers (all on the one trio thread; kernel calls never await in between):

- listener (market callbacks): ``book`` fields, ``samples``/``vol_*`` through the quoter's
  pipeline call, ``intensity_state`` (public trades);
- listener (order events): ``orders`` rows (exchange reports), ``positions``/``lots``/
  ``seen_trade_ids`` (fills, portfolio reconciliation);
- quoter: ``quotes``, ``diag``, ``actions`` (and ``samples``/``vol_*`` via ``quote_cycle``);
- order manager: ``orders`` rows (reserve before sending, pending flags);
- risk monitor: ``risk_state`` (and the risk switches of ``gate.QuoteGate``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from .. import units
from ..config import EngineConfig, sigma_per_sqrt_s
from ..errors import StartupError
from ..io.messages import Instrument, SkippedRow
from ..kernels import codes
from ..kernels.dtypes import (
    ACTION,
    FILL,
    INTENSITY_STATE,
    LOT,
    MARKET_SAMPLE,
    ORDER,
    POSITION,
    QUOTE,
    QUOTE_DIAG,
    RING_CURSOR,
    RISK_LIMITS,
    RISK_STATE,
    VOL_RETURN,
    VOL_STATE,
)
from ..kernels.params import make_level_multipliers, make_quote_params
from ..kernels.position import position_unrealised

_MODEL_CODES = {"as": codes.MODEL_AS, "glft": codes.MODEL_GLFT, "legacy": codes.MODEL_LEGACY}
_HORIZON_CODES = {
    "fixed": codes.HORIZON_FIXED,
    "session_end": codes.HORIZON_SESSION_END,
    "rolling": codes.HORIZON_ROLLING,
}
_VOL_CODES = {"ewma": codes.VOL_EWMA, "realised": codes.VOL_REALISED}

ORDER_CAPACITY = 64
LOT_CAPACITY_PER_INSTRUMENT = 512
SEEN_TRADES_CAPACITY = 4096
ACTION_CAPACITY = 64


def id_key(exchange_id: str) -> int:
    """Map an exchange id string (order or trade id) to a stable non-negative int64 for the
    kernels (63 bits of a hash: the order table stores only keys >= 0, -1 means unknown)."""
    digest = hashlib.blake2b(exchange_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


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


def instrument_spec(index: int, instrument: Instrument) -> InstrumentSpec:
    """Build an :class:`InstrumentSpec` from a decoded ``public/instruments`` row."""
    volume_tick = instrument.volume_tick_size
    min_lots = max(1, units.amount_to_lots_ceil(instrument.min_order_amount, volume_tick))
    return InstrumentSpec(
        index=index,
        name=instrument.instrument_name,
        product=instrument.product or "F" + (instrument.underlying or ""),
        underlying=instrument.underlying or "",
        tick_size=instrument.tick_size,
        volume_tick=volume_tick,
        min_order_lots=min_lots,
    )


def select_instruments(config: EngineConfig, listed: list[Instrument | SkippedRow]
                       ) -> list[InstrumentSpec]:
    """Validate the configured instrument names against the exchange's list.

    Rows the decoder could not make an Instrument of (the schema requires no field) matter only
    when they are one of ours.

    Raises
    ------
    StartupError
        For a name the exchange does not list, or whose row lacks a field we need (named);
        nothing has been sent yet.
    """
    by_name = {item.instrument_name: item for item in listed if isinstance(item, Instrument)}
    incomplete = {item.instrument_name: item.reason for item in listed
                  if isinstance(item, SkippedRow) and item.instrument_name}
    names = [config.instrument] + ([config.second_instrument] if config.second_instrument else [])
    specs = []
    for index, name in enumerate(names):
        if name not in by_name and name in incomplete:
            raise StartupError(f"instrument {name!r} cannot be quoted: its public/instruments "
                               f"row is incomplete ({incomplete[name]})")
        if name not in by_name:
            known = ", ".join(sorted(by_name)[:10])
            raise StartupError(f"unknown instrument {name!r}; the exchange lists: {known}")
        specs.append(instrument_spec(index, by_name[name]))
    return specs


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


class Book:
    """Latest top of book, mark and index of the quoted instrument (written by the listener)."""

    __slots__ = (
        "ask_lots",
        "ask_ticks",
        "bid_lots",
        "bid_ticks",
        "collar_high_ticks",
        "collar_low_ticks",
        "index_price",
        "mark_ticks",
        "time_ns",
        "updates",
    )

    def __init__(self) -> None:
        self.time_ns = 0
        self.bid_ticks = 0
        self.ask_ticks = 0
        self.bid_lots = 0
        self.ask_lots = 0
        self.mark_ticks = math.nan
        self.index_price = math.nan
        self.collar_low_ticks = 0.0
        self.collar_high_ticks = 0.0
        self.updates = 0


class EngineState:
    """Every preallocated array of one engine, sized from config."""

    def __init__(self, config: EngineConfig, specs: list[InstrumentSpec]) -> None:
        q = config.quote
        self.config = config
        self.specs = specs
        self.spec = specs[0]
        self.params = build_quote_params(config, self.spec)
        self.bid_mult = make_level_multipliers(q.bid_size_multipliers)
        self.ask_mult = make_level_multipliers(q.ask_size_multipliers)
        self.samples = np.zeros(q.ring_capacity, MARKET_SAMPLE)
        self.cursor = np.zeros(1, RING_CURSOR)
        self.vol_state = np.zeros(1, VOL_STATE)
        self.vol_returns = np.zeros(q.ring_capacity, VOL_RETURN)
        self.intensity_state = np.zeros(2, INTENSITY_STATE)
        self.orders = np.zeros(ORDER_CAPACITY, ORDER)
        self.quotes = np.zeros(2 * 10, QUOTE)
        self.diag = np.zeros(1, QUOTE_DIAG)
        self.actions = np.zeros(ACTION_CAPACITY, ACTION)
        self.positions = np.zeros(len(specs), POSITION)
        self.lots = np.zeros(len(specs) * LOT_CAPACITY_PER_INSTRUMENT, LOT)
        self.seen_trade_ids = np.zeros(SEEN_TRADES_CAPACITY, np.int64)
        self.seen_cursor = np.zeros(1, RING_CURSOR)
        self.fill_scratch = np.zeros(1, FILL)
        self.risk_limits = build_risk_limits(config, self.spec)
        self.risk_state = np.zeros(1, RISK_STATE)
        # The quote kernels' argument bundles (the same arrays, see kernels/dtypes.py).
        self.quote_setup = (self.params, self.bid_mult, self.ask_mult)
        self.quote_state = (self.samples, self.cursor, self.vol_state, self.vol_returns,
                            self.intensity_state)
        self.quote_out = (self.quotes, self.diag)
        self.book = Book()
        # Exchange order id -> our client order id, for reports that lack the client id.
        self.client_id_by_key: dict[int, int] = {}

    def position_lots(self, index: int = 0) -> int:
        """Signed position of instrument ``index`` in lots."""
        return int(self.positions[index]["position_lots"])

    def unrealised_quote(self) -> float:
        """Unrealised PnL of the quoted instrument at the mark, in USD (NaN without a mark)."""
        mark = self.book.mark_ticks
        if not math.isfinite(mark):
            return math.nan
        return float(position_unrealised(self.positions, self.lots, 0, mark,
                                         self.spec.lot_tick_value))

    def position(self, index: int = 0) -> float:
        """Signed position of instrument ``index`` in coins."""
        return self.specs[index].amount(self.position_lots(index))
