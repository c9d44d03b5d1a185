"""Our Binance USD-M converter against hftbacktest 2.4.4's, on the real recordings and on
generated ones; malformed lines; the conversion cache of ``load_events``."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
from pathlib import Path
from unittest import mock

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qengine.backtest import data as data_module
from qengine.backtest.binance import (
    convert_binance_futures,
    convert_binance_futures_with_report,
)
from qengine.backtest.data import DataError, load_events

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "data" / "binance-usdm"
BTC_SHA256 = "239b41a6168b4f6833bbf552d215c672cfdd046a0847bfc5f288171e80995598"


def hftbacktest_convert(path: Path, **options) -> np.ndarray:
    from hftbacktest.data.utils import binancefutures

    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
        return binancefutures.convert(str(path), combined_stream=True, **options)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "rows"), [("btcusdt", 491_973), ("ethusdt", 452_115)])
def test_same_rows_as_hftbacktest_on_the_recordings(tmp_path, name, rows):
    path = RECORDINGS / f"{name}_20240808.gz"
    reference = hftbacktest_convert(path)
    mine, report = convert_binance_futures_with_report(path, tmp_path / name)
    assert len(mine) == len(reference) == rows
    assert mine.dtype == reference.dtype
    assert mine.tobytes() == reference.tobytes()
    if name == "btcusdt":
        assert hashlib.sha256(mine.tobytes()).hexdigest() == BTC_SHA256
    assert (report.rows, report.skipped) == (rows, 0)
    assert report.ignored["bookTicker"] > 50_000
    written = np.load(tmp_path / f"{name}.npz")["data"]  # ".npz" appended, as hftbacktest does
    assert written.tobytes() == reference.tobytes()


# --- generated recordings ---------------------------------------------------------------------


def write_recording(path: Path, lines: list[bytes | str]) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(b"\n".join(x.encode() if isinstance(x, str) else x for x in lines) + b"\n")
    return path


def line(local_ts: int, message: dict) -> str:
    return f"{local_ts} {orjson.dumps(message).decode()}"


def depth(t_ms: int, bids, asks, sym="btcusdt") -> dict:
    return {"stream": f"{sym}@depth@0ms", "data": {"e": "depthUpdate", "E": t_ms + 1, "T": t_ms,
                                                   "s": sym.upper(), "b": bids, "a": asks}}


def trade(t_ms: int, p: str, q: str, m: bool, x: str = "MARKET") -> dict:
    return {"stream": "btcusdt@trade", "data": {"e": "trade", "E": t_ms + 1, "T": t_ms,
                                                "p": p, "q": q, "X": x, "m": m}}


def book_ticker(t_ms: int) -> dict:
    return {"stream": "btcusdt@bookTicker", "data": {"e": "bookTicker", "T": t_ms, "b": "1.0",
                                                     "B": "1", "a": "1.1", "A": "2"}}


def snapshot(t_ms: int, bids, asks) -> dict:
    return {"lastUpdateId": 1, "E": t_ms + 1, "T": t_ms, "bids": bids, "asks": asks}


prices = st.integers(600_000, 600_100).map(lambda t: f"{t / 10:.2f}")
qtys = st.integers(0, 5_000).map(lambda n: f"{n / 1000:.3f}")
levels = st.lists(st.tuples(prices, qtys).map(list), max_size=4)
messages = st.one_of(
    st.builds(lambda b, a: ("depth", b, a), levels, levels),
    st.builds(lambda p, q, m, x: ("trade", p, q, m, x), prices, qtys, st.booleans(),
              st.sampled_from(["MARKET", "MARKET", "MARKET", "INSURANCE_FUND"])),
    st.builds(lambda b, a: ("snapshot", b, a), levels, levels),
    st.just(("bookTicker",)),
)
recordings = st.lists(
    st.tuples(messages, st.integers(0, 3_000_000), st.integers(-40, 40)), min_size=1, max_size=40)


def render(recording) -> list[str]:
    """Lines with increasing local ts, exchange ms ts jittered so the two orders disagree."""
    local = 1_723_161_255_030_314_667
    lines = []
    for message, gap_ns, skew_ms in recording:
        local += gap_ns
        t_ms = local // 1_000_000 + 1_270 + skew_ms  # the recorder's clock is behind
        kind = message[0]
        if kind == "depth":
            lines.append(line(local, depth(t_ms, message[1], message[2])))
        elif kind == "trade":
            lines.append(line(local, trade(t_ms, *message[1:])))
        elif kind == "snapshot":
            lines.append(line(local, snapshot(t_ms, message[1], message[2])))
        else:
            lines.append(line(local, book_ticker(t_ms)))
    return lines


def guarded_convert(path: Path, **options) -> np.ndarray:
    """hftbacktest's converter, with its ``correct_event_order`` given padded sort orders: it
    reads one index past the end of each (the value is never used, but on small inputs the read
    itself can fault); the padding keeps that read inside the arrays."""
    from hftbacktest.data.utils import binancefutures

    original = binancefutures.correct_event_order
    pad = np.zeros(1, np.int64)

    def padded(rows, by_exch, by_local):
        return original(rows, np.concatenate([by_exch, pad]), np.concatenate([by_local, pad]))

    with mock.patch.object(binancefutures, "correct_event_order", padded):
        return hftbacktest_convert(path, buffer_size=10_000, **options)


@settings(max_examples=60)
@given(recording=recordings, base_latency_ns=st.sampled_from([0, 0, 1_500_000]))
def test_same_rows_as_hftbacktest_on_generated_recordings(
    tmp_path_factory, recording, base_latency_ns
):
    path = write_recording(tmp_path_factory.mktemp("rec") / "r.gz", render(recording))
    mine, report = convert_binance_futures_with_report(path, base_latency_ns=base_latency_ns)
    reference = guarded_convert(path, base_latency=base_latency_ns)
    assert mine.tobytes() == reference.tobytes()
    assert report.lines == len(recording)
    assert len(load_events(mine)) == len(mine)  # the output always passes validation


def test_bare_streams_and_ignored_kinds(tmp_path):
    bare = [
        line(1_000_000_000_000_000_000, depth(1_000_000, [["1.5", "2"]], [["1.6", "0"]])["data"]),
        line(1_000_000_000_500_000_000, trade(999_999, "1.5", "0.5", True)["data"]),
        line(1_000_000_000_600_000_000, {"e": "markPriceUpdate", "T": 1_000_001, "p": "1.55"}),
        line(1_000_000_000_700_000_000, snapshot(1_000_001, [["1.5", "3"]], [])),
    ]
    rows, report = convert_binance_futures_with_report(write_recording(tmp_path / "b.gz", bare),
                                                       combined_stream=False)
    assert (report.depth_updates, report.trades, report.snapshots) == (1, 1, 1)
    assert report.ignored == {"markPriceUpdate": 1}
    assert len(rows) == 6  # 5 rows, the late trade split into EXCH-only and LOCAL-only
    assert len(load_events(rows)) == len(rows)
    combined = [line(1_000_000_000_000_000_000, {"code": -1121, "msg": "Invalid symbol."}),
                line(1_000_000_000_100_000_000, {"stream": "btcusdt@aggTrade",
                                                 "data": {"e": "aggTrade"}}),
                "", line(1_000_000_000_200_000_000, trade(1_000_000, "1.5", "1", False, "NA")),
                line(1_000_000_000_300_000_000, book_ticker(1_000_000))]
    rows, report = convert_binance_futures_with_report(
        write_recording(tmp_path / "c.gz", combined))
    assert len(rows) == 0
    assert report.ignored == {"error message": 1, "aggTrade": 1, "blank line": 1,
                              "trade X=NA": 1, "bookTicker": 1}


# --- malformed lines --------------------------------------------------------------------------

GOOD = [line(1_000_000_000_000_000_000 + i * 10_000_000,
             depth(1_000_000_000 + i * 10, [["100.0", "1.000"]], [["100.1", "2.000"]])
             if i % 2 else trade(1_000_000_000 + i * 10, "100.0", "0.5", i % 3 == 0))
        for i in range(8)]

MALFORMED = [
    (b"1000000000040000000 {not json", "bad JSON", None),
    (b"12345 {}", "19-digit local timestamp", None),
    (line(1_000_000_000_040_000_000, {"stream": "x@trade", "data": {"e": "trade", "X": "MARKET",
                                                                    "p": "1", "q": "1", "m": 1}}),
     "missing field 'T'", "T"),
    (line(1_000_000_000_040_000_000, depth(1_000_000_040, [["100.0"]], [])),
     "not a list of \\[price, qty\\] pairs", "b"),
    (line(1_000_000_000_040_000_000, depth(1_000_000_040, [["abc", "1"]], [])),
     "'abc' is not a finite number", "px"),
    (line(1_000_000_000_040_000_000, trade(1_000_000_040, "100.0", "NaN", True)),
     "'NaN' is not a finite number", "qty"),
    (line(1_000_000_000_040_000_000, {"stream": "x@trade", "data": [1, 2]}),
     "'data' is not a JSON object", "data"),
]


@pytest.mark.parametrize(("bad", "reason", "field"), MALFORMED)
def test_malformed_line_raises_with_file_and_line(tmp_path, bad, reason, field):
    path = write_recording(tmp_path / "m.gz", [*GOOD[:5], bad, *GOOD[5:]])
    with pytest.raises(DataError, match=reason) as caught:
        convert_binance_futures(path)
    assert (caught.value.source, caught.value.line, caught.value.field) == (str(path), 6, field)
    assert str(caught.value).startswith(f"{path}: line 6: ")


@pytest.mark.parametrize(("bad", "reason", "field"), MALFORMED)
def test_malformed_line_is_skipped_and_counted_on_request(tmp_path, bad, reason, field):
    clean = write_recording(tmp_path / "clean.gz", GOOD)
    path = write_recording(tmp_path / "m.gz", [*GOOD[:5], bad, *GOOD[5:]])
    rows, report = convert_binance_futures_with_report(path, skip_malformed=True)
    assert rows.tobytes() == guarded_convert(clean).tobytes()
    assert report.skipped == 1
    assert report.skipped_examples[0].startswith("line 6: ")
    assert f"skipped malformed lines: {report.skipped}" in report.summary()


def test_not_a_gzip_file(tmp_path):
    path = tmp_path / "plain.gz"
    path.write_bytes(b"1000000000000000000 {}\n")
    with pytest.raises(DataError, match="cannot read the gzip recording"):
        convert_binance_futures(path)
    with pytest.raises(TypeError, match="base_latency_ns"):
        convert_binance_futures(path, base_latency_ns=0.5)


# --- load_events on a recording: conversion cache ---------------------------------------------


def test_load_events_converts_once_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("QENGINE_CACHE_DIR", str(tmp_path / "cache"))
    path = write_recording(tmp_path / "r.gz", GOOD)
    first = load_events(path)
    assert first.tobytes() == convert_binance_futures(path).tobytes()
    cached = list((tmp_path / "cache" / "events").glob("r-*.npy"))
    assert len(cached) == 1

    def refuse(*_args, **_kwargs):
        raise AssertionError("converted again despite the cache")

    monkeypatch.setattr("qengine.backtest.binance.convert_binance_futures", refuse)
    assert load_events(path).tobytes() == first.tobytes()
    chunks = list(data_module.iter_event_chunks([path], chunk_rows=3))
    assert np.concatenate(chunks).tobytes() == first.tobytes()
    # Different content, different key: converted anew (and refused here).
    write_recording(path, GOOD[:4])
    with pytest.raises(AssertionError, match="converted again"):
        load_events(path)


def test_load_events_without_a_writable_cache_converts_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("QENGINE_CACHE_DIR", str(blocker))
    path = write_recording(tmp_path / "r.gz", GOOD)
    expected = convert_binance_futures(path)
    assert load_events(path).tobytes() == expected.tobytes()
    chunks = list(data_module.iter_event_chunks(path, chunk_rows=4))
    assert np.concatenate(chunks).tobytes() == expected.tobytes()
    assert blocker.read_text().startswith("a file")
