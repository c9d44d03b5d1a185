"""What the engine reports: the status reporter task (one status line per interval, RSS every few
minutes, a metrics-file row) and the summary at exit."""

from __future__ import annotations

import logging
import math
from typing import Any

import trio

from ..clock import now_ns
from ..kernels import codes
from ..telemetry import rss_mb, write_metrics_row
from ._services import Engine

log = logging.getLogger("qengine.status")


def status_line(engine: Engine, previous: dict[str, int],
                interval_s: float) -> tuple[str, dict[str, Any]]:
    """Format the periodic status line and the matching metrics row."""
    counters = engine.telemetry.counters.snapshot()
    delta = {k: v - previous.get(k, 0) for k, v in counters.items()}
    state, diag = engine.state, engine.state.diag[0]
    pos = state.positions[0]
    latency = engine.telemetry.latency_summary()
    upnl = engine.monitor.unrealised_quote()
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
    if delta["ticker_fallbacks"]:
        line += f" | {delta['ticker_fallbacks']} tickers decoded by io (not the lane)"
    if engine.gate.halted:
        line += f" | HALTED ({engine.gate.halt_reason})"
    return line, row


async def status_reporter(engine: Engine, *,
                          task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Log a status line every interval and the process RSS every memory interval."""
    task_status.started()
    t = engine.config.telemetry
    previous: dict[str, int] = {}
    next_memory_s = trio.current_time()
    while True:
        await trio.sleep(t.status_interval_s)
        line, row = status_line(engine, previous, t.status_interval_s)
        previous = engine.telemetry.counters.snapshot()
        log.info("%s", line)
        write_metrics_row(row)
        if trio.current_time() >= next_memory_s:
            next_memory_s = trio.current_time() + t.memory_interval_s
            log.info("memory: RSS %.1f MiB", rss_mb())


def build_summary(engine: Engine, open_orders_at_exit: int | None) -> dict[str, Any]:
    """The numbers a trader wants at exit (also written by ``--summary-json``)."""
    state, counters = engine.state, engine.telemetry.counters.snapshot()
    pos = state.positions[0]
    upnl = state.unrealised_quote()
    upnl = upnl if math.isfinite(upnl) else 0.0
    latency = engine.telemetry.latency_summary()
    return {
        "instrument": state.spec.name,
        "duration_s": round(trio.current_time() - engine.started_s, 3),
        "orders_inserted": counters["inserts"],
        "orders_amended": counters["amends"],
        "orders_cancelled": counters["cancels"],
        "mass_quotes": counters["mass_quotes"],
        "fills": counters["fills"],
        "final_position": state.position(),
        "realised_pnl_usd": float(pos["realised_pnl_quote"]),
        "unrealised_pnl_usd": upnl,
        "fees_usd": float(pos["maker_fees_quote"]) + float(pos["taker_fees_quote"]),
        "funding_usd": float(pos["funding_quote"]),
        "reconnects": engine.reconnects,
        "errors": counters["errors"],
        "rejects": counters["rejects"],
        "throttled": counters["throttled"],
        "risk_breaches": counters["risk_breaches"],
        "tickers_by_lane": counters["ticker_lane"],
        "tickers_by_io": counters["ticker_fallbacks"],
        "quote_cycles": engine.quoter.cycles,
        "tick_to_quote_p50_us": latency["tick_to_quote_p50_us"],
        "tick_to_quote_p99_us": latency["tick_to_quote_p99_us"],
        "rss_mb": round(rss_mb(), 1),
        "open_orders_at_exit": open_orders_at_exit,
        "time_ns": now_ns(),
    }
