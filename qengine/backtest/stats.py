"""Statistics of a quoting backtest: one flat dict of plain numbers per run.

``compute_stats(result)`` reads only these fields of ``result`` (a ``QuotingResult`` or anything
shaped like it): ``records`` (one row per record interval: ``ts``, ``best_bid_tick``,
``best_ask_tick``, ``mid_tick``, ``position_lots``, ``fee``, ``equity``, ``bid0_tick``,
``ask0_tick``), ``fills`` (``exch_ts``, ``order_id``, ``side``, ``price_tick``, ``qty_lots``,
``maker``), ``counts`` (``orders_sent``, ``amends``, ``cancels``, ``rejects``),
``instrument`` (``tick_size``, ``lot_size``, ``contract_size``, ``inverse``),
``config.risk.max_position`` and ``start_ns`` / ``end_ns``.

Money is in the quote currency (the settlement coin for an inverse contract), quantities in
coins (lots x lot size), prices and spreads in ticks. Sharpe and Sortino follow hftbacktest's
definition on equity changes (no capital, no risk-free rate), sampled on a regular grid and
annualised with 365 days of 24 h. A ratio whose denominator is zero (no fills, flat equity, no
losing interval) is NaN; ``--json`` writes NaN as ``null``.

The table below (unit and definition of every key) is ``STAT_DEFINITIONS``:
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Horizons of the markout curve in the report, seconds.
CURVE_HORIZONS_S = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
_YEAR_S = 365.0 * 86_400.0
_NS = 1_000_000_000

#: key -> (unit, definition). Markout keys for other horizons follow the same pattern.
STAT_DEFINITIONS: dict[str, tuple[str, str]] = {
    "duration_s": ("s", "time from the first to the last event of the data"),
    "pnl_quote": ("quote", "equity change over the run, after fees (last record row - first)"),
    "pnl_before_fees_quote": ("quote", "pnl_quote + fees_quote: the trading PnL alone"),
    "fees_quote": ("quote", "fees paid over the run; negative = rebates earned"),
    "turnover_quote": ("quote", "traded value of all fills, sum of qty x price x contract size"),
    "return_over_trade_bps": ("bps", "1e4 x pnl_quote / turnover_quote (hftbacktest's "
                                     "ReturnOverTrade)"),
    "sample_interval_s": ("s", "sampling interval of equity for Sharpe and Sortino"),
    "sharpe_annualised": ("1", "mean / standard deviation (ddof 1) of equity changes per sample "
                               "interval, x sqrt(samples per 365-day year); NaN if flat"),
    "sortino_annualised": ("1", "mean equity change / sqrt(mean of min(change, 0)^2), x "
                                "sqrt(samples per year); NaN if no losing interval"),
    "max_drawdown_quote": ("quote", "largest fall of equity from its running peak (every "
                                    "record row)"),
    "fills": ("count", "fill rows (a partial fill counts once)"),
    "fills_buy": ("count", "fills of our bids"),
    "fills_sell": ("count", "fills of our asks"),
    "maker_fills": ("count", "fills where we were the maker"),
    "trades_buy": ("count", "distinct buy orders with at least one fill"),
    "trades_sell": ("count", "distinct sell orders with at least one fill"),
    "bought_coins": ("coins", "quantity bought"),
    "sold_coins": ("coins", "quantity sold"),
    "orders_sent": ("count", "new orders sent (inserts)"),
    "amends": ("count", "amend requests sent"),
    "cancels": ("count", "cancel requests sent"),
    "rejects": ("count", "requests the exchange rejected"),
    "fill_ratio": ("1", "fills / orders_sent"),
    "order_to_trade_ratio": ("1", "(orders_sent + amends + cancels) / fills"),
    "final_position_coins": ("coins", "position at the last record row"),
    "avg_position_coins": ("coins", "time-weighted mean of the signed position (each record "
                                    "row holds until the next)"),
    "avg_abs_position_coins": ("coins", "time-weighted mean of |position|"),
    "max_abs_position_coins": ("coins", "largest |position| on a record row"),
    "time_at_limit_pct": ("%", "share of time with |position| >= risk.max_position"),
    "time_two_sided_pct": ("%", "share of time with both a bid and an ask quoted"),
    "quoted_spread_ticks": ("ticks", "time-weighted mean of ask0 - bid0 while two-sided"),
    "quoted_spread_bps": ("bps", "time-weighted mean of (ask0 - bid0) / mid x 1e4 while "
                                 "two-sided"),
    "bid_distance_to_touch_ticks": ("ticks", "time-weighted mean of best bid - bid0 while a "
                                             "bid is quoted (negative: inside the spread)"),
    "ask_distance_to_touch_ticks": ("ticks", "time-weighted mean of ask0 - best ask while an "
                                             "ask is quoted"),
    "markout_1s_ticks": ("ticks", "mean over fills of (mid 1 s after the fill - fill price) x "
                                  "side; mid from the last record row at or before that time"),
    "markout_1s_quote": ("quote", "the same per fill in money: x qty x contract size"),
    "markout_10s_ticks": ("ticks", "as markout_1s_ticks, 10 s after the fill"),
    "markout_10s_quote": ("quote", "as markout_1s_quote, 10 s after the fill"),
    "markout_60s_ticks": ("ticks", "as markout_1s_ticks, 60 s after the fill"),
    "markout_60s_quote": ("quote", "as markout_1s_quote, 60 s after the fill"),
}
#: Every key ``compute_stats`` returns with the default horizons, in table order.
STAT_KEYS: tuple[str, ...] = tuple(STAT_DEFINITIONS)


def _horizon_label(horizon_s: float) -> str:
    return f"{horizon_s:g}s"


def stat_unit(key: str) -> str:
    """Unit of a statistic (markouts at any horizon included)."""
    if key in STAT_DEFINITIONS:
        return STAT_DEFINITIONS[key][0]
    return "ticks" if key.endswith("_ticks") else "quote"


def stat_definition(key: str) -> str:
    """Definition of a statistic (markouts at any horizon included)."""
    if key in STAT_DEFINITIONS:
        return STAT_DEFINITIONS[key][1]
    return "markout at this horizon (see markout_1s_*)"


def valid_book(rec: np.ndarray) -> np.ndarray:
    """Rows whose local book has both sides (a finite mid, no empty-side sentinel ticks)."""
    limit = np.iinfo(np.int64).max // 2
    return (np.isfinite(rec["mid_tick"]) & (np.abs(rec["best_bid_tick"]) < limit)
            & (np.abs(rec["best_ask_tick"]) < limit))


def _value_quote(result: Any, price: np.ndarray, qty_coins: np.ndarray) -> np.ndarray:
    """Traded value of quantities at prices (both arrays), in the settlement currency."""
    inst = result.instrument
    if inst.inverse:
        return qty_coins * inst.contract_size / price
    return qty_coins * inst.contract_size * price


def _asof(ts: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Index of the last record row at or before each time in ``at`` (-1 if none)."""
    return np.searchsorted(ts, at, side="right") - 1


