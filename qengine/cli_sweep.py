"""``qengine sweep``: a grid of parameter sets backtested on Dask, results in Parquet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE.toml", help="base config (the quote TOML)")
    parser.add_argument("--data", metavar="FILE", nargs="+", required=True,
                        help="event files (.npz, .npy, Binance .gz) in time order; paths every "
                             "worker can read")
    parser.add_argument("--grid", metavar="GRID.toml", required=True,
                        help="parameters to vary, data split, backtest options")
    parser.add_argument("--scheduler", metavar="tcp://HOST:8786",
                        help="a running Dask scheduler (default: an embedded local cluster)")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="worker processes of the embedded cluster (default 2)")
    parser.add_argument("--out", default="sweep-out", metavar="DIR",
                        help="results.parquet, heatmaps, index.html (default sweep-out)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows in --out and run only the missing tasks")
    parser.add_argument("--metric", metavar="NAME",
                        help="statistic that ranks the sets (default: the grid's, else pnl_quote)")
    parser.add_argument("--minimize", action="store_true", help="lower --metric is better")
    parser.add_argument("--no-plots", action="store_true", help="no heatmaps, no HTML page")


def run_sweep_command(args: argparse.Namespace) -> int:
    try:
        from .sweep.api import check_quoting, plan_sweep, run_planned
        from .sweep.runner import open_client
        from .sweep.store import check_manifest
        from .sweep.summary import best_table, text_table, walk_forward_table
        from .sweep.tasks import run_task
    except ImportError as exc:
        print(f"qengine sweep: needs the sweep extra (pip install 'qengine[sweep]'): {exc}",
              file=sys.stderr)
        return 2
    from .errors import ConfigError

    if args.workers < 1:
        print("qengine sweep: --workers must be >= 1", file=sys.stderr)
        return 2
    try:
        plan = plan_sweep(args.config, args.data, args.grid)
        metric = check_quoting(plan, args.metric)
        if args.resume:
            check_manifest(args.out, plan.manifest(run_task))
    except (ConfigError, ValueError) as exc:
        print(f"qengine sweep: {exc}", file=sys.stderr)
        return 2
    print(f"sweep: {len(plan.grid.points())} parameter sets x "
          f"{len(plan.tasks) // len(plan.grid.points())} splits = {len(plan.tasks)} tasks on "
          f"{args.scheduler or f'{args.workers} local worker processes'}")
    try:
        with open_client(args.scheduler, workers=args.workers) as client:
            result = run_planned(plan, client, args.out, resume=args.resume, metric=metric,
                                 minimize=True if args.minimize else None,
                                 plots=not args.no_plots)
    except (ValueError, OSError) as exc:
        print(f"qengine sweep: {exc}", file=sys.stderr)
        return 1
    report = result.report
    names = list(plan.grid.params)
    print(f"ran {report.done} tasks in {report.wall_s:.1f} s ({report.skipped} already done, "
          f"{len(report.errors)} failed; numba compilations inside tasks: {report.compiles})")
    for error in report.errors:
        print(f"  failed {error['split']} {error['params']}: {error['error']}", file=sys.stderr)
    print(f"\nbest parameter sets by {result.metric}:")
    print(text_table(*best_table(result.ranked, names, result.metric, plan.grid.top)))
    if result.walk_forward:
        print("\nwalk-forward (best on one window, tested on the next):")
        print(text_table(*walk_forward_table(result.walk_forward, names, result.metric)))
    out = Path(args.out)
    print(f"\nrows: {out / 'results.parquet'}")
    if result.html is not None:
        print(f"report: {result.html} ({len(result.heatmaps)} heatmaps)")
    return 1 if report.errors else 0
