"""The research wrappers: same numbers as the raw kernels, clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

import qengine.kernels as research
from qengine.kernels import codes, intensity, ladder, pipeline, volatility
from qengine.kernels.dtypes import QUOTE, QUOTE_DIAG

S = 1_000_000_000


def _raw_pipeline(params, state, rows):
    out = (np.zeros(2 * int(params[0]["level_count"]), QUOTE), np.zeros(1, QUOTE_DIAG))
    ones = np.ones(1)
    for row in rows:
        n = pipeline.quote_pipeline((params, ones, ones), tuple(state), row, out, 0, 0)
    return out[0][:n], out[1][0]


def test_quote_pipeline_wrapper_matches_the_raw_kernel_row_for_row():
    params = research.make_quote_params(level_count=4, vol_min_sample_count=2)
    wrapped, raw = research.new_quote_state(64), research.new_quote_state(64)
    mids = [100_000, 100_003, 99_998, 100_010, 100_004]
    for k, mid in enumerate(mids):
        row = ((k + 1) * S, mid - 5, mid + 5, 7, 9, 300 * k, 4)
        quotes, diag = research.quote_pipeline(
            params, wrapped, time_ns=row[0], best_bid_ticks=row[1], best_ask_ticks=row[2],
            best_bid_lots=row[3], best_ask_lots=row[4], inventory_lots=row[5],
        )
        want_quotes, want_diag = _raw_pipeline(params, raw, [row])
        assert quotes.tolist() == want_quotes.tolist()
        np.testing.assert_array_equal(np.array(diag.tolist(), float),
                                      np.array(want_diag.tolist(), float))
    assert diag["quote_count"] == len(quotes) == 8
    assert wrapped.cursor[0]["count"] == len(mids)


def test_quote_pipeline_wrapper_reports_an_unpriceable_book_in_the_diagnostics():
    params = research.make_quote_params()
    quotes, diag = research.quote_pipeline(params, research.new_quote_state(), time_ns=S,
                                           best_bid_ticks=0, best_ask_ticks=100)
    assert len(quotes) == 0
    assert diag["status"] == codes.STATUS_BAD_INPUT
    assert diag["flags"] & codes.QUOTE_FLAG_NO_MID


def test_estimator_wrappers_match_the_raw_kernels():
    params = research.make_quote_params(vol_min_sample_count=2)
    state = research.new_quote_state(32)
    vs, vr = state.vol_state.copy(), state.vol_returns.copy()
    ist = state.intensity_state.copy()
    for k, mid in enumerate([50_000.0, 50_004.0, 49_990.0, 50_001.5]):
        t = (k + 1) * S
        assert research.vol_update(params, state, t, mid) == volatility.vol_update(
            vs, vr, t, mid, 60.0, 300 * S)
        assert research.intensity_update(params, state, t, mid + 3 + k, mid, codes.SIDE_BUY) == \
            intensity.intensity_update(ist, t, mid + 3 + k, mid, codes.SIDE_BUY, 300.0)
    assert research.vol_sigma(params, state) == volatility.vol_sigma(
        vs, codes.VOL_EWMA, 2, 1e-4, 1e-6, 1e-2)
    out = np.zeros(2)
    status = intensity.intensity_fit(ist, codes.SIDE_SELL, 5 * S, 300.0, 1.0, 0.05, 1.0, 1e-4,
                                     10.0, out)
    assert research.intensity_fit(params, state, codes.SIDE_SELL, 5 * S) == (
        out[0], out[1], status)


def test_build_ladder_wrapper_matches_the_raw_kernel():
    params = research.make_quote_params(level_count=3)
    got = research.build_ladder(params, bid0_ticks=999.4, ask0_ticks=1_020.6,
                                sigma_per_sqrt_s=2e-4, inventory_lots=5, bid_mult=[1.0, 2.0])
    out = np.zeros(6, QUOTE)
    n = ladder.build_ladder(params, np.array([1.0, 2.0]), np.ones(1), 999.4, 1_020.6, 1, 2e-4, 5,
                            3, out)
    assert got.tolist() == out[:n].tolist()


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda p, s: research.quote_pipeline(p, s, time_ns=1.5, best_bid_ticks=1, best_ask_ticks=2),
     TypeError, "time_ns must be an integer"),
    (lambda p, s: research.quote_pipeline(p, s, time_ns=S, best_bid_ticks=True,
                                          best_ask_ticks=2), TypeError, "best_bid_ticks"),
    (lambda p, s: research.quote_pipeline(p, s, time_ns=2**64, best_bid_ticks=1,
                                          best_ask_ticks=2), ValueError, "int64"),
    (lambda p, s: research.quote_pipeline(np.zeros(1), s, time_ns=S, best_bid_ticks=1,
                                          best_ask_ticks=2), TypeError, "QUOTE_PARAMS"),
    (lambda p, s: research.quote_pipeline(np.repeat(p, 2), s, time_ns=S, best_bid_ticks=1,
                                          best_ask_ticks=2), ValueError, "1 row"),
    (lambda p, s: research.quote_pipeline(p, s[:4], time_ns=S, best_bid_ticks=1,
                                          best_ask_ticks=2), TypeError, "QuoteState"),
    (lambda p, s: research.quote_pipeline(p, s._replace(vol_state=s.vol_returns), time_ns=S,
                                          best_bid_ticks=1, best_ask_ticks=2), TypeError,
     "state.vol_state"),
    (lambda p, s: research.quote_pipeline(p, s, time_ns=S, best_bid_ticks=1, best_ask_ticks=2,
                                          bid_mult=[1.0, -1.0]), ValueError, "bid_mult"),
    (lambda p, s: research.vol_update(p, s, S, float("nan")), ValueError, "mid_ticks"),
    (lambda p, s: research.intensity_update(p, s, S, 10.0, 9.0, 2), ValueError, "taker_side"),
    (lambda p, s: research.intensity_fit(p, s, "bid", S), TypeError, "side"),
    (lambda p, s: research.build_ladder(p, bid0_ticks=float("inf"), ask0_ticks=2.0,
                                        sigma_per_sqrt_s=0.0), ValueError, "bid0_ticks"),
    (lambda p, s: research.new_quote_state(0), ValueError, "ring_capacity"),
])
def test_bad_input_raises_a_specific_error_and_changes_nothing(call, error, match):
    params, state = research.make_quote_params(), research.new_quote_state(8)
    before = [a.copy() for a in state]
    with pytest.raises(error, match=match):
        call(params, state)
    assert all((a == b).all() for a, b in zip(state, before, strict=True))


def test_a_corrupt_cursor_is_rejected_before_the_kernel_runs():
    state = research.new_quote_state(8)
    state.cursor[0]["head"] = 8
    with pytest.raises(ValueError, match=r"state\.cursor"):
        research.quote_pipeline(research.make_quote_params(), state, time_ns=S,
                                best_bid_ticks=1, best_ask_ticks=3)
