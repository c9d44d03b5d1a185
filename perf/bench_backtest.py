"""Backtester vs hftbacktest 2.4.4, side by side on the same event rows in one process.

Rows: the BTCUSDT recording (``data/binance-usdm/btcusdt_20240808.gz``, 491,973 rows), converted
once by qengine's converter and cached (``qengine.backtest.data.load_events``). Each round
runs every mode with both engines on the same array, one after the other; there are ``repeats``
rounds, and events/s is rows / the minimum wall time (the reference's method: min of N, JIT
excluded). CPU seconds (``time.thread_time``) are kept too: on a shared machine they show what
the wall clock loses to neighbours.

* replay: no strategy, to the end in one go, and waking every 100 ms, every 1 ms, on every feed;
* glft: the reference GLFT grid at 100 ms, 1 ms and per feed, risk-averse and power-prob(2);
  both engines must give the same wake-ups, counts, fill set and equity (``fill_mismatches``);
* ``per_decision_ns``: (strategy run - replay at the same cadence) / wake-ups, per engine;
* ``ratio``: qengine events/s over hftbacktest events/s (the issue's goal is >= 1.5 in every
  mode);
* ``start``: a fresh ``python -c`` process to the first result of a small backtest (50,000 rows,
  GLFT at 100 ms): qengine with its warm on-disk numba cache, hftbacktest (compiles every time);
  wall seconds from just before the parent starts the child, and the child's own CPU seconds.

Run: ``python perf/bench_backtest.py [--quick] [--repeats N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._backtest_sides import FEED, TO_END, Run, run_hbt, run_qengine
from perf._harness import machine_info, progress, write_json

ROOT = Path(__file__).resolve().parent.parent
RECORDING = "btcusdt_20240808.gz"
_PLACES = (ROOT / "data" / "binance-usdm", ROOT.parent / "shared" / "data" / "binance-usdm")
CADENCES = {"to_end": TO_END, "100ms": 100_000_000, "1ms": 1_000_000, "feed": FEED}
QUEUES = ("riskaverse", "powerprob")
REPEATS = 5
QUICK_ROWS = 40_000
START_ROWS = 50_000
TARGET_RATIO = 1.5
TARGET_START_S = 1.0


def recording() -> Path:
    """The BTCUSDT recording: in the repository, else in the shared data folder."""
    for place in _PLACES:
        if (place / RECORDING).exists():
            return place / RECORDING
    raise FileNotFoundError(f"{RECORDING} not found in {[str(p) for p in _PLACES]}")


def reference_rows() -> np.ndarray:
    """The recording's event rows (qengine converts a ``.gz`` once and caches the rows)."""
    from qengine.backtest.data import load_events

    return load_events(recording())


def _best(runs: list[Run]) -> tuple[float, float]:
    return min(r.wall_s for r in runs), min(r.cpu_s for r in runs)


def _mismatch(name: str, q: Run, h: Run) -> list[str]:
    """What differs between the two engines' runs of one mode (empty when they agree)."""
    out = []
    if q.wake_ups != h.wake_ups:
        out.append(f"{name}: wake-ups qengine {q.wake_ups} != hftbacktest {h.wake_ups}")
    if h.counts and q.counts != h.counts:  # replay runs count no orders
        out.append(f"{name}: counts qengine {q.counts} != hftbacktest {h.counts}")
    if q.fills != h.fills:
        out.append(f"{name}: fill sets differ ({len(q.fills - h.fills)} only in qengine, "
                   f"{len(h.fills - q.fills)} only in hftbacktest)")
    if abs(q.equity - h.equity) > 1e-6:
        out.append(f"{name}: equity qengine {q.equity!r} != hftbacktest {h.equity!r}")
    return out


def _modes() -> dict[str, tuple[int, str, bool]]:
    """Mode name -> (cadence, queue, strategy), replays first."""
    modes = {f"replay_{label}": (c, "riskaverse", False) for label, c in CADENCES.items()}
    for queue in QUEUES:
        modes.update({f"glft_{label}_{queue}": (c, queue, True)
                      for label, c in CADENCES.items() if c != TO_END})
    return modes


def _entry(rows: np.ndarray, qs: list[Run], hs: list[Run]) -> dict[str, Any]:
    (q_wall, q_cpu), (h_wall, h_cpu) = _best(qs), _best(hs)
    n = len(rows)
    entry = {
        "wake_ups": qs[0].wake_ups,
        "qengine_wall_s": q_wall, "hftbacktest_wall_s": h_wall,
        "qengine_cpu_s": q_cpu, "hftbacktest_cpu_s": h_cpu,
        "qengine_events_per_s": n / q_wall, "hftbacktest_events_per_s": n / h_wall,
        "ratio": h_wall / q_wall, "cpu_ratio": h_cpu / q_cpu,
        "hftbacktest_setup_s": min(r.setup_s for r in hs),
        "qengine_wall_runs_s": [r.wall_s for r in qs],
        "hftbacktest_wall_runs_s": [r.wall_s for r in hs],
    }
    if qs[0].counts:
        entry.update(qs[0].counts)
    return entry


