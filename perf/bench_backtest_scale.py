"""Scale run of qengine's backtester: 50 files x 1 M synthetic event rows, streamed in order.

The rows are hftbacktest's format (``.npz`` with a ``data`` array of 64-byte event rows, written
uncompressed) and realistic enough for the books and the matching to work: a random-walk best
ask in ticks, depth rows around it on both sides (a quarter of them delete their level, one in a
thousand is far out), taker trades at the touch and now and then a few ticks through it,
millisecond exchange times with a drifting feed latency. A fresh child process streams the files
through ``Backtest.run`` with the reference GLFT grid at 100 ms (it quotes, gets filled, cancels)
and records its RSS (current and peak) and the elapsed time each time it asks for the next file,
so memory can be seen to stay flat across files.

Run: ``python perf/bench_backtest_scale.py [--quick] [--files N] [--rows-per-file N]
[--json PATH]``; ``--quick`` streams 3 files of 50,000 rows.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._backtest_sides import GLFT, LOT, TICK, qengine_backtest
from perf._harness import machine_info, progress, write_json

ROOT = Path(__file__).resolve().parent.parent
FILES, ROWS_PER_FILE = 50, 1_000_000
QUICK_FILES, QUICK_ROWS_PER_FILE = 3, 50_000
CHECKPOINTS = (1, 10, 25, 50)
START_TICK = 600_000  # 60,000.0 at tick 0.1
_DEPTH, _TRADE = 1, 2


def synthetic_rows(rng: np.random.Generator, n: int, state: dict[str, int]) -> np.ndarray:
    """``n`` event rows continuing ``state`` (``ask_tick``, ``t_ns``, ``latency_ns``,
    ``local_ns``: both clocks stay in order across files)."""
    from qengine.backtest.events import BUY_EVENT, EVENT_DTYPE, EXCH_EVENT, LOCAL_EVENT, SELL_EVENT

    # About 80 ticks/sqrt(s), as BTCUSDT's local mid on the reference recording.
    step = np.where(rng.random(n) < 0.4, rng.integers(1, 6, n), 0) * np.where(
        rng.random(n) < 0.5, 1, -1)
    ask = state["ask_tick"] + np.cumsum(step)  # best ask; the best bid is one tick below
    t = state["t_ns"] + np.cumsum(rng.exponential(700_000.0, n)).astype(np.int64)
    exch = t // 1_000_000 * 1_000_000  # millisecond exchange times, as Binance's
    latency = state["latency_ns"] + np.cumsum(rng.integers(-20_000, 20_001, n))
    latency = np.clip(latency, 1_000_000, 50_000_000)
    local = np.maximum.accumulate(np.maximum(exch + latency, state["local_ns"]))
    side = np.where(rng.random(n) < 0.5, 1, -1)
    trade = rng.random(n) < 0.05
    offset = rng.geometric(0.15, n) - 1
    far = rng.random(n) < 0.001
    offset[far] = rng.integers(100, 3_000, far.sum())
    through = np.where(rng.random(n) < 0.1, rng.integers(1, 4, n), 0)
    # Depth: bids at ask - 1 - offset, asks at ask + offset. Trades: a buy taker at the ask (or
    # through it), a sell taker at the bid.
    tick = np.where(trade, np.where(side > 0, ask + through, ask - 1 - through),
                    np.where(side > 0, ask - 1 - offset, ask + offset))
    lots = np.maximum(np.rint(rng.lognormal(3.0, 1.2, n)), 1.0)
    lots[~trade & (rng.random(n) < 0.25)] = 0.0  # a deleted level
    rows = np.zeros(n, EVENT_DTYPE)
    rows["ev"] = (np.where(trade, _TRADE, _DEPTH) | EXCH_EVENT | LOCAL_EVENT
                  | np.where(side > 0, BUY_EVENT, SELL_EVENT)).astype(np.uint64)
    rows["exch_ts"] = exch
    rows["local_ts"] = local
    rows["px"] = tick * TICK
    rows["qty"] = lots * LOT
    state.update(ask_tick=int(ask[-1]), t_ns=int(t[-1]), latency_ns=int(latency[-1]),
                 local_ns=int(local[-1]))
    return rows


def write_files(folder: Path, files: int, rows_per_file: int, seed: int = 7) -> list[Path]:
    """Write ``files`` consecutive ``.npz`` files of synthetic rows; return their paths."""
    rng = np.random.default_rng(seed)
    state = {"ask_tick": START_TICK, "t_ns": 1_700_000_000_000_000_000, "latency_ns": 3_000_000,
             "local_ns": 0}
    paths = []
    for k in range(files):
        path = folder / f"synthetic_{k:03d}.npz"
        np.savez(path, data=synthetic_rows(rng, rows_per_file, state))
        paths.append(path)
    return paths


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec (the parent's size).
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def scale_child(paths: list[str]) -> dict[str, Any]:
    """Stream ``paths`` through qengine (GLFT grid, 100 ms); a checkpoint per file consumed."""
    bt = qengine_backtest(100_000_000, "riskaverse", True)
    checkpoints: list[dict[str, float]] = []
    start = time.perf_counter()

    def mark(files_done: int) -> None:
        checkpoints.append({"files": files_done, "elapsed_s": time.perf_counter() - start,
                            "rss_mb": _rss_mb(), "peak_rss_mb": _peak_mb()})

    def sources() -> Iterator[str]:
        for k, path in enumerate(paths):
            if k:
                mark(k)  # the runner asks for file k+1: file k has been consumed
            yield path

    rss_start, peak_start = _rss_mb(), _peak_mb()
    result = bt.run(sources())
    mark(len(paths))
    return {"rss_mb_start": rss_start, "peak_rss_mb_start": peak_start,
            "checkpoints": checkpoints, "counts": result.counts,
            "wall_s": time.perf_counter() - start, "equity": result.equity}


def run(quick: bool, files: int | None = None, rows_per_file: int | None = None) -> dict[str, Any]:
    """Generate the files, stream them in a child process, summarise the checkpoints."""
    files = files or (QUICK_FILES if quick else FILES)
    rows_per_file = rows_per_file or (QUICK_ROWS_PER_FILE if quick else ROWS_PER_FILE)
    with tempfile.TemporaryDirectory(prefix="qengine-scale-") as tmp:
        progress(f"backtest_scale: writing {files} files x {rows_per_file:,} rows")
        started = time.perf_counter()
        paths = write_files(Path(tmp), files, rows_per_file)
        generate_s = time.perf_counter() - started
        progress(f"backtest_scale: streaming them ({generate_s:.1f} s to write)")
        code = ("import sys, orjson; from perf.bench_backtest_scale import scale_child; "
                "sys.stdout.buffer.write(orjson.dumps(scale_child(sys.argv[1:])))")
        proc = subprocess.run([sys.executable, "-c", code, *map(str, paths)], cwd=ROOT,
                              capture_output=True, timeout=3_600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"scale child failed: {proc.stderr.decode()[-2000:]}")
    child = orjson.loads(proc.stdout)
    marks = {c["files"]: c for c in child["checkpoints"]}
    wanted = [k for k in CHECKPOINTS if k <= files] or [1]
    if files not in wanted:
        wanted.append(files)
    events = child["counts"]["events"]
    first, last = marks[wanted[0]], marks[files]
    return {
        "files": files, "rows_per_file": rows_per_file, "events": events,
        "generate_s": generate_s, "wall_s": child["wall_s"],
        "events_per_s": events / child["wall_s"],
        "rss_mb_start": child["rss_mb_start"], "peak_rss_mb_start": child["peak_rss_mb_start"],
        "rss_mb_after_file": {str(k): marks[k]["rss_mb"] for k in wanted},
        "peak_rss_mb_after_file": {str(k): marks[k]["peak_rss_mb"] for k in wanted},
        "peak_rss_mb": last["peak_rss_mb"],
        "rss_growth_pct": (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"] * 100.0,
        "peak_growth_pct": (last["peak_rss_mb"] - first["peak_rss_mb"]) / first["peak_rss_mb"]
        * 100.0,
        # From file 10 on the chunk buffers have reached their size; what grows after is the
        # fill log (one row per fill, kept for the result).
        "peak_growth_from_file_10_pct": None if 10 not in marks or files <= 10 else (
            (last["peak_rss_mb"] - marks[10]["peak_rss_mb"]) / marks[10]["peak_rss_mb"] * 100.0),
        **{k: child["counts"][k] for k in ("wake_ups", "orders", "cancels", "fills")},
        "checkpoints": child["checkpoints"],
        "strategy": f"GLFT grid at 100 ms, constants {GLFT}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--files", type=int)
    parser.add_argument("--rows-per-file", type=int)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    result = run(args.quick, args.files, args.rows_per_file)
    payload = {"machine": machine_info(), "results": {"backtest_scale": result}}
    if args.json:
        write_json(args.json, payload)
    print(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
