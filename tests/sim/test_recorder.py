"""The market recorder: the simulator's book and public trades as backtester event rows.

The recording must hold what a client quotes on: replaying its rows up to each ticker's step
gives that ticker's top of book, and its trade rows are the ``recent_trades`` pushes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
import trio

from qengine.backtest.data import load_events
from qengine.backtest.events import (
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EXCH_EVENT,
    KIND_MASK,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
)
from qengine.sim import MarketRecorder, serve_simulator
from qengine.sim import recorder as recorder_module

from ..event_book import EventBook
from .conftest import make_config, quiet_instruments, standalone_simulator
from .test_server import Ws, open_websocket_url

BTC = "BTC-PERPETUAL"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backtest.toml"
TICK = 1.0
LOT = 0.001


def _ns(unix_s: float) -> int:
    return round(unix_s * 1_000_000) * 1000


async def _watch(url: str, seconds: float) -> tuple[list[dict], list[list]]:
    """Tickers and (non-snapshot) trades a client receives during ``seconds``."""
    tickers, trades = [], []
    async with open_websocket_url(url) as ws:
        client = Ws(ws)
        reply = await client.call("public/subscribe", {
            "channels": [f"ticker.{BTC}.raw", f"recent_trades.{BTC}.single"]})
        assert len(reply["result"]) == 2
        with trio.move_on_after(seconds):
            while True:
                while client.notes:
                    note = client.notes.pop(0)
                    if note["channel_name"].startswith("ticker."):
                        tickers.append(note["notification"])
                    elif not note.get("snapshot"):
                        trades += note["notification"]
                client.notes.append(orjson.loads(await ws.get_message()))
    return tickers, trades


async def _trader(url: str, key_pair) -> None:
    """A client whose resting orders are public depth and whose IOC trades between steps."""
    async with open_websocket_url(url) as ws:
        client = Ws(ws)
        await client.call("public/login", {"token": key_pair.token()})
        await trio.sleep(0.35)
        reply = await client.call("private/insert", {
            "direction": "buy", "instrument_name": BTC, "amount": 0.123, "price": 64990.0})
        assert "result" in reply, reply
        await trio.sleep(0.53)
        reply = await client.call("private/insert", {
            "direction": "sell", "instrument_name": BTC, "amount": 0.2, "price": 64000.0,
            "time_in_force": "immediate_or_cancel"})
        assert reply["result"]["filled_amount"] > 0, reply
        await trio.sleep(5.0)


async def test_replayed_rows_give_every_ticker_and_trade_a_client_saw(key_pair, autojump_clock):
    config = make_config(key_pair, instruments=quiet_instruments(
        taker_intensity_per_s=3.0, basis_volatility_ticks_per_sqrt_s=0.7))
    recorder = MarketRecorder(BTC)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(lambda task_status: serve_simulator(
                config, market_tap=recorder, task_status=task_status))
            nursery.start_soon(_trader, sim.url, key_pair)
            tickers, trades = await _watch(sim.url, 3.0)
            nursery.cancel_scope.cancel()
    rows = load_events(recorder.rows())  # validated: flags, order of both clocks, finite values
    assert np.all((rows["ev"] & (EXCH_EVENT | LOCAL_EVENT)) == EXCH_EVENT | LOCAL_EVENT)
    kinds = rows["ev"] & KIND_MASK
    assert list(kinds[:2]) == [DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT]  # the book at start
    assert recorder.steps >= 30

    # Every ticker's top of book is the replayed book at its step.
    assert len(tickers) >= 25
    book, i = EventBook(TICK, LOT), 0
    client_bid_seen = False
    for ticker in tickers:
        step_ns = _ns(ticker["mark_timestamp"])
        while i < len(rows) and rows["local_ts"][i] <= step_ns:
            book.apply(rows[i])
            i += 1
        bid, ask = book.best()
        assert bid == (round(ticker["best_bid_price"] / TICK),
                       round(ticker["best_bid_amount"] / LOT))
        assert ask == (round(ticker["best_ask_price"] / TICK),
                       round(ticker["best_ask_amount"] / LOT))
        client_bid_seen |= 64990 in book.sides[BUY_EVENT]
    assert client_bid_seen  # a client's resting order is public depth

    # The trade rows are the tape, in order: price, size, taker side and time.
    recorded = rows[kinds == TRADE_EVENT]
    seen_until = _ns(tickers[-1]["mark_timestamp"])
    recorded = recorded[recorded["local_ts"] <= seen_until]
    pushed = [t for t in trades if _ns(t[3]) <= seen_until]
    assert len(pushed) >= 5
    assert [(float(r["px"]), float(r["qty"]),
             "buy" if int(r["ev"]) & BUY_EVENT else "sell", int(r["exch_ts"]))
            for r in recorded] == [(t[0], t[1], t[2], _ns(t[3])) for t in pushed]
    # The IOC traded between two steps: its trades carry their own time, published at a step.
    between = recorded[recorded["exch_ts"] < recorded["local_ts"]]
    assert len(between) >= 1
    assert np.all(between["ev"] & SELL_EVENT)


async def test_an_unknown_instrument_fails_before_the_simulator_starts(key_pair, autojump_clock):
    async def start() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: serve_simulator(
                make_config(key_pair), market_tap=MarketRecorder("SOL-PERPETUAL"),
                task_status=task_status))
            raise AssertionError("the simulator started")

    with trio.fail_after(10), pytest.raises(BaseExceptionGroup) as failure:
        await start()
    assert failure.group_contains(ValueError, match="cannot record 'SOL-PERPETUAL': the "
                                  "simulator lists BTC-PERPETUAL, ETH-PERPETUAL", depth=None)


async def test_save_writes_npz_and_npy_the_backtester_loads(harness, tmp_path, autojump_clock,
                                                             monkeypatch):
    ex, _ = harness(instruments=quiet_instruments(taker_intensity_per_s=20.0))
    recorder = MarketRecorder(BTC)
    monkeypatch.setattr(recorder_module, "_FIRST_CAPACITY", 3)
    growing = MarketRecorder(BTC)  # its buffer doubles many times
    assert len(recorder.rows()) == 0
    recorder(ex)
    growing(ex)
    for _ in range(20):
        ex.step_market()
        recorder(ex)
        growing(ex)
        ex.publisher.publish_step(trio.current_time())
    rows = recorder.rows()
    assert growing.rows().tobytes() == rows.tobytes()
    assert np.count_nonzero(rows["ev"] & KIND_MASK == TRADE_EVENT) > 0
    assert recorder.save(tmp_path / "rows.npz") == len(rows)
    assert recorder.save(tmp_path / "rows.npy") == len(rows)
    for name in ("rows.npz", "rows.npy"):
        assert load_events(tmp_path / name).tobytes() == rows.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.npy", "rows.npz"]  # no leftovers
    with pytest.raises(ValueError, match=r"\.npz or \.npy"):
        recorder.save(tmp_path / "rows.csv")
    with pytest.raises(ValueError, match="no such directory"):
        recorder.save(tmp_path / "missing" / "rows.npz")
    with pytest.raises(ValueError, match="non-empty name"):
        MarketRecorder("")


@pytest.mark.parametrize("argv", [
    ["--record", "out.csv"],
    ["--record", "missing-dir/out.npz"],
    ["--record", "out.npz", "--record-instrument", "SOL-PERPETUAL"],
])
def test_simulate_rejects_a_bad_recording_before_starting(argv, tmp_path, monkeypatch, capsys):
    from qengine.sim.cli import main

    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--perpetuals-only"]) == 2
    assert "qengine simulate:" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_simulate_record_writes_a_file_qengine_backtest_replays(tmp_path):
    out = tmp_path / "market.npz"
    with standalone_simulator(tmp_path / "cfg", "qengine", "simulate", "--seed", "5",
                              "--perpetuals-only", "--market", "quoting", "--time-scale", "5",
                              "--record", str(out)) as proc:
        assert proc.stdout.readline().startswith("listening on ws://")
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        report = proc.stdout.read()
    rows = load_events(out)
    assert f"recorded {len(rows)} event rows of {BTC}" in report
    kinds = rows["ev"] & KIND_MASK
    assert np.count_nonzero(kinds == DEPTH_EVENT) > 0
    assert np.count_nonzero(kinds == TRADE_EVENT) > 0  # the quoting market's takers
    assert np.all(rows["local_ts"] >= rows["exch_ts"])
    # The recording is a backtest data file as it is.
    stats = tmp_path / "stats.json"
    done = subprocess.run(
        [sys.executable, "-m", "qengine", "backtest", "--config", str(EXAMPLE), "--data",
         str(out), "--instrument", BTC, "--no-plots", "--out", str(tmp_path / "report"),
         "--json", str(stats)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    span_s = (int(rows["exch_ts"][-1]) - int(rows["exch_ts"][0])) / 1e9
    assert json.loads(stats.read_text())["duration_s"] == pytest.approx(span_s)


def test_an_unwritable_directory_is_refused_before_recording(tmp_path, monkeypatch):
    monkeypatch.setattr(recorder_module.os, "access", lambda path, mode: False)
    with pytest.raises(ValueError, match="not writable"):
        recorder_module.recording_path(tmp_path / "market.npz")
