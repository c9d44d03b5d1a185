"""The reference GLFT grid market maker backtested on a recording (backtest-reference.md).

    python examples/glft_grid.py --data PATH [--mode 100ms|1ms|feed]
        [--queue riskaverse|powerprob:N] [--half-spread-ticks F] [--skew-ticks F]
        [--grid-ticks N] [--levels N] [--order-qty F] [--max-q N] [--warmup-s F]
        [--tick-size F] [--lot-size F] [--latency-ms F] [--maker-fee F] [--taker-fee F]
        [--fills-csv PATH] [--json PATH]

Defaults are the reference's constants on the BTCUSDT recording in ``data/binance-usdm``.
``--data`` takes a raw Binance USD-M ``.gz`` recording or hftbacktest-style ``.npz``/``.npy``.
Writes the fills as CSV (``exch_ts,side,price_tick,price,qty``) and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "data" / "binance-usdm" / "btcusdt_20240808.gz"
MODES = {"100ms": 100_000_000, "1ms": 1_000_000, "feed": 0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--mode", choices=list(MODES), default="100ms")
    p.add_argument("--queue", default="riskaverse", help="riskaverse or powerprob:N")
    p.add_argument("--half-spread-ticks", type=float, default=20.291294294493063)
    p.add_argument("--skew-ticks", type=float, default=16.812993168273273)
    p.add_argument("--grid-ticks", type=int, default=20)
    p.add_argument("--levels", type=int, default=10)
    p.add_argument("--order-qty", type=float, default=0.01)
    p.add_argument("--max-q", type=int, default=10)
    p.add_argument("--warmup-s", type=float, default=1.0)
    p.add_argument("--tick-size", type=float, default=0.1)
    p.add_argument("--lot-size", type=float, default=0.001)
    p.add_argument("--latency-ms", type=float, default=10.0)
    p.add_argument("--maker-fee", type=float, default=-0.00005)
    p.add_argument("--taker-fee", type=float, default=0.0007)
    p.add_argument("--fills-csv", type=Path)
    p.add_argument("--json", type=Path)
    return p.parse_args(argv)


def queue_setting(text: str) -> tuple[str, float]:
    if text == "riskaverse":
        return "riskaverse", 2.0
    name, _, n = text.partition(":")
    if name == "powerprob":
        return "powerprob", float(n or 2.0)
    raise SystemExit(f"--queue: expected riskaverse or powerprob:N, got {text!r}")


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    from qengine.backtest import strategies
    from qengine.backtest.api import Backtest, BacktestConfig

    queue, n = queue_setting(a.queue)
    qty_lots = round(a.order_qty / a.lot_size)
    if qty_lots < 1 or abs(qty_lots * a.lot_size - a.order_qty) > 1e-9 * a.order_qty:
        raise SystemExit("--order-qty must be a whole number of --lot-size")
    latency_ns = round(a.latency_ms * 1e6)
    interval = MODES[a.mode]
    wake = dict(wake_on_feed=True) if interval == 0 else dict(wake_interval_ns=interval)
    config = BacktestConfig(
        tick_size=a.tick_size, lot_size=a.lot_size, entry_latency_ns=latency_ns,
        response_latency_ns=latency_ns, queue=queue, queue_power_n=n, maker_fee=a.maker_fee,
        taker_fee=a.taker_fee, recorder_rows=1, record_every_ns=10**18, **wake)
    params = strategies.glft_params(
        half_spread_ticks=a.half_spread_ticks, skew_ticks=a.skew_ticks, grid_ticks=a.grid_ticks,
        levels=a.levels, qty_lots=qty_lots, max_q=a.max_q, warmup_ns=round(a.warmup_s * 1e9))
    from qengine.backtest.data import load_events

    rows = load_events(a.data)  # a .gz is converted once and cached
    started = time.perf_counter()
    result = Backtest(config, strategies.glft_grid, params=params).run(rows, validated=True)
    wall = time.perf_counter() - started
    if a.fills_csv:
        with a.fills_csv.open("w") as out:
            out.write("exch_ts,side,price_tick,price,qty\n")
            for f in result.fills:
                price = f["price_tick"] * a.tick_size
                out.write(f"{f['exch_ts']},{f['side']},{f['price_tick']},{price:.10g},"
                          f"{f['qty_lots'] * a.lot_size:.10g}\n")
    summary = {
        **{k: result.counts[k] for k in ("events", "wake_ups", "orders", "cancels", "rejects",
                                         "fills")},
        "final_position": result.position, "balance": result.balance, "fees": result.fee,
        "equity": result.equity, "wall_s": wall, "events_per_s": result.counts["events"] / wall,
    }
    text = json.dumps(summary, indent=2)
    if a.json:
        a.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
