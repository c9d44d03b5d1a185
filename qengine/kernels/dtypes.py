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
#: defaults table documents every field). Every name ends in its unit: ``_ticks``, ``_lots``,
#: ``_coins``, ``_ns``, ``_s``, ``_bps``, ``_per_s``, ``_per_tick``, ``_per_sqrt_s`` (sigmas: a
#: fraction of price per sqrt(second)), ``_sqrt_s``, ``_trades``, ``_per_tick_unit`` (per tick per
#: inventory unit: a coin for A-S, a base size for GLFT), ``_count``, ``_code`` (a ``codes.*``) or
#: ``_ratio`` (dimensionless: a multiplier or a fraction). Per-level size multipliers are separate
#: f8 arrays (one for bids, one for asks), not record fields.
QUOTE_PARAMS = np.dtype(
    [
        # model and instrument
        ("model_code", np.int64),  # codes.MODEL_*
        ("tick_size_quote", np.float64),  # price (quote currency per coin) per tick
        ("lot_size_coins", np.float64),  # coins per lot (the instrument's volume tick)
        ("gamma_per_tick_unit", np.float64),  # risk aversion: A-S 1/(tick*coin), GLFT 1/(tick*size)
        ("horizon_mode_code", np.int64),  # codes.HORIZON_*
        ("horizon_s", np.float64),
        ("session_end_ns", np.int64),  # session end (SESSION_END) or window phase (ROLLING)
        ("min_tau_s", np.float64),
        # spread floors and cap
        ("min_spread_ticks", np.int64),
        ("max_spread_ticks", np.int64),
        ("maker_fee_bps", np.float64),
        ("profit_margin_bps", np.float64),
        ("fee_coverage_ratio", np.float64),
        # ladder
        ("level_count", np.int64),  # levels per side
        ("base_step_ticks", np.float64),
        ("step_vol_reference_per_sqrt_s", np.float64),  # sigma at which the step factor is 1
        ("step_factor_min_ratio", np.float64),
        ("step_factor_max_ratio", np.float64),
        # sizes
        ("position_limit_lots", np.int64),
        ("base_size_lots", np.int64),
        ("min_order_lots", np.int64),  # the instrument's minimum order, in lots
        ("min_level_lots", np.int64),  # per-level size floor
        ("size_vol_sensitivity_sqrt_s", np.float64),  # size factor 1 - this * sigma
        ("size_factor_min_ratio", np.float64),
        ("size_shrink_slope_ratio", np.float64),  # side that adds to |inventory|
        ("size_shrink_floor_ratio", np.float64),
        ("size_grow_slope_ratio", np.float64),  # side that reduces |inventory|
        ("size_grow_cap_ratio", np.float64),
        # volatility estimator
        ("vol_estimator_code", np.int64),  # codes.VOL_*
        ("vol_half_life_s", np.float64),
        ("vol_window_ns", np.int64),
        ("vol_min_sample_count", np.int64),
        ("sigma_fallback_per_sqrt_s", np.float64),
        ("sigma_floor_per_sqrt_s", np.float64),
        ("sigma_ceiling_per_sqrt_s", np.float64),
        ("fixed_sigma_per_sqrt_s", np.float64),  # > 0 replaces the estimator
        # intensity estimator
        ("intensity_mode_code", np.int64),  # codes.INTENSITY_*
        ("intensity_half_life_s", np.float64),
        ("prior_a_per_s", np.float64),
        ("prior_kappa_per_tick", np.float64),
        ("prior_weight_trades", np.float64),  # pseudo-trades the prior counts for
        ("kappa_min_per_tick", np.float64),
        ("kappa_max_per_tick", np.float64),
        # the old bot's heuristic (MODEL_LEGACY; its sigma and gamma are dimensionless)
        ("legacy_gamma_ratio", np.float64),
        ("legacy_sigma_floor_ratio", np.float64),
        ("volatility_multiplier_ratio", np.float64),
        ("position_fade_time_s", np.float64),
        ("base_spread_factor_ratio", np.float64),
        ("inventory_factor_ratio", np.float64),
        ("inventory_weight_ratio", np.float64),
        ("market_state_factor_ratio", np.float64),
        # market data safety
        ("max_mid_age_ns", np.int64),
        # centre and sigma adjustments (all models; neutral 1.0 / 0.0)
        ("sigma_scale_ratio", np.float64),  # multiplies the sigma the model uses
        ("reservation_offset_ticks", np.float64),  # added to the model's centre
    ],
    align=True,
)
QUOTE_PARAMS_T = _array_type(QUOTE_PARAMS)

