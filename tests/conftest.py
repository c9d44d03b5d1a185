"""Shared fixtures. Servers bind port 0 on 127.0.0.1; I/O tests run under ``fail_after``.

A run of the whole suite (no paths given) first fills the numba kernel cache once, with parallel
warmers (``tests/_kernel_cache.py``); under pytest-xdist the controller does it before it starts
the workers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
#: At most this many warmer processes (numba compiles on one core per process).
MAX_WARMERS = 4
#: Files that run for minutes on their own (the quick perf suite): collected first, so that under
#: pytest-xdist (``--dist loadfile --no-loadscope-reorder``) one worker starts them at once while
#: the others share the rest, instead of one worker running them alone at the end.
LONG_FILES = ("test_perf_smoke.py",)

# Kernel twin comparisons are cheap but numerous; keep Hypothesis quick and deterministic in CI.
settings.register_profile(
    "qengine",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("QENGINE_HYPOTHESIS_PROFILE", "qengine"))

_warm_up_summary = pytest.StashKey[str]()


def _warm_kernel_cache() -> str:
    """Run the warmers (one per core, at most ``MAX_WARMERS``); return a one-line summary."""
    started = time.perf_counter()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = max(1, min(MAX_WARMERS, cores or 1))
    with tempfile.TemporaryDirectory(prefix="qengine-kernel-claims-") as claims:
        warmers = [subprocess.Popen([sys.executable, "-m", "tests._kernel_cache", claims],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True) for _ in range(count)]
        outputs = [warmer.communicate(timeout=1800) for warmer in warmers]
    failed = [err[-2000:] for warmer, (_out, err) in zip(warmers, outputs, strict=True)
              if warmer.returncode != 0]
    if failed:  # the tests that use the kernel then fail with the full traceback
        return "kernel cache warm-up FAILED:\n" + "\n".join(failed)
    counts = [json.loads(out.strip().splitlines()[-1]) for out, _err in outputs]
    return (f"kernel cache: {sum(c['kernels'] for c in counts)} kernels, "
            f"{sum(c['compiled'] for c in counts)} compiled, "
            f"{sum(c['hits'] for c in counts)} from the cache, by {count} processes in "
            f"{time.perf_counter() - started:.1f} s (each busy "
            f"{', '.join(str(c['seconds']) for c in counts)} s)")


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller warmed up
        return
    if session.config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
        return  # a targeted run (paths given) compiles only what it uses, as it goes
    session.config.stash[_warm_up_summary] = _warm_kernel_cache()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    summary = config.stash.get(_warm_up_summary, None)
    if summary:
        terminalreporter.write_line(summary)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in LONG_FILES)  # stable: order kept otherwise
