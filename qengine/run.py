"""Run an engine to completion: until ``duration_s``, SIGINT/SIGTERM, or a fatal error.

The script entry of a trading session: it opens the venue (a simulator process when the network
is ``sim``, see ``venue.py``) and runs ``open_engine`` on it.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

import orjson
import trio

from .config import EngineConfig
from .engine import open_engine
from .venue import open_venue

log = logging.getLogger("qengine")


async def run_engine(config: EngineConfig, *, handle_signals: bool = True) -> dict[str, Any]:
    """Quote until the configured duration passes or a signal arrives; return the summary.

    The venue outlives the engine: the engine leaves the market before a simulator stops.
    """
    async with (open_venue(config) as venue,
                open_engine(config, url=venue.url, credentials=venue.credentials) as engine,
                trio.open_nursery() as nursery):
        if handle_signals:
            nursery.start_soon(_stop_on_signal, nursery.cancel_scope)
        if config.duration_s > 0:
            nursery.cancel_scope.deadline = trio.current_time() + config.duration_s
        await engine.wait_stopped()
    summary = dict(engine.summary)
    log.info("shutdown: %s", _summary_line(summary))
    if config.telemetry.summary_json:
        await trio.Path(config.telemetry.summary_json).write_bytes(
            orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return summary


async def _stop_on_signal(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.warning("%s received: leaving the market", signal.Signals(signum).name)
            scope.cancel()
            return


def _summary_line(summary: dict[str, Any]) -> str:
    return (f"{summary['fills']} fills, position {summary['final_position']}, "
            f"realised {summary['realised_pnl_usd']:.2f} USD, "
            f"unrealised {summary['unrealised_pnl_usd']:.2f} USD, fees {summary['fees_usd']:.2f} "
            f"USD, {summary['reconnects']} reconnects, {summary['errors']} errors, "
            f"open orders at exit: {summary['open_orders_at_exit']}")


def summary_table(summary: dict[str, Any]) -> str:
    """The summary as a readable two-column table."""
    rows = [(key.replace("_", " "), value) for key, value in summary.items() if key != "time_ns"]
    width = max(len(key) for key, _ in rows)
    lines = []
    for key, value in rows:
        text = f"{value:,.4f}" if isinstance(value, float) else str(value)
        lines.append(f"  {key:<{width}}  {text}")
    return "\n".join(lines)