#: Diagnostics of one pipeline call (one row, written by ``quote_pipeline`` and ``model_touch``).
#: Floats are NaN where a stage did not run; ``vol_status`` is -1 when no volatility update ran.
QUOTE_DIAG = np.dtype(
    [
        ("status", np.int64),  #: pipeline status, a ``codes.STATUS_*``
        ("flags", np.int64),  #: bit set of ``codes.QUOTE_FLAG_*``
        ("vol_status", np.int64),  #: status of the volatility update (-1: none ran)
        ("quote_count", np.int64),  #: quotes written
        ("mid_ticks", np.float64),  #: mid quoted around
        ("sigma_per_sqrt_s", np.float64),  #: sigma used, fraction of price per sqrt(second)
        ("a_bid_per_s", np.float64),  #: arrival rate at zero distance of our bids
        ("kappa_bid_per_tick", np.float64),
        ("a_ask_per_s", np.float64),
        ("kappa_ask_per_tick", np.float64),
        ("reservation_ticks", np.float64),  #: the model's centre
        ("spread_ticks", np.float64),  #: the model's total spread before floors and cap
        ("tau_s", np.float64),  #: A-S horizon (NaN for other models)
        ("min_spread_ticks", np.float64),  #: effective floor (tick floor and fee floor)
        ("bid0_ticks", np.float64),  #: level-0 bid after floors and cap, before alignment
        ("ask0_ticks", np.float64),  #: level-0 ask after floors and cap, before alignment
        #: worst-case lots of the buy / sell orders in flight, left out of the ladder's room
        ("bid_inflight_lots", np.int64),
        ("ask_inflight_lots", np.int64),
    ],
    align=True,
)
QUOTE_DIAG_T = _array_type(QUOTE_DIAG)

#: Argument bundles of ``quote_pipeline`` / ``quote_cycle``. Plain tuples on purpose: numba's
#: dispatcher types an exact tuple in C, a namedtuple through Python (about 4 us more per call).
#: ``(params, bid_mult, ask_mult)``: read-only quoting setup.
QUOTE_SETUP_T = numba.types.Tuple((QUOTE_PARAMS_T, numba.float64[::1], numba.float64[::1]))
#: ``(samples, cursor, vol_state, vol_returns, intensity_state)``: estimator state, updated.
QUOTE_STATE_T = numba.types.Tuple(
    (MARKET_SAMPLE_T, RING_CURSOR_T, VOL_STATE_T, VOL_RETURN_T, INTENSITY_STATE_T)
)
#: ``(time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots, inventory_lots,
#: levels_allowed)``: one cycle's inputs (a price ``<= 0`` means that side is missing).
QUOTE_INPUTS_T = numba.types.UniTuple(numba.int64, 7)
#: ``(quotes, diag)``: the ladder (QUOTE rows) and the one-row QUOTE_DIAG.
QUOTE_OUT_T = numba.types.Tuple((QUOTE_T, QUOTE_DIAG_T))

# --- orders.py / position.py / risk.py -----------------------------------------------------------

#: One row of the order table (fixed capacity from config). ``client_order_id`` (ours,
#: session-local) is the key. ``order_key`` is the exchange's string ``order_id`` mapped to a
#: stable int64 by the engine (kernels only ever see the int64; -1 until the exchange acks).
#: ``status`` is a ``codes.ORDER_*``; ``pending_*`` hold an in-flight amend's target.
#: ``filled_lots`` is what the exchange reports filled; ``booked_lots`` what the position has
#: absorbed of the order's fills (credited once per newly booked fill, ``order_book_lots``). A
#: report can state a fill before that fill is booked (or a fill be booked before its report),
#: so the position limit counts ``amount - booked`` (``order_exposure.worst_lots``).
#: 72 bytes: ids, prices and times stay int64; sizes are int32 lots (``codes.LOTS_MAX``) and
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
        ("booked_lots", np.int32),
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

