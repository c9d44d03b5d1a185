"""Smoke test of ``python -m perf --quick``: every required entry and field is present and numeric.

It checks the shape of the results, never the timings (benchmarks are documentation, not
assertions; see perf/README.md).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from perf._report import get as _get
from perf._report import markdown
from perf.suite import BENCHES, REQUIRED_FIELDS

ROOT = Path(__file__).resolve().parent.parent
BOOL_FIELDS = {"critical_events_kept"}


#: The bench that compiles every engine kernel into an empty numba cache. It runs in a second
#: ``python -m perf --quick`` beside the other benches (the smoke test checks shapes, not
#: timings), so the smoke run lasts the longer of the two instead of their sum.
COLD_BENCH = "cold_start"


def _quick_run(out: Path, benches: list[str]) -> subprocess.Popen[str]:
    only = [arg for name in benches for arg in ("--only", name)]
    return subprocess.Popen(
        [sys.executable, "-m", "perf", "--quick", "--json", str(out), "--markdown",
         str(out.with_suffix(".md")), *only],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``python -m perf --quick``: every bench, in two processes; one payload of both."""
    tmp = tmp_path_factory.mktemp("perf")
    outs = [tmp / "quick.json", tmp / "cold.json"]
    runs = [_quick_run(outs[0], [name for name, _run, _key in BENCHES if name != COLD_BENCH]),
            _quick_run(outs[1], [COLD_BENCH])]
    try:
        for run in runs:
            _stdout, stderr = run.communicate(timeout=1200)
            assert run.returncode == 0, stderr[-3000:]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    payloads = [json.loads(out.read_text()) for out in outs]
    assert all(out.with_suffix(".md").read_text().startswith("# qengine perf") for out in outs)
    payloads[0]["results"].update(payloads[1]["results"])
    return payloads[0]


@pytest.mark.slow
def test_quick_suite_reports_every_required_field(quick_results: dict) -> None:
    results = quick_results["results"]
    assert quick_results["machine"]["cores"] >= 1
    missing, wrong = [], []
    for entry, fields in REQUIRED_FIELDS.items():
        if entry not in results:
            missing.append(entry)
            continue
        assert "error" not in results[entry], results[entry]
        for field in fields:
            value = _get(results[entry], field)
            if field in BOOL_FIELDS:
                ok = isinstance(value, bool)
            else:
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                ok = ok and math.isfinite(value)
            if not ok:
                wrong.append(f"{entry}.{field}={value!r}")
    assert not missing, missing
    assert not wrong, wrong


#: The issue's exact names (entry -> fields); REQUIRED_FIELDS may add more, never fewer.
ISSUE_FIELDS = {
    "kernel.pipeline": ["inloop_p50_ns", "inloop_p99_ns", "python_p50_ns", "python_p99_ns"],
    "baseline.python_quote": ["python_p50_ns", "speedup"],
    "ingest": ["msgs_per_s", "p50_us", "p99_us"],
    "tick_to_quote": ["at_1k.p50_us", "at_1k.p99_us", "at_10k.p50_us", "at_10k.p99_us"],
    "rpc_round_trip": ["p50_us", "p99_us"],
    "memory": ["bytes_per_order_qengine", "bytes_per_order_objects", "reduction_pct",
               "bytes_per_quote_qengine", "bytes_per_quote_objects", "bytes_per_sample_qengine",
               "bytes_per_sample_objects", "rss_mb_start", "rss_mb_after", "rss_growth_pct"],
    "logging": ["volume_reduction_pct", "cpu_reduction_pct", "critical_events_kept",
                "default_bytes_per_100k", "default_cpu_s_per_100k", "verbose_bytes_per_100k",
                "verbose_cpu_s_per_100k"],
    "cold_start": ["cold_s", "warm_s"],
}


def test_required_fields_include_the_issue_names() -> None:
    for entry, fields in ISSUE_FIELDS.items():
        assert entry in REQUIRED_FIELDS, entry
        missing = set(fields) - set(REQUIRED_FIELDS[entry])
        assert not missing, (entry, missing)
    assert all(len(fields) >= 2 for fields in REQUIRED_FIELDS.values())


