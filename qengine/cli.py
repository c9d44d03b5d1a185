"""The ``qengine`` command line: one subcommand per job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._version import __version__
from .cli_backtest import add_backtest_arguments, run_backtest_command
from .cli_sweep import add_sweep_arguments, run_sweep_command
from .sim.cli import add_simulate_arguments, run_simulate_command


def _cmd_version(_args: argparse.Namespace) -> int:
    print(f"qengine {__version__}")
    return 0


_QUOTE_OVERRIDES = {
    "network": "connection.network",
    "url": "connection.url",
    "instrument": "instrument",
    "model": "quote.model",
    "gamma": "quote.gamma",
    "kappa": "quote.kappa_per_usd",
    "levels": "quote.levels",
    "spacing_ticks": "quote.spacing_ticks",
    "duration_s": "duration_s",
    "log_file": "telemetry.log_file",
    "metrics_file": "telemetry.metrics_file",
    "summary_json": "telemetry.summary_json",
    "order_mode": "order_mode",
    "seed": "simulator.seed",
}


def _add_quote_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE.toml", help="TOML config file")
    parser.add_argument("--network", choices=("sim", "test", "prod"),
                        help="sim (default: the simulator, started in its own process), or "
                             "Thalex testnet/production "
                             "with keys from THALEX_* environment variables")
    parser.add_argument("--url", metavar="WS_URL", help="websocket URL (overrides --network)")
    parser.add_argument("--instrument", help="instrument to quote (default BTC-PERPETUAL)")
    parser.add_argument("--model", choices=("as", "glft", "legacy"))
    parser.add_argument("--gamma", type=float,
                        help="risk aversion, 1/(USD x coin); with --model legacy the old bot's "
                             "dimensionless gamma")
    parser.add_argument("--kappa", type=float, help="order-arrival decay per USD (prior)")
    parser.add_argument("--levels", type=int, help="levels per side")
    parser.add_argument("--spacing-ticks", type=int, help="base step between levels, ticks")
    parser.add_argument("--order-mode", choices=("orders", "mass_quote"))
    parser.add_argument("--duration-s", type=float, help="stop after this many seconds")
    parser.add_argument("--seed", type=int, help="seed of the simulator (network sim)")
    parser.add_argument("--verbose", action="store_true", help="log every event in full")
    parser.add_argument("--busy-poll", action="store_true",
                        help="poll the socket instead of sleeping (one core at 100 %%: lower "
                             "tick-to-quote on a core of its own)")
    parser.add_argument("--log-file", metavar="PATH")
    parser.add_argument("--metrics-file", metavar="PATH", help="JSON-lines metrics")
    parser.add_argument("--summary-json", metavar="PATH", help="write the exit summary here")


def _cmd_quote(args: argparse.Namespace) -> int:
    import trio

    from .config import load_config
    from .errors import ConfigError, StartupError
    from .run import run_engine, summary_table
    from .telemetry import open_logging

    overrides = {dotted: getattr(args, name) for name, dotted in _QUOTE_OVERRIDES.items()}
    if args.model == "legacy" and args.gamma is not None:
        # The old bot's gamma is dimensionless (its spread factor 1 + gamma).
        overrides["quote.legacy_gamma"] = overrides.pop("quote.gamma")
    if args.verbose:
        overrides["telemetry.verbose_logging"] = True
    if args.busy_poll:
        overrides["connection.busy_poll"] = True
    try:
        config = load_config(args.config, overrides)
    except ConfigError as exc:
        print(f"qengine: invalid config: {exc}", file=sys.stderr)
        return 2
    t = config.telemetry
    with open_logging(verbose=t.verbose_logging, log_file=t.log_file,
                      metrics_file=t.metrics_file):
        try:
            summary = trio.run(run_engine, config)
        except StartupError as exc:
            print(f"qengine: cannot start: {exc}", file=sys.stderr)
            return 1
    print("session summary:")
    print(summary_table(summary))
    return 0


def _add_convert_arguments(parser: argparse.ArgumentParser) -> None:
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    binance = formats.add_parser(
        "binance-futures", help="raw Binance USD-M stream recording (.gz) -> hftbacktest .npz",
        description="Convert a raw Binance USD-M futures stream recording into hftbacktest's "
                    "event rows (the same rows as hftbacktest 2.4.4's binancefutures.convert).")
    binance.add_argument("source", metavar="FILE.gz", help="the recording")
    binance.add_argument("output", metavar="OUT.npz", help="where to write the rows")
    binance.add_argument("--bare-stream", action="store_true",
                         help="messages are bare stream payloads, not {stream, data} wrappers")
    binance.add_argument("--base-latency-ns", type=int, default=0, metavar="NS",
                         help="added to the local clock shift when one is needed (default 0)")
    binance.add_argument("--skip-malformed", action="store_true",
                         help="drop and count malformed lines instead of stopping at the first")
    binance.set_defaults(handler=_cmd_convert_binance)


def _cmd_convert_binance(args: argparse.Namespace) -> int:
    from .backtest.binance import convert_binance_futures_with_report
    from .backtest.data import DataError

    try:
        _, report = convert_binance_futures_with_report(
            args.source, args.output, combined_stream=not args.bare_stream,
            base_latency_ns=args.base_latency_ns, skip_malformed=args.skip_malformed)
    except DataError as exc:
        print(f"qengine convert: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"qengine convert: cannot write {args.output}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    print(f"wrote {report.summary()}")
    for example in report.skipped_examples:
        print(f"  skipped {example}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="qengine",
        description="Avellaneda-Stoikov / GLFT market maker for Thalex, with a bundled "
                    "simulator.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    version = sub.add_parser("version", help="print the qengine version")
    version.set_defaults(handler=_cmd_version)
    quote = sub.add_parser("quote", help="quote an instrument (default: on the simulator, run in "
                                         "its own process)")
    _add_quote_arguments(quote)
    quote.set_defaults(handler=_cmd_quote)
    simulate = sub.add_parser("simulate", help="run the Thalex simulator standalone")
    add_simulate_arguments(simulate)
    simulate.set_defaults(handler=run_simulate_command)
    convert = sub.add_parser("convert", help="convert recorded market data to event rows")
    _add_convert_arguments(convert)
    sweep = sub.add_parser("sweep", help="backtest a grid of parameter sets on Dask",
                           description="Backtest every parameter set of a grid on every data "
                                       "split, on an embedded Dask cluster or a running one; "
                                       "rows to Parquet, best sets, heatmaps, an HTML page.")
    add_sweep_arguments(sweep)
    sweep.set_defaults(handler=run_sweep_command)
    backtest = sub.add_parser(
        "backtest", help="run the quoting config on recorded data: statistics, plots, report",
        description="Backtest qengine's own quoting (the kernels and decisions that quote live) "
                    "on recorded market data; print the statistics, write the HTML report with "
                    "its plots and, with --json, every statistic.")
    add_backtest_arguments(backtest)
    backtest.set_defaults(handler=run_backtest_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
