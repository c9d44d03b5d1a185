"""Pure-Python twin of ``qengine.kernels.quote_cycle``, composed of the reference twins."""

from __future__ import annotations

from qengine.kernels import codes

from .order_diff import diff_ladder_against_orders
from .orders import EMPTY, OPEN, table_rows, worst_lots
from .pipeline import quote_pipeline


def inflight_lots(orders, instrument):
    """Worst-case lots per side (buy, sell) of the rows the diff leaves alone: a request in
    flight, an open row on a negative level, a closed row with fills not booked yet."""
    lots = {codes.SIDE_BUY: 0, codes.SIDE_SELL: 0}
    for r in table_rows(orders):
        if r["status"] == EMPTY or r["instrument"] != instrument or r["side"] not in lots:
            continue
        if r["status"] == OPEN and r["level"] >= 0:
            continue
        lots[r["side"]] += worst_lots(r)
    return lots[codes.SIDE_BUY], lots[codes.SIDE_SELL]


def quote_cycle(setup, state, inputs, out, orders, instrument, amend_threshold_ticks,
                out_actions):
    """Pipeline twin (its room less the orders in flight), then diff twin with the room to
    the limit; an unpriceable tick diffs against an empty ladder."""
    n_quotes = quote_pipeline(setup, state, inputs, out, *inflight_lots(orders, instrument))
    out_quotes, out_diag = out
    if len(out_diag) < 1:
        return 0
    limit = int(setup[0][0]["position_limit_lots"])
    inventory = int(inputs[5])
    return diff_ladder_against_orders(
        orders, out_quotes, n_quotes, instrument, amend_threshold_ticks, out_actions,
        limit - inventory, limit + inventory,
    )