def test_every_required_entry_has_a_bench() -> None:
    produced = {key for _name, _runner, key in BENCHES}
    for entry in REQUIRED_FIELDS:
        assert entry in produced or entry.startswith("kernel."), entry


@pytest.mark.slow
def test_quick_backtest_engines_agree_and_scale_streams_every_file(quick_results: dict) -> None:
    bt, scale = quick_results["results"]["backtest"], quick_results["results"]["backtest_scale"]
    assert bt["fill_mismatches"] == 0, bt["mismatches"]
    assert all(bt[f"glft_{c}_riskaverse"]["fills"] > 0 for c in ("100ms", "1ms", "feed"))
    assert bt["replay_1ms"]["wake_ups"] > bt["replay_feed"]["wake_ups"] > 0
    assert scale["events"] == scale["files"] * scale["rows_per_file"]
    assert [c["files"] for c in scale["checkpoints"]] == list(range(1, scale["files"] + 1))


@pytest.mark.slow
def test_cold_start_compiles_every_engine_kernel_then_loads_them_all(quick_results: dict) -> None:
    # The suite's one start on an empty numba cache (the rest share the warmed cache).
    entry = quick_results["results"]["cold_start"]
    cold, warm = entry["cold"], entry["warm"]
    assert cold["kernels"] == warm["kernels"] > 0
    assert (cold["compiled"], cold["cache_hits"]) == (cold["kernels"], 0)
    assert (warm["compiled"], warm["cache_hits"]) == (0, warm["kernels"])
    assert entry["cold_s"] > entry["warm_s"] > 0
    # Three warm starts, each beside a start of numba alone with one cached kernel (the floor).
    assert len(entry["warm_runs_s"]) == len(entry["numba_floor_runs_s"]) == 3
    assert entry["warm_s"] == sorted(entry["warm_runs_s"])[1]
    assert entry["numba_floor_s"] == sorted(entry["numba_floor_runs_s"])[1] > 0
    floor = entry["numba_floor"]
    # The floor loads its one kernel from the cache (a compile would inflate it), and each of
    # its parts took time.
    assert (floor["cache_hits"], floor["cache_misses"]) == (1, 0)
    assert min(floor["interpreter_s"], floor["imports_s"], floor["first_cached_call_s"]) > 0


@pytest.mark.slow
def test_memory_headline_reduction_is_the_smallest_of_the_three(quick_results: dict) -> None:
    mem = quick_results["results"]["memory"]
    kinds = [mem[f"{k}_reduction_pct"] for k in ("order", "quote", "sample")]
    assert mem["reduction_pct"] == min(kinds)


@pytest.mark.slow
def test_markdown_reports_targets_with_measured_values(quick_results: dict) -> None:
    report = markdown(quick_results)
    assert quick_results["command"].startswith("python -m perf --quick")
    for label in ("tick to quote", "cold start", "memory over a session", "throughput"):
        row = next(line for line in report.splitlines() if line.startswith(f"| {label} |"))
        assert "n/a" not in row.split("|")[4], row  # the measured column is filled
    assert "## Latency tails" in report


def test_a_failing_bench_becomes_an_error_entry_and_a_nonzero_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perf import suite

    def boom(quick: bool, results: dict) -> dict:
        raise RuntimeError("bench exploded")

    def fine(quick: bool, results: dict) -> dict:
        return {"memory": {"reduction_pct": 91.0}}

    monkeypatch.setattr(suite, "BENCHES", [("memory", fine, "memory"),
                                           ("logging", boom, "logging")])
    out = tmp_path / "r.json"
    assert suite.main(["--quick", "--json", str(out)]) == 1
    results = json.loads(out.read_text())["results"]
    assert results["memory"] == {"reduction_pct": 91.0}
    assert results["logging"]["error"] == "RuntimeError: bench exploded"