# --- decision.py / risk_actions.py ---------------------------------------------------------------

#: The engine's decision rules (one row, read only; ``strategy.setup.build_decision_params``
#: fills it from the config). Masks are OR-ed ``codes.RISK_*`` bits (the breach table of
#: ``strategy.rules``); ``*_enabled`` / ``take_profit_halts`` are 0 or 1.
DECISION_PARAMS = np.dtype(
    [
        ("full_levels", np.int64),  # levels per side when nothing limits them
        ("max_book_age_ns", np.int64),  # an older book quotes nothing
        ("min_quote_interval_ns", np.int64),  # pacing between cycles (a fill skips it)
        ("force_refresh_ns", np.int64),  # a cycle at least this often
        ("fresh_book_wait_ns", np.int64),  # after a pacing pause: wait this long for a new book
        ("halt_mask", np.int64),  # breaches that pause or stop quoting
        ("stop_mask", np.int64),  # breaches that stop quoting for the session
        ("take_profit_mask", np.int64),  # breaches that run the take-profit sequence
        ("flatten_all_mask", np.int64),  # breaches that flatten the whole position
        ("flatten_to_threshold_mask", np.int64),  # ... down to the recovery threshold
        ("streak_restart_mask", np.int64),  # breaches whose pause restarts the losing streak
        ("recovery_enabled", np.int64),
        ("flatten_enabled", np.int64),
        ("take_profit_halts", np.int64),
        ("recovery_cooldown_ns", np.int64),
        ("recovery_check_interval_ns", np.int64),
        ("gradual_recovery_steps", np.int64),
        ("recovery_threshold_ratio", np.float64),  # of the position and notional limits
        ("take_profit_interval_ns", np.int64),  # between two take-profit attempts
        ("take_profit_book_timeout_ns", np.int64),  # wait for a fresh book after the cancel
        ("flatten_slippage_ratio", np.float64),  # flatten limit this far through the touch
        ("lot_tick_value_quote", np.float64),  # quote currency per tick per lot
        ("large_position_lots", np.int64),  # above: check at the fast interval
        ("small_position_lots", np.int64),  # below: check at the slow interval
        ("check_interval_ns", np.int64),
        ("check_fast_interval_ns", np.int64),
        ("check_slow_interval_ns", np.int64),
    ],
    align=True,
)
DECISION_PARAMS_T = _array_type(DECISION_PARAMS)

#: Whether quoting is allowed, and the risk state machine's memory (one row). Written only by
#: ``risk_step`` and the owner's ``ready`` switch (live: ``engine._gate.QuoteGate``).
#: ``*_ns`` times are on the caller's decision clock; ``tp_*`` describe a take profit under way.
GATE_STATE = np.dtype(
    [
        ("ready", np.int64),  # connected and reconciled (the session's switch)
        ("halted", np.int64),
        ("stopped", np.int64),  # halted for the rest of the session
        ("paused", np.int64),  # a take profit runs: quote nothing meanwhile
        ("recovering", np.int64),
        ("recovery_step", np.int64),
        ("halt_mask", np.int64),  # breaches behind the last halt
        ("last_mask", np.int64),  # breaches of the previous check
        ("streak_start_trips", np.int64),  # round trips when the losing streak restarted
        ("breach_count", np.int64),
        ("cooldown_until_ns", np.int64),
        ("last_recovery_check_ns", np.int64),
        ("take_profit_next_ns", np.int64),
        ("tp_phase", np.int64),  # codes.TP_*
        ("tp_lots", np.int64),  # signed position the take profit closes
        ("tp_entry_ticks", np.float64),  # its average entry
        ("tp_mask", np.int64),
        ("tp_started_ns", np.int64),
        ("tp_book_updates", np.int64),  # book updates seen when the quotes were pulled
        ("tp_deadline_ns", np.int64),  # stop waiting for a fresh book at this time
    ],
    align=True,
)
GATE_STATE_T = _array_type(GATE_STATE)