def _durations(ts: np.ndarray) -> np.ndarray:
    """How long each record row holds (until the next row; the last row holds for 0)."""
    if ts.size == 0:
        return np.zeros(0)
    return np.append(np.diff(ts), 0).astype(np.float64)


def _time_mean(values: np.ndarray, weights: np.ndarray, mask: np.ndarray) -> float:
    """Mean of ``values[mask]`` weighted by time; a plain mean if the rows carry no time."""
    if not mask.any():
        return math.nan
    w = weights[mask]
    if w.sum() <= 0:
        return float(values[mask].mean())
    return float(np.average(values[mask], weights=w))


def markouts(rec: np.ndarray, fills: np.ndarray, instrument: Any, horizons_s: Sequence[float],
             ) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Per-fill markouts: horizon -> (ticks, quote) arrays, one entry per fill whose horizon
    ends within the record rows (other fills are left out). Resolution: the record interval.

    The fill's exchange time plus the horizon is looked up on the record rows, which are on the
    strategy's local clock: the local book lags the exchange by the feed latency, so the mid
    used is the exchange's about that latency (milliseconds) earlier."""
    out: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    tick = instrument.tick_size
    qty = fills["qty_lots"] * instrument.lot_size
    for horizon in horizons_s:
        at = fills["exch_ts"] + round(horizon * _NS)
        rows = _asof(rec["ts"], at)
        ok = (rows >= 0) & (at <= (rec["ts"][-1] if rec.size else -1))
        mid = np.full(fills.size, np.nan)
        mid[ok] = rec["mid_tick"][rows[ok]]
        ok &= np.isfinite(mid)
        side, price_tick = fills["side"][ok], fills["price_tick"][ok]
        ticks = (mid[ok] - price_tick) * side
        if instrument.inverse:
            money = side * qty[ok] * instrument.contract_size * (
                1.0 / (price_tick * tick) - 1.0 / (mid[ok] * tick))
        else:
            money = ticks * tick * qty[ok] * instrument.contract_size
        out[horizon] = (ticks, money)
    return out


