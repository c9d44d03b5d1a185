"""Hand-built values shaped like ``qengine.backtest.QuotingResult``, for the statistics, report
and command-line tests (they need no backtest run)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qengine.backtest.layout import FILL_DTYPE
from qengine.config import EngineConfig, RiskConfig

NS = 1_000_000_000

# The record row of the contract (issue 12), field by field.
RECORD_DTYPE = np.dtype([
    ("ts", "<i8"), ("best_bid_tick", "<i8"), ("best_ask_tick", "<i8"), ("mid_tick", "<f8"),
    ("position_lots", "<i8"), ("balance", "<f8"), ("fee", "<f8"), ("equity", "<f8"),
    ("traded_lots", "<i8"), ("traded_value", "<f8"), ("open_orders", "<i8"),
    ("bid0_tick", "<f8"), ("ask0_tick", "<f8"), ("sigma_per_sqrt_s", "<f8"),
    ("quoted_spread_ticks", "<f8"), ("levels_allowed", "<i8"), ("risk_mask", "<i8"),
])


@dataclass(frozen=True, kw_only=True, slots=True)
class Instrument:
    name: str = "TEST"
    tick_size: float = 0.1
    lot_size: float = 0.001
    min_order_lots: int = 1
    contract_size: float = 1.0
    inverse: bool = False
    maker_fee: float = -0.0001
    taker_fee: float = 0.0004


@dataclass(frozen=True, kw_only=True, slots=True)
class FakeResult:
    instrument: Instrument
    config: EngineConfig
    records: np.ndarray
    fills: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)
    start_ns: int = 0
    end_ns: int = 0
    wall_s: float = 0.0


def records(**columns) -> np.ndarray:
    """Record rows from equal-length columns; fields not given are 0."""
    n = len(next(iter(columns.values())))
    rows = np.zeros(n, RECORD_DTYPE)
    for name, values in columns.items():
        rows[name] = values
    return rows


def fills(*rows: tuple[int, int, int, int, int, int]) -> np.ndarray:
    """Fills from (exch_ts, order_id, side, price_tick, qty_lots, maker) tuples."""
    out = np.zeros(len(rows), FILL_DTYPE)
    for i, (ts, order_id, side, price, qty, maker) in enumerate(rows):
        out[i] = (ts, ts, order_id, side, price, qty, maker)
    return out


def config(max_position: float = 0.003, model: str = "as") -> EngineConfig:
    from qengine.config import QuoteConfig

    return EngineConfig(risk=RiskConfig(max_position=max_position),
                        quote=QuoteConfig(model=model))


def synthetic_result(seconds: int = 120, *, seed: int = 7, step_ms: int = 100) -> FakeResult:
    """A plausible quoting run: a random-walk mid, quotes around it, fills where the mid crossed
    a quote, and position, cash, fees and equity booked from those fills."""
    rng = np.random.default_rng(seed)
    inst = Instrument(tick_size=0.1, lot_size=0.001)
    n = seconds * 1000 // step_ms
    ts = np.arange(n, dtype=np.int64) * step_ms * 1_000_000 + 1_700_000_000 * NS
    mid = 600_000 + np.cumsum(rng.integers(-5, 6, n)).astype(np.float64)
    bid0, ask0 = mid - 3 - rng.integers(0, 3, n), mid + 3 + rng.integers(0, 3, n)
    ask0[rng.random(n) < 0.05] = np.nan
    fill_rows, pos, cash, fee, order_id = [], 0, 0.0, 0.0, 0
    position, cash_col, fee_col = np.zeros(n, np.int64), np.zeros(n), np.zeros(n)
    for i in range(1, n):
        for side, quote in ((1, bid0[i - 1]), (-1, ask0[i - 1])):
            crossed = mid[i] <= quote if side > 0 else mid[i] >= quote
            if np.isfinite(quote) and crossed and abs(pos + side * 5) <= 20:
                order_id += 1
                fill_rows.append((int(ts[i]), order_id, side, int(quote), 5, 1))
                value = int(quote) * inst.tick_size * 5 * inst.lot_size
                pos, cash = pos + side * 5, cash - side * value
                fee += value * inst.maker_fee
        position[i], cash_col[i], fee_col[i] = pos, cash - fee, fee
    equity = cash_col + position * inst.lot_size * mid * inst.tick_size
    rec = records(ts=ts, best_bid_tick=(mid - 1).astype(np.int64),
                  best_ask_tick=(mid + 1).astype(np.int64), mid_tick=mid, position_lots=position,
                  balance=cash_col, fee=fee_col, equity=equity, open_orders=np.full(n, 2),
                  bid0_tick=bid0, ask0_tick=ask0,
                  sigma_per_sqrt_s=1e-4 * (1 + 0.3 * np.sin(np.arange(n) / 200)),
                  quoted_spread_ticks=ask0 - bid0, levels_allowed=np.full(n, 3))
    return FakeResult(instrument=inst, config=config(max_position=0.02), records=rec,
                      fills=fills(*fill_rows),
                      counts={"orders_sent": 3 * len(fill_rows) + 4, "amends": 50,
                              "cancels": 2 * len(fill_rows), "rejects": 1},
                      start_ns=int(ts[0]), end_ns=int(ts[-1]))
