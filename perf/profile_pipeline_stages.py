"""Where the fused quote cycle's nanoseconds go: each stage timed in a jitted loop.

The world and stream are those of ``kernel.pipeline`` in :mod:`perf.bench_kernels` (a 5-level
ladder, a 32-row order table re-synced every 64 ticks). For every tick the stages of
``quote_cycle`` run in order, each between two cycle-counter reads: the diagnostics reset, the
book ingest (ring push and volatility update), sigma, the two intensity fits, the model touch, the
ladder and the diff. The sum is a little more than one ``quote_cycle`` call (one timer overhead
per stage, and the stages do not share registers across calls).

Run: ``python perf/profile_pipeline_stages.py [--quick]``.
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
from qengine.kernels import codes
from qengine.kernels.ladder import _build_ladder
from qengine.kernels.model import _model_touch
from qengine.kernels.order_diff import diff_ladder_against_orders
from qengine.kernels.pipeline import _ingest_book, _reset_diag, _select_intensity, _select_sigma

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
            if status == codes.STATUS_OK:
                count = _build_ladder(params, bid_mult, ask_mult, d.bid0_ticks, d.ask0_ticks,
                                     math.ceil(d.min_spread_ticks - 1e-9), sigma, inventory,
                                     np.int64(LEVELS), quotes)
            d.quote_count = count
            t6 = rdtsc()
            t7 = t6
        acc += diff_ladder_against_orders(orders, quotes, count, 0, 2, actions)
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


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: print one line per stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 ticks instead of 200,000")
    args = parser.parse_args(argv)
    print(f"{'stage':<22} {'p50 ns':>8} {'p99 ns':>8}")
    for stage, (p50, p99) in measure(args.quick).items():
        print(f"{stage:<22} {p50:>8.0f} {p99:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