#: The quoter's pacing (one row, written by ``pacing_due`` / ``pacing_inline`` /
#: ``engine_cycle``). ``*_ns`` on the pacing clock; ``market_seen`` counts book updates.
PACING_STATE = np.dtype(
    [
        ("last_cycle_ns", np.int64),
        ("refresh_due_ns", np.int64),  # a cycle is due at this time whatever happened
        ("market_seen", np.int64),  # book updates seen by the last cycle
        ("held", np.int64),  # a due cycle waits for the pacing to end
        ("fresh_wait_until_ns", np.int64),  # 0: not waiting for a fresh book
        ("updates_at_pace_end", np.int64),
        ("wake_ns", np.int64),  # when to ask again (after PACE_WAIT / PACE_BUSY)
        ("levels", np.int64),  # levels per side the last engine_cycle quoted
    ],
    align=True,
)
PACING_STATE_T = _array_type(PACING_STATE)

#: A token bucket (one row): ``rate_per_s`` tokens a second, burst of one second.
BUCKET_STATE = np.dtype(
    [("rate_per_s", np.float64), ("tokens", np.float64), ("updated_ns", np.int64)], align=True
)
BUCKET_STATE_T = _array_type(BUCKET_STATE)

#: What ``risk_step`` sees (one row, written by the caller before each call). ``book_updates``
#: counts book updates (a newer value means a fresh book); ``abort`` = 1 ends a sequence whose
#: actions the caller could not carry out.
RISK_INPUTS = np.dtype(
    [
        ("now_ns", np.int64),
        ("position_lots", np.int64),
        ("cost_ticks_lots", np.int64),  # POSITION.cost_ticks_lots
        ("mark_ticks", np.float64),  # NaN: unknown
        ("equity_quote", np.float64),  # NaN skips the drawdown check
        ("round_trip_count", np.int64),
        ("losing_streak", np.int64),  # POSITION.losing_streak
        ("best_bid_ticks", np.int64),  # <= 0: side missing
        ("best_ask_ticks", np.int64),
        ("collar_low_ticks", np.float64),  # <= 0: unknown
        ("collar_high_ticks", np.float64),
        ("book_updates", np.int64),
        ("abort", np.int64),
    ],
    align=True,
)
RISK_INPUTS_T = _array_type(RISK_INPUTS)

#: What ``risk_step`` decided (one row, rewritten by every call). Carry out in this order:
#: ``cancel_all`` (pull every quote), then the flatten (a reduce-only IOC limit of
#: ``flatten_lots``, signed: > 0 sells a long), then wake the quoter; then call again as
#: ``call_again`` (a ``codes.RISK_CALL_*``) says.
RISK_ACTION = np.dtype(
    [
        ("mask", np.int64),  # breaches of this check (0 when a sequence continued)
        ("new_mask", np.int64),  # ... not present at the previous check
        ("events", np.int64),  # codes.EVENT_* bits (what to log and count)
        ("cancel_all", np.int64),
        ("cancel_mask", np.int64),  # the breaches the cancel is for
        ("flatten_lots", np.int64),
        ("flatten_limit_ticks", np.int64),
        ("flatten_kind", np.int64),  # codes.FLATTEN_*
        ("flatten_mask", np.int64),
        ("wake_quoter", np.int64),
        ("levels_allowed", np.int64),  # by the risk state after this step
        ("phase", np.int64),  # codes.TP_* after this step
        ("call_again", np.int64),  # codes.RISK_CALL_*
        ("deadline_ns", np.int64),  # RISK_CALL_AFTER_BOOK: call at the latest then
        ("next_check_ns", np.int64),  # the next periodic check (adaptive interval)
    ],
    align=True,
)
RISK_ACTION_T = _array_type(RISK_ACTION)

#: ``(params, gate, pacing)``: the decision arrays ``engine_cycle`` reads (gate) and writes
#: (``pacing.levels``).
DECISION_T = numba.types.Tuple((DECISION_PARAMS_T, GATE_STATE_T, PACING_STATE_T))
#: ``(time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots, position_lots)``:
#: the book and position ``engine_cycle`` quotes on (a price ``<= 0`` means that side is missing).
CYCLE_BOOK_T = numba.types.UniTuple(numba.int64, 6)
#: ``(time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots)``: the book
#: ``engine_tick`` quotes on (the position it reads from the ``POSITION`` table itself).
TICK_BOOK_T = numba.types.UniTuple(numba.int64, 5)
