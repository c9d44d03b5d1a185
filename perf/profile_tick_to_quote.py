"""Where the quoting process spends its CPU under load: py-spy samples sorted into stages.

Starts the perf feeder (:mod:`perf._feeder`) at ``--rate`` tickers/s and the tick-to-quote
bench's engine child (:mod:`perf.bench_tick_to_quote`, the same configuration) under
``py-spy record`` (not part of the package: ``pip install py-spy``), then sorts every sample by
the innermost frame that names a stage of the inbound path:

read (socket read, trio's stream), frame decode (websocket frames), JSON (``orjson`` through
``jsonrpc.parse_frame``), message decode (``messages`` records), state update (the listener),
kernel call (numba dispatch and the kernel, argument building included), order encoding
(action rows -> request bytes, masking), write (``send_all``), order replies (answers and
``session.orders`` pushes applied), scheduling (trio's run loop, checkpoints, task starts),
telemetry, other; trio's ``epoll`` wait on its own line (idle time: py-spy cannot tell it from
work in ``--nonblocking`` mode). Samples of start-up (imports, compiling, connecting, the login
key) and of the bench's hot loop after the window are left out.

py-spy samples Python frames only (``--native`` is slow and often unavailable): time inside C
(``orjson``, a syscall, a numba kernel) is charged to the Python frame that called it, which is
why the stages are defined by the calling frame. The shares are of CPU samples, not of one
tick's latency: work done after the order bytes left (order replies) costs CPU but is not on
the tick-to-quote path unless it delays the next tick.

Run: ``python perf/profile_tick_to_quote.py --rate 10000 --seconds 20 [--json PATH]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import progress, write_json
from perf.bench_tick_to_quote import child_env, start_feeder, stop_feeder

ROOT = Path(__file__).resolve().parent.parent
#: (stage, substrings of a frame "function (file:line)"); the innermost matching frame decides,
#: rules tried in this order for that frame.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("start-up", ("_find_and_load", "warm_up", "validate_instruments", "open_connection",
                  "compile", "<module>", "auth.py", "hot_costs_ns")),
    ("telemetry", ("telemetry.py", "_status.py", "logging/")),
    ("write", ("send_all (trio", "SocketStream.send_all", "_socket.py", "send_texts",
               "send_many", "send_frames", "probed_send_all")),
    ("order encoding", ("encode_frame", "mask (", "encode_request", "start_request",
                        "insert_params", "send_order_batch", "send_batch", "_request (",
                        "_prepare (", "encode_orders", "order_frames", "_order_wire.py",
                        "start_batch", "send_prebuilt", "send_order_frames")),
    ("order replies", ("_collect (", "apply_order", "decode_order", "PendingBatch.wait",
                       "handle_event", "messages_orders.py")),
    ("kernel call", ("run_cycle", "tick_raw", "quote_cycle", "dispatcher", "numba",
                     "_ticker_lane.py")),
    ("message decode", ("messages.py", "messages_market.py", "messages_base.py",
                        "messages_account.py", "decode_notification", "_collect (rpc")),
    ("JSON", ("parse_frame", "classify")),
    ("frame decode", ("read (qengine/io/ws_frames", "_take_frame", "_take_controls",
                      "receive_batch")),
    ("read", ("receive_some",)),
    ("state update", ("_listener.py", "on_ticker", "probed_on_ticker", "took_ticker")),
    ("quote decision", ("_quoter.py", "_gate.py", "_risk.py", "_token_bucket.py",
                        "_orders.py")),
    ("inbound dispatch", ("rpc_session.py", "transport.py", "jsonrpc.py")),
    ("epoll wait (idle or I/O)", ("get_events (trio", "_epoll_wait")),
    ("scheduling", ("trio/_core", "trio/", "outcome/", "contextlib", "_probe.py")),
)


#: Kernels load when first needed (``kernels._jit``), inside the engine's trio run: a stack
#: with a loading frame anywhere is start-up, whatever numba frame is innermost.
LOADING = ("warm_up (qengine", "load (qengine/kernels/_jit.py", "entry_point (qengine",
           "hot_costs_ns")


def stage_of(stack: list[str]) -> str:
    """The stage of one sampled stack (root first)."""
    if any(needle in frame for frame in stack for needle in LOADING):
        return "start-up"
    for frame in reversed(stack):
        for stage, needles in STAGES:
            if any(needle in frame for needle in needles):
                return stage
    return "other"


def classify(raw: str) -> Counter[str]:
    """Samples per stage of a ``py-spy record --format raw`` output."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not stack_text or not count.isdigit():
            continue
        stack = stack_text.split(";")
        stage = stage_of(stack)
        if stage == "start-up" or not any("trio" in frame for frame in stack):
            counts["start-up"] += int(count)
            continue
        counts[stage] += int(count)
    return counts


def profile(rate: int, warmup_s: float, seconds: float, sample_rate: int) -> dict[str, Any]:
    """Run feeder + engine child under py-spy; return samples per stage and the bench line."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    feeder, url = start_feeder(rate)
    out = Path(tempfile.mkdtemp(prefix="qengine-profile-")) / "samples.txt"
    try:
        proc = subprocess.run(
            [py_spy, "record", "--format", "raw", "--rate", str(sample_rate), "--nonblocking",
             "-o", str(out), "--", sys.executable, str(ROOT / "perf" / "bench_tick_to_quote.py"),
             "--child", url, "--warmup", str(warmup_s), "--seconds", str(seconds)],
            cwd=ROOT, env=child_env(), capture_output=True, timeout=warmup_s + seconds + 120,
            check=False)
    finally:
        report = stop_feeder(feeder)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"py-spy run failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    counts = classify(out.read_text())
    quoting = sum(n for stage, n in counts.items() if stage != "start-up")
    shares = {stage: 100.0 * n / quoting for stage, n in counts.most_common()
              if stage != "start-up"}
    return {"rate": rate, "seconds": seconds, "sample_rate": sample_rate,
            "samples": quoting, "startup_samples": counts["start-up"], "share_pct": shares,
            "feeder_frames": report["frames"] if report else None, "raw_path": str(out)}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sample-rate", type=int, default=1000)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    progress(f"profiling the engine at {args.rate:,} msgs/s for {args.warmup + args.seconds:g} s")
    result = profile(args.rate, args.warmup, args.seconds, args.sample_rate)
    print(f"{result['samples']} samples while quoting ({result['startup_samples']} at start-up); "
          f"raw stacks in {result['raw_path']}")
    for stage, share in result["share_pct"].items():
        print(f"  {stage:18} {share:5.1f} %")
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
