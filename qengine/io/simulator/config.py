"""Configuration of the embedded Thalex simulator: frozen, keyword-only, validated on construction.

Every error names the offending field, so a bad config fails at start-up with a clear message
instead of deep inside the market loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_TAKER_SIZE_KINDS = ("exponential", "fixed", "lognormal")
_INSTRUMENT_TYPES = ("perpetual", "future", "combination")
_MAX_LEGS = 4


def _fail(owner: str, name: str, problem: str) -> None:
    raise ValueError(f"{owner}.{name}: {problem}")


def _positive(owner: str, name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        _fail(owner, name, f"must be a {'non-negative' if allow_zero else 'positive'} number, "
              f"got {value!r}")


def _positive_int(owner: str, name: str, value: int, *, allow_zero: bool = False) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < (0 if allow_zero else 1):
        _fail(owner, name, f"must be a {'non-negative' if allow_zero else 'positive'} integer, "
              f"got {value!r}")


def _fraction(owner: str, name: str, value: float) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0.0 <= value <= 1.0:
        _fail(owner, name, f"must be a number in [0, 1], got {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class InstrumentSpec:
    """One tradable instrument and the synthetic market around it.

    Parameters
    ----------
    instrument_name : str
        Exchange name, e.g. ``BTC-PERPETUAL`` or ``BTC-25DEC26``.
    product : str
        Protection group, ``"F" + underlying`` for perpetuals, futures and rolls.
    underlying : str
        Index name, e.g. ``BTCUSD``; one index process per underlying.
    type : str
        ``perpetual``, ``future`` (needs ``expiry_date`` and ``expiration_timestamp``) or
        ``combination`` (a roll: needs ``legs``).
    tick_size : float
        Price tick in USD.
    volume_tick_size : float
        Amount tick in coin units (one lot).
    min_order_amount : float
        Smallest insertable amount in coin units; a multiple of ``volume_tick_size``.
    basis_ticks : float
        Mean premium of the mid over the index in ticks (carry of a future; 0 for a perpetual);
        for a combination, over the quantity-weighted sum of its legs' mids.
    basis_volatility_ticks_per_sqrt_s : float
        Noise of the mean-reverting premium in ticks per sqrt(simulated second).
    crowd_half_spread_ticks : int
        Distance of the crowd's best bid and ask from the mid in ticks.
    crowd_levels : int
        Number of crowd price levels per side.
    crowd_level_spacing_ticks : int
        Distance between crowd levels in ticks.
    crowd_level_lots : int
        Crowd size per level in lots, refreshed every market step.
    taker_intensity_per_s : float
        ``A``: taker arrivals per simulated second per side.
    taker_kappa_per_tick : float
        ``kappa``: a taker reaches a level ``d`` ticks from the mid with probability
        ``exp(-kappa * d)``.
    taker_size_lots_mean : float
        Mean taker size in lots.
    taker_size_kind : str
        ``exponential``, ``fixed`` or ``lognormal`` (sigma 1).
    expiry_date : str or None
        ``YYYY-MM-DD`` for futures.
    expiration_timestamp : int or None
        Expiry in Unix seconds for futures (and rolls: their earliest leg's).
    legs : tuple of (str, int)
        A combination's legs as ``(instrument_name, quantity)``: 2 to 4 distinct listed
        outrights of the same underlying, ticks and lot, quantities non-zero integers and the
        first +1 or -1. A roll buys the later expiry: ``(("BTC-25DEC26", 1),
        ("BTC-PERPETUAL", -1))``.
    """

    instrument_name: str
    product: str
    underlying: str
    type: str = "perpetual"
    tick_size: float
    volume_tick_size: float
    min_order_amount: float
    basis_ticks: float = 0.0
    basis_volatility_ticks_per_sqrt_s: float = 0.5
    crowd_half_spread_ticks: int = 5
    crowd_levels: int = 5
    crowd_level_spacing_ticks: int = 1
    crowd_level_lots: int = 500
    taker_intensity_per_s: float = 1.0
    taker_kappa_per_tick: float = 0.15
    taker_size_lots_mean: float = 100.0
    taker_size_kind: str = "exponential"
    expiry_date: str | None = None
    expiration_timestamp: int | None = None
    legs: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        owner = f"InstrumentSpec({self.instrument_name!r})"
        self._check_legs(owner)
        for name in ("instrument_name", "product", "underlying"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or "." in value:
                _fail(owner, name, f"must be a non-empty string without dots, got {value!r}")
        if self.type not in _INSTRUMENT_TYPES:
            _fail(owner, "type", f"must be one of {_INSTRUMENT_TYPES}, got {self.type!r}")
        if self.type == "future" and (self.expiry_date is None or
                                      self.expiration_timestamp is None):
            _fail(owner, "expiry_date", "a future needs expiry_date and expiration_timestamp")
        for name in ("tick_size", "volume_tick_size", "min_order_amount", "taker_kappa_per_tick",
                     "taker_size_lots_mean"):
            _positive(owner, name, getattr(self, name))
        for name in ("basis_volatility_ticks_per_sqrt_s", "taker_intensity_per_s"):
            _positive(owner, name, getattr(self, name), allow_zero=True)
        if not isinstance(self.basis_ticks, int | float) or not math.isfinite(self.basis_ticks):
            _fail(owner, "basis_ticks", f"must be a finite number, got {self.basis_ticks!r}")
        ratio = self.min_order_amount / self.volume_tick_size
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            _fail(owner, "min_order_amount", "must be a positive multiple of volume_tick_size")
        for name in ("crowd_half_spread_ticks", "crowd_levels", "crowd_level_spacing_ticks"):
            _positive_int(owner, name, getattr(self, name))
        _positive_int(owner, "crowd_level_lots", self.crowd_level_lots, allow_zero=True)
        if self.taker_size_kind not in _TAKER_SIZE_KINDS:
            _fail(owner, "taker_size_kind", f"must be one of {_TAKER_SIZE_KINDS}")

    def _check_legs(self, owner: str) -> None:
        legs = self.legs
        if self.type != "combination":
            if legs:
                _fail(owner, "legs", "only a combination has legs")
            return
        shape_ok = isinstance(legs, tuple) and all(
            isinstance(leg, tuple) and len(leg) == 2 and isinstance(leg[0], str) and leg[0]
            and isinstance(leg[1], int) and not isinstance(leg[1], bool) and leg[1] != 0
            for leg in legs)
        if not shape_ok or not 2 <= len(legs) <= _MAX_LEGS:
            _fail(owner, "legs", f"a combination needs 2 to {_MAX_LEGS} (name, non-zero int "
                  f"quantity) pairs, got {legs!r}")
        if len({name for name, _ in legs}) != len(legs):
            _fail(owner, "legs", f"leg names must be distinct, got {legs!r}")
        if abs(legs[0][1]) != 1:
            _fail(owner, "legs", "the first leg's quantity must be +1 or -1 (it takes the "
                  "reference price that makes the legs add up to the combination's price)")


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexSpec:
    """An index random walk for one underlying.

    Parameters
    ----------
    underlying : str
        Index name, e.g. ``BTCUSD``.
    initial_price : float
        Starting index in USD.
    volatility_per_sqrt_s : float
        Relative volatility per sqrt(simulated second) (0.0001 is about 56 % a year).
    """

    underlying: str
    initial_price: float
    volatility_per_sqrt_s: float = 1e-4

    def __post_init__(self) -> None:
        owner = f"IndexSpec({self.underlying!r})"
        if not isinstance(self.underlying, str) or not self.underlying or "." in self.underlying:
            _fail(owner, "underlying", "must be a non-empty string without dots")
        _positive(owner, "initial_price", self.initial_price)
        _positive(owner, "volatility_per_sqrt_s", self.volatility_per_sqrt_s, allow_zero=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultConfig:
    """Seeded fault injection; all off by default.

    Parameters
    ----------
    drop_every_s : float or None
        Close each session's connection (code 1001) this many trio seconds after it opened.
    drop_after_messages : int or None
        Close a session's connection after it sent this many requests.
    reply_delay_s : float
        Trio seconds to wait before answering each request (FIFO order is kept).
    reject_insert_fraction : float
        Fraction of insert/buy/sell requests answered with ``reject_insert_code``, not executed.
    reject_insert_code : int
        Error code for injected rejections (e.g. 4 throttled or 20 temporary failure).
    system_reconnect_every_s : float or None
        Push ``system`` ``{"event": "reconnect"}`` this often per session, then close the
        connection ``reconnect_grace_s`` later.
    reconnect_grace_s : float
        Delay between the reconnect event and the close, in trio seconds.
    malformed_frame_fraction : float
        Fraction of notifications preceded by a malformed text frame.
    """

    drop_every_s: float | None = None
    drop_after_messages: int | None = None
    reply_delay_s: float = 0.0
    reject_insert_fraction: float = 0.0
    reject_insert_code: int = 4
    system_reconnect_every_s: float | None = None
    reconnect_grace_s: float = 10.0
    malformed_frame_fraction: float = 0.0

    def __post_init__(self) -> None:
        owner = "FaultConfig"
        for name in ("drop_every_s", "system_reconnect_every_s"):
            if getattr(self, name) is not None:
                _positive(owner, name, getattr(self, name))
        if self.drop_after_messages is not None:
            _positive_int(owner, "drop_after_messages", self.drop_after_messages)
        _positive(owner, "reply_delay_s", self.reply_delay_s, allow_zero=True)
        _positive(owner, "reconnect_grace_s", self.reconnect_grace_s, allow_zero=True)
        _fraction(owner, "reject_insert_fraction", self.reject_insert_fraction)
        _fraction(owner, "malformed_frame_fraction", self.malformed_frame_fraction)
        _positive_int(owner, "reject_insert_code", self.reject_insert_code)


def default_instruments() -> tuple[InstrumentSpec, ...]:
    """BTC-PERPETUAL and ETH-PERPETUAL with Thalex's published ticks and sizes."""
    return (
        InstrumentSpec(instrument_name="BTC-PERPETUAL", product="FBTCUSD", underlying="BTCUSD",
                       tick_size=1.0, volume_tick_size=0.001, min_order_amount=0.001,
                       crowd_level_lots=500, taker_size_lots_mean=100.0),
        InstrumentSpec(instrument_name="ETH-PERPETUAL", product="FETHUSD", underlying="ETHUSD",
                       tick_size=0.1, volume_tick_size=0.01, min_order_amount=0.01,
                       crowd_level_lots=1000, taker_size_lots_mean=200.0),
    )


def default_indices() -> tuple[IndexSpec, ...]:
    """BTCUSD near 65,000 and ETHUSD near 3,500."""
    return (IndexSpec(underlying="BTCUSD", initial_price=65000.0),
            IndexSpec(underlying="ETHUSD", initial_price=3500.0))


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig:
    """Everything the simulator needs; all fields have sensible defaults.

    Parameters
    ----------
    host : str
        Interface to bind, loopback by default.
    port : int
        TCP port; 0 lets the kernel choose (read it back from the handle).
    seed : int
        Seed of every random stream (market and faults use independent child streams).
    instruments, indices : tuple
        Instrument and index specs; every instrument's underlying needs an index.
    api_keys : Mapping[str, str]
        Key id -> RSA public key PEM text. Empty means: accept the qengine demo key.
    demo_config_dir : str or None
        Directory of the demo key pair (None: auth's default, honouring QENGINE_CONFIG_DIR).
    step_s : float
        Trio seconds between market steps.
    time_scale : float
        Simulated seconds per trio second (the market moves ``step_s * time_scale`` per step).
    start_time_s : float or None
        Unix seconds of simulated time zero (None: the wall clock at start).
    maker_fee_rate, taker_fee_rate : float
        Fees as a fraction of notional (negative maker rate is a rebate).
    starting_cash_usd : float
        Cash collateral of each new account.
    initial_margin_rate : float
        Required margin as a fraction of position notional.
    collar_fraction : float
        Collar half-width around the mark as a fraction of the mark.
    message_rate_before_cod, message_rate, cancel_rate : float
        Token-bucket refill rates in requests per trio second; the bucket holds one second.
    rate_limits_enabled : bool
        Turn the throttle off for load tests.
    max_open_orders : int
        Open-order cap per account (error 49).
    max_request_bytes : int
        Larger text frames get error 6 without being parsed.
    outbound_queue_size : int
        Frames buffered per session; a session that falls this far behind is disconnected.
    summary_interval_s : float
        Period of ``account.summary`` pushes in trio seconds.
    recent_trades_snapshot : int
        Trades in a ``recent_trades`` snapshot.
    faults : FaultConfig
        Fault injection.
    """

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    instruments: tuple[InstrumentSpec, ...] = field(default_factory=default_instruments)
    indices: tuple[IndexSpec, ...] = field(default_factory=default_indices)
    api_keys: Mapping[str, str] = field(default_factory=dict)
    demo_config_dir: str | None = None
    step_s: float = 0.1
    time_scale: float = 1.0
    start_time_s: float | None = None
    maker_fee_rate: float = 0.0002
    taker_fee_rate: float = 0.0005
    starting_cash_usd: float = 1_000_000.0
    initial_margin_rate: float = 0.1
    collar_fraction: float = 0.03
    message_rate_before_cod: float = 10.0
    message_rate: float = 50.0
    cancel_rate: float = 1000.0
    rate_limits_enabled: bool = True
    max_open_orders: int = 200
    max_request_bytes: int = 65536
    outbound_queue_size: int = 10000
    summary_interval_s: float = 1.0
    recent_trades_snapshot: int = 20
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        owner = "SimulatorConfig"
        if not isinstance(self.host, str) or not self.host:
            _fail(owner, "host", "must be a non-empty string")
        if not isinstance(self.port, int) or isinstance(self.port, bool) or \
                not 0 <= self.port <= 65535:
            _fail(owner, "port", f"must be an integer in [0, 65535], got {self.port!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            _fail(owner, "seed", f"must be a non-negative integer, got {self.seed!r}")
        self._check_markets(owner)
        if not isinstance(self.api_keys, Mapping) or not all(
                isinstance(k, str) and k and isinstance(v, str) for k, v in self.api_keys.items()):
            _fail(owner, "api_keys", "must map non-empty key ids to public key PEM strings")
        object.__setattr__(self, "api_keys", MappingProxyType(dict(self.api_keys)))
        for name in ("step_s", "time_scale", "message_rate_before_cod", "message_rate",
                     "cancel_rate", "summary_interval_s", "collar_fraction"):
            _positive(owner, name, getattr(self, name))
        for name in ("maker_fee_rate", "taker_fee_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not -0.01 <= value <= 0.01:
                _fail(owner, name, f"must be a fraction in [-0.01, 0.01], got {value!r}")
        _positive(owner, "starting_cash_usd", self.starting_cash_usd, allow_zero=True)
        _positive(owner, "initial_margin_rate", self.initial_margin_rate, allow_zero=True)
        if self.start_time_s is not None:
            _positive(owner, "start_time_s", self.start_time_s)
        for name in ("max_open_orders", "max_request_bytes", "outbound_queue_size",
                     "recent_trades_snapshot"):
            _positive_int(owner, name, getattr(self, name))
        if not isinstance(self.faults, FaultConfig):
            _fail(owner, "faults", "must be a FaultConfig")
        if not isinstance(self.rate_limits_enabled, bool):
            _fail(owner, "rate_limits_enabled", "must be a bool")

    def _check_markets(self, owner: str) -> None:
        if not self.instruments or not all(isinstance(i, InstrumentSpec) for i in self.instruments):
            _fail(owner, "instruments", "must be a non-empty tuple of InstrumentSpec")
        names = [i.instrument_name for i in self.instruments]
        if len(set(names)) != len(names):
            _fail(owner, "instruments", f"duplicate instrument names in {names}")
        if not all(isinstance(i, IndexSpec) for i in self.indices):
            _fail(owner, "indices", "must be a tuple of IndexSpec")
        underlyings = {i.underlying for i in self.indices}
        missing = sorted({i.underlying for i in self.instruments} - underlyings)
        if missing:
            _fail(owner, "indices", f"no index for underlying(s) {missing}")
        by_name = {i.instrument_name: i for i in self.instruments}
        for combo in (i for i in self.instruments if i.type == "combination"):
            for name, _ in combo.legs:
                leg = by_name.get(name)
                if leg is None or leg.type == "combination":
                    _fail(owner, "instruments", f"{combo.instrument_name}: leg {name!r} is not "
                          "a listed perpetual or future")
                same = (leg.underlying, leg.tick_size, leg.volume_tick_size) == (
                    combo.underlying, combo.tick_size, combo.volume_tick_size)
                if not same:
                    _fail(owner, "instruments", f"{combo.instrument_name}: leg {name!r} needs "
                          "the combination's underlying, tick_size and volume_tick_size")
