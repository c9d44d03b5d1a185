"""The converter's kernels against pure-Python twins (and the merge against hftbacktest's own)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qengine.backtest._binance_kernels import merge_event_order, parse_decimals
from qengine.backtest.events import EVENT_DTYPE, EXCH_EVENT, LOCAL_EVENT


def parse_decimals_twin(tokens: list[str]) -> list[float | None]:
    """Twin of ``parse_decimals``: Python's float where the kernel answers, None where it leaves
    the token to the caller (anything but ``-?digits[.digits]`` with at most 15 digits)."""
    result: list[float | None] = []
    for token in tokens:
        body = token.removeprefix("-")
        whole, _, frac = body.partition(".")
        plain = (
            body.replace(".", "", 1).isascii() and body.replace(".", "", 1).isdigit()
            and 0 < len(whole + frac) <= 15
        )
        result.append(float(token) if plain else None)
    return result


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


def _kernel_parse(tokens: list[str]) -> tuple[int, list[float | None]]:
    values = np.zeros(len(tokens))
    parsed = np.zeros(len(tokens), bool)
    text = np.frombuffer("\n".join(tokens).encode(), np.uint8).copy()
    seen = parse_decimals(text, values, parsed)
    return seen, [float(v) if ok else None for v, ok in zip(values, parsed, strict=True)]


decimal_tokens = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.from_regex(r"-?[0-9]{1,18}(\.[0-9]{0,24})?", fullmatch=True),
    st.sampled_from(["61659.70", "0.000", "-0", "1e5", " 1.5", "+2", "nan", "1.2.3", "", "-",
                     ".5", "5.", "0.1", "123456789012345", "1234567890123456"]),
)


@given(st.lists(decimal_tokens, min_size=1, max_size=40))
def test_parse_decimals_matches_python_float(tokens):
    tokens = [t for t in tokens if "\n" not in t] or ["1"]
    seen, parsed = _kernel_parse(tokens)
    assert seen == len(tokens)
    twin = parse_decimals_twin(tokens)
    for token, got, want in zip(tokens, parsed, twin, strict=True):
        assert (got is None) == (want is None), token
        if want is not None:
            assert np.float64(got).tobytes() == np.float64(want).tobytes(), token


def test_parse_decimals_on_prices_of_the_recording_kind():
    rng = np.random.default_rng(7)
    ticks = rng.integers(0, 10**9, 20_000)
    tokens = [f"{t / 100:.2f}" for t in ticks] + [f"{t / 1000:.3f}" for t in ticks]
    seen, parsed = _kernel_parse(tokens)
    assert seen == len(tokens)
    assert parsed == [float(t) for t in tokens]


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
