"""The minimal quoting script: one engine, quoting until Ctrl-C or ``--duration-s``.

    python examples/quote.py                       # the simulator (own process), no keys
    python examples/quote.py --duration-s 30       # stop after 30 s
    python examples/quote.py --network test        # Thalex testnet, keys from THALEX_TEST_*

Everything else (model, levels, risk limits) comes from ``EngineConfig``; see ``qengine quote
--help`` for the full command line.
"""

from __future__ import annotations

import argparse

import trio

from qengine.config import ConnectionConfig, EngineConfig
from qengine.run import run_engine, summary_table
from qengine.telemetry import open_logging


def main() -> int:
    parser = argparse.ArgumentParser(description="Quote BTC-PERPETUAL with qengine.")
    parser.add_argument("--network", default="sim", choices=("sim", "test", "prod"))
    parser.add_argument("--duration-s", type=float, default=0.0)
    args = parser.parse_args()
    config = EngineConfig(
        instrument="BTC-PERPETUAL",
        duration_s=args.duration_s,
        connection=ConnectionConfig(network=args.network),
    )
    with open_logging(verbose=False):
        summary = trio.run(run_engine, config)
    print(summary_table(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
