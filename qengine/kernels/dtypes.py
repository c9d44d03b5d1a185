"""Every record layout used by the kernels, in one place.

Each record is an aligned structured dtype (``align=True``) whose field names carry their units:
``*_ticks`` prices in integer ticks (float64 ``*_ticks`` only for estimator inputs such as a
mid that can sit on a half tick), ``*_lots`` sizes in integer volume ticks, ``*_ns`` integer
nanoseconds, ``*_s`` seconds. Each dtype has a numba array type (suffix ``_T``) used in kernel
signatures; arrays passed to kernels must be 1-D and C-contiguous.

Sections are owned by the kernel module named in their heading; edit only your own section.
"""

from __future__ import annotations

import numba
import numpy as np


def _array_type(dtype: np.dtype) -> numba.types.Array:
    return numba.from_dtype(dtype)[::1]


def _packed(fields: list[tuple[str, type]]) -> np.dtype:
    """An aligned record whose fields keep their declared order (``tolist``, tuple assignment)
    but sit in memory widest first, so there is no padding between them."""
    sizes = [np.dtype(t).itemsize for _, t in fields]
    offsets = [0] * len(fields)
    offset = 0
    for i in sorted(range(len(fields)), key=lambda i: -sizes[i]):  # stable: ties keep order
        offsets[i] = offset
        offset += sizes[i]
    widest = max(sizes)
    return np.dtype(
        {
            "names": [name for name, _ in fields],
            "formats": [t for _, t in fields],
            "offsets": offsets,
            "itemsize": -(-offset // widest) * widest,
        },
        align=True,
    )


# --- ring.py -------------------------------------------------------------------------------------

#: One market observation: the top of book (32 bytes, no padding). The mid is not stored: the
#: pipeline pushes only two-sided, uncrossed books, so ``ring.sample_mid_ticks`` derives it as
#: ``(bid + ask) / 2``. The book sizes are int32 lots (``codes.LOTS_MAX``; the pipeline saturates
#: larger sizes); prices stay int64 ticks.
MARKET_SAMPLE = _packed(
    [
        ("time_ns", np.int64),
        ("best_bid_ticks", np.int64),
        ("best_ask_ticks", np.int64),
        ("best_bid_lots", np.int32),
        ("best_ask_lots", np.int32),
    ]
)
MARKET_SAMPLE_T = _array_type(MARKET_SAMPLE)

#: Write cursor of a ring: next slot to write and how many slots hold data.
RING_CURSOR = np.dtype([("head", np.int64), ("count", np.int64)], align=True)
RING_CURSOR_T = _array_type(RING_CURSOR)

# --- volatility.py -------------------------------------------------------------------------------

#: Volatility estimator state (one row). The EWMA keeps a weighted sum and its weight so the
#: estimate is bias-free from the first return; the realised window keeps running sums of the
#: returns held in the ``VOL_RETURN`` ring, whose cursor (``window_head``, ``window_count``) lives
#: here. ``has_mid`` is 0 until the first valid mid arrives.
VOL_STATE = np.dtype(
    [
        ("last_time_ns", np.int64),
        ("last_mid_ticks", np.float64),
        ("has_mid", np.int64),
        ("return_count", np.int64),
        ("ewma_weighted_var_per_s", np.float64),
        ("ewma_weight", np.float64),
        ("window_sum_log_return_sq", np.float64),
        ("window_sum_dt_s", np.float64),
        ("window_head", np.int64),
        ("window_count", np.int64),
    ],
    align=True,
)
VOL_STATE_T = _array_type(VOL_STATE)

#: One log return kept for the realised window: its end time, its square and its length.
VOL_RETURN = np.dtype(
    [("time_ns", np.int64), ("log_return_sq", np.float64), ("dt_s", np.float64)],
    align=True,
)
VOL_RETURN_T = _array_type(VOL_RETURN)

# --- intensity.py --------------------------------------------------------------------------------

#: Time-decayed arrival statistics of one side (rows indexed by ``codes.SIDE_*``: SIDE_BUY is our
#: bid side, SIDE_SELL our ask side). ``decayed_count`` n, ``decayed_excess_ticks`` S (sum of
#: distance beyond ``reference_depth_ticks`` d0) and ``decayed_elapsed_s`` T all refer to
#: ``last_time_ns``; ``observing`` is 0 until the observation clock has started.
INTENSITY_STATE = np.dtype(
    [
        ("last_time_ns", np.int64),
        ("observing", np.int64),
        ("trade_count", np.int64),
        ("reference_depth_ticks", np.float64),
        ("decayed_count", np.float64),
        ("decayed_excess_ticks", np.float64),
        ("decayed_elapsed_s", np.float64),
    ],
    align=True,
)
INTENSITY_STATE_T = _array_type(INTENSITY_STATE)

# --- avellaneda.py / ladder.py / pipeline.py -----------------------------------------------------


#: One desired quote of the ladder (also the shape the order diff consumes). ``side`` is a
#: ``codes.SIDE_*``; ``level`` counts from 0 at the touch side of our ladder (int8, at most
#: ``codes.LEVEL_MAX``); ``size_lots`` is int32 (at most ``codes.LOTS_MAX``, the ladder clamps).
#: 16 bytes: price, size, side, level in memory.
QUOTE = _packed(
    [("side", np.int8), ("level", np.int8), ("price_ticks", np.int64), ("size_lots", np.int32)]
)
QUOTE_T = _array_type(QUOTE)

#: Quoting parameters, one row (fill it with ``qengine.kernels.params.make_quote_params``, whose
#: docstring documents every field and its unit). Per-level size multipliers are separate f8
#: arrays (one for bids, one for asks), not record fields.
QUOTE_PARAMS = np.dtype(
    [
        # model and instrument
        ("model", np.int64),  # codes.MODEL_*
        ("tick_size", np.float64),  # price units per tick
        ("lot_size_coins", np.float64),  # coins per lot (the instrument's volume tick)
        ("gamma", np.float64),  # A-S: 1/(tick*coin); GLFT: 1/(tick*quote unit)
        ("horizon_mode", np.int64),  # codes.HORIZON_*
        ("horizon_s", np.float64),
        ("session_end_ns", np.int64),  # session end (SESSION_END) or window phase (ROLLING)
        ("min_tau_s", np.float64),
        # spread floors and cap
        ("min_spread_ticks", np.int64),
        ("max_spread_ticks", np.int64),
        ("maker_fee_bps", np.float64),
        ("profit_margin_bps", np.float64),
        ("fee_coverage", np.float64),
        # ladder
        ("levels", np.int64),
        ("base_step_ticks", np.float64),
        ("step_vol_reference", np.float64),  # sigma at which the step factor is 1
        ("step_vol_factor_min", np.float64),
        ("step_vol_factor_max", np.float64),
        # sizes
        ("position_limit_lots", np.int64),
        ("base_size_lots", np.int64),
        ("min_order_lots", np.int64),  # the instrument's minimum order, in lots
        ("min_level_lots", np.int64),  # per-level size floor
        ("size_vol_sensitivity", np.float64),
        ("size_vol_factor_min", np.float64),
        ("size_shrink_slope", np.float64),  # side that adds to |inventory|
        ("size_shrink_floor", np.float64),
        ("size_grow_slope", np.float64),  # side that reduces |inventory|
        ("size_grow_cap", np.float64),
        # volatility estimator
        ("vol_estimator", np.int64),  # codes.VOL_*
        ("vol_half_life_s", np.float64),
        ("vol_window_ns", np.int64),
        ("vol_min_samples", np.int64),
        ("sigma_fallback", np.float64),  # all sigmas: fraction of price per sqrt(second)
        ("sigma_floor", np.float64),
        ("sigma_ceiling", np.float64),
        ("fixed_sigma", np.float64),  # > 0 replaces the estimator
        # intensity estimator
        ("intensity_mode", np.int64),  # codes.INTENSITY_*
        ("intensity_half_life_s", np.float64),
        ("prior_a_per_s", np.float64),
        ("prior_kappa_per_tick", np.float64),
        ("prior_weight", np.float64),
        ("kappa_min_per_tick", np.float64),
        ("kappa_max_per_tick", np.float64),
        # the old bot's heuristic (MODEL_LEGACY)
        ("legacy_gamma", np.float64),
        ("legacy_sigma_floor", np.float64),
        ("volatility_multiplier", np.float64),
        ("position_fade_time_s", np.float64),
        ("base_spread_factor", np.float64),
        ("inventory_factor", np.float64),
        ("inventory_weight", np.float64),
        ("market_state_factor", np.float64),
        # market data safety
        ("max_mid_age_ns", np.int64),
        # predictive adjustments (all models; neutral 1.0 / 0.0)
        ("sigma_scale", np.float64),  # multiplies the sigma the model uses
        ("reservation_offset_ticks", np.float64),  # added to the model's centre
    ],
    align=True,
)
QUOTE_PARAMS_T = _array_type(QUOTE_PARAMS)

# --- candles.py / vamp.py ------------------------------------------------------------------------

#: One closed volume-clock candle built from public trades. Trades print on the tick grid, so
#: OHLC are int64 ticks; ``delta_lots`` = buy - sell taker volume and ``delta_ratio`` =
#: delta / volume in [-1, 1]. ``close_reason`` is a ``codes.CANDLE_CLOSE_*``.
CANDLE = np.dtype(
    [
        ("open_time_ns", np.int64),
        ("close_time_ns", np.int64),
        ("open_ticks", np.int64),
        ("high_ticks", np.int64),
        ("low_ticks", np.int64),
        ("close_ticks", np.int64),
        ("buy_lots", np.int64),
        ("sell_lots", np.int64),
        ("volume_lots", np.int64),
        ("delta_lots", np.int64),
        ("delta_ratio", np.float64),
        ("trade_count", np.int64),
        ("close_reason", np.int64),
    ],
    align=True,
)
CANDLE_T = _array_type(CANDLE)

#: One-row state of the candle builder: ring cursor over the CANDLE array (``head`` = next slot,
#: ``count`` = filled slots), the open candle's accumulators (``current_*``; ``current_trade_count``
#: 0 means no candle is open), EMAs over closed candles (periods 8/21/55) and totals.
CANDLE_STATE = np.dtype(
    [
        ("head", np.int64),
        ("count", np.int64),
        ("closed_total", np.int64),
        ("current_open_time_ns", np.int64),
        ("current_last_time_ns", np.int64),
        ("current_open_ticks", np.int64),
        ("current_high_ticks", np.int64),
        ("current_low_ticks", np.int64),
        ("current_close_ticks", np.int64),
        ("current_buy_lots", np.int64),
        ("current_sell_lots", np.int64),
        ("current_trade_count", np.int64),
        ("ema_close_fast_ticks", np.float64),
        ("ema_close_medium_ticks", np.float64),
        ("ema_close_slow_ticks", np.float64),
        ("ema_delta_ratio_fast", np.float64),
        ("ema_delta_ratio_medium", np.float64),
        ("ema_delta_ratio_slow", np.float64),
        ("cumulative_delta_lots", np.int64),
    ],
    align=True,
)
CANDLE_STATE_T = _array_type(CANDLE_STATE)

#: The four candle signals (momentum in [-1, 1], the others in [0, 1]), the sign of the newest
#: close-to-close step (-1, 0, 1) and the close time of the newest candle they were built from.
CANDLE_SIGNALS = np.dtype(
    [
        ("momentum", np.float64),
        ("reversal", np.float64),
        ("volatility", np.float64),
        ("exhaustion", np.float64),
        ("close_step_sign", np.int64),
        ("time_ns", np.int64),
    ],
    align=True,
)
CANDLE_SIGNALS_T = _array_type(CANDLE_SIGNALS)

#: Predicted parameter adjustments (relative: 0.1 means +10 %), the reservation-price offset in
#: basis points of the mid, the trend direction (-1, 0, 1) and the signals' ``time_ns``.
CANDLE_ADJUST = np.dtype(
    [
        ("gamma_adj", np.float64),
        ("kappa_adj", np.float64),
        ("reservation_offset_bps", np.float64),
        ("trend", np.int64),
        ("vol_adj", np.float64),
        ("time_ns", np.int64),
    ],
    align=True,
)
CANDLE_ADJUST_T = _array_type(CANDLE_ADJUST)

#: Model parameters after the candle adjustments: same units as the base values passed in.
ADJUSTED_PARAMS = np.dtype(
    [("gamma", np.float64), ("kappa", np.float64), ("sigma", np.float64)], align=True
)
ADJUSTED_PARAMS_T = _array_type(ADJUSTED_PARAMS)

#: One aggressive trade's signed size (+ taker buy, - taker sell) for the decayed VAMP impact.
VAMP_IMPACT = np.dtype([("time_ns", np.int64), ("signed_lots", np.int64)], align=True)
VAMP_IMPACT_T = _array_type(VAMP_IMPACT)

#: One-row VWAP/VAMP accumulators: exact integer turnovers (sum of price_ticks * size_lots) for
#: all trades and for aggressive buys/sells, plus the cursor of the VAMP_IMPACT ring.
VAMP_STATE = np.dtype(
    [
        ("volume_lots", np.int64),
        ("turnover_tick_lots", np.int64),
        ("buy_aggressive_lots", np.int64),
        ("buy_turnover_tick_lots", np.int64),
        ("sell_aggressive_lots", np.int64),
        ("sell_turnover_tick_lots", np.int64),
        ("trade_count", np.int64),
        ("impact_head", np.int64),
        ("impact_count", np.int64),
    ],
    align=True,
)
VAMP_STATE_T = _array_type(VAMP_STATE)

#: What ``vamp_value`` reports. Prices are float64 ticks (averages fall between ticks); NaN when
#: undefined (no volume on that side). ``impact_lots`` is the linearly decayed signed aggressive
#: volume; ``impact_mean_lots`` the old bot's weight-normalised variant.
VAMP_OUT = np.dtype(
    [
        ("vwap_ticks", np.float64),
        ("vamp_ticks", np.float64),
        ("buy_vwap_ticks", np.float64),
        ("sell_vwap_ticks", np.float64),
        ("buy_ratio", np.float64),
        ("impact_lots", np.float64),
        ("impact_mean_lots", np.float64),
        ("impact_entries", np.int64),
    ],
    align=True,
)
VAMP_OUT_T = _array_type(VAMP_OUT)

# --- orders.py / position.py / risk.py -----------------------------------------------------------

#: One row of the order table (fixed capacity from config). ``client_order_id`` (ours,
#: session-local) is the key. ``order_key`` is the exchange's string ``order_id`` mapped to a
#: stable int64 by the engine (kernels only ever see the int64; -1 until the exchange acks).
#: ``status`` is a ``codes.ORDER_*``; ``pending_*`` hold an in-flight amend's target.
#: 64 bytes: ids, prices and times stay int64; sizes are int32 lots (``codes.LOTS_MAX``) and
#: instrument, side, level and status int8 (``codes.INSTRUMENT_MAX``, ``codes.LEVEL_MAX``);
#: ``orders.py`` rejects values beyond those bounds with ``STATUS_BAD_INPUT``.
ORDER = _packed(
    [
        ("client_order_id", np.int64),
        ("order_key", np.int64),
        ("instrument", np.int8),
        ("side", np.int8),
        ("level", np.int8),
        ("status", np.int8),
        ("price_ticks", np.int64),
        ("amount_lots", np.int32),
        ("filled_lots", np.int32),
        ("pending_price_ticks", np.int64),
        ("pending_amount_lots", np.int32),
        ("insert_time_ns", np.int64),
        ("update_time_ns", np.int64),
    ]
)
ORDER_T = _array_type(ORDER)

#: One request the order manager should send (``kind`` is a ``codes.ACTION_*``). For an amend,
#: ``size_lots`` is the new *total* amount (filled + desired remaining), as ``private/amend`` wants.
ACTION = np.dtype(
    [
        ("kind", np.int64),
        ("slot", np.int64),
        ("client_order_id", np.int64),
        ("side", np.int64),
        ("level", np.int64),
        ("price_ticks", np.int64),
        ("size_lots", np.int64),
    ],
    align=True,
)
ACTION_T = _array_type(ACTION)

#: One execution of ours. ``trade_id`` is the exchange's trade id mapped to int64 by the io layer;
#: ``fee_quote`` is paid fee in quote currency (negative for a rebate); ``is_maker`` is 0 or 1.
FILL = np.dtype(
    [
        ("trade_id", np.int64),
        ("instrument", np.int64),
        ("side", np.int64),
        ("price_ticks", np.int64),
        ("amount_lots", np.int64),
        ("fee_quote", np.float64),
        ("is_maker", np.int64),
        ("time_ns", np.int64),
    ],
    align=True,
)
FILL_T = _array_type(FILL)

#: One open FIFO lot: what is left of an opening fill. Instrument ``i`` owns the slice
#: ``lots[i * cap:(i + 1) * cap]`` (``cap = len(lots) // len(positions)``) used as a ring.
LOT = np.dtype(
    [("price_ticks", np.int64), ("amount_lots", np.int64), ("time_ns", np.int64)], align=True
)
LOT_T = _array_type(LOT)

#: Position and PnL of one instrument. ``cost_ticks_lots`` is sum(entry price * lots) of the open
#: lots; ``realised_ticks_lots`` is the exact gross realised PnL in ticks*lots (quote currency:
#: times ``lot_tick_value_quote``). ``trip_*`` accumulate the round trip in progress.
POSITION = np.dtype(
    [
        ("position_lots", np.int64),
        ("lot_head", np.int64),
        ("lot_count", np.int64),
        ("cost_ticks_lots", np.int64),
        ("realised_ticks_lots", np.int64),
        ("realised_pnl_quote", np.float64),
        ("maker_fees_quote", np.float64),
        ("taker_fees_quote", np.float64),
        ("funding_quote", np.float64),
        ("volume_lots", np.int64),
        ("fill_count", np.int64),
        ("duplicate_count", np.int64),
        ("round_trip_count", np.int64),
        ("losing_streak", np.int64),
        ("trip_ticks_lots", np.int64),
        ("trip_fees_quote", np.float64),
        ("last_fill_time_ns", np.int64),
        ("reconcile_count", np.int64),
    ],
    align=True,
)
POSITION_T = _array_type(POSITION)

#: Risk limits (one row). A limit <= 0 (or NaN) disables its check; percentages are in percent.
RISK_LIMITS = np.dtype(
    [
        ("max_position_lots", np.int64),
        ("max_notional_quote", np.float64),
        ("stop_loss_pct", np.float64),
        ("take_profit_pct", np.float64),
        ("upnl_take_profit_quote", np.float64),
        ("max_drawdown_pct", np.float64),
        ("max_consecutive_losses", np.int64),
    ],
    align=True,
)
RISK_LIMITS_T = _array_type(RISK_LIMITS)

#: What ``risk_check`` remembers and last saw (one row, written only by the risk monitor).
RISK_STATE = np.dtype(
    [
        ("peak_equity_quote", np.float64),
        ("drawdown_pct", np.float64),
        ("upnl_quote", np.float64),
        ("last_mask", np.int64),
        ("last_check_ns", np.int64),
    ],
    align=True,
)
RISK_STATE_T = _array_type(RISK_STATE)
