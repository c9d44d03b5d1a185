"""Backtest qengine's own quoting: ``run(config, data)`` with the TOML the engine quotes with.

The strategy is the engine's decision code (``quoting_strategy.quote_strategy``: the
``quote_cycle`` kernel and the order rules, fed from the data as the live listener feeds it);
the venue is the backtester (latency, queue model, post-only rejections, fees). Everything is
checked before the run starts: the config, the instrument, the settings, that every data source
opens as event rows, then every row (a first pass over the data; the run reads it again without
the checks).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import EngineConfig
from ..errors import ConfigError
from . import layout as L
from . import quoting_layout as ql
from .api import Backtest, BacktestConfig
from .data import count_rows, iter_event_chunks
from .events import EXCH_EVENT, LOCAL_EVENT
from .instruments import Instrument, resolve_instrument
from .layout import QUOTING_RECORD_DTYPE
from .quoting_data import scan_for_quoting
from .quoting_decisions import DECISION_DTYPE
from .quoting_state import QuotingState
from .quoting_strategy import quote_strategy

__all__ = ["DECISION_DTYPE", "QUOTING_RECORD_DTYPE", "Progress", "QuotingResult", "run"]

#: Decision-log rows the strategy buffers before it yields to the wrapper to drain them.
DECISION_ROWS = 4096

#: Rows per kernel call: a 6-minute Binance file (about 0.5 M rows) gives several progress calls.
CHUNK_ROWS = 65_536
#: Per feed, the longest the strategy sleeps when no row or response arrives.
MAX_QUIET_NS = 100_000_000
_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a run is, reported between kernel calls (``-1``: not known)."""

    events_done: int
    events_total: int
    sim_time_ns: int
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class QuotingResult:
    """What one quoting backtest produced (money in the instrument's quote currency)."""

    instrument: Instrument
    config: EngineConfig
    records: np.ndarray  # QUOTING_RECORD_DTYPE, one row per record interval
    fills: np.ndarray  # layout.FILL_DTYPE, in the order the strategy received them
    counts: dict[str, int]
    start_ns: int
    end_ns: int
    wall_s: float
    #: The backtester's local order table at the end (layout.ORDER_DTYPE): what still rests.
    orders: np.ndarray = field(default_factory=lambda: np.zeros(0, L.ORDER_DTYPE))
    #: ``run(..., decision_log=True)``: one DECISION_DTYPE row per quote cycle, else None.
    decisions: np.ndarray | None = None


def _queue(queue: Any) -> tuple[str, float]:
    if not isinstance(queue, str):
        raise ConfigError(f"queue must be a string such as 'riskaverse' or 'powerprob:2', "
                          f"got {queue!r}")
    name, _, power = queue.partition(":")
    if name == "riskaverse" and not power:
        return "riskaverse", 2.0
    if name == "powerprob":
        try:
            n = float(power) if power else 2.0
        except ValueError:
            n = math.nan
        if math.isfinite(n) and n > 0:
            return "powerprob", n
    raise ConfigError(f"queue must be 'riskaverse', 'powerprob' or 'powerprob:N' (N > 0), "
                      f"got {queue!r}")


def _check_order_mode(config: EngineConfig, override: Any) -> None:
    """Single orders only: a ``mass_quote`` config runs only when the caller says so."""
    if override not in (None, "orders"):
        raise ConfigError(f"order_mode_override must be None or 'orders', got {override!r}")
    if config.order_mode != "orders" and override is None:
        raise ConfigError(f"order_mode = {config.order_mode!r} is not simulated: the backtester "
                          "sends single orders (insert/amend/cancel); pass "
                          "order_mode_override='orders' (qengine backtest --as-orders) to run "
                          "this config as single orders")


def _ms_to_ns(name: str, value: Any, *, allow_zero: bool) -> int:
    ok = (not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
          and (value >= 0 if allow_zero else value > 0))
    if not ok:
        raise ConfigError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, "
                          f"got {value!r}")
    ns = round(value * _NS_PER_MS)
    if ns == 0 and not allow_zero:
        raise ConfigError(f"{name} must be at least 1 ns (1e-6 ms), got {value!r}")
    return ns


