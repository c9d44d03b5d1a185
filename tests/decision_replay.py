"""Decision rows (``qengine.backtest.DECISION_DTYPE``: one quote cycle's inputs and ladder)
compared and decided again: the market state and ladder of a row, and a replay of logged inputs
through the strategy layer's setup and the pure kernels from fresh estimators (tests only).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qengine.backtest.events import BUY_EVENT, KIND_MASK, LOCAL_EVENT, TRADE_EVENT
from qengine.backtest.quoting_decisions import DECISION_DTYPE, DECISION_LEVELS
from qengine.config import EngineConfig
from qengine.kernels import codes
from qengine.kernels.dtypes import (
    INTENSITY_STATE,
    MARKET_SAMPLE,
    QUOTE,
    QUOTE_DIAG,
    RING_CURSOR,
    VOL_RETURN,
    VOL_STATE,
)
from qengine.kernels.intensity import intensity_update
from qengine.kernels.params import make_level_multipliers
from qengine.kernels.pipeline import quote_pipeline
from qengine.strategy.setup import InstrumentSpec, build_quote_params

from .event_book import EventBook

#: The ``quote_cycle`` inputs, in the kernel's order, and the diagnostics a row keeps.
INPUT_FIELDS = ("time_ns", "best_bid_tick", "best_ask_tick", "best_bid_lots", "best_ask_lots",
                "position_lots", "levels_allowed")
#: What the cycle read from the order table (the diagnostics keep it): the worst-case lots of the
#: orders in flight per side, which the ladder's room to the limit leaves out.
INFLIGHT_FIELDS = ("bid_inflight_lots", "ask_inflight_lots")
DIAG_FIELDS = ("status", "flags", "quote_count", "sigma_per_sqrt_s", "a_bid_per_s",
               "kappa_bid_per_tick", "a_ask_per_s", "kappa_ask_per_tick")
#: What a decision is taken on (the market state) and what it decides (the ladder).
STATE_FIELDS = ("best_bid_tick", "best_ask_tick", "position_lots", "levels_allowed",
                *INFLIGHT_FIELDS)
LADDER_FIELDS = ("quote_count", "bid_price_ticks", "bid_size_lots", "ask_price_ticks",
                 "ask_size_lots")


def ladder_by_level(quotes: np.ndarray, count: int, row: Any) -> None:
    """Write the first ``count`` QUOTE rows into ``row``'s per-level ladder fields."""
    for quote in quotes[:count]:
        side = "bid" if int(quote["side"]) == codes.SIDE_BUY else "ask"
        level = int(quote["level"])
        row[f"{side}_price_ticks"][level] = int(quote["price_ticks"])
        row[f"{side}_size_lots"][level] = int(quote["size_lots"])


def inputs_of(row: Any) -> tuple[int, ...]:
    """The ``quote_cycle`` inputs a decision row was taken on."""
    return tuple(int(row[name]) for name in INPUT_FIELDS)


def replay_feed(config: EngineConfig, spec: InstrumentSpec, rows: np.ndarray,
                feed: list[tuple[str, Any]]) -> np.ndarray:
    """Decide again, from fresh estimators, on the logged inputs: the trades fed to the intensity
    estimator and each cycle's book, position and levels, in their order, through the pure
    kernels and the strategy layer's setup (what the backtester builds too), with the in-flight
    lots each cycle read. Returns the
    decision rows the kernels give (``wake_ns`` and ``n_actions`` copied from ``rows``)."""
    q = config.quote
    setup = (build_quote_params(config, spec), make_level_multipliers(q.bid_size_multipliers),
             make_level_multipliers(q.ask_size_multipliers))
    state = (np.zeros(q.ring_capacity, MARKET_SAMPLE), np.zeros(1, RING_CURSOR),
             np.zeros(1, VOL_STATE), np.zeros(q.ring_capacity, VOL_RETURN),
             np.zeros(2, INTENSITY_STATE))
    quotes, diag = np.zeros(2 * DECISION_LEVELS, QUOTE), np.zeros(1, QUOTE_DIAG)
    out = np.zeros(len(rows), DECISION_DTYPE)
    for kind, what in feed:
        if kind == "trade":
            intensity_update(state[4], *what)
            continue
        row = out[what]
        for name in ("wake_ns", "n_actions", *INPUT_FIELDS, *INFLIGHT_FIELDS):
            row[name] = rows[what][name]
        count = quote_pipeline(setup, state, inputs_of(row), (quotes, diag),
                               *(int(row[name]) for name in INFLIGHT_FIELDS))
        for name in DIAG_FIELDS:
            row[name] = diag[0][name]
        ladder_by_level(quotes, count, row)
    return out



def state_key(row: Any) -> tuple[int, ...]:
    """The state a decision was taken on: touch, position, levels allowed, lots in flight."""
    return tuple(int(row[name]) for name in STATE_FIELDS)


def ladder_key(row: Any) -> bytes:
    """The decision: quote count and the ladder by level (prices and sizes)."""
    return b"".join(np.ascontiguousarray(row[name]).tobytes() for name in LADDER_FIELDS)


def decisions_by_state(rows: np.ndarray) -> dict[tuple[int, ...], set[bytes]]:
    """Every ladder a log decided at each market state."""
    found: dict[tuple[int, ...], set[bytes]] = {}
    for row in rows:
        found.setdefault(state_key(row), set()).add(ladder_key(row))
    return found


def recording_feed(rows: np.ndarray, spec: InstrumentSpec, half_life_s: float,
                   decisions: np.ndarray) -> list[tuple[str, Any]]:
    """What the backtester feeds its intensity estimator from a recording, in order with its
    cycles (``decisions``, with their wake-up times): each LOCAL trade row at its ``local_ts``
    with the mid of the local book when it arrived (none without a two-sided book, as the
    listener skips those), fed before the first cycle at or after it."""
    book = EventBook(spec.tick_size, spec.volume_tick)
    trades: list[tuple[int, tuple[Any, ...]]] = []
    for row in rows[(rows["ev"] & LOCAL_EVENT) != 0]:
        if int(row["ev"]) & KIND_MASK != TRADE_EVENT:
            book.apply(row)
            continue
        bid, ask = book.best()
        if bid is None or ask is None or not 0 < bid[0] < ask[0]:
            continue
        side = codes.SIDE_BUY if int(row["ev"]) & BUY_EVENT else codes.SIDE_SELL
        local_ns = int(row["local_ts"])
        trades.append((local_ns, (local_ns, round(row["px"] / spec.tick_size),
                                  0.5 * (bid[0] + ask[0]), side, half_life_s)))
    feed: list[tuple[str, Any]] = []
    k = 0
    for index, wake_ns in enumerate(decisions["wake_ns"]):
        while k < len(trades) and trades[k][0] <= wake_ns:
            feed.append(("trade", trades[k][1]))
            k += 1
        feed.append(("cycle", index))
    return feed


def assert_same_decisions(got: np.ndarray, want: np.ndarray) -> None:
    """The diagnostics and ladders of two decision logs are equal, bit for bit (NaN == NaN)."""
    for name in (*DIAG_FIELDS, *LADDER_FIELDS):
        if got.dtype[name].kind == "f":
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)  # NaN == NaN
        else:
            assert np.array_equal(got[name], want[name]), name
