"""The risk monitor's orders in the quoting backtest: cancel-all reaches orders whose request
is in flight, the flatten is reduce-only. Each scenario runs the kernel and its twin."""

from __future__ import annotations

import numpy as np
import pytest

from qengine.backtest import layout as L
from qengine.backtest import quoting_layout as ql
from qengine.backtest.instruments import INSTRUMENTS
from qengine.backtest.quoting_orders import flatten
from qengine.backtest.quoting_state import QuotingState
from qengine.backtest.quoting_strategy import quote_strategy
from qengine.kernels import codes
from tests.backtest.test_quoting import config
from tests.backtest.test_quoting_twin import T0, _handle, _market, _region
from tests.reference.backtest import quoting_strategy as twin

MS = 1_000_000
STRATEGIES = {"kernel": lambda h: quote_strategy(tuple(h)), "twin": twin.quote_strategy}


def _state(**overrides) -> QuotingState:
    settings = {"risk.max_position": 0.015, "quote.min_quote_interval_s": 0.5,
                "risk.monitor_interval_s": 0.5, "risk.monitor_fast_interval_s": 0.5,
                "risk.monitor_slow_interval_s": 0.5, **overrides}
    state = QuotingState(config("glft", **settings), INSTRUMENTS["BTCUSDT"],
                         record_every_ns=100_000_000, record_rows=64)
    state.start(T0)
    return state


def _wake(strategy, h, now, mid=618_000):
    _market(h, np.random.default_rng(0), now, mid)
    strategy(h)
    h[0][L.I_N_OUTBOX] = 0  # the requests left for the exchange


def _fill(h, order, lots):
    """The venue fills ``lots`` of ``order`` (a dict view of a local row) and reports it."""
    ist, fills = h[0], h[9]
    k = ist[L.I_N_FILL_LOG]
    fills[k] = (ist[L.I_NOW], ist[L.I_NOW], order["order_id"], order["side"],
                order["price_tick"], lots, 1)
    ist[L.I_N_FILL_LOG] = k + 1
    ist[L.I_FILLS] += 1
    ist[L.I_POS_LOTS] += order["side"] * lots


def _local(h):
    return h[2][: int(h[0][L.I_N_LOCAL])]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_cancel_all_cancels_an_order_in_flight_when_its_reply_lands(name):
    strategy = STRATEGIES[name]
    h = _handle(_state())
    _wake(strategy, h, T0 + MS)
    lo = _local(h)
    assert len(lo) >= 2
    assert np.all(lo["req"] == L.ST_NEW)
    # Every insert is acknowledged but the last; the first buy fills far past max_position.
    for o in lo[:-1]:
        o["status"], o["req"] = L.ST_NEW, L.ST_NONE
    buy = next(i for i in range(len(lo) - 1) if lo[i]["side"] > 0)
    _fill(h, lo[buy], 40)
    lo[buy]["status"], lo[buy]["leaves_lots"] = L.ST_FILLED, 0
    late = int(lo[-1]["order_id"])
    _wake(strategy, h, T0 + 600 * MS)  # the risk check: a position breach, cancel-all
    assert _region(h, ql.R_GATE)[0]["breach_count"] == 1
    lo = _local(h)
    in_flight = lo[int(np.flatnonzero(lo["order_id"] == late)[0])]
    assert in_flight["req"] == L.ST_NEW  # its insert is still travelling: no request yet
    quotes = lo[(lo["order_id"] != late) & (lo["order_id"] & ql.LEVEL_MASK != codes.LEVEL_MAX)]
    assert len(quotes)
    assert np.all(quotes["req"] == L.ST_CANCELED)
    in_flight["status"], in_flight["req"] = L.ST_NEW, L.ST_NONE  # the reply lands
    _wake(strategy, h, T0 + 610 * MS)  # well inside the quoter's 0.5 s pacing
    row = _local(h)[_local(h)["order_id"] == late][0]
    assert row["req"] == L.ST_CANCELED
    assert _region(h, ql.R_VARS)[ql.V_CANCEL_ALL_NS] == 0  # the cancel-all is complete


@pytest.mark.parametrize(("position", "asked", "limit", "sent"), [
    (20, 50, 618_000, -20),    # a long: sell at most the position (never goes short)
    (-7, -30, 618_000, 7),     # a short: buy back at most the position
    (20, 12, 618_000, -12),    # less than the position: as asked
    (20, -5, 618_000, 0),      # buying more of a long reduces nothing: not sent
    (0, 5, 618_000, 0),        # flat: nothing to reduce
    (20, 20, 0, 0),            # no usable limit price: not sent, as live
])
def test_flatten_is_reduce_only_at_send_time(position, asked, limit, sent):
    h = _handle(_state())
    h[0][L.I_POS_LOTS] = position
    v = _region(h, ql.R_VARS)
    assert flatten(tuple(h), v, asked, limit) == (1 if sent else 0)
    box = h[3][: int(h[0][L.I_N_OUTBOX])]
    assert int(np.sum(box["side"] * box["qty_lots"])) == sent
    assert v[ql.V_FLATTEN_ORDERS] == (1 if sent else 0)
    assert v[ql.V_SEND_ERRORS] == 0
    if sent:
        assert box[0]["tif"] == L.IOC
        assert box[0]["price_tick"] == limit
