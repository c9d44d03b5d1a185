"""The research API on its own: A-S quotes, the paper's Monte-Carlo, and the engine's pipeline.

Avellaneda & Stoikov (2008), section 4: mid s follows Brownian motion (s0 = 100, sigma = 2,
T = 1, dt = 0.005); our bid and ask are hit by Poisson arrivals with intensity
A * exp(-kappa * d), A = 140, kappa = 1.5, d the distance of the quote from the mid. The
inventory strategy quotes around the reservation price; the symmetric strategy quotes the same
spread around the mid. The paper reports (gamma = 0.1) a similar mean profit with a far smaller
spread of profit and of final inventory for the inventory strategy; the table below reproduces it.
Last, the engine's own quote pipeline (estimators, model, ladder in ticks and lots) runs through
its validated wrapper on a random-walk book.

Run: ``python examples/research_kernels.py [--paths 1000] [--seed 7]`` (about a second).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from qengine.kernels import (
    codes,
    make_quote_params,
    new_quote_state,
    optimal_spread,
    quote_pipeline,
    reservation_price,
)

S0, SIGMA, T, DT, A, KAPPA = 100.0, 2.0, 1.0, 0.005, 140.0, 1.5


def simulate(gamma: float, paths: int, seed: int, inventory_aware: bool) -> dict[str, float]:
    """Simulate ``paths`` trading days; return mean/std of final profit and inventory."""
    rng = np.random.default_rng(seed)
    steps = round(T / DT)
    profit = np.empty(paths)
    final_q = np.empty(paths)
    spreads = np.empty(paths)
    for p in range(paths):
        s, cash, q, spread_sum = S0, 0.0, 0.0, 0.0
        shocks = rng.choice((-1.0, 1.0), size=steps) * SIGMA * math.sqrt(DT)
        hits = rng.random((steps, 2))
        for i in range(steps):
            time_left = T - i * DT
            spread = optimal_spread(gamma, SIGMA, time_left, KAPPA)
            centre = reservation_price(s, q, gamma, SIGMA, time_left) if inventory_aware else s
            bid, ask = centre - spread / 2.0, centre + spread / 2.0
            spread_sum += spread
            # Fill probability over dt of a Poisson clock with intensity A*exp(-kappa*d).
            if hits[i, 0] < A * math.exp(-KAPPA * (s - bid)) * DT:
                q += 1.0
                cash -= bid
            if hits[i, 1] < A * math.exp(-KAPPA * (ask - s)) * DT:
                q -= 1.0
                cash += ask
            s += shocks[i]
        profit[p] = cash + q * s
        final_q[p] = q
        spreads[p] = spread_sum / steps
    return {
        "spread": float(spreads.mean()),
        "profit": float(profit.mean()),
        "profit_std": float(profit.std()),
        "q": float(final_q.mean()),
        "q_std": float(final_q.std()),
    }


def quotes_along_a_path(gamma: float, seed: int) -> None:
    """Print A-S quotes for a short simulated path with a drifting inventory."""
    rng = np.random.default_rng(seed)
    s, q = S0, 0.0
    print(f"A-S quotes along a simulated path (gamma={gamma}, sigma={SIGMA}, kappa={KAPPA})")
    print(f"{'t':>5} {'mid':>9} {'q':>4} {'reservation':>12} {'bid':>9} {'ask':>9} {'spread':>7}")
    for i in range(0, 200, 25):
        time_left = T - i * DT
        r = reservation_price(s, q, gamma, SIGMA, time_left)
        spread = optimal_spread(gamma, SIGMA, time_left, KAPPA)
        print(
            f"{i * DT:5.2f} {s:9.3f} {q:4.0f} {r:12.3f} {r - spread / 2:9.3f} "
            f"{r + spread / 2:9.3f} {spread:7.3f}"
        )
        s += float(rng.normal(0.0, SIGMA * math.sqrt(25 * DT)))
        q += float(rng.integers(-2, 3))
    print()


def engine_pipeline_on_a_random_walk(seed: int) -> None:
    """Feed a random-walk book (ticks, lots, ns) through the validated ``quote_pipeline``."""
    rng = np.random.default_rng(seed)
    params = make_quote_params(level_count=3, vol_min_sample_count=5)
    state = new_quote_state(ring_capacity=256)
    mid, inventory = 650_000, 0
    print("The engine's pipeline on a random-walk book (A-S, ticks and lots)")
    print(f"{'t_s':>5} {'mid':>9} {'sigma/sqrt(s)':>13} {'bid0':>8} {'ask0':>8} {'quotes':>6}")
    for step in range(1, 41):
        mid += int(rng.integers(-3, 4))
        inventory += int(rng.integers(-20, 21))
        quotes, diag = quote_pipeline(
            params, state, time_ns=step * 250_000_000, best_bid_ticks=mid - 2,
            best_ask_ticks=mid + 2, best_bid_lots=40, best_ask_lots=35, inventory_lots=inventory,
        )
        if step % 8 == 0:
            bids = quotes[quotes["side"] == codes.SIDE_BUY]["price_ticks"]
            asks = quotes[quotes["side"] == codes.SIDE_SELL]["price_ticks"]
            print(f"{step / 4:5.1f} {mid:9d} {diag['sigma_per_sqrt_s']:13.2e} {bids.max():8d} "
                  f"{asks.min():8d} {diag['quote_count']:6d}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=1000, help="Monte-Carlo paths per row")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    quotes_along_a_path(0.1, args.seed)
    engine_pipeline_on_a_random_walk(args.seed)
    print(f"Monte-Carlo, {args.paths} paths per row (Avellaneda-Stoikov 2008, section 4)")
    header = f"{'gamma':>6} {'strategy':>10} {'spread':>7} {'profit':>8} {'std(profit)':>12} "
    print(header + f"{'final q':>8} {'std(q)':>7}")
    for gamma in (0.1, 0.01, 0.5):
        for name, aware in (("inventory", True), ("symmetric", False)):
            row = simulate(gamma, args.paths, args.seed, aware)
            print(
                f"{gamma:6.2f} {name:>10} {row['spread']:7.3f} {row['profit']:8.2f} "
                f"{row['profit_std']:12.2f} {row['q']:8.2f} {row['q_std']:7.2f}"
            )
    print(f"\nfinished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
