"""VWAP and VAMP with a time-decayed aggressive-trade impact (old bot ``update_vamp``, §2.7).

``vamp_update`` folds one trade into exact integer accumulators (turnover = sum of
``price_ticks * size_lots``); aggressive trades also feed the buy/sell aggressive accumulators and a
small ring of signed sizes (the old bot's ``deque(maxlen=30)``). ``vamp_value`` reads them at
``now_ns``:

- VWAP = turnover / volume over every trade fed;
- VAMP = buy-VWAP x buy ratio + sell-VWAP x sell ratio, with buy ratio = aggressive buy volume /
  aggressive volume; falls back to the one side present, then to VWAP. Algebraically this is the
  VWAP of the aggressive trades, which is how it is computed (one rounding);
- impact: each ring entry weighs ``w = 1 - age / max_age`` (entries at or beyond ``max_age_ns`` are
  dropped; future-dated entries count as age 0). ``impact_lots = sum(w * signed_lots)`` decays
  linearly to exactly zero at ``max_age_ns``; ``impact_mean_lots = impact_lots / sum(w)`` is the
  old bot's normalised figure.

Fixes versus the old bot: it fed only its own fills, always as passive and twice per fill, so the
impact stayed 0. Here the caller feeds Thalex public trades (``recent_trades`` carries the taker
side, so every public trade is aggressive) and own fills as passive, once. Decay is evaluated at
read time against ``now_ns`` instead of only when a trade arrives, and ``impact_lots`` really decays
(the normalised mean of a single trade stayed at full size until it expired).
"""

from __future__ import annotations

from numba import types as nt

from . import codes
from ._jit import helper, kernel
from .dtypes import VAMP_IMPACT_T, VAMP_OUT_T, VAMP_STATE_T

_I8 = nt.int64
_INT64_MAX = 9223372036854775807


@helper(nt.boolean(VAMP_STATE_T, _I8))
def _cursor_ok(state, capacity):
    # A corrupted cursor would index outside the ring: refuse instead of writing out of bounds.
    if state.shape[0] < 1 or capacity < 1:
        return False
    head = state[0]["impact_head"]
    count = state[0]["impact_count"]
    return 0 <= head < capacity and 0 <= count <= capacity


@kernel(_I8(VAMP_STATE_T, VAMP_IMPACT_T, _I8, _I8, _I8, _I8, _I8))
def vamp_update(state, impacts, time_ns, price_ticks, size_lots, taker_side, is_aggressive):
    """Fold one trade into the VWAP/VAMP accumulators and, if aggressive, into the impact ring.

    Parameters
    ----------
    state : VAMP_STATE array, shape (1,)
        Accumulators, updated in place.
    impacts : VAMP_IMPACT array, shape (capacity,)
        Ring of aggressive trades (old bot: 30); the oldest entry is overwritten when full.
    time_ns : int
        Exchange time of the trade, ns (>= 0).
    price_ticks : int
        Trade price, ticks (> 0).
    size_lots : int
        Trade size, lots (> 0).
    taker_side : int
        ``codes.SIDE_BUY`` or ``codes.SIDE_SELL``: the aggressor's side (for own passive fills,
        the side of the taker who hit us).
    is_aggressive : int
        1 for a public trade (the taker side is known), 0 for a passive own fill.

    Returns
    -------
    int
        ``codes.STATUS_OK``; ``codes.STATUS_BAD_INPUT`` for bad input or cursor;
        ``codes.STATUS_FULL`` if the int64 accumulators would overflow. State is unchanged on
        error.
    """
    if not _cursor_ok(state, impacts.shape[0]):
        return codes.STATUS_BAD_INPUT
    if time_ns < 0 or price_ticks <= 0 or size_lots <= 0:
        return codes.STATUS_BAD_INPUT
    if taker_side != codes.SIDE_BUY and taker_side != codes.SIDE_SELL:
        return codes.STATUS_BAD_INPUT
    if is_aggressive != 0 and is_aggressive != 1:
        return codes.STATUS_BAD_INPUT
    s = state[0]
    # Side totals never exceed the overall totals, so guarding those guards every accumulator.
    if size_lots > _INT64_MAX - s["volume_lots"]:
        return codes.STATUS_FULL
    if price_ticks > (_INT64_MAX - s["turnover_tick_lots"]) // size_lots:
        return codes.STATUS_FULL
    turnover = price_ticks * size_lots
    s["volume_lots"] += size_lots
    s["turnover_tick_lots"] += turnover
    s["trade_count"] += 1
    if is_aggressive == 0:
        return codes.STATUS_OK
    signed_lots = size_lots
    if taker_side == codes.SIDE_BUY:
        s["buy_aggressive_lots"] += size_lots
        s["buy_turnover_tick_lots"] += turnover
    else:
        s["sell_aggressive_lots"] += size_lots
        s["sell_turnover_tick_lots"] += turnover
        signed_lots = -size_lots
    capacity = impacts.shape[0]
    head = s["impact_head"]
    impacts[head]["time_ns"] = time_ns
    impacts[head]["signed_lots"] = signed_lots
    s["impact_head"] = (head + 1) % capacity
    s["impact_count"] = min(s["impact_count"] + 1, capacity)
    return codes.STATUS_OK


