"""``qengine perf``: run every benchmark, merge the results into one JSON, write a markdown table.

Usage: ``python -m perf.suite [--quick] [--json PATH] [--markdown PATH]`` (the ``qengine perf``
subcommand calls :func:`main`). Benches run one after the other with a progress line each; the
ingest and RPC benches run their sender / simulator in separate processes. A bench that raises
becomes ``{"error": "..."}`` under its key and the exit status is 1. ``--quick`` is for smoke
tests (under 60 s on 2 cores); the full run takes a few minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import machine_info, progress, write_json

KERNEL_FIELDS = [
    "inloop_p50_ns", "inloop_p99_ns", "inloop_p999_ns", "inloop_max_ns",
    "python_p50_ns", "python_p99_ns", "python_p999_ns", "python_max_ns",
]
#: Kernel entries written by ``perf.bench_kernels`` (``kernel.<name>``).
KERNEL_NAMES = (
    "pipeline", "quote_pipeline", "diff_ladder_against_orders", "ring_push", "vol_update",
    "vol_sigma", "intensity_update", "intensity_fit", "reservation_price", "optimal_spread",
    "glft_bid_depth", "model_touch", "build_ladder", "position_apply_fill", "risk_check",
    "candle_update", "vamp_update",
)
#: Entry -> fields the smoke test requires (numeric; ``critical_events_kept`` is a bool). A dotted
#: field names a value inside a nested dict.
REQUIRED_FIELDS: dict[str, list[str]] = {
    **{f"kernel.{name}": list(KERNEL_FIELDS) for name in KERNEL_NAMES},
    "baseline.python_quote": ["python_p50_ns", "python_p99_ns", "speedup"],
    "memory": [
        "bytes_per_order_qengine", "bytes_per_order_objects", "order_reduction_pct",
        "bytes_per_quote_qengine", "bytes_per_quote_objects", "quote_reduction_pct",
        "bytes_per_sample_qengine", "bytes_per_sample_objects", "sample_reduction_pct",
        "reduction_pct",
    ],
    "logging": [
        "old_bytes_per_100k", "old_cpu_s_per_100k", "default_bytes_per_100k",
        "default_cpu_s_per_100k", "verbose_bytes_per_100k", "verbose_cpu_s_per_100k",
        "volume_reduction_pct", "cpu_reduction_pct", "critical_events_kept",
    ],
    "ingest": ["throughput_msgs_per_s", "paced_achieved_msgs_per_s", "paced_latency_ns.p99"],
    "rpc_round_trip": ["insert_ns.p50", "insert_ns.p99", "cancel_ns.p50", "cancel_ns.p99"],
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

    return {"ingest": bench_ingest.run(quick)}


def _rpc(quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    from perf import bench_rpc

    return {"rpc_round_trip": bench_rpc.run(quick)}


#: (name, runner, key that holds the error if it fails), in run order.
BENCHES: list[tuple[str, Callable[[bool, dict[str, Any]], dict[str, Any]], str]] = [
    ("kernels", _kernels, "kernel.pipeline"),
    ("baseline", _baseline, "baseline.python_quote"),
    ("memory", _memory, "memory"),
    ("logging", _logging, "logging"),
    ("ingest", _ingest, "ingest"),
    ("rpc", _rpc, "rpc_round_trip"),
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


def _get(entry: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(entry, dict) or part not in entry:
            return None
        entry = entry[part]
    return entry


def _fmt(value: Any, unit: str = "", scale: float = 1.0, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value / scale:,.{digits}f}{unit}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _target_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    pipe, ingest = r.get("kernel.pipeline", {}), r.get("ingest", {})
    mem, log = r.get("memory", {}), r.get("logging", {})
    loop_p50, py_p99 = _get(pipe, "inloop_p50_ns"), _get(pipe, "python_p99_ns")
    rate = _get(ingest, "throughput_msgs_per_s")
    reductions = [_get(mem, f"{k}_reduction_pct") for k in ("order", "quote", "sample")]
    volume, cpu = _get(log, "volume_reduction_pct"), _get(log, "cpu_reduction_pct")
    kept = _get(log, "critical_events_kept")
    return [
        ("quote generation", "< 100 us", "pipeline p50 <= 1 us in-loop, p99 <= 5 us from Python",
         f"in-loop p50 {_fmt(loop_p50, ' ns')}, Python p99 {_fmt(py_p99, ' ns')}",
         _met(None if loop_p50 is None or py_p99 is None
              else loop_p50 <= 1_000 and py_p99 <= 5_000)),
        ("throughput", "10,000 msgs/s", ">= 50,000 msgs/s sustained on one core",
         f"{_fmt(rate, ' msgs/s')}", _met(None if rate is None else rate >= 50_000)),
        ("tick to quote", "(none)", "p99 < 200 us at 10,000 msgs/s",
         _fmt(_get(r.get("tick_to_quote", {}), "p99_ns"), " ns"), _met(None)),
        ("memory", "-40 to -60%", ">= -90% bytes per order, quote and price sample; RSS < 5%",
         "order {}, quote {}, sample {}; RSS not measured".format(
             *(_fmt(-x if x is not None else None, " %", digits=1) for x in reductions)),
         _met(None if None in reductions else min(reductions) >= 90.0)),
        ("log volume", "-70 to -90%", ">= -95% with every critical event kept",
         f"{_fmt(-volume if volume is not None else None, ' %', digits=2)}, critical kept: "
         f"{_fmt(kept)}", _met(None if volume is None else volume >= 95.0 and bool(kept))),
        ("logging CPU", "-50 to -70%", ">= -90%",
         _fmt(-cpu if cpu is not None else None, " %", digits=1),
         _met(None if cpu is None else cpu >= 90.0)),
        ("cold start", "(none)", "warm cache first quote < 1 s",
         _fmt(_get(r.get("cold_start", {}), "first_quote_s"), " s", digits=3), _met(None)),
    ]


def markdown(payload: dict[str, Any]) -> str:
    """The targets table, a kernel table and any errors, as markdown."""
    r = payload["results"]
    lines = ["# qengine perf", "", f"Machine: {payload['machine'].get('cpu')}, "
             f"{payload['machine'].get('cores')} cores, Python {payload['machine'].get('python')}"
             f"{' (quick run)' if payload.get('quick') else ''}", "",
             "| metric | task list's bar | qengine target | measured | |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in _target_rows(r)]
    base = r.get("baseline.python_quote", {})
    rpc = r.get("rpc_round_trip", {})
    lines += ["", f"Old-bot quote in Python: p50 {_fmt(_get(base, 'python_p50_ns'), ' ns')}, "
              f"p99 {_fmt(_get(base, 'python_p99_ns'), ' ns')}; fused pipeline is "
              f"x{_fmt(_get(base, 'speedup'), digits=1)} faster (Python-called p50s). "
              f"RPC round trip insert p50 {_fmt(_get(rpc, 'insert_ns.p50'), ' us', 1e3)}, "
              f"cancel p50 {_fmt(_get(rpc, 'cancel_ns.p50'), ' us', 1e3)}.", "",
              "| kernel | in-loop p50 ns | p99 | p99.9 | max | Python p50 ns | p99 | p99.9 | max |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(k for k in r if k.startswith("kernel.")):
        e = r[key]
        if "error" in e:
            continue
        lines.append(f"| {key} | " + " | ".join(_fmt(e.get(f)) for f in KERNEL_FIELDS) + " |")
    errors = [(k, v["error"]) for k, v in r.items() if isinstance(v, dict) and "error" in v]
    if errors:
        lines += ["", "## Errors", ""] + [f"- `{k}`: {msg}" for k, msg in errors]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point of ``qengine perf``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="qengine perf", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (smoke tests, < 60 s)")
    parser.add_argument("--json", metavar="PATH", help="write all results as one JSON file")
    parser.add_argument("--markdown", metavar="PATH", help="write the markdown report")
    parser.add_argument("--only", action="append", choices=[b[0] for b in BENCHES],
                        help="run only this bench (repeatable)")
    args = parser.parse_args(argv)
    results, failed = run_all(args.quick, args.only)
    payload = {"machine": machine_info(), "quick": args.quick, "results": results}
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
