"""The engine's preallocated state: every array the kernels work on, and who writes it.

Writers (all on the one trio thread; kernel calls never await in between):

- listener (market callbacks): ``book`` fields, ``samples``/``vol_*`` through the quoter's
  pipeline call, ``intensity_state`` (public trades);
- listener (order events): ``orders`` rows (exchange reports);
- account (fills, portfolio reconciliation): ``positions``/``lots``/``seen_trade_ids``, the
  ``booked_lots`` of ``orders`` rows;
- quoter: ``quotes``, ``diag``, ``actions`` (and ``samples``/``vol_*`` via ``quote_cycle``);
- order manager: ``orders`` rows (reserve before sending, pending flags);
- gate (``QuoteGate.risk_step``, driven by the risk monitor): ``risk_state``;
- nobody: ``risk_limits`` and ``decision_params`` (the decision core's rules, from config).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from .. import units
from ..config import EngineConfig
from ..errors import StartupError
from ..io.messages import Instrument, SkippedRow
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
    RISK_STATE,
    VOL_RETURN,
    VOL_STATE,
)
from ..kernels.params import make_level_multipliers
from ..kernels.position import position_unrealised
from ..strategy.setup import (
    InstrumentSpec,
    build_decision_params,
    build_quote_params,
    build_risk_limits,
)

ORDER_CAPACITY = 64
LOT_CAPACITY_PER_INSTRUMENT = 512
SEEN_TRADES_CAPACITY = 4096
ACTION_CAPACITY = 64


def id_key(exchange_id: str) -> int:
    """Map an exchange id string (order or trade id) to a stable non-negative int64 for the
    kernels (63 bits of a hash: the order table stores only keys >= 0, -1 means unknown)."""
    digest = hashlib.blake2b(exchange_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


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


class Book:
    """Latest top of book, mark and index of the quoted instrument (written by the listener)."""

    __slots__ = (
        "ask_lots",
        "ask_ticks",
        "bid_lots",
        "bid_ticks",
        "collar_high_ticks",
        "collar_low_ticks",
        "exchange_time_s",
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
        #: Exchange time (Unix s) of the newest mark seen; never moves back.
        self.exchange_time_s = -math.inf


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
        self.decision_params = build_decision_params(config, self.spec)
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
