"""The ``qengine`` command line: one subcommand per job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._version import __version__
from .io.simulator.cli import add_simulate_arguments, run_simulate_command


def _cmd_version(_args: argparse.Namespace) -> int:
    print(f"qengine {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="qengine",
        description="Avellaneda-Stoikov / GLFT market maker for Thalex, with an embedded simulator.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    version = sub.add_parser("version", help="print the qengine version")
    version.set_defaults(handler=_cmd_version)
    simulate = sub.add_parser("simulate", help="run the embedded Thalex simulator standalone")
    add_simulate_arguments(simulate)
    simulate.set_defaults(handler=run_simulate_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
