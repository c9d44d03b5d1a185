"""Smoke test of ``qengine perf --quick``: every required entry and field is present and numeric.

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

from perf.suite import REQUIRED_FIELDS, _get

ROOT = Path(__file__).resolve().parent.parent
BOOL_FIELDS = {"critical_events_kept"}


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("perf") / "quick.json"
    md = out.with_suffix(".md")
    proc = subprocess.run(
        [sys.executable, "-m", "perf.suite", "--quick", "--json", str(out), "--markdown", str(md)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert md.read_text().startswith("# qengine perf")
    return json.loads(out.read_text())


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


def test_required_fields_cover_every_suite_entry() -> None:
    # The suite's documented keys: kernel.*, baseline, ingest, rpc, memory, logging.
    keys = set(REQUIRED_FIELDS)
    assert {"kernel.pipeline", "baseline.python_quote", "ingest", "rpc_round_trip", "memory",
            "logging"} <= keys
    assert all(len(fields) >= 3 for fields in REQUIRED_FIELDS.values())
    assert "critical_events_kept" in REQUIRED_FIELDS["logging"]


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
