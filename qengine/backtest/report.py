"""The report of a quoting backtest: PNG plots (matplotlib, Agg) and one self-contained HTML file.

``write_report(result, stats, out_dir)`` writes ``price.png`` (mid, our level-0 quotes and our
fills), ``pnl.png`` (PnL after fees, trading PnL, rebates minus fees), ``inventory.png``
(position and the ``risk.max_position`` lines), ``spread_sigma.png`` (our quoted spread, the
market spread and sigma), ``markout.png`` (mean markout against horizon) and ``report.html``
(the statistics table and every plot inlined as base64). ``result`` is a ``QuotingResult`` or
anything with the fields ``qengine.backtest.stats`` lists. matplotlib is the ``backtest`` extra.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .stats import CURVE_HORIZONS_S, markouts, stats_rows, valid_book

_MAX_POINTS = 20_000  # per line: more points than pixels only slow the drawing
_NS = 1e9
_INSTALL_HINT = "pip install 'qengine[backtest]'"
#: Time-axis unit, its length in s, and the longest run it is used for.
_TIME_UNITS = (("s", 1.0, 600.0), ("min", 60.0, 3 * 3600.0), ("h", 3600.0, math.inf))


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """What ``write_report`` wrote: the HTML file and the PNG plots by name."""

    html: Path
    plots: dict[str, Path]


def require_matplotlib() -> None:
    """Raise ``ModuleNotFoundError`` naming the extra to install if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"the backtest plots need matplotlib, which is missing: {_INSTALL_HINT}",
            name="matplotlib") from None


def _time_axis(ts: np.ndarray, start_ns: int) -> tuple[np.ndarray, str, float]:
    """Times since the start in s, min or h (whichever reads best), the label and the scale."""
    span_s = (ts[-1] - start_ns) / _NS if ts.size else 0.0
    unit, scale = next((u, k) for u, k, up_to_s in _TIME_UNITS if span_s <= up_to_s)
    return (ts - start_ns) / _NS / scale, f"time since start ({unit})", scale


def _thin(n: int) -> slice:
    return slice(None, None, max(1, math.ceil(n / _MAX_POINTS)))