def backtest_config(instrument: Instrument, *, latency_ms: float = 10.0,
                    queue: str = "riskaverse", partial_fills: bool = False,
                    record_interval_ms: float = 100.0, wake_interval_ms: float | None = None,
                    ) -> BacktestConfig:
    """The venue and wake-up settings of a quoting run (validated; see :func:`run`)."""
    latency_ns = _ms_to_ns("latency_ms", latency_ms, allow_zero=True)
    record_ns = _ms_to_ns("record_interval_ms", record_interval_ms, allow_zero=False)
    queue_name, power = _queue(queue)
    if not isinstance(partial_fills, bool):
        raise ConfigError(f"partial_fills must be a bool, got {partial_fills!r}")
    if instrument.inverse:
        raise ConfigError(f"instrument {instrument.name}: inverse contracts are not supported "
                          "(the quoting kernels value positions linearly)")
    feed = wake_interval_ms is None
    interval_ns = record_ns if feed else _ms_to_ns("wake_interval_ms", wake_interval_ms,
                                                     allow_zero=False)
    # Per feed the strategy asks for its own timers (quoter, risk monitor, recorder); a quiet
    # market still wakes it every MAX_QUIET_NS as a backstop.
    timeout_ns = MAX_QUIET_NS
    return BacktestConfig(
        tick_size=instrument.tick_size, lot_size=instrument.lot_size,
        entry_latency_ns=latency_ns, response_latency_ns=latency_ns, queue=queue_name,
        queue_power_n=power, partial_fills=partial_fills, maker_fee=instrument.maker_fee,
        taker_fee=instrument.taker_fee, contract_size=instrument.contract_size,
        wake_interval_ns=interval_ns, wake_on_feed=feed, feed_timeout_ns=timeout_ns,
        wake_on_response=feed, record_every_ns=record_ns, recorder_rows=0,
        chunk_rows=CHUNK_ROWS)


