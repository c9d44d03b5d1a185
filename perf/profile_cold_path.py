"""Why the tick path costs more in situ than hot: the same call after idling, spinning or evicting.

The engine quotes a ticker with one call, ``Quoter.tick_raw`` (the ticker lane: decode, pacing,
cycle, book write). In the tick-to-quote bench that call costs several times what it costs back
to back. This script runs a real engine against the perf feeder (1,000 tickers/s, as the bench),
then, inside the engine process, calls ``tick_raw`` on the feeder's own random-walk tickers
(every call quotes and diffs 10 actions) in four ways, alternating, twice:

* ``hot``: back to back (instruction and data caches, TLB and branch predictors warm);
* ``after 1 ms asleep``: ``time.sleep(0.001)`` before each call -- what the engine does between
  two tickers at 1,000 msgs/s (it waits in epoll);
* ``after 1 ms spinning``: a 1 ms busy loop before each call (the core never idles);
* ``after evicting 16 MiB``: one pass over a 16 MiB array before each call (data caches cold,
  the core busy).

Same code, same inputs, same process: the differences are what the machine adds to our code
when it runs after a pause, not Python work the engine could drop.

Beside it, before and after the engine, the same four modes time a C program with no Python in
it (``perf/_idle_penalty.c``, built with the machine's C compiler): a dependent pointer chase
over a 512 KiB working set, sized to take about what the hot call takes. When it pays the same
multiple after a pause, that multiple belongs to the machine (caches, TLB and branch state lost
while the core idled or ran others), not to the interpreter or our code.

Run: ``python perf/profile_cold_path.py [--calls N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import machine_info, progress, run_child, write_json

MODES = ("hot", "after 1 ms asleep", "after 1 ms spinning", "after evicting 16 MiB")
C_SOURCE = Path(__file__).resolve().parent / "_idle_penalty.c"
#: The C reference: a pointer chase over 512 KiB, 2,000 dependent loads (about 10 us hot).
C_WORKING_SET_BYTES = 512 * 1024
C_STEPS = 2_000


def build_c_reference(out_dir: str) -> str | None:
    """Compile :data:`C_SOURCE`; return the program's path, or None without a C compiler."""
    import shutil
    import subprocess
    import sysconfig

    compiler = shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]) or \
        shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    program = str(Path(out_dir) / "idle_penalty")
    built = subprocess.run([compiler, "-O2", "-o", program, str(C_SOURCE)], check=False,
                           capture_output=True, timeout=120)
    if built.returncode != 0:
        progress(f"cold path: {compiler} could not build {C_SOURCE.name}: "
                 f"{built.stderr.decode(errors='replace')[-500:]}")
        return None
    return program


def run_c_reference(program: str, calls: int) -> dict[str, tuple[float, float]]:
    """(p50, p99) in us of the C pointer chase per mode."""
    import subprocess

    proc = subprocess.run([program, str(C_WORKING_SET_BYTES), str(C_STEPS), str(calls)],
                          capture_output=True, timeout=600, check=True)
    rows = (line.split("\t") for line in proc.stdout.decode().splitlines())
    return {mode: (int(p50) / 1e3, int(p99) / 1e3) for mode, p50, p99 in rows}


async def _measure(url: str, calls: int) -> dict[str, Any]:
    import trio

    from perf._feeder import RandomWalkBook
    from perf.bench_tick_to_quote import engine_overrides
    from qengine.config import config_from_mapping
    from qengine.engine import open_engine
    from qengine.io.auth import demo_credentials

    clock = time.perf_counter_ns
    big = np.zeros(16 * 1024 * 1024 // 8)

    def before(mode: str) -> None:
        if mode == "after 1 ms asleep":
            time.sleep(0.001)
        elif mode == "after 1 ms spinning":
            end = clock() + 1_000_000
            while clock() < end:
                pass
        elif mode == "after evicting 16 MiB":
            np.add(big, 1.0, out=big)

    config = config_from_mapping(engine_overrides(url))
    out: dict[str, list[float]] = {mode: [] for mode in MODES}
    tails: dict[str, list[float]] = {mode: [] for mode in MODES}
    actions: list[int] = []
    async with open_engine(config, url=url, credentials=demo_credentials()) as engine:
        await trio.sleep(3.0)
        quoter = engine.quoter
        book = RandomWalkBook(seed=5, move_prob=0.2)
        payloads = [book.frames(1)[4:] for _ in range(calls)]  # without the frame header
        for _ in range(2):
            for mode in MODES:
                times = np.empty(len(payloads), np.int64)
                for i, payload in enumerate(payloads):
                    before(mode)
                    start = clock()
                    n = quoter.tick_raw(payload, 1)
                    times[i] = clock() - start
                    actions.append(n)
                kept = times[len(times) // 10:]
                out[mode].append(float(np.median(kept)) / 1e3)
                tails[mode].append(float(np.percentile(kept, 99)) / 1e3)
    return {"p50_us": out, "p99_us": tails,
            "actions_mean": float(np.mean([a for a in actions if a >= 0]))}


def run(calls: int) -> dict[str, Any]:
    """Start the feeder, run the engine child, return its medians (us) per mode and round."""
    import subprocess

    import orjson

    from perf.bench_tick_to_quote import ROOT, child_env, start_feeder, stop

    with tempfile.TemporaryDirectory(prefix="qengine-idle-") as build_dir:
        program = build_c_reference(build_dir)
        if program is None:
            progress("cold path: no C compiler built the C reference; it is left out")
        c_rounds = [run_c_reference(program, calls)] if program else []
        feeder, url = start_feeder(1_000)
        try:
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", url,
                                   "--calls", str(calls)], cwd=ROOT, env=child_env(),
                                  capture_output=True, timeout=600, check=False)
        finally:
            stop(feeder)
        if program:
            c_rounds.append(run_c_reference(program, calls))
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"engine child failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    result = orjson.loads(proc.stdout.strip().splitlines()[-1])
    if c_rounds:
        result["c_reference_p50_us"] = {mode: [r[mode][0] for r in c_rounds] for mode in MODES}
        result["c_reference_p99_us"] = {mode: [r[mode][1] for r in c_rounds] for mode in MODES}
        result["c_reference"] = {"working_set_bytes": C_WORKING_SET_BYTES, "steps": C_STEPS}
    result["machine"] = machine_info()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per mode and round")
    parser.add_argument("--json", help="write the result as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(_measure, args.child, args.calls)
    if args.calls < 10:
        parser.error("--calls must be at least 10")
    progress(f"cold path: tick_raw x {args.calls} per mode, {len(MODES)} modes, 2 rounds")
    result = run(args.calls)
    c_p50, c_p99 = result.get("c_reference_p50_us", {}), result.get("c_reference_p99_us", {})
    for mode, values in result["p50_us"].items():
        line = (f"{mode}: tick_raw p50 " + " / ".join(f"{v:.1f}" for v in values) + ", p99 "
                + " / ".join(f"{v:.1f}" for v in result["p99_us"][mode]) + " us")
        if mode in c_p50:
            line += ("; C pointer chase (512 KiB, before / after the engine) p50 "
                     + " / ".join(f"{v:.1f}" for v in c_p50[mode]) + ", p99 "
                     + " / ".join(f"{v:.1f}" for v in c_p99[mode]) + " us")
        print(line)
    print(f"actions per quoted call (mean): {result['actions_mean']:.1f}; "
          f"load average {result['machine']['loadavg']}")
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
