"""The converter's kernels against pure-Python twins: the merge (also against hftbacktest's own)
and the line scanner (its twin is the converter's Python path, line by line)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from qengine.backtest._binance_kernels import merge_event_order
from qengine.backtest.binance import _Reader
from qengine.backtest.events import EVENT_DTYPE, EXCH_EVENT, LOCAL_EVENT


def merge_event_order_twin(exch_ts, local_ts, by_exch, by_local):
    """Twin of ``merge_event_order``: (row, flags) pairs, comparing (exch_ts, local_ts) heads."""
    out = []
    e = lo = 0
    n = len(exch_ts)
    while e < n or lo < n:
        if e < n and lo < n:
            head_e = (exch_ts[by_exch[e]], local_ts[by_exch[e]])
            head_l = (exch_ts[by_local[lo]], local_ts[by_local[lo]])
            if head_e == head_l:
                out.append((by_exch[e], EXCH_EVENT | LOCAL_EVENT))
                e += 1
                lo += 1
            elif head_e < head_l:
                out.append((by_exch[e], EXCH_EVENT))
                e += 1
            else:
                out.append((by_local[lo], LOCAL_EVENT))
                lo += 1
        elif lo < n:
            out.append((by_local[lo], LOCAL_EVENT))
            lo += 1
        else:
            out.append((by_exch[e], EXCH_EVENT))
            e += 1
    return out


timestamps = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=0, max_size=60)


@given(timestamps)
def test_merge_event_order_matches_twin_and_hftbacktest(pairs):
    from hftbacktest.data.validation import correct_event_order

    exch = np.array([p[0] for p in pairs], np.int64)
    local = np.array([p[0] + p[1] for p in pairs], np.int64)  # local never before exch
    by_exch = np.argsort(exch, kind="stable")
    by_local = np.argsort(local, kind="stable")
    out_row = np.empty(2 * len(pairs), np.int64)
    out_flags = np.empty(2 * len(pairs), np.uint64)
    n = merge_event_order(exch, local, by_exch, by_local, out_row, out_flags)
    got = list(zip(out_row[:n].tolist(), out_flags[:n].tolist(), strict=True))
    assert got == merge_event_order_twin(exch.tolist(), local.tolist(), by_exch.tolist(),
                                         by_local.tolist())
    if not pairs:
        return
    rows = np.zeros(len(pairs), EVENT_DTYPE)
    rows["exch_ts"], rows["local_ts"] = exch, local
    rows["ev"] = 1
    rows["px"] = np.arange(len(pairs))  # tells the rows apart
    # hftbacktest reads one index past the end of each order (guarded, but the read itself can
    # fault on small arrays): a padding entry keeps that read inside the arrays.
    pad = np.zeros(1, np.int64)
    reference = correct_event_order(rows, np.concatenate([by_exch, pad]),
                                    np.concatenate([by_local, pad]))
    mine = rows[out_row[:n]]
    mine["ev"] |= out_flags[:n]
    assert mine.tobytes() == reference.tobytes()


# --- the line scanner ---------------------------------------------------------------------------


def python_path(lines: list[bytes], combined: bool = True) -> _Reader:
    """The twin of the scanner: every line through the converter's Python path."""
    reader = _Reader("twin", combined, skip_malformed=True)
    for number, line in enumerate(lines, start=1):
        reader.line(number, line)
    return reader


def scanned(lines: list[bytes], combined: bool = True) -> _Reader:
    reader = _Reader("scan", combined, skip_malformed=True)
    block = b"\n".join(lines) + b"\n"
    reader.block(1, len(lines), block)
    return reader


def assert_same(lines: list[bytes], combined: bool = True) -> None:
    twin, fast = python_path(lines, combined), scanned(lines, combined)
    for mine, reference in zip(fast.raw_columns(), twin.raw_columns(), strict=True):
        assert mine.dtype == reference.dtype
        assert mine.tobytes() == reference.tobytes()
    assert fast.kinds == twin.kinds
    assert fast.ignored == twin.ignored
    assert fast.skipped == twin.skipped
    assert fast.lines == len(lines)


