"""One quoting cycle in one call: the fused pipeline followed by the diff against live orders.

``quote_cycle`` = ``quote_pipeline`` (book row -> estimators -> model -> ladder) then
``diff_ladder_against_orders`` (ladder vs order table -> insert / amend / cancel actions). The
quoter calls it once per wake-up, so each quoting decision crosses the Python-Numba boundary once.
"""

from __future__ import annotations

from numba import types

from ._jit import kernel
from .dtypes import ACTION_T, ORDER_T, QUOTE_INPUTS_T, QUOTE_OUT_T, QUOTE_SETUP_T, QUOTE_STATE_T
from .order_diff import _diff_ladder_against_orders
from .order_exposure import inflight_lots
from .pipeline import _quote_pipeline

_I8 = types.int64


@kernel(
    _I8(QUOTE_SETUP_T, QUOTE_STATE_T, QUOTE_INPUTS_T, QUOTE_OUT_T, ORDER_T, _I8, _I8, ACTION_T)
)
def quote_cycle(setup, state, inputs, out, orders, instrument, amend_threshold_ticks, out_actions):
    """Run the quote pipeline on one book row, then diff its ladder against the live orders.

    Parameters
    ----------
    setup, state, inputs, out
        As for :func:`qengine.kernels.pipeline.quote_pipeline` (state updated in place; the
        ladder's row count lands in ``diag.quote_count``).
    orders : ORDER array
        The order table (read only here).
    instrument : int64
        Instrument index of the quoted instrument in the order table.
    amend_threshold_ticks : int64
        Keep a resting order whose price is within this many ticks of its quote.
    out_actions : ACTION array
        Receives the actions to send, in the order they are safe to send.

    Position limit: the ladder's room leaves out the worst case of the orders with a request in
    flight, and the diff sends what adds exposure only within the room left by every live order
    and every closed one whose fills are not booked yet (``ladder.py``, "Position limit"), so
    the position stays within ``position_limit_lots`` whatever our orders fill.

    Returns
    -------
    int64
        Number of actions written. When the pipeline quotes nothing (no valid mid, bad input),
        the diff still runs against an empty ladder, so every live order gets a cancel: never
        leave stale quotes resting when we cannot price.
    """
    bid_inflight_lots, ask_inflight_lots = inflight_lots(orders, instrument)
    n_quotes = _quote_pipeline(setup, state, inputs, out, bid_inflight_lots, ask_inflight_lots)
    out_quotes, out_diag = out
    if out_diag.shape[0] < 1:
        return 0
    limit = setup[0][0].position_limit_lots
    inventory_lots = inputs[5]
    return _diff_ladder_against_orders(
        orders, out_quotes, n_quotes, instrument, amend_threshold_ticks, out_actions,
        limit - inventory_lots, limit + inventory_lots,
    )