def _bucket_means(t: np.ndarray, y: np.ndarray, buckets: int = 600,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``y`` (NaN left out) over ``buckets`` runs of equal row count: a noisy series
    at 100 ms reads better as its local mean than as a band of spikes."""
    if t.size <= buckets:
        return t, y
    starts = np.linspace(0, t.size, buckets, endpoint=False).astype(np.int64)
    finite = np.isfinite(y)
    sums = np.add.reduceat(np.where(finite, y, 0.0), starts)
    counts = np.add.reduceat(finite.astype(np.int64), starts)
    means = np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)
    centres = t[np.minimum(starts + np.diff(starts, append=t.size) // 2, t.size - 1)]
    return centres, means


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def _plot_price(ax: Any, result: Any, start_ns: int) -> str:
    rec, fills, tick = result.records, result.fills, result.instrument.tick_size
    t, label, scale = _time_axis(rec["ts"], start_ns)
    keep = _thin(rec.size)
    ax.plot(t[keep], rec["mid_tick"][keep] * tick, color="0.2", lw=0.8, label="mid")
    ax.step(t[keep], rec["bid0_tick"][keep] * tick, where="post", color="tab:green", lw=0.6,
            alpha=0.6, label="our bid (level 0)")
    ax.step(t[keep], rec["ask0_tick"][keep] * tick, where="post", color="tab:red", lw=0.6,
            alpha=0.6, label="our ask (level 0)")
    for side, marker, color, name in ((1, "^", "tab:green", "buy fill"),
                                      (-1, "v", "tab:red", "sell fill")):
        mine = fills[fills["side"] == side]
        ax.scatter((mine["exch_ts"] - start_ns) / _NS / scale, mine["price_tick"] * tick,
                   marker=marker, s=14, color=color, edgecolors="black", linewidths=0.3,
                   zorder=3, label=f"{name} ({mine.size})")
    ax.set(xlabel=label, ylabel="price (quote currency)")
    return "Mid, our quotes and our fills"


def _plot_pnl(ax: Any, result: Any, start_ns: int) -> str:
    rec = result.records
    t, label, _ = _time_axis(rec["ts"], start_ns)
    keep = _thin(rec.size)
    if rec.size:
        equity, fee = rec["equity"] - rec["equity"][0], rec["fee"] - rec["fee"][0]
        ax.plot(t[keep], equity[keep], color="black", lw=1.2, label="PnL after fees")
        ax.plot(t[keep], (equity + fee)[keep], color="tab:blue", lw=0.8,
                label="trading PnL (before fees)")
        ax.plot(t[keep], -fee[keep], color="tab:orange", lw=0.8, label="rebates - fees")
    ax.axhline(0.0, color="0.6", lw=0.5)
    ax.set(xlabel=label, ylabel="quote currency")
    return "PnL and its breakdown"


def _plot_inventory(ax: Any, result: Any, start_ns: int) -> str:
    rec = result.records
    t, label, _ = _time_axis(rec["ts"], start_ns)
    keep = _thin(rec.size)
    position = rec["position_lots"] * result.instrument.lot_size
    ax.step(t[keep], position[keep], where="post", color="tab:purple", lw=0.9, label="position")
    limit = result.config.risk.max_position
    for sign in (1, -1):
        ax.axhline(sign * limit, color="tab:red", ls="--", lw=0.8,
                   label=f"risk.max_position (±{limit:g})" if sign > 0 else None)
    ax.axhline(0.0, color="0.6", lw=0.5)
    ax.set(xlabel=label, ylabel="position (coins)")
    if np.all(np.abs(position) <= limit):
        ax.set_ylim(-1.15 * limit, 1.15 * limit)
    return "Inventory and its limit"


def _plot_spread_sigma(ax: Any, result: Any, start_ns: int) -> str:
    rec = result.records
    t, label, _ = _time_axis(rec["ts"], start_ns)
    for values, color, name in (
            (rec["ask0_tick"] - rec["bid0_tick"], "tab:blue", "our quoted spread (ask0 - bid0)"),
            (np.where(valid_book(rec), rec["best_ask_tick"] - rec["best_bid_tick"], np.nan),
             "0.4", "market spread")):
        ax.plot(*_bucket_means(t, values.astype(np.float64)), color=color, lw=0.9, label=name)
    ax.set_ylim(bottom=0)
    ax.set(xlabel=label, ylabel="spread (ticks, local mean)")
    right = ax.twinx()
    # sigma is a fraction of price per sqrt(s); x sqrt(1 day) x 100 reads as daily %
    sigma_daily_pct = rec["sigma_per_sqrt_s"] * math.sqrt(86_400) * 100
    right.plot(*_bucket_means(t, sigma_daily_pct), color="tab:orange", lw=0.9, label="sigma")
    right.set_ylim(bottom=0)
    right.set_ylabel("sigma (% per day)", color="tab:orange")
    return "Quoted spread and volatility"


def _plot_markout(ax: Any, result: Any, _start_ns: int) -> str:
    fills = result.fills
    sides = {"all fills": np.ones(fills.size, bool), "buys": fills["side"] > 0,
             "sells": fills["side"] < 0}
    for (name, mask), color in zip(sides.items(), ("black", "tab:green", "tab:red"),
                                   strict=True):
        curve = markouts(result.records, fills[mask], result.instrument, CURVE_HORIZONS_S)
        means = [float(ticks.mean()) if ticks.size else math.nan for ticks, _ in curve.values()]
        ax.plot(CURVE_HORIZONS_S, means, marker="o", ms=3, color=color,
                lw=1.4 if name == "all fills" else 0.9, label=f"{name} ({int(mask.sum())})")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xticks(CURVE_HORIZONS_S, [f"{h:g}" for h in CURVE_HORIZONS_S])
    ax.axhline(0.0, color="0.6", lw=0.5)
    ax.set(xlabel="horizon after the fill (s)", ylabel="mean markout (ticks, + = in our favour)")
    if fills.size == 0:
        _no_data(ax, "no fills")
    return "Markout curve (mid from the record rows)"


#: name -> draw(axes, result, start_ns) -> title
_PLOTS: dict[str, Callable[[Any, Any, int], str]] = {
    "price": _plot_price, "pnl": _plot_pnl, "inventory": _plot_inventory,
    "spread_sigma": _plot_spread_sigma, "markout": _plot_markout,
}
#: Names of the plots ``write_report`` writes (``<name>.png``).
PLOT_NAMES = tuple(_PLOTS)


def _render(draw: Callable[[Any, Any, int], str], result: Any) -> bytes:
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.5), dpi=100)
    fig.subplots_adjust(left=0.08, right=0.92, bottom=0.12, top=0.86)
    ax = fig.subplots()
    fig.suptitle(draw(ax, result, int(result.start_ns)))
    # one legend for the axes and any twin, above the plot where it hides no data
    handles = [h for axes in fig.axes for h in axes.get_legend_handles_labels()[0]]
    if handles:
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=5,
                  fontsize=8, frameon=False, borderaxespad=0.2)
    if result.records.size == 0:
        _no_data(ax, "no record rows")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")  # a bare Figure renders with Agg: no pyplot, no GUI
    return buffer.getvalue()


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns / _NS, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _html(result: Any, stats: Mapping[str, float | int], images: Mapping[str, bytes]) -> str:
    inst, config = result.instrument, result.config
    rows = "\n".join(
        f"<tr><td><code>{html.escape(k)}</code></td><td class=num>{html.escape(v)}</td>"
        f"<td>{html.escape(u)}</td><td>{html.escape(d)}</td></tr>"
        for k, v, u, d in stats_rows(stats))
    figures = "\n".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}"></figure>' for name, png in images.items())
    counts = ", ".join(f"{html.escape(str(k))} {v:,}" for k, v in result.counts.items())
    title = f"qengine backtest: {inst.name}, model {config.quote.model}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 0.2em 0.8em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Data from {_utc(result.start_ns)} to {_utc(result.end_ns)};
tick size {inst.tick_size:g}, lot size {inst.lot_size:g}, maker fee {inst.maker_fee:g},
taker fee {inst.taker_fee:g}; risk.max_position {config.risk.max_position:g}.</p>
<p>Run counts: {counts or "none"}.</p>
<h2>Statistics</h2>
<table><tr><th>statistic</th><th>value</th><th>unit</th><th>definition</th></tr>
{rows}
</table>
<h2>Plots</h2>
{figures or "<p>No plots (written with --no-plots).</p>"}
</body></html>
"""


def write_report(result: Any, stats: Mapping[str, float | int], out_dir: str | Path, *,
                 plots: bool = True) -> ReportPaths:
    """Write the PNG plots (unless ``plots`` is False) and ``report.html`` into ``out_dir``
    (created if missing) and return their paths.

    Raises
    ------
    ModuleNotFoundError
        If ``plots`` and matplotlib (the ``backtest`` extra) is not installed.
    OSError
        If ``out_dir`` cannot be created or written.
    """
    out = Path(out_dir)
    if plots:
        require_matplotlib()
    out.mkdir(parents=True, exist_ok=True)
    images = {name: _render(draw, result) for name, draw in _PLOTS.items()} if plots else {}
    paths = {}
    for name, png in images.items():
        paths[name] = out / f"{name}.png"
        paths[name].write_bytes(png)
    report = out / "report.html"
    report.write_text(_html(result, stats, images), encoding="utf-8")
    return ReportPaths(html=report, plots=paths)
