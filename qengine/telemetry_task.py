"""The engine's periodic tasks: the heartbeat (stale data, announced reconnects) and the status
reporter (one status line per interval, RSS every few minutes, a metrics-file row)."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import trio

from .clock import now_ns
from .kernels import codes
from .telemetry import COUNTER, rss_mb, write_metrics_row
from .units import ns_to_seconds

if TYPE_CHECKING:
    from .engine import Engine
    from .risk import RiskMonitor

log = logging.getLogger("qengine.status")


async def heartbeat(engine: Engine, *,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Force a reconnect when no ticker arrived for the stale limit or the exchange asks.

    Websocket pings themselves are sent by the transport every few seconds (they also keep
    cancel-on-disconnect alive); this task watches the *data*.
    """
    task_status.started()
    stale_s = engine.config.connection.stale_ticker_s
    listener = engine.listener
    while True:
        with trio.move_on_after(min(1.0, stale_s / 4)):
            await listener.reconnect_requested.wait()
        client = engine.client
        if client is None:
            continue
        if listener.reconnect_requested.is_set():
            listener.reconnect_requested = trio.Event()
            client.drop_connection("exchange announced a reconnect")
            continue
        last = engine.telemetry.last_ticker_ns
        if engine.quoter.ready and last and ns_to_seconds(now_ns() - last) > stale_s:
            engine.telemetry.counters.values[COUNTER["stale_reconnects"]] += 1
            log.warning("no ticker for %.0f s: forcing a reconnect", ns_to_seconds(now_ns() - last))
            engine.telemetry.last_ticker_ns = now_ns()  # one reconnect per stale period
            client.drop_connection("stale market data")


def status_line(engine: Engine, monitor: RiskMonitor, previous: dict[str, int],
                interval_s: float) -> tuple[str, dict[str, Any]]:
    """Format the periodic status line and the matching metrics row."""
    counters = engine.telemetry.counters.snapshot()
    delta = {k: v - previous.get(k, 0) for k, v in counters.items()}
    state, diag = engine.state, engine.state.diag[0]
    pos = state.positions[0]
    latency = engine.telemetry.latency_summary()
    upnl = monitor.unrealised_quote()
    fees = float(pos["maker_fees_quote"]) + float(pos["taker_fees_quote"])
    live = int(((state.orders["status"] >= codes.ORDER_PENDING_INSERT)
                & (state.orders["status"] <= codes.ORDER_PENDING_CANCEL)).sum())
    row = {
        "event": "status",
        "time_ns": now_ns(),
        "mid": state.spec.tick_size * diag["mid_ticks"],
        "sigma": diag["sigma_per_sqrt_s"],
        "spread": state.spec.tick_size * diag["spread_ticks"],
        "position": state.position(),
        "realised_pnl": float(pos["realised_pnl_quote"]),
        "unrealised_pnl": upnl if math.isfinite(upnl) else None,
        "fees": fees,
        "live_quotes": live,
        "fills": counters["fills"],
        **latency,
    }
    rate = delta["messages"] / interval_s if interval_s > 0 else 0.0
    line = (
        f"status: {rate:.0f} msg/s, {delta['quote_updates']} cycles, "
        f"+{delta['inserts']}/{delta['amends']}/{delta['cancels']} ins/amd/cxl, "
        f"{delta['fills']} fills, {live} live orders | pos {row['position']} "
        f"rpnl {row['realised_pnl']:.2f} upnl {upnl:.2f} fees {fees:.2f} USD | "
        f"tick-to-quote p50 {latency['tick_to_quote_p50_us']:.0f} us "
        f"p99 {latency['tick_to_quote_p99_us']:.0f} us | "
        f"errors {delta['errors']} throttled {delta['throttled']}"
    )
    if engine.control.halted:
        line += f" | HALTED ({engine.control.halt_reason})"
    return line, row


async def status_reporter(engine: Engine, monitor: RiskMonitor, *,
                          task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Log a status line every interval and the process RSS every memory interval."""
    task_status.started()
    t = engine.config.telemetry
    previous: dict[str, int] = {}
    next_memory_s = trio.current_time()
    while True:
        await trio.sleep(t.status_interval_s)
        line, row = status_line(engine, monitor, previous, t.status_interval_s)
        previous = engine.telemetry.counters.snapshot()
        log.info("%s", line)
        write_metrics_row(row)
        if trio.current_time() >= next_memory_s:
            next_memory_s = trio.current_time() + t.memory_interval_s
            log.info("memory: RSS %.1f MiB", rss_mb())
