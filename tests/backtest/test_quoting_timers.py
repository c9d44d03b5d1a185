"""The quoting strategy's timers (quoter pacing, risk checks, recorder) are its own: the
simulated trading does not depend on how often the recorder writes a row."""

from __future__ import annotations

import numpy as np

import qengine.backtest as bt
from tests.backtest.test_quoting import config

INTERVALS_MS = (10.0, 100.0, 1000.0)
#: Counts that depend on the wake-ups, not on the trading.
_WAKE_COUNTS = {"wakeups"}


def test_trading_is_identical_for_every_record_interval(btc_rows):
    runs = {ms: bt.run(config("glft"), btc_rows, record_interval_ms=ms) for ms in INTERVALS_MS}
    base = runs[100.0]
    assert len(base.fills) > 20
    for ms, r in runs.items():
        np.testing.assert_array_equal(r.fills, base.fills, err_msg=f"{ms} ms: fills")
        for key, value in base.counts.items():
            if key not in _WAKE_COUNTS:
                assert r.counts[key] == value, f"{ms} ms: {key}"
        assert r.records["equity"][-1] == base.records["equity"][-1], f"{ms} ms: final PnL"
        assert abs(len(r.records) - (r.end_ns - r.start_ns) / (ms * 1e6)) <= 2
    # Rows written at the same time are the same rows, whatever the interval.
    fine, coarse = runs[10.0].records, runs[1000.0].records
    common = np.intersect1d(fine["ts"], coarse["ts"])
    assert len(common) > 0.9 * len(coarse)
    a, b = fine[np.isin(fine["ts"], common)], coarse[np.isin(coarse["ts"], common)]
    for name in a.dtype.names:  # (field by field: NaN marks "no quote" and equals itself)
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
