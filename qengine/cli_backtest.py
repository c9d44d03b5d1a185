"""``qengine backtest``: the quoting config run on recorded data, then statistics, plots, report.

``run_backtest_command(args)`` is the command line's entry; it hands ``backtest_command`` the
real ``qengine.backtest.run``. Tests call ``backtest_command`` with a function returning a
hand-built result, so every flag, error and output file is tested without a backtest run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

_PROG = "qengine backtest"
DATA_SUFFIXES = (".npz", ".npy", ".gz")


class _UsageError(Exception):
    """A flag, file or key that cannot work; the message names it."""


def _positive_float(text: str) -> float:
    return _float_at_least(text, 0.0, strict=True)


def _non_negative_float(text: str) -> float:
    return _float_at_least(text, 0.0, strict=False)


def _float_at_least(text: str, floor: float, *, strict: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < floor or (strict and value == floor):
        raise argparse.ArgumentTypeError(f"must be a finite number {'>' if strict else '>='} "
                                         f"{floor:g}, got {text!r}")
    return value


def _queue_model(text: str) -> str:
    """``riskaverse``, ``powerprob`` or ``powerprob:N`` (N > 0, the power of the probability)."""
    name, _, power = text.partition(":")
    if name == "riskaverse" and not power:
        return text
    if name == "powerprob":
        if power:
            try:
                ok = math.isfinite(float(power)) and float(power) > 0
            except ValueError:
                ok = False
            if not ok:
                raise argparse.ArgumentTypeError(f"powerprob:N needs a number N > 0, got {text!r}")
        return text
    raise argparse.ArgumentTypeError(f"expected riskaverse, powerprob or powerprob:N, got "
                                     f"{text!r}")


def add_backtest_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``qengine backtest``."""
    parser.add_argument("--config", metavar="FILE.toml", required=True,
                        help="the TOML config you quote with")
    parser.add_argument("--data", metavar="FILE", nargs="+", required=True,
                        help="event files (.npz/.npy) or raw Binance USD-M recordings (.gz, "
                             "converted once and cached), in time order")
    parser.add_argument("--instrument", metavar="NAME",
                        help="a name in the instrument table (default: the config's instrument)")
    parser.add_argument("--latency-ms", type=_non_negative_float, default=10.0, metavar="MS",
                        help="order entry and response latency, each way (default 10)")
    parser.add_argument("--queue", type=_queue_model, default="riskaverse",
                        metavar="riskaverse|powerprob[:N]",
                        help="queue position model (default riskaverse)")
    parser.add_argument("--partial-fills", action="store_true",
                        help="fill part of an order when the traded size allows (default: "
                             "whole orders only)")
    parser.add_argument("--record-interval-ms", type=_positive_float, default=100.0, metavar="MS",
                        help="one record row (plots, statistics) per this interval (default 100)")
    parser.add_argument("--sample-interval-s", type=_positive_float, default=1.0, metavar="S",
                        help="equity sampling interval of Sharpe and Sortino (default 1)")
    parser.add_argument("--out", metavar="DIR", default="backtest-report",
                        help="directory of the report and plots (default ./backtest-report)")
    parser.add_argument("--json", metavar="PATH", help="write every statistic here as JSON")
    parser.add_argument("--no-plots", action="store_true",
                        help="write the HTML table only (no matplotlib needed)")
    parser.add_argument("--as-orders", action="store_true",
                        help="run an order_mode = \"mass_quote\" config as single orders (the "
                             "backtester simulates single orders only; without this flag such "
                             "a config is refused)")


def _check_paths(args: argparse.Namespace) -> None:
    for name in args.data:
        path = Path(name)
        if not path.is_file():
            raise _UsageError(f"--data: {name}: no such file")
        if not name.endswith(DATA_SUFFIXES):
            raise _UsageError(f"--data: {name}: expected a .npz, .npy or .gz file")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _UsageError(f"--out: {args.out}: exists and is not a directory")
    # Checked before the run (a run's result is never lost to an unwritable --out), created
    # only when the report is written.
    if out.is_dir():
        if not os.access(out, os.W_OK | os.X_OK):
            raise _UsageError(f"--out: {args.out}: directory is not writable")
    else:
        parent = next(p for p in out.absolute().parents if p.exists())
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise _UsageError(f"--out: {args.out}: cannot create the directory ({parent} is "
                              "not a writable directory)")
    if args.json is not None:
        target = Path(args.json)
        if target.is_dir():
            raise _UsageError(f"--json: {args.json}: is a directory")
        if not target.parent.is_dir():
            raise _UsageError(f"--json: {args.json}: directory {target.parent} does not exist")