@helper(nt.void(VAMP_STATE_T, VAMP_IMPACT_T, _I8, _I8, VAMP_OUT_T))
def _decayed_impact(state, impacts, now_ns, max_age_ns, out):
    # Oldest entry first, so the twin can sum in the same order.
    capacity = impacts.shape[0]
    head = state[0]["impact_head"]
    count = state[0]["impact_count"]
    impact = 0.0
    weight_sum = 0.0
    entries = 0
    for k in range(count):
        entry = impacts[(head - count + k + capacity) % capacity]
        age_ns = max(now_ns - entry["time_ns"], 0)
        if age_ns >= max_age_ns:
            continue
        weight = 1.0 - age_ns / max_age_ns
        impact += entry["signed_lots"] * weight
        weight_sum += weight
        entries += 1
    out[0]["impact_lots"] = impact
    out[0]["impact_mean_lots"] = impact / weight_sum if weight_sum > 0.0 else 0.0
    out[0]["impact_entries"] = entries


@kernel(_I8(VAMP_STATE_T, VAMP_IMPACT_T, _I8, _I8, VAMP_OUT_T))
def vamp_value(state, impacts, now_ns, max_age_ns, out):
    """Report VWAP, VAMP, the aggressive side VWAPs and the decayed impact at ``now_ns``.

    Parameters
    ----------
    state : VAMP_STATE array, shape (1,)
        Accumulators (read only).
    impacts : VAMP_IMPACT array, shape (capacity,)
        Ring of aggressive trades (read only).
    now_ns : int
        Current time, ns.
    max_age_ns : int
        Impact horizon, ns (> 0; old bot ``vamp.max_impact_age`` = 300 s).
    out : VAMP_OUT array, shape (1,)
        Written. Prices are float64 ticks, NaN when undefined (no trades, or no aggressive volume
        on that side); ``buy_ratio`` is NaN without aggressive volume; impacts in lots.

    Returns
    -------
    int
        ``codes.STATUS_OK``; ``codes.STATUS_WARMING_UP`` before the first trade (prices NaN,
        impact 0); ``codes.STATUS_BAD_INPUT`` (``out`` untouched) for ``max_age_ns <= 0`` or a
        corrupted cursor.
    """
    if out.shape[0] < 1 or max_age_ns <= 0 or not _cursor_ok(state, impacts.shape[0]):
        return codes.STATUS_BAD_INPUT
    _decayed_impact(state, impacts, now_ns, max_age_ns, out)
    s = state[0]
    o = out[0]
    buy_lots = s["buy_aggressive_lots"]
    sell_lots = s["sell_aggressive_lots"]
    aggressive_lots = buy_lots + sell_lots
    nan = float("nan")
    o["buy_vwap_ticks"] = s["buy_turnover_tick_lots"] / buy_lots if buy_lots > 0 else nan
    o["sell_vwap_ticks"] = s["sell_turnover_tick_lots"] / sell_lots if sell_lots > 0 else nan
    o["buy_ratio"] = buy_lots / aggressive_lots if aggressive_lots > 0 else nan
    if s["volume_lots"] == 0:
        o["vwap_ticks"] = nan
        o["vamp_ticks"] = nan
        return codes.STATUS_WARMING_UP
    o["vwap_ticks"] = s["turnover_tick_lots"] / s["volume_lots"]
    if aggressive_lots == 0:
        o["vamp_ticks"] = o["vwap_ticks"]
    else:
        aggressive_turnover = s["buy_turnover_tick_lots"] + s["sell_turnover_tick_lots"]
        o["vamp_ticks"] = aggressive_turnover / aggressive_lots
    return codes.STATUS_OK
