"""Pure-Python twin of ``qengine.kernels.quote_cycle``, composed of the reference twins."""

from __future__ import annotations

from .order_diff import diff_ladder_against_orders
from .pipeline import quote_pipeline


def quote_cycle(setup, state, inputs, out, orders, instrument, amend_threshold_ticks,
                out_actions):
    """Pipeline twin, then diff twin; an unpriceable tick diffs against an empty ladder."""
    n_quotes = quote_pipeline(setup, state, inputs, out)
    out_quotes, out_diag = out
    if len(out_diag) < 1:
        return 0
    return diff_ladder_against_orders(
        orders, out_quotes, n_quotes, instrument, amend_threshold_ticks, out_actions
    )