class _ProgressBar:
    """A tqdm bar fed by the run's ``Progress`` callbacks: events, events/s, simulated time and
    ETA (from the event total when known, else from the simulated time covered)."""

    def __init__(self, stream: TextIO) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=None, unit="ev", unit_scale=True, file=stream, desc="backtest",
                         dynamic_ncols=True, mininterval=0.5)
        self._t0 = time.perf_counter()

    def __call__(self, progress: Any) -> None:
        bar = self._bar
        if bar.total is None and progress.events_total > 0:
            bar.total = progress.events_total
        note = "sim -"  # no simulated time yet (before the first event)
        if progress.sim_time_ns >= 0:
            sim = datetime.fromtimestamp(progress.sim_time_ns / 1e9, tz=UTC)
            note = f"sim {sim:%H:%M:%S} UTC"
        span = progress.end_ns - progress.start_ns
        if progress.events_total <= 0 and progress.end_ns > 0 and span > 0:
            done = min(max((progress.sim_time_ns - progress.start_ns) / span, 0.0), 1.0)
            elapsed = time.perf_counter() - self._t0
            eta = f", ETA {elapsed * (1 - done) / done:.0f} s" if done > 0 else ""
            note += f", {100 * done:.0f} % of the data{eta}"
        bar.set_postfix_str(note, refresh=False)
        bar.update(progress.events_done - bar.n)

    def close(self) -> None:
        self._bar.close()


def _progress_bar(stream: TextIO) -> _ProgressBar | None:
    """A bar when ``stream`` is a terminal and tqdm is installed; quiet otherwise."""
    if not stream.isatty():
        return None
    try:
        return _ProgressBar(stream)
    except ModuleNotFoundError:
        return None


def _json_ready(stats: Mapping[str, float | int]) -> dict[str, float | int | None]:
    """NaN and infinities become ``null`` (strict JSON has no NaN)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in stats.items()}


def backtest_command(args: argparse.Namespace, *, run: Callable[..., Any],
                     stdout: TextIO, stderr: TextIO) -> int:
    """Validate ``args``, run ``run(config, data, ...)``, write the report and the JSON, print
    the statistics table; return the exit code (2: a bad flag, file, key or data)."""
    from .backtest.data import DataError
    from .backtest.report import require_matplotlib, write_report
    from .backtest.stats import compute_stats, format_stats_table
    from .config import load_config
    from .errors import ConfigError

    def fail(message: str, code: int = 2) -> int:
        print(f"{_PROG}: {message}", file=stderr)
        return code

    try:
        _check_paths(args)
        if not args.no_plots:
            require_matplotlib()
        config = load_config(args.config)
    except _UsageError as exc:
        return fail(str(exc))
    except ModuleNotFoundError as exc:
        return fail(f"{exc} (or pass --no-plots)")
    except ConfigError as exc:
        return fail(f"invalid config: {exc}")
    data = args.data[0] if len(args.data) == 1 else list(args.data)
    bar = _progress_bar(stderr)
    try:
        result = run(config, data, instrument=args.instrument, latency_ms=args.latency_ms,
                     queue=args.queue, partial_fills=args.partial_fills,
                     record_interval_ms=args.record_interval_ms, progress=bar,
                     order_mode_override="orders" if args.as_orders else None)
    except ConfigError as exc:
        return fail(f"invalid config: {exc}")
    except DataError as exc:
        return fail(f"invalid data: {exc}")
    finally:
        if bar is not None:
            bar.close()
    stats = compute_stats(result, sample_interval_s=args.sample_interval_s)
    try:
        paths = write_report(result, stats, args.out, plots=not args.no_plots)
        if args.json is not None:
            Path(args.json).write_text(json.dumps(_json_ready(stats), indent=2,
                                                  allow_nan=False) + "\n")
    except OSError as exc:
        return fail(f"cannot write the report: {exc}", code=1)
    events = result.counts.get("events", 0)
    rate = f", {events / result.wall_s / 1e6:.2f} M events/s" if result.wall_s > 0 else ""
    print(f"backtest of {result.instrument.name}, model {config.quote.model}: "
          f"{events:,} events in {result.wall_s:.2f} s{rate}", file=stdout)
    print(format_stats_table(stats), file=stdout)
    print(f"report: {paths.html}", file=stdout)
    if args.json is not None:
        print(f"statistics: {args.json}", file=stdout)
    return 0


def _run_quoting(*args: Any, **kwargs: Any) -> Any:
    # Imported on use: flags and files are checked before the backtester loads.
    from .backtest import run

    return run(*args, **kwargs)


def run_backtest_command(args: argparse.Namespace) -> int:
    """The command line's entry: ``backtest_command`` with the real ``qengine.backtest.run``."""
    return backtest_command(args, run=_run_quoting, stdout=sys.stdout, stderr=sys.stderr)
