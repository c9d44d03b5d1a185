"""Cold start: seconds from process start to the first quote (first order action sent).

The parent starts the perf feeder (:mod:`perf._feeder`, 1,000 tickers/s) once, then runs two
fresh engine processes one after the other with the same, initially empty ``NUMBA_CACHE_DIR``:

* ``cold_s``: the cache is empty, so every kernel compiles (numba ``cache=True`` then writes it);
* ``warm_s``: the same directory again, so every kernel loads from the cache.

The clock starts in the parent just before ``Popen`` (interpreter start-up counts) and stops when
the child's first order action is handed to its socket (:mod:`perf._probe`), both on the
system-wide monotonic clock. The child also reports when its ``main`` began and when its imports
finished, so the total splits into interpreter start-up, imports (kernels compile or load at
import) and connect-to-first-quote (validation connection, login, cancel-on-disconnect,
subscriptions, reconciliation, first ticker, first cycle).

Warm starts run three times, each followed by a start of :mod:`perf._numba_floor` (numba
imported and one cached kernel called, no qengine code): the floor any warm start that quotes
with numba kernels pays on this machine. ``warm_s`` is the median warm start.

Run: ``python perf/bench_cold_start.py [--json PATH]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import machine_info, progress, write_json

ROOT = Path(__file__).resolve().parent.parent
TARGET_WARM_S = 0.5  # issue 13
FEEDER_RATE = 1_000
#: A guard, not a target: compiling every engine kernel on a loaded 2-core box took over 180 s.
COMPILE_TIMEOUT_S = 600
#: Warm starts measured (the median is ``warm_s``), each followed by a numba floor start.
WARM_ROUNDS = 3


def child_main(url: str) -> int:
    """Start an engine against ``url``; at its first order action print stamps and leave."""
    main_ns = time.monotonic_ns()
    import trio

    from perf._probe import WireProbe
    from qengine import kernels
    from qengine.config import config_from_mapping
    from qengine.engine import open_engine
    from qengine.engine._services import ENGINE_KERNELS
    from qengine.io.auth import demo_credentials
    from qengine.telemetry import open_logging

    report = kernels.warm_up(ENGINE_KERNELS)
    imported_ns = time.monotonic_ns()
    from perf.bench_tick_to_quote import engine_overrides

    probe = WireProbe(capacity=16)
    probe.install()
    stamps: dict[str, Any] = {"main_ns": main_ns, "imported_ns": imported_ns,
                              "kernels": report.kernels, "cache_hits": report.cache_hits,
                              "compiled": report.compiled}

    async def run() -> None:
        config = config_from_mapping(engine_overrides(url))
        first = trio.Event()
        probe.on_first_action = first.set
        async with open_engine(config, url=url, credentials=demo_credentials()):
            with trio.fail_after(30):
                await first.wait()
            stamps["first_action_ns"] = probe.first_action_ns

    with open_logging(verbose=False, stream=sys.stderr):
        trio.run(run)
    sys.stdout.buffer.write(orjson.dumps(stamps) + b"\n")
    sys.stdout.flush()
    return 0


def _start_env(cache_dir: str) -> dict[str, str]:
    from perf.bench_tick_to_quote import child_env

    env = child_env()
    env["NUMBA_CACHE_DIR"] = cache_dir
    # A warm start has its bytecode cached too (pip writes it at install; an editable checkout
    # on first import). Some shells set this, which recompiles qengine's ~80 modules every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _timed_start(argv: list[str], cache_dir: str, what: str) -> tuple[int, dict[str, Any]]:
    """Start ``argv`` (a Python script and its arguments) as a warm start would; return the
    parent's clock just before the start and the stamps the child printed last."""
    env = _start_env(cache_dir)
    started_ns = time.monotonic_ns()
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                          timeout=COMPILE_TIMEOUT_S, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"{what} child failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return started_ns, orjson.loads(proc.stdout.strip().splitlines()[-1])


def _numba_floor(cache_dir: str) -> dict[str, float]:
    """One start of :mod:`perf._numba_floor` (numba imported, one cached kernel called)."""
    started_ns, s = _timed_start([str(ROOT / "perf" / "_numba_floor.py")], cache_dir,
                                 "numba floor")
    return {"first_call_s": (s["called_ns"] - started_ns) / 1e9,
            "interpreter_s": (s["main_ns"] - started_ns) / 1e9,
            "imports_s": (s["imported_ns"] - s["main_ns"]) / 1e9,
            "first_cached_call_s": (s["called_ns"] - s["imported_ns"]) / 1e9,
            "cache_hits": s["cache_hits"], "cache_misses": s["cache_misses"]}


