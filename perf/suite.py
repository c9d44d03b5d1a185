"""``python -m perf``: run every benchmark, merge the results into one JSON, write a markdown table.

Usage: ``python -m perf [--quick] [--json PATH] [--markdown PATH] [--only NAME]`` from a source
checkout (``make perf``; ``python -m perf.suite`` is the same; the package never imports perf/).
Benches run one after the other with a progress line each; the ingest, RPC, tick-to-quote,
cold-start and session-RSS benches run their peers (sender, simulator, feeder, engine) in separate
processes, the backtest benches their start and scale children. A bench that raises becomes
``{"error": "..."}`` under its key and the exit status is 1. ``--quick`` is for smoke tests
(about 3 minutes on the shared 2-core box under load, the two backtest benches about 20 s of it);
the full run takes about 10 minutes (the backtest benches about 4).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import machine_info, progress, write_json
from perf._report import KERNEL_FIELDS, get, markdown

__all__ = ["BENCHES", "KERNEL_FIELDS", "REQUIRED_FIELDS", "main", "markdown", "run_all"]
#: Kernel entries written by ``perf.bench_kernels`` (``kernel.<name>``).
KERNEL_NAMES = (
    "pipeline", "quote_pipeline", "diff_ladder_against_orders", "ring_push", "vol_update",
    "vol_sigma", "intensity_update", "intensity_fit", "reservation_price", "optimal_spread",
    "glft_bid_depth", "model_touch", "build_ladder", "position_apply_fill", "risk_check",
)
#: Backtest modes of ``perf.bench_backtest`` (replay cadences, then the GLFT grid's).
BACKTEST_MODES = (
    *(f"replay_{c}" for c in ("to_end", "100ms", "1ms", "feed")),
    *(f"glft_{c}_{q}" for q in ("riskaverse", "powerprob") for c in ("100ms", "1ms", "feed")),
)
#: Entry -> fields the smoke test requires (numeric; ``critical_events_kept`` is a bool). A dotted
#: field names a value inside a nested dict. The names the issue fixes come first in each list.
REQUIRED_FIELDS: dict[str, list[str]] = {
    **{f"kernel.{name}": list(KERNEL_FIELDS) for name in KERNEL_NAMES},
    "baseline.python_quote": ["python_p50_ns", "speedup", "python_p99_ns"],
    "ingest": ["msgs_per_s", "p50_us", "p99_us", "throughput_msgs_per_s",
               "paced_achieved_msgs_per_s", "paced_latency_ns.p99"],
    "tick_to_quote": [f"{rate}.{field}"
                      for rate in ("at_1k", "at_10k", "at_1k_busy_poll", "at_10k_busy_poll")
                      for field in ("p50_us", "p99_us", "samples", "achieved_msgs_per_s")],
    "rpc_round_trip": ["p50_us", "p99_us", "insert_ns.p50", "insert_ns.p99", "cancel_ns.p50",
                       "cancel_ns.p99"],
    "memory": [
        "bytes_per_order_qengine", "bytes_per_order_objects", "reduction_pct",
        "order_reduction_pct", "bytes_per_quote_qengine", "bytes_per_quote_objects",
        "quote_reduction_pct", "bytes_per_sample_qengine", "bytes_per_sample_objects",
        "sample_reduction_pct", "rss_mb_start", "rss_mb_after", "rss_growth_pct",
    ],
    "logging": [
        "default_bytes_per_100k", "default_cpu_s_per_100k", "verbose_bytes_per_100k",
        "verbose_cpu_s_per_100k", "volume_reduction_pct", "cpu_reduction_pct",
        "critical_events_kept", "old_bytes_per_100k", "old_cpu_s_per_100k",
    ],
    "cold_start": ["cold_s", "warm_s"],
    "backtest": [
        "min_ratio", "fill_mismatches", "start.qengine_s", "events",
        *(f"{mode}.{field}" for mode in BACKTEST_MODES
          for field in ("qengine_events_per_s", "hftbacktest_events_per_s", "ratio")),
        *(f"{mode}.{engine}_per_decision_ns" for mode in BACKTEST_MODES if mode.startswith("glft")
          for engine in ("qengine", "hftbacktest")),
    ],
    "backtest_scale": ["events_per_s", "peak_rss_mb", "rss_growth_pct", "peak_growth_pct",
                       "rss_mb_start", "events"],
    "sweep": ["speedup", "overhead_pct", "overhead_pct_2_workers",
              *(f"workers_{n}.{field}" for n in (1, 2)
                for field in ("wall_s", "tasks", "task_run_s", "task_load_s", "mean_task_s",
                              "compiles", "load_pct", "scheduling_pct", "cluster_start_s",
                              "cpu_per_wall_pct"))],
    "backtest_quoting": [
        "events", "min_feed_events_per_s",
        *(f"{run}_{cadence}.events_per_s" for run in ("as", "glft", "legacy", "reference_glft")
          for cadence in ("100ms", "feed")),
    ],
}


def _kernels(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_kernels

    return bench_kernels.run(quick)


def _baseline(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_baseline

    pipe = results.get("kernel.pipeline", {})
    return {"baseline.python_quote": bench_baseline.run(quick, pipe.get("python_p50_ns"))}


def _memory(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_memory

    return {"memory": bench_memory.run(quick)}


def _logging(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_logging

    return {"logging": bench_logging.run(quick)}


def _ingest(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_ingest

    # The engine's path (the newest ticker of each read through the ticker lane) is the
    # headline; every ticker decoded and applied is the per-message ceiling, reported beside it.
    return {"ingest": bench_ingest.run(quick, "lane"),
            "ingest_every": bench_ingest.run(quick, "every")}


def _rpc(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_rpc

    return {"rpc_round_trip": bench_rpc.run(quick)}


def _tick_to_quote(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_tick_to_quote

    return {"tick_to_quote": bench_tick_to_quote.run(quick)}


def _cold_start(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_cold_start

    return {"cold_start": bench_cold_start.run(quick)}


def _backtest(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_backtest

    return {"backtest": bench_backtest.run(quick)}


def _backtest_scale(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_backtest_scale

    return {"backtest_scale": bench_backtest_scale.run(quick)}


def _sweep(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_sweep

    return {"sweep": bench_sweep.run(quick)}
def _backtest_quoting(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_backtest_quoting

    return {"backtest_quoting": bench_backtest_quoting.run(quick)}


#: (name, runner, key that holds the error if it fails), in run order.
BENCHES: list[tuple[str, Callable[[bool, dict[str, Any]], dict[str, Any]], str]] = [
    ("kernels", _kernels, "kernel.pipeline"),
    ("baseline", _baseline, "baseline.python_quote"),
    ("memory", _memory, "memory"),
    ("logging", _logging, "logging"),
    ("ingest", _ingest, "ingest"),
    ("rpc", _rpc, "rpc_round_trip"),
    ("tick_to_quote", _tick_to_quote, "tick_to_quote"),
    ("cold_start", _cold_start, "cold_start"),
    ("backtest", _backtest, "backtest"),
    ("backtest_scale", _backtest_scale, "backtest_scale"),
    ("sweep", _sweep, "sweep"),
    ("backtest_quoting", _backtest_quoting, "backtest_quoting"),
]


def run_all(quick: bool, only: list[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Run the benches (all, or those named in ``only``); return the results and failed names."""
    results: dict[str, Any] = {}
    failed: list[str] = []
    for index, (name, runner, error_key) in enumerate(BENCHES, start=1):
        if only and name not in only:
            continue
        progress(f"[{index}/{len(BENCHES)}] {name}{' (quick)' if quick else ''}")
        started = time.perf_counter()
        try:
            results.update(runner(quick, results))
        except Exception as exc:  # a failing bench must not stop the others
            failed.append(name)
            results[error_key] = {"error": f"{type(exc).__name__}: {exc}",
                                  "traceback": traceback.format_exc(limit=5)}
            progress(f"{name} FAILED: {type(exc).__name__}: {exc}")
        progress(f"{name} took {time.perf_counter() - started:.1f} s")
    return results, failed


#: Kept for callers of the old private name (the smoke test reads nested fields with it).
_get = get


def main(argv: list[str] | None = None) -> int:
    """Command line entry point of ``python -m perf``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m perf", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (smoke tests, < 60 s)")
    parser.add_argument("--json", metavar="PATH", help="write all results as one JSON file")
    parser.add_argument("--markdown", metavar="PATH", help="write the markdown report")
    parser.add_argument("--only", action="append", choices=[b[0] for b in BENCHES],
                        help="run only this bench (repeatable)")
    args = parser.parse_args(argv)
    machine = machine_info()  # before the run: the load average says how idle the machine was
    results, failed = run_all(args.quick, args.only)
    command = "python -m perf " + " ".join(
        sys.argv[1:] if argv is None else argv)
    payload = {"machine": machine, "quick": args.quick,
               "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "command": command.strip(), "results": results}
    if args.json:
        write_json(args.json, payload)
    report = markdown(payload)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(report)
    print(report)
    if failed:
        progress(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