def side_by_side(rows: np.ndarray, repeats: int) -> dict[str, Any]:
    """Every replay and GLFT mode on ``rows``; the fields are described in the module doc.

    Rounds go over all modes (qengine then hftbacktest for each), ``repeats`` rounds, so that a
    burst of load from neighbours hits one round of every mode rather than all runs of one.
    """
    run_qengine(rows[:20_000], CADENCES["100ms"], "riskaverse", True)  # warm both sides up
    run_hbt(rows[:20_000], CADENCES["100ms"], "riskaverse", True)  # (hftbacktest JIT-compiles)
    run_hbt(rows[:20_000], CADENCES["100ms"], "riskaverse", False)
    modes = _modes()
    runs: dict[str, tuple[list[Run], list[Run]]] = {name: ([], []) for name in modes}
    for k in range(repeats):
        progress(f"backtest: round {k + 1}/{repeats} over {len(modes)} modes")
        for name, (cadence, queue, strategy) in modes.items():
            runs[name][0].append(run_qengine(rows, cadence, queue, strategy))
            runs[name][1].append(run_hbt(rows, cadence, queue, strategy))
    out: dict[str, Any] = {"events": len(rows), "repeats": repeats}
    mismatches: list[str] = []
    for name, (qs, hs) in runs.items():
        out[name] = entry = _entry(rows, qs, hs)
        for q, h in zip(qs, hs, strict=True):
            mismatches += _mismatch(name, q, h)
        if name.startswith("glft"):
            replay = out["replay_" + name.split("_")[1]]
            wakes = max(entry["wake_ups"], 1)
            for engine in ("qengine", "hftbacktest"):
                extra = entry[f"{engine}_wall_s"] - replay[f"{engine}_wall_s"]
                entry[f"{engine}_per_decision_ns"] = extra / wakes * 1e9
    ratios = {k: v["ratio"] for k, v in out.items() if isinstance(v, dict) and "ratio" in v}
    out["min_ratio"] = min(ratios.values())
    out["modes_below_target"] = sorted(k for k, r in ratios.items() if r < TARGET_RATIO)
    out["fill_mismatches"] = len(mismatches)
    out["mismatches"] = sorted(set(mismatches))
    for line in out["mismatches"]:
        progress(f"!!! FILL MISMATCH qengine vs hftbacktest: {line}")
    return out


# --- second-process start ------------------------------------------------------------------------


def start_child(engine: str, path: str) -> None:
    """Body of a start-time child: load ``path``, run the GLFT grid at 100 ms, print stamps."""
    from qengine.backtest.data import load_events

    rows = load_events(path)
    run = (run_qengine if engine == "qengine" else run_hbt)(rows, CADENCES["100ms"],
                                                            "riskaverse", True)
    done_ns, cpu_s = time.monotonic_ns(), time.process_time()
    stamps = {"done_ns": done_ns, "cpu_s": cpu_s, "fills": len(run.fills)}
    sys.stdout.buffer.write(orjson.dumps(stamps) + b"\n")


def _one_start(engine: str, path: Path) -> dict[str, Any]:
    code = f"from perf.bench_backtest import start_child; start_child({engine!r}, {str(path)!r})"
    started = time.monotonic_ns()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} start child failed: {proc.stderr.decode()[-2000:]}")
    stamps = orjson.loads(proc.stdout.splitlines()[-1])
    return {"s": (stamps["done_ns"] - started) / 1e9, "cpu_s": stamps["cpu_s"],
            "fills": stamps["fills"]}


def start_times(rows: np.ndarray, repeats: int, hbt_repeats: int) -> dict[str, Any]:
    """Fresh process to first result, qengine (warm numba cache) and hftbacktest."""
    out: dict[str, Any] = {"rows": min(len(rows), START_ROWS)}
    with tempfile.TemporaryDirectory(prefix="qengine-start-") as tmp:
        path = Path(tmp) / "rows.npz"
        np.savez(path, data=rows[:START_ROWS])
        for engine, n in (("qengine", repeats), ("hftbacktest", hbt_repeats)):
            if n == 0:
                continue
            progress(f"backtest: {engine} second-process start x{n}")
            runs = [_one_start(engine, path) for _ in range(n)]
            out[f"{engine}_s"] = min(r["s"] for r in runs)
            out[f"{engine}_runs_s"] = [r["s"] for r in runs]
            out[f"{engine}_cpu_s"] = min(r["cpu_s"] for r in runs)  # the child's own CPU
            out[f"{engine}_fills"] = runs[0]["fills"]
    return out


def run(quick: bool, repeats: int = REPEATS) -> dict[str, Any]:
    """The side-by-side bench; ``quick`` uses the first rows only, once, and no hftbacktest
    start (it compiles for seconds)."""
    rows = reference_rows()
    if quick:
        rows = rows[:QUICK_ROWS]
        repeats = 1
    out = side_by_side(rows, repeats)
    out["start"] = start_times(rows, 1 if quick else 3, 0 if quick else 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    payload = {"machine": machine_info(), "results": {"backtest": run(args.quick, args.repeats)}}
    text = orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    if args.json:
        write_json(args.json, payload)
    print(text.decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
