"""Engine configuration: frozen, keyword-only, validated once, passed explicitly.

Units are in the names (``*_s`` seconds, ``*_ticks`` price ticks, ``*_usd`` quote currency,
``*_pct`` fractions where 0.06 means 6 %). Sizes that the exchange sees are given in the
instrument's amount unit (coins, e.g. BTC) and converted to lots once the instrument's
``volume_tick_size`` is known. A TOML file mirrors the sections below; an unknown key, a wrong type
or an out-of-range value fails before anything connects, with a message naming the key.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from .errors import ConfigError

log = logging.getLogger(__name__)

MODELS = ("as", "glft", "legacy")
HORIZONS = ("fixed", "session_end", "rolling")
NETWORKS = ("sim", "test", "prod")
ORDER_MODES = ("orders", "mass_quote")
VOL_ESTIMATORS = ("ewma", "realised")
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, kw_only=True, slots=True)
class QuoteConfig:
    """The quoting model and the ladder."""

    model: str = "as"
    #: A-S / GLFT risk aversion, 1/(USD x coin).
    gamma: float = 0.001
    #: The old bot's dimensionless gamma (its spread factor 1 + gamma), used by ``legacy``.
    legacy_gamma: float = 0.4
    #: Prior (and fixed fallback) order-arrival decay per USD of distance from the mid.
    kappa_per_usd: float = 0.05
    #: Prior arrival rate at the mid, per second, for A in lambda(d) = A exp(-kappa d).
    intensity_a_per_s: float = 1.0
    #: Estimate A and kappa online from public trades (else use the priors as fixed values).
    estimate_intensity: bool = True
    horizon: str = "rolling"
    horizon_s: float = 60.0
    #: Session end for ``horizon = "session_end"``, Unix seconds (0: not set).
    session_end_unix_s: float = 0.0
    levels: int = 3
    spacing_ticks: int = 15
    #: Order size of level 0 in coins before multipliers and inventory shaping.
    base_size: float = 0.02
    bid_size_multipliers: tuple[float, ...] = (1.0, 1.5, 2.0)
    ask_size_multipliers: tuple[float, ...] = (1.0, 1.5, 2.0)
    min_spread_ticks: int = 14
    max_spread_ticks: int = 75
    maker_fee_rate: float = 0.0002
    taker_fee_rate: float = 0.0005
    profit_margin_rate: float = 0.0005
    fee_coverage_multiplier: float = 1.2
    #: Amend a resting order only when its price moved more than this many ticks.
    amend_threshold_ticks: int = 2
    volatility_estimator: str = "ewma"
    volatility_half_life_s: float = 60.0
    volatility_window_s: float = 300.0
    volatility_min_samples: int = 5
    #: Fallback and clamps of sigma, as daily fractions (the old bot's 0.01, 0.015 and 0.18).
    sigma_fallback_daily: float = 0.01
    sigma_floor_daily: float = 0.015
    sigma_ceiling_daily: float = 0.18
    intensity_half_life_s: float = 300.0
    ring_capacity: int = 256
    min_quote_interval_s: float = 0.5
    force_refresh_s: float = 15.0
    #: Never quote on a book older than this (the heartbeat reconnects after stale_ticker_s).
    max_book_age_s: float = 10.0


@dataclass(frozen=True, kw_only=True, slots=True)
class RiskConfig:
    """Limits, breach actions and the recovery state machine."""

    max_position: float = 1.0
    max_notional_usd: float = 1e8
    stop_loss_pct: float = 0.06
    take_profit_pct: float = 0.0022
    take_profit_enabled: bool = True
    upnl_take_profit_usd: float = 5.0
    take_profit_check_interval_s: float = 2.0
    take_profit_cooldown_s: float = 3.0
    take_profit_halts: bool = False
    max_drawdown_pct: float = 0.10
    #: Equity base for the drawdown check, USD (drawdown = (peak - equity) / (base + peak)).
    drawdown_base_usd: float = 10_000.0
    max_consecutive_losses: int = 5
    flatten_position_enabled: bool = True
    recovery_enabled: bool = True
    recovery_cooldown_s: float = 9.0
    recovery_check_interval_s: float = 30.0
    recovery_threshold_pct: float = 0.8
    gradual_recovery_steps: int = 3
    monitor_interval_s: float = 2.0
    monitor_fast_interval_s: float = 1.0
    monitor_slow_interval_s: float = 4.0
    #: Above this |position| (coins) the monitor runs at the fast interval.
    large_position: float = 0.5
    #: Below this |position| (coins) the monitor runs at the slow interval.
    small_position: float = 0.1
    #: Mass-quote protection (coins): amount that may trade before the exchange pulls our
    #: quotes (Thalex: ``trade_amount``, which must be <= ``quote_amount``).
    mm_protection_trade_amount: float = 1.0
    #: Mass-quote protection (coins): the largest single quote level the exchange accepts
    #: (Thalex: ``quote_amount``; margin is reserved at this size). 0: the larger of the
    #: largest level the ladder can send and ``mm_protection_trade_amount``.
    mm_protection_quote_amount: float = 0.0
    #: Flatten orders (reduce-only IOC) are limited this far through the touch, and never
    #: beyond the exchange's price collar (the old bot closed at mark -+ 0.5 %).
    flatten_slippage_bps: float = 50.0


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionConfig:
    """Where to connect and how to stay connected."""

    network: str = "sim"
    #: Explicit websocket URL (a standalone simulator or Thalex); overrides ``network``.
    url: str = ""
    cancel_on_disconnect_s: int = 6
    ping_interval_s: float = 5.0
    request_timeout_s: float = 10.0
    stale_ticker_s: float = 60.0
    reconnect_min_s: float = 0.1
    reconnect_max_s: float = 30.0
    shutdown_timeout_s: float = 5.0
    #: Every so often the order table is checked against the account's open orders (by
    #: exchange order id); an order with our label that this process did not place (a dead
    #: process's order delivered late) is cancelled.
    order_reconcile_interval_s: float = 10.0
    #: At exit, also send ``private/cancel_all`` (account-wide: it also cancels orders of other
    #: strategies on the same account) after ``cancel_session``.
    cancel_all_on_exit: bool = True
    #: Keep the event loop polling instead of sleeping between messages: one core at 100 %,
    #: for a core of its own. A core that idled runs the next tick from cold caches (2-3x
    #: slower on a VM, see perf/RESULTS.md); polling keeps it warm and skips the wake-up.
    #: Needs trio's real clock: a task that is always ready stops an autojump clock's time.
    busy_poll: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class TelemetryConfig:
    """Logging, status lines, metrics file and summary."""

    verbose_logging: bool = False
    status_interval_s: float = 60.0
    memory_interval_s: float = 300.0
    log_file: str = ""
    metrics_file: str = ""
    summary_json: str = ""
    #: A fill at least this large (coins) is marked LARGE in the log.
    large_fill: float = 0.1


@dataclass(frozen=True, kw_only=True, slots=True)
class SimulatorSettings:
    """The simulator process ``run_engine`` starts for ``network = "sim"`` (without a URL)."""

    seed: int = 1
    time_scale: float = 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class EngineConfig:
    """Everything the engine needs, validated at construction."""

    instrument: str = "BTC-PERPETUAL"
    #: Optional second instrument (e.g. a dated future) whose position is tracked separately.
    second_instrument: str = ""
    label: str = "qengine"
    order_mode: str = "orders"
    duration_s: float = 0.0
    quote: QuoteConfig = field(default_factory=QuoteConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    connection: ConnectionConfig = field(default_factory=ConnectionConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)

    def __post_init__(self) -> None:
        _validate(self)


def _check(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{key}: {message}")


def _validate(config: EngineConfig) -> None:
    q, r, c, t = config.quote, config.risk, config.connection, config.telemetry
    _check(bool(config.instrument), "instrument", "must not be empty")
    _check(bool(config.label.strip()), "label",
           "must not be empty (it identifies our orders on the account)")
    _check(config.second_instrument != config.instrument, "second_instrument",
           "must differ from instrument")
    _check(config.order_mode in ORDER_MODES, "order_mode", f"must be one of {ORDER_MODES}")
    _check(config.duration_s >= 0, "duration_s", "must be >= 0 (0 runs until interrupted)")
    _check(q.model in MODELS, "quote.model", f"must be one of {MODELS}")
    _check(q.horizon in HORIZONS, "quote.horizon", f"must be one of {HORIZONS}")
    _check(q.horizon != "session_end" or q.session_end_unix_s > 0, "quote.session_end_unix_s",
           "must be set (Unix seconds) when quote.horizon is session_end")
    _check(q.volatility_estimator in VOL_ESTIMATORS, "quote.volatility_estimator",
           f"must be one of {VOL_ESTIMATORS}")
    for name in ("gamma", "kappa_per_usd", "intensity_a_per_s", "horizon_s", "base_size",
                 "volatility_half_life_s", "volatility_window_s", "sigma_fallback_daily",
                 "sigma_floor_daily", "sigma_ceiling_daily", "intensity_half_life_s",
                 "fee_coverage_multiplier", "force_refresh_s", "legacy_gamma",
                 "max_book_age_s"):
        _check(getattr(q, name) > 0, f"quote.{name}", "must be > 0")
    _check(1 <= q.levels <= 10, "quote.levels", "must be between 1 and 10")
    _check(q.spacing_ticks >= 1, "quote.spacing_ticks", "must be >= 1")
    _check(q.min_spread_ticks >= 1, "quote.min_spread_ticks", "must be >= 1")
    _check(q.max_spread_ticks >= q.min_spread_ticks, "quote.max_spread_ticks",
           "must be >= quote.min_spread_ticks")
    _check(q.amend_threshold_ticks >= 0, "quote.amend_threshold_ticks", "must be >= 0")
    _check(q.sigma_floor_daily <= q.sigma_ceiling_daily, "quote.sigma_floor_daily",
           "must be <= quote.sigma_ceiling_daily")
    _check(q.volatility_min_samples >= 2, "quote.volatility_min_samples", "must be >= 2")
    _check(16 <= q.ring_capacity <= 1_000_000, "quote.ring_capacity", "must be in 16..1000000")
    _check(q.min_quote_interval_s >= 0, "quote.min_quote_interval_s", "must be >= 0")
    for name in ("bid_size_multipliers", "ask_size_multipliers"):
        values = getattr(q, name)
        _check(len(values) >= 1 and all(v > 0 for v in values), f"quote.{name}",
               "must be a non-empty list of positive numbers")
    for name in ("maker_fee_rate", "taker_fee_rate", "profit_margin_rate"):
        _check(-0.01 <= getattr(q, name) <= 0.01, f"quote.{name}", "must be in [-0.01, 0.01]")
    for name in ("max_position", "max_notional_usd", "stop_loss_pct", "take_profit_pct",
                 "upnl_take_profit_usd", "take_profit_check_interval_s", "max_drawdown_pct",
                 "drawdown_base_usd", "recovery_check_interval_s", "monitor_interval_s",
                 "monitor_fast_interval_s", "monitor_slow_interval_s",
                 "mm_protection_trade_amount", "flatten_slippage_bps"):
        _check(getattr(r, name) > 0, f"risk.{name}", "must be > 0")
    _check(r.mm_protection_quote_amount >= 0, "risk.mm_protection_quote_amount",
           "must be >= 0 (0 derives it from the ladder)")
    _check(not r.mm_protection_quote_amount
           or r.mm_protection_trade_amount <= r.mm_protection_quote_amount,
           "risk.mm_protection_trade_amount",
           f"must be <= risk.mm_protection_quote_amount ({r.mm_protection_quote_amount}): "
           "Thalex refuses a protection whose trade_amount exceeds its quote_amount")
    _check(r.take_profit_cooldown_s >= 0, "risk.take_profit_cooldown_s", "must be >= 0")
    _check(r.recovery_cooldown_s >= 0, "risk.recovery_cooldown_s", "must be >= 0")
    _check(0 < r.recovery_threshold_pct <= 1, "risk.recovery_threshold_pct", "must be in (0, 1]")
    _check(r.gradual_recovery_steps >= 1, "risk.gradual_recovery_steps", "must be >= 1")
    _check(r.max_consecutive_losses >= 1, "risk.max_consecutive_losses", "must be >= 1")
    _check(0 <= r.small_position <= r.large_position, "risk.small_position",
           "must be in [0, risk.large_position]")
    _check(c.network in NETWORKS, "connection.network", f"must be one of {NETWORKS}")
    _check(not c.url or c.url.startswith(("ws://", "wss://")), "connection.url",
           "must start with ws:// or wss://")
    _check(1 <= c.cancel_on_disconnect_s <= 300, "connection.cancel_on_disconnect_s",
           "must be in 1..300")
    for name in ("ping_interval_s", "request_timeout_s", "stale_ticker_s", "reconnect_min_s",
                 "reconnect_max_s", "shutdown_timeout_s", "order_reconcile_interval_s"):
        _check(getattr(c, name) > 0, f"connection.{name}", "must be > 0")
    _check(c.reconnect_min_s <= c.reconnect_max_s, "connection.reconnect_min_s",
           "must be <= connection.reconnect_max_s")
    for name in ("status_interval_s", "memory_interval_s", "large_fill"):
        _check(getattr(t, name) > 0, f"telemetry.{name}", "must be > 0")
    _check(config.simulator.time_scale > 0, "simulator.time_scale", "must be > 0")


def sigma_per_sqrt_s(daily_fraction: float) -> float:
    """Convert a daily volatility fraction (0.015 = 1.5 % per day) to per sqrt(second)."""
    return daily_fraction / math.sqrt(SECONDS_PER_DAY)


_SECTIONS: dict[str, type] = {
    "quote": QuoteConfig,
    "risk": RiskConfig,
    "connection": ConnectionConfig,
    "telemetry": TelemetryConfig,
    "simulator": SimulatorSettings,
}


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check a TOML value against the field's type; ints are accepted for floats."""
    kind = annotation if isinstance(annotation, type) else getattr(annotation, "__origin__", None)
    if kind is bool:
        _check(isinstance(value, bool), key, f"must be true or false, got {value!r}")
    elif kind is int:
        _check(isinstance(value, int) and not isinstance(value, bool), key,
               f"must be an integer, got {value!r}")
    elif kind is float:
        _check(isinstance(value, int | float) and not isinstance(value, bool), key,
               f"must be a number, got {value!r}")
        value = float(value)
        _check(math.isfinite(value), key, "must be finite")
    elif kind is str:
        _check(isinstance(value, str), key, f"must be a string, got {value!r}")
    elif kind is tuple:
        _check(isinstance(value, list | tuple), key, f"must be a list, got {value!r}")
        for item in value:
            _check(isinstance(item, int | float) and not isinstance(item, bool), key,
                   f"must be a list of numbers, got {value!r}")
        value = tuple(float(v) for v in value)
    return value