def run(config: EngineConfig, data: Any, *, instrument: str | Instrument | None = None,
        latency_ms: float = 10.0, queue: str = "riskaverse", partial_fills: bool = False,
        record_interval_ms: float = 100.0,
        progress: Callable[[Progress], None] | None = None,
        wake_interval_ms: float | None = None, decision_log: bool = False,
        order_mode_override: str | None = None) -> QuotingResult:
    """Run qengine's quoting with ``config`` over ``data`` in the backtester.

    Parameters
    ----------
    config : EngineConfig
        The engine's config (``qengine.config.load_config(path)`` reads the TOML).
    data : path or array, or a sequence of them in time order
        hftbacktest ``.npz`` / ``.npy`` event files or raw Binance USD-M ``.gz`` recordings.
    instrument : str or Instrument, optional
        A name in ``qengine.backtest.instruments.INSTRUMENTS`` or an :class:`Instrument`;
        default ``config.instrument``.
    latency_ms : float
        Order entry latency and response latency, each.
    queue : str
        ``riskaverse`` or ``powerprob:N`` (``powerprob`` is ``powerprob:2``).
    partial_fills : bool
        Let resting orders fill partly (otherwise a fill is always the whole order).
    record_interval_ms : float
        One recorder row per interval (at its first wake-up).
    progress : callable, optional
        Called with a :class:`Progress` between kernel calls (every chunk of
        ``CHUNK_ROWS`` rows and at the end), never per event.
    wake_interval_ms : float, optional
        None (default): the strategy wakes on every market-data row and order response, as the
        engine reacts to each ticker and reply, at each of its timers (the quoter's pacing and
        forced refresh, the risk monitor's checks and book deadline, the next recorder row)
        and at least every 100 ms; the trading does not depend on ``record_interval_ms``.
        A number: it wakes at that fixed cadence instead (timers are served on that grid).
    decision_log : bool
        Keep one :data:`DECISION_DTYPE` row per quote cycle in ``QuotingResult.decisions``
        (what the cycle's kernel was given and decided; for comparing with the live engine).
    order_mode_override : {None, "orders"}
        The backtester sends single orders only. A config with ``order_mode = "mass_quote"``
        is refused (ConfigError) unless this is ``"orders"``: then it runs as single orders.

    Raises
    ------
    ConfigError
        A bad config, instrument or setting (named), before anything runs.
    DataError
        A data source that does not open as event rows or a bad row (naming the file and row),
        before the run starts.
    """
    if not isinstance(config, EngineConfig):
        raise ConfigError(f"config must be an EngineConfig (qengine.config.load_config), got "
                          f"{type(config).__name__}")
    _check_order_mode(config, order_mode_override)
    spec = resolve_instrument(config.instrument if instrument is None else instrument)
    bt_config = backtest_config(spec, latency_ms=latency_ms, queue=queue,
                                partial_fills=partial_fills,
                                record_interval_ms=record_interval_ms,
                                wake_interval_ms=wake_interval_ms)
    if progress is not None and not callable(progress):
        raise ConfigError("progress must be a callable taking a Progress, or None")
    sources = data if isinstance(data, Sequence) and not isinstance(data, str) else [data]
    if not isinstance(decision_log, bool):
        raise ConfigError(f"decision_log must be a bool, got {decision_log!r}")
    count_rows(sources)  # every source opens (headers only): a missing last file fails first
    total = scan_for_quoting(sources, spec, chunk_rows=CHUNK_ROWS)
    state = QuotingState(config, spec, record_every_ns=bt_config.record_every_ns,
                         decision_rows=DECISION_ROWS if decision_log else 0)
    decisions: list[np.ndarray] = []
    span = _Span(state.start)
    records: list[np.ndarray] = []

    def on_return(events_done: int, now_ns: int) -> None:
        records.append(state.drain_records())
        if decision_log:
            decisions.append(state.drain_decisions())
        if progress is not None and span.start_ns >= 0:  # (the first call has no rows yet)
            sim = int(now_ns) if now_ns != L.INVALID_MAX else -1
            progress(Progress(int(events_done), total, sim, span.start_ns, -1))

    backtest = Backtest(bt_config, quote_strategy, params=state.params, scratch=state.scratch,
                        public_trades=True)
    started = time.perf_counter()
    chunks = span.track(iter_event_chunks(sources, chunk_rows=CHUNK_ROWS, validate=False))
    result = backtest.run(chunks, validated=True, on_return=on_return)
    wall = time.perf_counter() - started
    if progress is not None:
        progress(Progress(result.counts["events"], total, span.end_ns, span.start_ns,
                          span.end_ns))
    v = state.vars
    c = result.counts
    counts = {
        "events": c["events"], "wakeups": c["wake_ups"], "cycles": int(v[ql.V_CYCLES]),
        "orders_sent": c["orders"], "amends": c["modifies"], "cancels": c["cancels"],
        "rejects": c["rejects"], "fills": c["fills"],
        "risk_breaches": int(state.view("gate")[0]["breach_count"]),
        "rate_limited": int(v[ql.V_RATE_LIMITED]),
        "flatten_orders": int(v[ql.V_FLATTEN_ORDERS]), "dropped": c["dropped"],
        "send_errors": int(v[ql.V_SEND_ERRORS]), "order_table_full": int(v[ql.V_TABLE_FULL]),
        "fill_booking_errors": int(v[ql.V_FILL_ERRORS]),
        "gated_inserts": int(v[ql.V_GATED_INSERTS]),
    }
    rows = np.concatenate(records) if records else np.zeros(0, QUOTING_RECORD_DTYPE)
    return QuotingResult(instrument=spec, config=config, records=rows, fills=result.fills,
                         counts=counts, start_ns=span.start_ns, end_ns=span.end_ns,
                         wall_s=wall, orders=result.orders,
                         decisions=np.concatenate(decisions) if decision_log else None)


class _Span:
    """First and last event time of the rows that streamed through (-1 before any); calls
    ``on_start(first time)`` before the first rows go to the backtester."""

    def __init__(self, on_start: Callable[[int], None]) -> None:
        self.on_start = on_start
        self.start_ns = -1
        self.end_ns = -1

    def track(self, chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for chunk in chunks:
            ev = chunk["ev"]
            exch = chunk["exch_ts"][(ev & np.uint64(EXCH_EVENT)) != 0]
            local = chunk["local_ts"][(ev & np.uint64(LOCAL_EVENT)) != 0]
            times = [t for t in (exch, local) if t.size]
            if times:
                first = min(int(t[0]) for t in times)
                if self.start_ns < 0:
                    self.start_ns = first
                    self.on_start(first)
                self.end_ns = max(self.end_ns, *(int(t[-1]) for t in times))
            yield chunk