plain = st.from_regex(r"[0-9]{1,6}(\.[0-9]{0,8})?", fullmatch=True)
decimals = st.one_of(
    plain, plain, plain, plain, plain, plain, plain, plain, plain, plain, plain, plain,
    st.from_regex(r"-?[0-9]{1,17}(\.[0-9]{0,24})?", fullmatch=True),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["61659.70", "0.000", "-0", "1e5", " 1.5", "+2", "nan", "1.2.3", "", "-",
                     ".5", "5.", "123456789012345", "1234567890123456", "1_0", "\u0031"]),
)


@st.composite
def raw_lines(draw) -> bytes:
    """Depth, trade and bookTicker lines as Binance sends them (half of them), or with the
    variations a recorder or a hand-made file may have."""
    clean = draw(st.booleans())

    def pick(canonical, *odd):
        return canonical if clean else draw(st.sampled_from([canonical] * 4 + list(odd)))

    number = plain if clean else decimals
    kind = draw(st.sampled_from(["depthUpdate", "trade", "bookTicker", "other"]))
    data = {"e": kind, "E": 1_723_161_256_300,
            "T": pick(1_723_161_256_298, 0, "1723161256298", 1.5, -3, 10**17)}
    level = st.tuples(number, number).map(list)
    if kind == "depthUpdate":
        data |= {"s": "BTCUSDT", "U": 1, "u": 2, "pu": 0, "b": draw(st.lists(level, max_size=4)),
                 "a": draw(st.lists(level, max_size=4))}
    elif kind == "trade":
        data |= {"t": 5, "p": draw(number), "q": draw(number),
                 "X": pick("MARKET", "LIQUIDATION"), "m": draw(st.booleans()) or pick(False, 1)}
    keys = draw(st.permutations(list(data)))
    drop = pick(None, *keys)
    data = {k: data[k] for k in keys if k != drop}
    extra = pick(None, {"x": 1}, [1, 2], "s", 3, None)
    if extra is not None:
        data["extra"] = extra
    stream = draw(st.sampled_from(["btcusdt@depth@0ms", "btcusdt@trade", "btcusdt@bookTicker"]))
    body = orjson.dumps({"stream": stream, "data": data}).decode()
    body = body.replace(",", "," + pick("", " ", "\t"))
    if pick(False, True):
        body = body.replace('"e":', '"e":"x","e":', 1)  # a duplicate key
    ts = pick("1723161255030314667", "12345", "9723161255030314667", "172316125503031466x")
    return f"{ts} {body}".encode()


@settings(max_examples=300)
@given(st.lists(raw_lines(), min_size=1, max_size=12))
def test_scanner_gives_the_python_paths_rows_line_by_line(lines):
    assert_same(lines)


@given(st.lists(raw_lines(), min_size=1, max_size=12))
def test_scanner_on_bare_streams(lines):
    bare = []
    for line in lines:
        message = orjson.loads(line[20:]) if line[19:20] == b" " else None
        if isinstance(message, dict) and isinstance(message.get("data"), dict):
            line = line[:20] + orjson.dumps(message["data"])
        bare.append(line)
    assert_same(bare, combined=False)


def test_scanner_on_the_recordings():
    import gzip

    root = Path(__file__).resolve().parents[2] / "data" / "binance-usdm"
    for name in ("btcusdt_20240808.gz", "ethusdt_20240808.gz"):
        with gzip.open(root / name) as f:
            lines = f.read().splitlines()
        assert_same(lines[:30_000])
        fast = scanned(lines)
        assert fast.kinds["depth"] > 6_000  # the scanner took the depth and trade lines...
        assert fast.kinds["snapshot"] == 1  # ...and left the REST snapshot to Python
