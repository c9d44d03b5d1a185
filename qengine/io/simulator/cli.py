"""``qengine simulate``: run the simulator standalone until SIGINT or SIGTERM.

Wiring for qengine/cli.py::

    from .io.simulator.cli import add_simulate_arguments, run_simulate_command
    simulate = sub.add_parser("simulate", help="run the embedded Thalex simulator")
    add_simulate_arguments(simulate)
    simulate.set_defaults(handler=run_simulate_command)
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

from . import SimulatorConfig, serve_simulator


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--host --port --seed --key --time-scale`` to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic market")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="simulated seconds per real second")
    parser.add_argument("--key", action="append", default=[], metavar="KEY_ID=PUBLIC_KEY_PEM_PATH",
                        help="accept logins signed by this API key (repeatable); without any "
                             "--key the qengine demo key is accepted")


def _keys(specs: Sequence[str]) -> dict[str, str]:
    keys = {}
    for spec in specs:
        key_id, sep, path = spec.partition("=")
        if not sep or not key_id or not path:
            raise ValueError(f"--key wants KEY_ID=PUBLIC_KEY_PEM_PATH, got {spec!r}")
        keys[key_id] = Path(path).read_text()
    return keys


async def _serve(config: SimulatorConfig) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(serve_simulator, config)
            sys.stdout.write(f"listening on ws://{config.host}:{int(sim)}/ws/api/v2\n")
            sys.stdout.flush()
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def run_simulate_command(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM; return the exit code (0, or 2 for a bad configuration)."""
    try:
        config = SimulatorConfig(host=args.host, port=args.port, seed=args.seed,
                                 time_scale=args.time_scale, api_keys=_keys(args.key))
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"qengine simulate: {exc}\n")
        return 2
    trio.run(_serve, config)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qengine.io.simulator`` entry point."""
    parser = argparse.ArgumentParser(prog="qengine simulate",
                                     description="Run the embedded Thalex simulator.")
    add_simulate_arguments(parser)
    return run_simulate_command(parser.parse_args(argv))