def sampled_equity(records: np.ndarray, sample_interval_s: float) -> np.ndarray:
    """Equity on a regular grid from the first record row, every ``sample_interval_s`` (the
    last row at or before each grid time; a partial last interval is dropped)."""
    if records.size == 0:
        return np.zeros(0)
    step = round(sample_interval_s * _NS)
    ts = records["ts"]
    grid = np.arange(ts[0], ts[-1] + 1, step, dtype=np.int64)
    return records["equity"][_asof(ts, grid)].astype(np.float64)


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0 and math.isfinite(den) else math.nan


def _risk_ratios(records: np.ndarray, sample_interval_s: float) -> tuple[float, float]:
    changes = np.diff(sampled_equity(records, sample_interval_s))
    if changes.size < 2:
        return math.nan, math.nan
    scale = math.sqrt(_YEAR_S / sample_interval_s)
    mean = float(changes.mean())
    sharpe = _ratio(mean, float(changes.std(ddof=1))) * scale
    downside = math.sqrt(float(np.mean(np.minimum(changes, 0.0) ** 2)))
    return sharpe, _ratio(mean, downside) * scale


def _pnl_stats(result: Any, sample_interval_s: float) -> dict[str, float]:
    rec = result.records
    if rec.size == 0:
        pnl = fees = drawdown = math.nan
    else:
        equity = rec["equity"].astype(np.float64)
        pnl = float(equity[-1] - equity[0])
        fees = float(rec["fee"][-1] - rec["fee"][0])
        drawdown = float(np.max(np.maximum.accumulate(equity) - equity))
    fills = result.fills
    price = fills["price_tick"] * result.instrument.tick_size
    turnover = float(_value_quote(result, price, fills["qty_lots"] * result.instrument.lot_size)
                     .sum())
    sharpe, sortino = _risk_ratios(rec, sample_interval_s)
    return {
        "pnl_quote": pnl, "pnl_before_fees_quote": pnl + fees, "fees_quote": fees,
        "turnover_quote": turnover, "return_over_trade_bps": 1e4 * _ratio(pnl, turnover),
        "sample_interval_s": float(sample_interval_s), "sharpe_annualised": sharpe,
        "sortino_annualised": sortino, "max_drawdown_quote": drawdown,
    }


def _fill_stats(result: Any) -> dict[str, float | int]:
    fills, counts = result.fills, result.counts
    buy = fills["side"] > 0
    lot = result.instrument.lot_size
    n = int(fills.size)
    sent, amends, cancels = (int(counts.get(k, 0)) for k in ("orders_sent", "amends", "cancels"))
    return {
        "fills": n, "fills_buy": int(buy.sum()), "fills_sell": int((~buy).sum()),
        "maker_fills": int((fills["maker"] != 0).sum()),
        "trades_buy": int(np.unique(fills["order_id"][buy]).size),
        "trades_sell": int(np.unique(fills["order_id"][~buy]).size),
        "bought_coins": float(fills["qty_lots"][buy].sum() * lot),
        "sold_coins": float(fills["qty_lots"][~buy].sum() * lot),
        "orders_sent": sent, "amends": amends, "cancels": cancels,
        "rejects": int(counts.get("rejects", 0)),
        "fill_ratio": _ratio(n, sent), "order_to_trade_ratio": _ratio(sent + amends + cancels, n),
    }


