"""One quoting cycle in one call: the fused pipeline followed by the diff against live orders.

``quote_cycle`` = ``quote_pipeline`` (book row -> estimators -> model -> ladder) then
``diff_ladder_against_orders`` (ladder vs order table -> insert / amend / cancel actions). The
quoter calls it once per wake-up, so each quoting decision crosses the Python-Numba boundary once.
"""

from __future__ import annotations

from numba import types

from . import codes
from ._jit import kernel
from .dtypes import (
    ACTION_T,
    INTENSITY_STATE_T,
    MARKET_SAMPLE_T,
    ORDER_T,
    QUOTE_PARAMS_T,
    QUOTE_T,
    RING_CURSOR_T,
    VOL_RETURN_T,
    VOL_STATE_T,
)
from .order_diff import diff_ladder_against_orders
from .pipeline import quote_pipeline

_I8 = types.int64
_F8_ARRAY = types.float64[::1]


@kernel(
    _I8(
        QUOTE_PARAMS_T, _F8_ARRAY, _F8_ARRAY, MARKET_SAMPLE_T, RING_CURSOR_T, VOL_STATE_T,
        VOL_RETURN_T, INTENSITY_STATE_T, _I8, _I8, _I8, _I8, _I8, _I8, _I8, ORDER_T, _I8, _I8,
        QUOTE_T, _F8_ARRAY, ACTION_T,
    )
)
def quote_cycle(
    params, bid_mult, ask_mult, samples, cursor, vol_state, vol_returns, intensity_state,
    time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots,
    inventory_lots, levels_allowed, orders, instrument, amend_threshold_ticks,
    out_quotes, out_diag, out_actions,
):
    """Run the quote pipeline on one book row, then diff its ladder against the live orders.

    Parameters
    ----------
    params, bid_mult, ask_mult, samples, cursor, vol_state, vol_returns, intensity_state
        As for :func:`qengine.kernels.pipeline.quote_pipeline` (state updated in place).
    time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots : int64
        The newest book row (ns, ticks, lots); a price ``<= 0`` means that side is missing.
    inventory_lots : int64
        Signed position in lots.
    levels_allowed : int64
        Levels per side the risk layer allows now (recovery quotes 1, 2, ..., all).
    orders : ORDER array
        The order table (read only here).
    instrument : int64
        Instrument index of the quoted instrument in the order table.
    amend_threshold_ticks : int64
        Keep a resting order whose price is within this many ticks of its quote.
    out_quotes : QUOTE array, shape (>= 2 * levels,)
        Receives the desired ladder; ``out_diag[codes.DIAG_QUOTES]`` holds its row count.
    out_diag : float64 array, shape (>= codes.DIAG_SIZE,)
        Pipeline diagnostics (``codes.DIAG_*``).
    out_actions : ACTION array
        Receives the actions to send, in the order they are safe to send.

    Returns
    -------
    int64
        Number of actions written. When the pipeline quotes nothing (no valid mid, bad input),
        the diff still runs against an empty ladder, so every live order gets a cancel: never
        leave stale quotes resting when we cannot price.
    """
    n_quotes = quote_pipeline(
        params, bid_mult, ask_mult, samples, cursor, vol_state, vol_returns, intensity_state,
        time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots,
        inventory_lots, levels_allowed, out_quotes, out_diag,
    )
    if out_diag.shape[0] < codes.DIAG_SIZE:
        return 0
    return diff_ladder_against_orders(
        orders, out_quotes, n_quotes, instrument, amend_threshold_ticks, out_actions
    )
