"""Pure-Python twin of ``qengine.kernels.quote_cycle``, composed of the reference twins."""

from __future__ import annotations

from qengine.kernels import codes

from .order_diff import diff_ladder_against_orders
from .pipeline import quote_pipeline


def quote_cycle(
    params, bid_mult, ask_mult, samples, cursor, vol_state, vol_returns, intensity_state,
    time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots,
    inventory_lots, levels_allowed, orders, instrument, amend_threshold_ticks,
    out_quotes, out_diag, out_actions,
):
    """Pipeline twin, then diff twin; an unpriceable tick diffs against an empty ladder."""
    n_quotes = quote_pipeline(
        params, bid_mult, ask_mult, samples, cursor, vol_state, vol_returns, intensity_state,
        time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots,
        inventory_lots, levels_allowed, out_quotes, out_diag,
    )
    if len(out_diag) < codes.DIAG_SIZE:
        return 0
    return diff_ladder_against_orders(
        orders, out_quotes, n_quotes, instrument, amend_threshold_ticks, out_actions
    )