def _one_start(url: str, cache_dir: str) -> dict[str, float]:
    started_ns, s = _timed_start([str(Path(__file__).resolve()), "--child", url], cache_dir,
                                 "engine")
    return {
        "first_quote_s": (s["first_action_ns"] - started_ns) / 1e9,
        "interpreter_s": (s["main_ns"] - started_ns) / 1e9,
        "imports_s": (s["imported_ns"] - s["main_ns"]) / 1e9,
        "connect_to_quote_s": (s["first_action_ns"] - s["imported_ns"]) / 1e9,
        "kernels": s["kernels"], "cache_hits": s["cache_hits"], "compiled": s["compiled"],
    }


def run(quick: bool) -> dict[str, Any]:
    """Measure a cold and a warm start; return the ``cold_start`` entry."""
    from perf.bench_tick_to_quote import child_env, start_feeder, stop
    from qengine.io.auth import demo_credentials

    demo_credentials(child_env()["QENGINE_CONFIG_DIR"])  # key pair made now, not in a timing
    cache_dir = tempfile.mkdtemp(prefix="qengine-perf-numba-")
    feeder, url = start_feeder(FEEDER_RATE)
    try:
        progress(f"cold start: engine process with an empty NUMBA_CACHE_DIR ({cache_dir})")
        cold = _one_start(url, cache_dir)
        _numba_floor(cache_dir)  # compiles the floor's one kernel into the cache
        progress(f"cold start: {WARM_ROUNDS} warm starts (the cache it wrote), each beside a "
                 "numba floor start")
        warms, floors = [], []
        for _ in range(WARM_ROUNDS):  # interleaved: both see the same machine
            warms.append(_one_start(url, cache_dir))
            floors.append(_numba_floor(cache_dir))
    finally:
        stop(feeder)
        shutil.rmtree(cache_dir, ignore_errors=True)
    warm = sorted(warms, key=lambda e: e["first_quote_s"])[WARM_ROUNDS // 2]
    floor = sorted(floors, key=lambda e: e["first_call_s"])[WARM_ROUNDS // 2]
    return {
        "benchmark": "cold_start",
        "quick": quick,
        "cold_s": cold["first_quote_s"],
        "warm_s": warm["first_quote_s"],
        "warm_runs_s": [e["first_quote_s"] for e in warms],
        "numba_floor_s": floor["first_call_s"],
        "numba_floor_runs_s": [e["first_call_s"] for e in floors],
        "warm_over_floor_s": warm["first_quote_s"] - floor["first_call_s"],
        "cold": cold,
        "warm": warm,
        "numba_floor": floor,
        "target_warm_s": TARGET_WARM_S,
        "meets_target": warm["first_quote_s"] <= TARGET_WARM_S,
        "floor_meets_target": floor["first_call_s"] <= TARGET_WARM_S,
    }


def summary(result: dict[str, Any]) -> str:
    """One line per start."""
    lines = []
    for key in ("cold", "warm"):
        e = result[key]
        lines.append(f"cold_start.{key}: first quote {e['first_quote_s']:.3f} s (interpreter "
                     f"{e['interpreter_s']:.3f}, imports+kernels {e['imports_s']:.3f} "
                     f"[{e['compiled']} compiled, {e['cache_hits']} from cache], connect to first "
                     f"quote {e['connect_to_quote_s']:.3f})")
    f = result["numba_floor"]
    lines.append(f"cold_start.numba_floor: {f['first_call_s']:.3f} s to one cached numba kernel's "
                 f"first call, no qengine code (interpreter {f['interpreter_s']:.3f}, numpy + "
                 f"numba imports {f['imports_s']:.3f}, first cached call "
                 f"{f['first_cached_call_s']:.3f}); warm starts "
                 + " / ".join(f"{s:.3f}" for s in result["warm_runs_s"])
                 + ", floors " + " / ".join(f"{s:.3f}" for s in result["numba_floor_runs_s"])
                 + f" s; engine over the floor {result['warm_over_floor_s']:.3f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry; same run")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child)
    result = run(args.quick)
    print(summary(result))
    if args.json:
        write_json(args.json, {"machine": machine_info(), "results": {"cold_start": result}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
