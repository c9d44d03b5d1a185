"""The researcher-facing backtest: a validated config, a strategy, event chunks in, a result out.

``Backtest(config, strategy, params=...).run(sources)`` streams the rows chunk by chunk through
the cached ``runner.run`` kernel. Between kernel calls (never per event) this wrapper appends the
next chunk, drops rows both cursors have passed, grows the books or the fill log, and drains the
recorder, so memory depends on the chunk size and the book width, not on the number of files.
"""

from __future__ import annotations

import math
import mmap
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qengine.errors import ConfigError

from . import layout as L
from . import strategies
from .book import price_range
from .data import iter_event_chunks
from .events import EVENT_DTYPE
from .runner import run as _run_kernel

_MAX_BOOK_WIDTH = 1 << 26  # ticks per side (0.5 GiB per book): beyond it the data is suspect


@dataclass(frozen=True, kw_only=True, slots=True)
class BacktestConfig:
    """Exchange model and wake-up settings of one backtest (units in the names)."""

    tick_size: float
    lot_size: float
    entry_latency_ns: int = 10_000_000
    response_latency_ns: int = 10_000_000
    #: Recorded latency rows ``(req_ts, exch_ts, resp_ts)``, int64 ns; replaces the constants.
    latency_table_ns: np.ndarray | None = None
    queue: str = "riskaverse"  # or "powerprob"
    queue_power_n: float = 2.0
    partial_fills: bool = False
    maker_fee: float = 0.0  # per traded value; negative is a rebate
    taker_fee: float = 0.0
    contract_size: float = 1.0
    inverse: bool = False
    wake_interval_ns: int = 100_000_000  # ignored when wake_on_feed
    wake_on_feed: bool = False
    feed_timeout_ns: int = 60_000_000_000
    wake_on_response: bool = False
    record_every_ns: int = 0  # 0: a recorder row per wake-up
    recorder_rows: int = 65_536  # preallocated rows per drain (0: no recorder)
    max_orders: int = 4_096
    chunk_rows: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size", "contract_size"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
        for name in ("maker_fee", "taker_fee", "queue_power_n"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
        for name in ("entry_latency_ns", "response_latency_ns", "record_every_ns",
                     "recorder_rows"):
            _check_int(name, getattr(self, name), 0)
        for name in ("wake_interval_ns", "feed_timeout_ns", "max_orders", "chunk_rows"):
            _check_int(name, getattr(self, name), 1)
        if self.queue not in ("riskaverse", "powerprob"):
            raise ConfigError(f"queue must be 'riskaverse' or 'powerprob', got {self.queue!r}")
        if self.queue_power_n <= 0:
            raise ConfigError("queue_power_n must be > 0")
        table = self.latency_table_ns
        if table is not None:
            t = np.asarray(table)
            if t.ndim != 2 or t.shape[1] != 3 or t.shape[0] == 0 or t.dtype.kind not in "iu":
                raise ConfigError("latency_table_ns must be an integer (n, 3) array, n >= 1")
            if np.any(np.diff(t[:, 0]) < 0) or np.any(np.diff(t[:, 1]) < 0):
                # (entry latency is looked up by req_ts, response latency by exch_ts)
                raise ConfigError("latency_table_ns must be sorted by req_ts and by exch_ts")
            if np.any(t[:, 1] < t[:, 0]) or np.any(t[:, 2] < t[:, 1]):
                raise ConfigError("latency_table_ns rows need req_ts <= exch_ts <= resp_ts")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """What a run produced. Money in quote currency (linear) or base currency (inverse)."""

    fills: np.ndarray  # layout.FILL_DTYPE, in local arrival order
    orders: np.ndarray  # layout.ORDER_DTYPE: the local order table at the end
    records: np.ndarray  # layout.RECORD_DTYPE
    counts: dict[str, int]
    position: float
    balance: float
    fee: float
    equity: float
    mid_end: float
    wall_s: float
    stopped_by_strategy: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _sparse_zeros(shape: tuple[int, int], dtype: Any) -> np.ndarray:
    """Zeros in anonymous memory without transparent huge pages.

    A book spans the whole recorded price range (Binance snapshots reach 1% to 10x the price),
    but only a few pages are ever touched; with huge pages each far level would zero 2 MiB.
    """
    size = max(int(np.prod(shape)) * np.dtype(dtype).itemsize, 1)
    area = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        area.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(area, dtype=dtype).reshape(shape)


class Backtest:
    """One backtest: ``Backtest(config, strategy, params=...).run(sources)``.

    ``strategy`` is a numba function compiled with ``layout.STRATEGY_SIG`` (for example
    ``qengine.backtest.strategies.glft_grid``), or ``None`` / ``strategies.idle`` for a pure
    replay (wake-ups are counted and recorded, no strategy is called); ``params`` is its float64
    parameter array and ``scratch_size`` the length of the float64 array it may keep state in
    (NaN-filled), or ``scratch`` that array itself, prepared by the caller (used in place).
    ``public_trades`` gives the strategy the public trades received since its last wake-up
    (``layout.HANDLE``).
    """

    def __init__(self, config: BacktestConfig, strategy: Any | None, *,
                 params: Iterable[float] = (), scratch_size: int = 64,
                 scratch: np.ndarray | None = None, public_trades: bool = False) -> None:
        if not isinstance(config, BacktestConfig):
            raise ConfigError("config must be a BacktestConfig")
        #: A replay calls no strategy (the kernel still takes a function of the right type).
        self.replay = strategy is None or strategy is strategies.idle
        strategy = strategies.idle if strategy is None else strategy
        sigs = getattr(strategy, "signatures", None)
        if not sigs or L.STRATEGY_SIG.args not in [tuple(s) for s in sigs]:
            raise ConfigError("strategy must be a numba function compiled with STRATEGY_SIG")
        self.config = config
        self.strategy = strategy
        self.params = np.ascontiguousarray(np.asarray(list(params), dtype=np.float64))
        if scratch is None:
            scratch = np.full(max(int(scratch_size), 1), np.nan)
        elif not (isinstance(scratch, np.ndarray) and scratch.dtype == np.float64
                  and scratch.ndim == 1 and scratch.flags.c_contiguous and scratch.size > 0):
            raise ConfigError("scratch must be a non-empty C-contiguous 1-D float64 array")
        self.scratch = scratch
        self.public_trades = bool(public_trades)

    def run(self, sources: Any, *, validated: bool = False,
            on_return: Callable[[int, int], None] | None = None) -> BacktestResult:
        """Replay ``sources`` (path, array or a sequence of them, in time order).

        Paths: hftbacktest ``.npz`` / ``.npy`` event files or raw Binance USD-M ``.gz``
        recordings; rows are validated as they stream in (``qengine.backtest.data``).
        ``validated=True`` skips that for arrays that already passed it (``load_events`` or
        ``iter_event_chunks`` output; an iterable of them is taken lazily): they must be
        C-contiguous ``EVENT_DTYPE`` arrays, and are only sliced.
        ``on_return(events_done, sim_time_ns)`` is called each time the kernel returns to this
        wrapper (between chunks, on a strategy's ``STRATEGY_YIELD``, at the end), never per event.
        """
        rows = self.config.chunk_rows
        if not validated:
            return _Session(self, on_return).run(iter_event_chunks(sources, chunk_rows=rows))
        arrays = [sources] if isinstance(sources, np.ndarray) else sources
        return _Session(self, on_return).run(_slices(arrays, rows))


def _slices(arrays: Iterable[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    """Chunks of at most ``rows`` rows of already validated arrays, taken lazily (a generator of
    chunks streams)."""
    for a in arrays:
        if not (isinstance(a, np.ndarray) and a.dtype == EVENT_DTYPE and a.ndim == 1
                and a.flags.c_contiguous):
            raise ConfigError("validated=True takes C-contiguous EVENT_DTYPE arrays only")
        for i in range(0, len(a), rows):
            yield a[i:i + rows]


class _Session:
    """The arrays of one run, and the wrapper side of the kernel's return codes."""

    def __init__(self, bt: Backtest, on_return: Callable[[int, int], None] | None) -> None:
        c = bt.config
        self.bt = bt
        self.on_return = on_return
        self.ist = np.zeros(L.I_SIZE, np.int64)
        self.fst = np.zeros(L.F_SIZE, np.float64)
        ist, fst = self.ist, self.fst
        ist[L.I_NOW] = L.INVALID_MAX
        ist[L.I_NO_STRATEGY] = int(bt.replay)
        ist[L.I_MODE] = L.MODE_FEED if c.wake_on_feed else L.MODE_INTERVAL
        ist[L.I_INTERVAL_NS] = c.wake_interval_ns
        ist[L.I_TIMEOUT_NS] = c.feed_timeout_ns
        ist[L.I_WAKE_ON_RESP] = int(c.wake_on_response)
        ist[L.I_QUEUE] = L.QUEUE_POWER_PROB if c.queue == "powerprob" else L.QUEUE_RISK_AVERSE
        ist[L.I_EXCHANGE] = L.EXCHANGE_PARTIAL if c.partial_fills else L.EXCHANGE_NO_PARTIAL
        ist[L.I_INVERSE] = int(c.inverse)
        ist[L.I_ENTRY_NS] = c.entry_latency_ns
        ist[L.I_RESP_NS] = c.response_latency_ns
        ist[L.I_RECORD_EVERY_NS] = c.record_every_ns
        fst[L.F_TICK], fst[L.F_LOT], fst[L.F_CONTRACT] = c.tick_size, c.lot_size, c.contract_size
        fst[L.F_MAKER_FEE], fst[L.F_TAKER_FEE] = c.maker_fee, c.taker_fee
        fst[L.F_QUEUE_N] = c.queue_power_n
        n = c.max_orders
        self.lo = np.zeros(n, L.ORDER_DTYPE)
        self.xo = np.zeros(n, L.ORDER_DTYPE)
        self.outbox = np.zeros(n, L.ORDER_DTYPE)
        self.toex = np.zeros(n, L.ORDER_DTYPE)
        self.tolo = np.zeros(4 * n, L.ORDER_DTYPE)
        table = c.latency_table_ns
        self.lat = (np.zeros((0, 3), np.int64) if table is None
                    else np.ascontiguousarray(table, dtype=np.int64))
        self.fills = np.zeros(4_096, L.FILL_DTYPE)
        self.trades = np.zeros(4_096 if bt.public_trades else 0, L.PUBLIC_TRADE_DTYPE)
        self.rec = np.zeros(c.recorder_rows, L.RECORD_DTYPE)
        self.records: list[np.ndarray] = []
        self.lbs = np.array([L.INVALID_MIN, L.INVALID_MAX, L.INVALID_MAX, L.INVALID_MIN, 0])
        self.xbs = self.lbs.copy()
        self.lbook = self.xbook = self.own = None

    def run(self, chunks: Iterator[np.ndarray]) -> BacktestResult:
        ist = self.ist
        start = time.perf_counter()
        buf = np.zeros(0, EVENT_DTYPE)
        rows = 0
        stopped = False
        while True:
            if self.lbook is None and len(buf):
                self._init_books(buf)
            code = _run_kernel(
                self.bt.strategy, buf, ist, self.fst, self._book("lbook"), self.lbs,
                self._book("xbook"), self.xbs, self._own(), self.lo, self.xo, self.outbox,
                self.toex, self.tolo, self.lat, self.fills, self.rec, self.bt.params,
                self.bt.scratch, self.trades)
            if self.on_return is not None:
                pending = len(buf) - min(ist[L.I_LOCAL_ROW], ist[L.I_EXCH_ROW], len(buf))
                self.on_return(rows - pending, int(ist[L.I_NOW]))
            if code == L.RUN_NEED_DATA:
                nxt = next(chunks, None)
                if nxt is None:
                    ist[L.I_FINAL] = 1
                    continue
                # The same layout under numba's aligned record type (no copy).
                nxt = np.ascontiguousarray(nxt).view(EVENT_DTYPE)
                rows += len(nxt)
                keep = min(ist[L.I_LOCAL_ROW], ist[L.I_EXCH_ROW], len(buf))
                buf = nxt if keep == len(buf) else np.concatenate((buf[keep:], nxt))
                ist[L.I_LOCAL_ROW] -= keep
                ist[L.I_EXCH_ROW] -= keep
            elif code == L.RUN_GROW_BOOK:
                self._grow_books(int(ist[L.I_NEED_TICK]))
            elif code == L.RUN_GROW_FILLS:
                self.fills = np.concatenate((self.fills, np.zeros_like(self.fills)))
            elif code == L.RUN_GROW_TRADES:
                self.trades = np.concatenate((self.trades, np.zeros_like(self.trades)))
            elif code == L.RUN_YIELD:
                continue
            elif code == L.RUN_FLUSH_RECORDER:
                self.records.append(self.rec[: ist[L.I_N_REC]].copy())
                ist[L.I_N_REC] = 0
            elif code == L.RUN_FULL:
                raise ConfigError("order pipes are full: raise max_orders")
            else:
                stopped = code == L.RUN_STOPPED
                break
        wall = time.perf_counter() - start
        self.records.append(self.rec[: ist[L.I_N_REC]].copy())
        return self._result(rows, wall, stopped)

    def _book(self, name: str) -> np.ndarray:
        book = getattr(self, name)
        return book if book is not None else np.zeros((2, 1))

    def _own(self) -> np.ndarray:
        return self.own if self.own is not None else np.zeros((2, 1), np.int64)

    def _init_books(self, rows: np.ndarray) -> None:
        # The first chunk's price range sizes the books (trade prices lie inside it anyway);
        # rows outside it later make them grow.
        lo = hi = 0
        low_px, high_px = price_range(rows)
        if low_px <= high_px:
            lo, hi = (round(p / self.bt.config.tick_size) for p in (low_px, high_px))
        self._set_books(lo - (hi - lo) // 2 - 1024, max(2 * (hi - lo), 4096))

    def _set_books(self, base: int, width: int) -> None:
        if width > _MAX_BOOK_WIDTH:
            raise ConfigError(
                f"book would span {width} ticks (> {_MAX_BOOK_WIDTH}): check tick_size and the "
                "prices in the data")
        old = (self.lbook, self.xbook, self.own, int(self.lbs[L.BS_BASE]))
        self.lbook = _sparse_zeros((2, width), np.float64)
        self.xbook = _sparse_zeros((2, width), np.float64)
        self.own = _sparse_zeros((2, width), np.int64)
        if old[0] is not None:
            off = old[3] - base
            w = old[0].shape[1]
            self.lbook[:, off:off + w] = old[0]
            self.xbook[:, off:off + w] = old[1]
            self.own[:, off:off + w] = old[2]
        self.lbs[L.BS_BASE] = self.xbs[L.BS_BASE] = base

    def _grow_books(self, tick: int) -> None:
        base = int(self.lbs[L.BS_BASE])
        width = self.lbook.shape[1]
        lo, hi = min(base, tick), max(base + width, tick + 1)
        new_width = max(2 * width, 2 * (hi - lo))
        self._set_books(lo - (new_width - (hi - lo)) // 2, new_width)

    def _result(self, rows: int, wall: float, stopped: bool) -> BacktestResult:
        ist, fst, lbs = self.ist, self.fst, self.lbs
        bb, ba = lbs[L.BS_BEST_BID], lbs[L.BS_BEST_ASK]
        valid = bb != L.INVALID_MIN and ba != L.INVALID_MAX
        mid = (bb + ba) / 2.0 * fst[L.F_TICK] if valid else math.nan
        pos = ist[L.I_POS_LOTS] * fst[L.F_LOT]
        if ist[L.I_INVERSE]:
            balance = fst[L.F_BALANCE]
            equity = -balance - fst[L.F_CONTRACT] * pos / mid - fst[L.F_FEE]
        else:
            balance = ist[L.I_CASH] * fst[L.F_TICK] * fst[L.F_LOT] * fst[L.F_CONTRACT]
            equity = balance + fst[L.F_CONTRACT] * pos * mid - fst[L.F_FEE]
        counts = {
            "events": rows, "wake_ups": int(ist[L.I_WAKE_UPS]), "orders": int(ist[L.I_ORDERS]),
            "cancels": int(ist[L.I_CANCELS]), "modifies": int(ist[L.I_MODIFIES]),
            "rejects": int(ist[L.I_REJECTS]), "fills": int(ist[L.I_FILLS]),
            "dropped": int(ist[L.I_DROPPED]),
        }
        return BacktestResult(
            fills=self.fills[: ist[L.I_N_FILL_LOG]].copy(),
            orders=self.lo[: ist[L.I_N_LOCAL]].copy(),
            records=np.concatenate(self.records) if self.records else self.rec[:0].copy(),
            counts=counts, position=float(pos), balance=float(balance), fee=float(fst[L.F_FEE]),
            equity=float(equity), mid_end=float(mid), wall_s=wall, stopped_by_strategy=stopped)
