"""Order round trips through the simulator: ``private/insert`` and ``private/cancel`` latency.

The simulator runs in a separate process on loopback (started with a small ``python -c`` that
calls ``serve_simulator`` with rate limits off, so the benchmark measures latency rather than the
throttle; it prints its URL on the first stdout line, like ``qengine simulate --port 0``). This
process logs in with the demo key through ``open_thalex_client`` and times, one after the other,
an insert of a post-only bid far below the market (it rests, never fills) and the cancel of that
order. Each sample is one awaited call: encode, send, simulator work, answer, match, decode.

Run: ``python perf/bench_rpc.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import gc_disabled, machine_info, percentiles_ns, progress, write_json

INSTRUMENT = "BTC-PERPETUAL"

_SIMULATOR = textwrap.dedent(
    """
    import trio
    from qengine.sim import SimulatorConfig, serve_simulator

    async def main():
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                serve_simulator, SimulatorConfig(seed=1, rate_limits_enabled=False)
            )
            port = handle if isinstance(handle, int) else handle.port
            print(f"ws://127.0.0.1:{port}/ws/api/v2", flush=True)

    trio.run(main)
    """
)


def _start_simulator() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _SIMULATOR], stdout=subprocess.PIPE, text=True
    )
    url = process.stdout.readline().strip()
    if not url.startswith("ws://"):
        process.kill()
        process.wait()
        raise RuntimeError(f"simulator did not print its URL (got {url!r})")
    return process, url


async def _measure(url: str, rounds: int, warmup: int) -> dict[str, np.ndarray]:
    from qengine.io.auth import demo_credentials
    from qengine.io.thalex import open_thalex_client

    insert_ns = np.empty(rounds, dtype=np.int64)
    cancel_ns = np.empty(rounds, dtype=np.int64)
    clock = time.perf_counter_ns
    async with open_thalex_client(
        url, credentials=demo_credentials(), cancel_on_disconnect_s=10, reconnect=None
    ) as client:
        ticker = await client.ticker(INSTRUMENT)
        price = float(round(ticker.mark_price * 0.9))  # far below the bid: rests, never fills
        for i in range(-warmup, rounds):
            start = clock()
            order = await client.insert("buy", INSTRUMENT, 0.001, price, post_only=True)
            middle = clock()
            await client.cancel(order_id=order.order_id)
            end = clock()
            if i >= 0:
                insert_ns[i] = middle - start
                cancel_ns[i] = end - middle
    return {"insert": insert_ns, "cancel": cancel_ns}


def run(quick: bool) -> dict[str, Any]:
    """Measure insert and cancel round trips; return the result dict."""
    import trio

    rounds, warmup = (300, 50) if quick else (3000, 200)
    process, url = _start_simulator()
    try:
        progress(f"rpc round trips: {rounds} insert+cancel pairs against {url}")
        with gc_disabled():
            samples = trio.run(_measure, url, rounds, warmup)
    finally:
        process.kill()
        process.wait()
    both = samples["insert"] + samples["cancel"]
    every = np.concatenate([samples["insert"], samples["cancel"]])
    return {
        # The names: one sample per request (inserts and cancels pooled), microseconds.
        "p50_us": float(np.percentile(every, 50)) / 1e3,
        "p99_us": float(np.percentile(every, 99)) / 1e3,
        "insert_p50_us": float(np.percentile(samples["insert"], 50)) / 1e3,
        "insert_p99_us": float(np.percentile(samples["insert"], 99)) / 1e3,
        "cancel_p50_us": float(np.percentile(samples["cancel"], 50)) / 1e3,
        "cancel_p99_us": float(np.percentile(samples["cancel"], 99)) / 1e3,
        "benchmark": "rpc",
        "quick": quick,
        "rounds": rounds,
        "insert_ns": percentiles_ns(samples["insert"]),
        "cancel_ns": percentiles_ns(samples["cancel"]),
        "insert_plus_cancel_ns": percentiles_ns(both),
        "machine": machine_info(),
    }


def _summary(result: dict[str, Any]) -> str:
    ins, can = result["insert_ns"], result["cancel_ns"]
    return (
        f"rpc: insert p50 {ins['p50'] / 1e3:.0f} us p99 {ins['p99'] / 1e3:.0f} us; "
        f"cancel p50 {can['p50'] / 1e3:.0f} us p99 {can['p99'] / 1e3:.0f} us "
        f"({result['rounds']} rounds)"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run for smoke tests")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print(_summary(result))
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