def _build(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"{dotted}: unknown key")
        kwargs[key] = _coerce(dotted, value, hints[key])
    return cls(**kwargs)


def config_from_mapping(data: Mapping[str, Any]) -> EngineConfig:
    """Build an :class:`EngineConfig` from nested dicts (TOML tables), rejecting unknown keys.

    Raises
    ------
    ConfigError
        For an unknown key, a wrong type or an out-of-range value; the message names the key.
    """
    top: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key}: must be a table")
            top[key] = _build(_SECTIONS[key], value, f"{key}.")
        else:
            top[key] = value
    sections = {k: v for k, v in top.items() if k in _SECTIONS}
    plain = {k: v for k, v in top.items() if k not in _SECTIONS}
    base = _build(EngineConfig, plain, "")
    config = dataclasses.replace(base, **sections)
    _warn_position_bands(config.risk)
    return config


def _warn_position_bands(r: RiskConfig) -> None:
    """The adaptive risk check uses its fast interval above ``large_position`` and its slow one
    below ``small_position``: bands at or above ``max_position`` are legal but mostly unused."""
    if r.large_position > r.max_position:
        log.warning("risk.large_position (%g) > risk.max_position (%g): the risk monitor's fast "
                    "check (above risk.large_position) never runs within the limit, and below "
                    "risk.small_position (%g) it checks only every risk.monitor_slow_interval_s; "
                    "set risk.small_position and risk.large_position below risk.max_position",
                    r.large_position, r.max_position, r.small_position)


def read_toml(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """The tables of a TOML file; ``ConfigError`` if it is missing or not valid TOML."""
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
                ) -> EngineConfig:
    """Read a TOML file (optional) and apply dotted ``overrides`` such as ``{"quote.gamma": 0.1}``.

    Raises
    ------
    ConfigError
        If the file is missing or not valid TOML, or any key is unknown or invalid.
    """
    data = read_toml(path) if path is not None else {}
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.rpartition(".")
        target = data.setdefault(section, {}) if section else data
        target[key] = value
    return config_from_mapping(data)
