"""Where the fused quote cycle's nanoseconds go: each stage timed in a jitted loop.

The world and stream are those of ``kernel.pipeline`` in :mod:`perf.bench_kernels` (a 5-level
ladder, a 32-row order table re-synced every 64 ticks). For every tick the stages of
``quote_cycle`` run in order, each between two cycle-counter reads: the diagnostics reset, the
book ingest (ring push and volatility update), sigma, the two intensity fits, the model touch, the
ladder and the diff. The sum is a little more than one ``quote_cycle`` call (one timer overhead
per stage, and the stages do not share registers across calls).

Then (``--kernels``) the ``kernel.*`` entries of :mod:`perf.bench_kernels` for the cycle, the
pipeline, the diff and the single-stage kernels, via its ``measure`` (in-loop and from Python),
each the best of ``--repeat`` runs by in-loop p50 (Python p50 / p99: the lowest of the runs).

Run: ``python perf/profile_pipeline_stages.py [--quick] [--kernels] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf import _cycles
from perf._cycles import rdtsc
from perf._harness import gc_disabled
from perf._kernel_worlds import LEVELS, SYNC_EVERY, _quote_world, make_stream, sync_orders
from perf.bench_kernels import measure as measure_kernel
from qengine.kernels import codes
from qengine.kernels.ladder import _build_ladder
from qengine.kernels.model import _model_touch
from qengine.kernels.order_diff import _diff_ladder_against_orders
from qengine.kernels.order_exposure import inflight_lots
from qengine.kernels.pipeline import _ingest_book, _reset_diag, _select_intensity, _select_sigma

KERNELS = ("pipeline", "quote_pipeline", "diff_ladder_against_orders", "ring_push", "vol_update",
           "vol_sigma", "intensity_fit", "model_touch", "build_ladder")
STAGES = ("diag reset", "ingest: ring + vol", "sigma", "intensity fits", "model touch",
          "ladder", "diff")


@njit(cache=False)
def _run(c, start, n, out):
    params, bid_mult, ask_mult = c[0], c[1], c[2]
    samples, cursor, vol_state, vol_returns, intensity = c[3], c[4], c[5], c[6], c[7]
    quotes, diag, orders, actions = c[15], c[16], c[14], c[17]
    acc = 0.0
    for j in range(n):
        i = start + j
        if i % SYNC_EVERY == 0:
            sync_orders(orders, quotes, diag[0].quote_count)
        inputs = (c[8][i], c[9][i], c[10][i], c[11][i], c[12][i], c[13][i], np.int64(LEVELS))
        time_ns, inventory = c[8][i], c[13][i]
        t0 = rdtsc()
        _reset_diag(diag)
        t1 = rdtsc()
        mid = _ingest_book(params, samples, cursor, vol_state, vol_returns, inputs, diag)
        t2 = rdtsc()
        d = diag[0]
        count = 0
        t3 = t4 = t5 = t6 = t7 = t2
        if mid > 0.0:
            d.mid_ticks = mid
            sigma = _select_sigma(params, vol_state, diag)
            d.sigma_per_sqrt_s = sigma
            t3 = rdtsc()
            _select_intensity(params, intensity, time_ns, diag)
            t4 = rdtsc()
            status = _model_touch(params, mid, sigma, inventory, time_ns, d.a_bid_per_s,
                                 d.kappa_bid_per_tick, d.a_ask_per_s, d.kappa_ask_per_tick, diag)
            t5 = rdtsc()
            if status == codes.STATUS_OK:  # the ladder stage includes the in-flight lots
                bid_inflight, ask_inflight = inflight_lots(orders, 0)
                count = _build_ladder(params, bid_mult, ask_mult, d.bid0_ticks, d.ask0_ticks,
                                      math.ceil(d.min_spread_ticks - 1e-9), sigma, inventory,
                                      np.int64(LEVELS), quotes, bid_inflight, ask_inflight)
            d.quote_count = count
            t6 = rdtsc()
            t7 = t6
        limit = params[0].position_limit_lots
        acc += _diff_ladder_against_orders(orders, quotes, count, 0, 2, actions,
                                           limit - inventory, limit + inventory)
        t8 = rdtsc()
        stamps = (t0, t1, t2, t3, t4, t5, t6, t8)
        for k in range(7):
            out[j, k] = stamps[k + 1] - stamps[k]
        acc += t7 - t7
    return acc


def measure(quick: bool, repeat: int = 3) -> dict[str, tuple[float, float]]:
    """Return ``{stage: (p50 ns, p99 ns)}`` of each stage (timer overhead subtracted), from the
    run of ``repeat`` with the lowest p50 sum (the machine is shared: the quietest run)."""
    warmup, n = (1_000, 20_000) if quick else (5_000, 200_000)
    cycles_per_ns = _cycles.calibrate_cycles_per_ns(20_000_000)
    overhead, _ = _cycles.timer_overhead_cycles(20_000)
    runs = []
    for _ in range(repeat):
        c = _quote_world(make_stream(warmup + n, seed=7))
        out = np.empty((max(warmup, n), len(STAGES)), np.int64)
        _run(c, 0, warmup, out)
        with gc_disabled():
            _run(c, warmup, n, out)
        runs.append(np.maximum(out[:n].astype(np.float64) - overhead, 0.0) / cycles_per_ns)
    ns = min(runs, key=lambda r: float(np.percentile(r, 50, axis=0).sum()))
    result = {s: (float(np.percentile(ns[:, k], 50)), float(np.percentile(ns[:, k], 99)))
              for k, s in enumerate(STAGES)}
    total = ns.sum(axis=1)
    result["sum of stages"] = (float(np.percentile(total, 50)), float(np.percentile(total, 99)))
    return result


def kernel_entries(quick: bool, repeat: int) -> dict[str, dict[str, float]]:
    """``kernel.<name>`` entries of ``KERNELS``: the run of ``repeat`` with the lowest in-loop
    p50, with the lowest Python p50 and p99 of the runs."""
    cycles_per_ns = _cycles.calibrate_cycles_per_ns(20_000_000)
    overhead, _ = _cycles.timer_overhead_cycles(20_000)
    entries = {}
    for name in KERNELS:
        runs = [measure_kernel(name, quick, cycles_per_ns=cycles_per_ns, overhead_cycles=overhead)
                for _ in range(repeat)]
        entry = dict(min(runs, key=lambda r: r["inloop_p50_ns"]))
        for key in ("python_p50_ns", "python_p99_ns"):
            entry[key] = min(r[key] for r in runs)
        entries[name] = entry
    return entries


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: print one line per stage (and per kernel with --kernels)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 ticks instead of 200,000")
    parser.add_argument("--kernels", action="store_true", help="also the kernel.* entries")
    parser.add_argument("--repeat", type=int, default=3, help="runs to take the best of")
    args = parser.parse_args(argv)
    print(f"{'stage':<22} {'p50 ns':>8} {'p99 ns':>8}")
    for stage, (p50, p99) in measure(args.quick, args.repeat).items():
        print(f"{stage:<22} {p50:>8.0f} {p99:>8.0f}")
    if args.kernels:
        print(f"\n{'kernel':<28} {'loop p50':>9} {'loop p99':>9} {'py p50':>9} {'py p99':>9}")
        for name, e in kernel_entries(args.quick, args.repeat).items():
            print(f"{name:<28} {e['inloop_p50_ns']:>9.0f} {e['inloop_p99_ns']:>9.0f} "
                  f"{e['python_p50_ns']:>9.0f} {e['python_p99_ns']:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
