"""Record one instrument's public market data as backtester event rows (hftbacktest's format).

:class:`MarketRecorder` is a ``market_tap`` of :func:`qengine.sim.serve_simulator`: the server
calls it once when the market starts and then after every market step, just before the step is
published, so it sees the book and the trades exactly as the ``ticker``, ``book`` and
``recent_trades`` channels send them. It writes:

- at start, per side with levels, one ``DEPTH_CLEAR`` row up to the far end of the book, then
  one ``DEPTH_SNAPSHOT`` row per level (bids first), as hftbacktest's converters do;
- after each step, one ``DEPTH_EVENT`` row per level whose quantity changed (0: the level is
  gone), bids then asks, best first; every order resting in the book counts, the crowd's and
  every client's (ours too: it is public depth, as a recording of a real venue would hold);
- one ``TRADE_EVENT`` row per execution on the tape (``BUY_EVENT``: the taker bought), the
  trades before the depth rows of the step that publishes them.

Every row carries ``EXCH_EVENT | LOCAL_EVENT``. ``exch_ts`` is the simulated Unix time in ns of
the change (a trade's own time, which can fall between steps when a client's order took); a
client on loopback reads a push as it is sent, so ``local_ts`` is the time of the step that
publishes the row. Prices and sizes are the exchange's (``px`` in quote currency, ``qty`` in
coins), so ``round(px / tick_size)`` and ``round(qty / volume_tick_size)`` give back the ticks
and lots. Rows stay in memory (64 bytes each, in a buffer that doubles when full) until
:meth:`MarketRecorder.save`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..event_rows import (
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
)
from .exchange import Exchange
from .instruments import Instrument
from .orders import BUY

_BOTH = EXCH_EVENT | LOCAL_EVENT
_FIRST_CAPACITY = 4096
_SIDES = ((True, BUY_EVENT), (False, SELL_EVENT))


def recording_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, if it names a file a recording can be written to (``.npz`` or
    ``.npy`` in an existing, writable directory); else ``ValueError`` saying why."""
    target = Path(path)
    if target.suffix.lower() not in (".npz", ".npy"):
        raise ValueError(f"a recording is written as .npz or .npy, not {target.name!r}")
    if not target.parent.is_dir():
        raise ValueError(f"cannot write a recording to {str(target)!r}: no such directory")
    if not os.access(target.parent, os.W_OK):
        raise ValueError(f"cannot write a recording to {str(target)!r}: the directory is not "
                         "writable")
    return target


def _ns(unix_s: float) -> int:
    # The simulator's times are rounded to the microsecond: exact in integer ns.
    return round(unix_s * 1_000_000) * 1000


class MarketRecorder:
    """Event rows of one instrument's book and trades, appended as the simulator runs.

    Parameters
    ----------
    instrument : str
        The instrument to record (checked against the listing when the simulator starts:
        an unknown name raises ``ValueError`` before the server reports itself started).
    """

    def __init__(self, instrument: str) -> None:
        if not isinstance(instrument, str) or not instrument:
            raise ValueError(f"instrument must be a non-empty name, got {instrument!r}")
        self.instrument = instrument
        self.steps = 0
        self._buffer = np.zeros(_FIRST_CAPACITY, EVENT_DTYPE)  # doubles when full
        self._count = 0
        self._levels: tuple[dict[int, int], dict[int, int]] | None = None

    def _append(self, ev: int, exch_ns: int, local_ns: int, px: float, qty: float) -> None:
        if self._count == len(self._buffer):
            self._buffer = np.concatenate([self._buffer, np.zeros_like(self._buffer)])
        self._buffer[self._count] = (ev, exch_ns, local_ns, px, qty, 0, 0, 0.0)
        self._count += 1

    def __call__(self, exchange: Exchange) -> None:
        """Record the market as it is now (the server's ``market_tap`` call)."""
        market = exchange.markets.get(self.instrument)
        if market is None:
            listed = ", ".join(exchange.markets)
            raise ValueError(f"cannot record {self.instrument!r}: the simulator lists {listed}")
        inst = market.inst
        now_ns = _ns(exchange.now_s())
        levels = ({p: n for p, n in market.book.levels(True)},
                  {p: n for p, n in market.book.levels(False)})
        if self._levels is None:
            self._snapshot(inst, levels, now_ns)
        else:
            for trade in market.new_trades:  # [price, amount, taker side, time, name, ...]
                side = BUY_EVENT if trade[2] == BUY else SELL_EVENT
                self._append(TRADE_EVENT | side | _BOTH, min(_ns(trade[3]), now_ns), now_ns,
                             trade[0], trade[1])
            for (is_bid, side), old, new in zip(_SIDES, self._levels, levels, strict=True):
                for price in sorted(old.keys() | new.keys(), reverse=is_bid):
                    lots = new.get(price, 0)
                    if old.get(price, 0) != lots:
                        self._append(DEPTH_EVENT | side | _BOTH, now_ns, now_ns,
                                     inst.price(price), inst.amount(lots))
        self._levels = levels
        self.steps += 1

    def _snapshot(self, inst: Instrument, levels: tuple[dict[int, int], dict[int, int]],
                  now_ns: int) -> None:
        for (is_bid, side), book in zip(_SIDES, levels, strict=True):
            if not book:
                continue
            prices = sorted(book, reverse=is_bid)
            self._append(DEPTH_CLEAR_EVENT | side | _BOTH, now_ns, now_ns,
                         inst.price(prices[-1]), 0.0)
            for p in prices:
                self._append(DEPTH_SNAPSHOT_EVENT | side | _BOTH, now_ns, now_ns, inst.price(p),
                             inst.amount(book[p]))

    def rows(self) -> np.ndarray:
        """Everything recorded so far, as a C-contiguous ``EVENT_DTYPE`` array (a copy)."""
        return self._buffer[: self._count].copy()

    def save(self, path: str | os.PathLike[str]) -> int:
        """Write the rows to ``path`` (``.npz``: array ``data``, as hftbacktest's files; ``.npy``:
        the bare array), atomically; return the number of rows written."""
        target = recording_path(path)
        rows = self.rows()
        partial = target.with_name(f"{target.name}.{os.getpid()}.part")
        try:
            with partial.open("wb") as f:
                if target.suffix.lower() == ".npz":
                    np.savez_compressed(f, data=rows)
                else:
                    np.save(f, rows)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return len(rows)
