"""``qengine simulate``: run the simulator standalone until SIGINT or SIGTERM.

Wiring for qengine/cli.py::

    from .sim.cli import add_simulate_arguments, run_simulate_command
    simulate = sub.add_parser("simulate", help="run the Thalex simulator")
    add_simulate_arguments(simulate)
    simulate.set_defaults(handler=run_simulate_command)
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import stat
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import trio

from . import FaultConfig, MarketRecorder, SimulatorConfig, serve_simulator
from .presets import MARKETS, market_instruments
from .recorder import recording_path


def _number(kind: type, low: float, high: float = math.inf, *, above: bool = False
            ) -> Callable[[str], float]:
    """An argparse type: a finite ``kind`` from ``low`` (excluded when ``above``) to ``high``."""
    what = "an integer" if kind is int else "a number"
    span = f"{'>' if above else '>='} {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high) or (above and value == low):
            raise argparse.ArgumentTypeError(f"must be {what} {span}, got {text!r}")
        return value

    return parse


#: Fault flags: (flag, metavar, FaultConfig field, argparse type, scale to the field's unit, help)
_FAULT_FLAGS = (
    ("--drop-every-s", "S", "drop_every_s", _number(float, 0.0, above=True), 1.0,
     "close each connection (code 1001) this many seconds after it opened"),
    ("--drop-after-messages", "N", "drop_after_messages", _number(int, 1), 1,
     "close a connection after it sent this many requests"),
    ("--delay-ms", "MS", "reply_delay_s", _number(float, 0.0), 0.001,
     "wait this long before answering each request (replies keep their order)"),
    ("--reject-rate", "FRACTION", "reject_insert_fraction", _number(float, 0.0, 1.0), 1.0,
     "fraction of insert/buy/sell requests rejected with --reject-code, not executed"),
    ("--reject-code", "CODE", "reject_insert_code", _number(int, 1), 1,
     "error code of injected rejections (default 4 throttled; 20 is a temporary failure)"),
    ("--system-reconnect-every-s", "S", "system_reconnect_every_s",
     _number(float, 0.0, above=True), 1.0,
     "push a system reconnect event this often per connection, then close it"),
    ("--reconnect-grace-s", "S", "reconnect_grace_s", _number(float, 0.0), 1.0,
     "seconds between the reconnect event and the close (default 10)"),
    ("--malformed-rate", "FRACTION", "malformed_frame_fraction", _number(float, 0.0, 1.0), 1.0,
     "fraction of notifications preceded by a malformed text frame"),
)


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--host --port --seed --key --time-scale --market --stop-on-stdin-eof
    --perpetuals-only --record --record-instrument`` and the fault flags."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic market")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="simulated seconds per real second")
    parser.add_argument("--key", action="append", default=[], metavar="KEY_ID=PUBLIC_KEY_PEM_PATH",
                        help="accept logins signed by this API key (repeatable); without any "
                             "--key the qengine demo key is accepted")
    parser.add_argument("--market", choices=MARKETS, default="listing",
                        help="listing: Thalex's instruments (default); quoting: the same with "
                             "thin crowds and frequent takers (the market of qengine quote)")
    parser.add_argument("--stop-on-stdin-eof", action="store_true",
                        help="also stop when standard input closes (a child of a parent that "
                             "may die without stopping it)")
    parser.add_argument("--perpetuals-only", action="store_true",
                        help="list only BTC-PERPETUAL and ETH-PERPETUAL (default: also dated "
                             "futures and their rolls)")
    parser.add_argument("--record", metavar="FILE.npz", type=Path, default=None,
                        help="record the market of --record-instrument (full book and public "
                             "trades) as backtester event rows, written to FILE (.npz or .npy) "
                             "when the simulator stops; replay it with qengine backtest")
    parser.add_argument("--record-instrument", metavar="NAME", default="BTC-PERPETUAL",
                        help="the instrument --record records (default BTC-PERPETUAL)")
    faults = parser.add_argument_group("fault injection (seeded by --seed; all off by default)")
    for flag, metavar, _field, kind, _scale, text in _FAULT_FLAGS:
        faults.add_argument(flag, metavar=metavar, type=kind, default=None, help=text)


def fault_config(args: argparse.Namespace) -> FaultConfig:
    """The FaultConfig of the fault flags given (the others keep FaultConfig's defaults)."""
    given = {}
    for flag, _metavar, name, _kind, scale, _text in _FAULT_FLAGS:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            given[name] = value * scale
    return FaultConfig(**given)


def _keys(specs: Sequence[str]) -> dict[str, str]:
    keys = {}
    for spec in specs:
        key_id, sep, path = spec.partition("=")
        if not sep or not key_id or not path:
            raise ValueError(f"--key wants KEY_ID=PUBLIC_KEY_PEM_PATH, got {spec!r}")
        keys[key_id] = Path(path).read_text()
    return keys


def _recorder(args: argparse.Namespace, config: SimulatorConfig) -> MarketRecorder | None:
    """The recorder of ``--record``, checked before the simulator starts."""
    if args.record is None:
        return None
    recording_path(args.record)
    listed = [spec.instrument_name for spec in config.instruments]
    if args.record_instrument not in listed:
        raise ValueError(f"--record-instrument {args.record_instrument!r} is not listed; "
                         f"the simulator lists {', '.join(listed)}")
    return MarketRecorder(args.record_instrument)


async def _serve(config: SimulatorConfig, *, stop_on_stdin_eof: bool = False,
                 recorder: MarketRecorder | None = None) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(partial(serve_simulator, config, market_tap=recorder))
            sys.stdout.write(f"listening on {sim.url}\n")
            sys.stdout.flush()
            if stop_on_stdin_eof:
                nursery.start_soon(_stop_at_stdin_eof, nursery.cancel_scope)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


async def _stop_at_stdin_eof(scope: trio.CancelScope) -> None:
    # The parent holds the other end of the pipe: it closes when the parent exits or dies.
    # Read on the event loop, not in a thread: a thread left blocked in sys.stdin's read (a
    # signal ended the run first) holds the buffer's lock, and the interpreter aborts at exit.
    async with trio.lowlevel.FdStream(_own_stdin()) as stdin:
        while await stdin.receive_some():
            pass
    scope.cancel()


def _own_stdin() -> int:
    # FdStream makes its descriptor non-blocking, and that flag belongs to the open file: a
    # dup of a terminal's stdin would make stdout and stderr non-blocking too. Opening the
    # file again gives the stream its own (Linux); elsewhere stdin must be a pipe or socket.
    fd = sys.stdin.fileno()
    try:
        return os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            raise ValueError("--stop-on-stdin-eof needs stdin to be a pipe") from None
        return os.dup(fd)


def run_simulate_command(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM; return the exit code (0, or 2 for a bad configuration)."""
    try:
        start_s = time.time()
        instruments = market_instruments(args.market, start_s,
                                         perpetuals_only=args.perpetuals_only)
        config = SimulatorConfig(host=args.host, port=args.port, seed=args.seed,
                                 time_scale=args.time_scale, api_keys=_keys(args.key),
                                 faults=fault_config(args), instruments=instruments,
                                 start_time_s=start_s)
        recorder = _recorder(args, config)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"qengine simulate: {exc}\n")
        return 2
    try:
        trio.run(partial(_serve, config, stop_on_stdin_eof=args.stop_on_stdin_eof,
                         recorder=recorder))
    finally:
        if recorder is not None:  # keep what was recorded, also when the run failed
            rows = recorder.save(args.record)
            sys.stdout.write(f"recorded {rows} event rows of {recorder.instrument} "
                             f"({recorder.steps} market steps) to {args.record}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qengine.sim`` entry point."""
    parser = argparse.ArgumentParser(prog="qengine simulate",
                                     description="Run the Thalex simulator.")
    add_simulate_arguments(parser)
    return run_simulate_command(parser.parse_args(argv))