def _inventory_and_quote_stats(result: Any) -> dict[str, float]:
    rec = result.records
    lot = result.instrument.lot_size
    weights = _durations(rec["ts"])
    lots = rec["position_lots"].astype(np.float64)
    everywhere = np.ones(rec.size, dtype=bool)
    limit_lots = math.floor(result.config.risk.max_position / lot + 1e-9)
    at_limit = (np.abs(lots) >= limit_lots).astype(np.float64)
    bid, ask = rec["bid0_tick"], rec["ask0_tick"]
    book = valid_book(rec)
    has_bid, has_ask = np.isfinite(bid) & book, np.isfinite(ask) & book
    both = has_bid & has_ask
    spread = np.where(both, ask - bid, np.nan)
    return {
        "final_position_coins": float(lots[-1] * lot) if rec.size else math.nan,
        "avg_position_coins": _time_mean(lots * lot, weights, everywhere),
        "avg_abs_position_coins": _time_mean(np.abs(lots) * lot, weights, everywhere),
        "max_abs_position_coins": float(np.abs(lots).max() * lot) if rec.size else math.nan,
        "time_at_limit_pct": 100.0 * _time_mean(at_limit, weights, everywhere),
        "time_two_sided_pct": 100.0 * _time_mean(both.astype(np.float64), weights, everywhere),
        "quoted_spread_ticks": _time_mean(spread, weights, both),
        "quoted_spread_bps": _time_mean(1e4 * spread / rec["mid_tick"], weights, both),
        "bid_distance_to_touch_ticks": _time_mean(rec["best_bid_tick"] - bid, weights, has_bid),
        "ask_distance_to_touch_ticks": _time_mean(ask - rec["best_ask_tick"], weights, has_ask),
    }


def _plain(value: Any) -> float | int:
    return int(value) if isinstance(value, int | np.integer) else float(value)


def compute_stats(result: Any, *, sample_interval_s: float = 1.0,
                  markout_horizons_s: Sequence[float] = (1.0, 10.0, 60.0),
                  ) -> dict[str, float | int]:
    """Every statistic of a quoting backtest, a flat dict of plain ``int`` / ``float`` (NaN
    where undefined); keys, units and definitions are in the module's table.

    Raises
    ------
    ValueError
        If ``sample_interval_s`` or a markout horizon is not a finite number >= 0 (> 0 for the
        interval), or the record rows are not in time order.
    """
    if not (isinstance(sample_interval_s, int | float) and math.isfinite(sample_interval_s)
            and sample_interval_s > 0):
        raise ValueError(f"sample_interval_s must be a finite number > 0, got "
                         f"{sample_interval_s!r}")
    for horizon in markout_horizons_s:
        if not (isinstance(horizon, int | float) and math.isfinite(horizon) and horizon >= 0):
            raise ValueError(f"markout horizons must be finite numbers >= 0, got {horizon!r}")
    if np.any(np.diff(result.records["ts"]) < 0):
        raise ValueError("records: ts must not decrease")
    stats: dict[str, Any] = {"duration_s": (result.end_ns - result.start_ns) / _NS}
    stats |= _pnl_stats(result, sample_interval_s)
    stats |= _fill_stats(result)
    stats |= _inventory_and_quote_stats(result)
    for horizon, (ticks, money) in markouts(result.records, result.fills, result.instrument,
                                             markout_horizons_s).items():
        label = _horizon_label(horizon)
        stats[f"markout_{label}_ticks"] = float(ticks.mean()) if ticks.size else math.nan
        stats[f"markout_{label}_quote"] = float(money.mean()) if money.size else math.nan
    order = [k for k in STAT_KEYS if k in stats] + [k for k in stats if k not in STAT_DEFINITIONS]
    return {key: _plain(stats[key]) for key in order}


def _format_value(value: float | int) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "n/a"
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"


def stats_rows(stats: Mapping[str, float | int]) -> list[tuple[str, str, str, str]]:
    """(key, formatted value, unit, definition) rows, in the order of ``stats``."""
    return [(k, _format_value(v), stat_unit(k), stat_definition(k)) for k, v in stats.items()]


def format_stats_table(stats: Mapping[str, float | int]) -> str:
    """The statistics as an aligned text table (key, value, unit)."""
    rows = stats_rows(stats)
    width_key = max((len(r[0]) for r in rows), default=0)
    width_value = max((len(r[1]) for r in rows), default=0)
    return "\n".join(f"{k:<{width_key}}  {v:>{width_value}}  {u}" for k, v, u, _ in rows)


def definitions_table() -> str:
    """The markdown table of ``STAT_DEFINITIONS`` (the README's and this module's)."""
    lines = ["| key | unit | definition |", "|---|---|---|"]
    lines += [f"| `{key}` | {unit} | {text} |" for key, (unit, text) in STAT_DEFINITIONS.items()]
    return "\n".join(lines)


__doc__ = (__doc__ or "") + "\n" + definitions_table() + "\n"
