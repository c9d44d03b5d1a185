"""Integer codes shared by kernels and their callers. Each is documented with ``#:``."""

from __future__ import annotations

# --- sides ---------------------------------------------------------------------------------------
#: Buy side (bids).
SIDE_BUY = 0
#: Sell side (asks).
SIDE_SELL = 1

# --- kernel status codes (returned by kernels instead of raising) --------------------------------
#: The kernel did its work.
STATUS_OK = 0
#: Not enough data yet (e.g. fewer samples than required); outputs hold fallbacks.
STATUS_WARMING_UP = 1
#: An input was NaN, non-positive or otherwise unusable; state was left unchanged.
STATUS_BAD_INPUT = 2
#: A fixed-capacity array is full; nothing was written.
STATUS_FULL = 3
#: The requested item was not found.
STATUS_NOT_FOUND = 4
#: An input's timestamp was older than the state's last one; it was ignored, state unchanged.
STATUS_OUT_OF_ORDER = 5

# --- quoting models ------------------------------------------------------------------------------
#: Avellaneda-Stoikov finite horizon.
MODEL_AS = 0
#: Gueant-Lehalle-Fernandez-Tapia infinite-horizon closed form.
MODEL_GLFT = 1
#: The old bot's heuristic spread and linear skew, reproduced exactly.
MODEL_LEGACY = 2

# --- A-S horizon modes ---------------------------------------------------------------------------
#: tau is a fixed number of seconds.
HORIZON_FIXED = 0
#: tau is the time left until a session end (``session_end_ns``), floored at ``min_tau_s``.
HORIZON_SESSION_END = 1
#: tau restarts every ``horizon_s`` seconds (time left in the current rolling window).
HORIZON_ROLLING = 2

# --- volatility estimators -----------------------------------------------------------------------
#: EWMA of squared log returns per second.
VOL_EWMA = 0
#: Realised variance over a time window.
VOL_REALISED = 1

# --- quote pipeline (avellaneda.py / ladder.py / pipeline.py) ------------------------------------
#: Intensity (A, kappa) fitted from the trade tape, shrunk towards the priors.
INTENSITY_FIT = 0
#: Intensity fixed at ``prior_a_per_s`` / ``prior_kappa_per_tick`` (no fitting).
INTENSITY_FIXED = 1


#: ``QUOTE_DIAG.flags`` bit: a book side was missing or the book was crossed; no sample was pushed.
QUOTE_FLAG_BOOK_INVALID = 1
#: ``QUOTE_DIAG.flags`` bit: no fresh mid was available, so nothing was quoted.
QUOTE_FLAG_NO_MID = 2
#: ``QUOTE_DIAG.flags`` bit: bids suppressed at the long position limit.
QUOTE_FLAG_BIDS_GATED = 4
#: ``QUOTE_DIAG.flags`` bit: asks suppressed at the short position limit.
QUOTE_FLAG_ASKS_GATED = 8
#: ``QUOTE_DIAG.flags`` bit: the spread was widened to the tick or fee floor.
QUOTE_FLAG_SPREAD_FLOORED = 16
#: ``QUOTE_DIAG.flags`` bit: the spread was narrowed to ``max_spread_ticks``.
QUOTE_FLAG_SPREAD_CAPPED = 32
#: ``QUOTE_DIAG.flags`` bit: sigma came from the fallback (estimator warming up or unusable).
QUOTE_FLAG_SIGMA_FALLBACK = 64
#: ``QUOTE_DIAG.flags`` bit: at least one side's intensity fit fell back to the priors.
QUOTE_FLAG_INTENSITY_PRIOR = 128

# --- order table, position, risk (orders.py / position.py / risk.py) -----------------------------
# Extra kernel statuses use 10-19 so they never collide with codes other modules append.
#: A row with this key already exists (duplicate client order id or already-seen trade id);
#: nothing was changed.
STATUS_DUPLICATE = 10
#: A request for this order is already in flight; nothing was changed.
STATUS_BUSY = 11
#: The update is older than (or adds nothing to) the state, e.g. a reply for a closed order.
STATUS_STALE = 12
#: ``position_reconcile``: our position differed from the exchange's and was replaced by it.
STATUS_MISMATCH = 13

#: ``ORDER.status``: free row.
ORDER_EMPTY = 0
#: ``ORDER.status``: reserved, insert sent (or about to be), no reply yet. Live for risk.
ORDER_PENDING_INSERT = 1
#: ``ORDER.status``: resting on the exchange, nothing in flight.
ORDER_OPEN = 2
#: ``ORDER.status``: resting, an amend is in flight (``pending_*`` fields hold its target).
ORDER_PENDING_AMEND = 3
#: ``ORDER.status``: resting, a cancel is in flight. Still live until the exchange confirms.
ORDER_PENDING_CANCEL = 4
#: ``ORDER.status``: filled, cancelled or rejected; ``order_release`` frees it once the fills
#: it reports are booked (until then they still count for the position limit).
ORDER_CLOSED = 5

#: ``order_apply_update`` kind: the exchange reports the order live (insert ack, fill, existing).
ORDER_UPDATE_LIVE = 0
#: ``order_apply_update`` kind: the exchange confirms an amend (``change_reason == "amend"``).
ORDER_UPDATE_AMENDED = 1
#: ``order_apply_update`` kind: the order is closed (filled, cancelled, cancelled partially filled).
ORDER_UPDATE_CLOSED = 2
#: ``order_apply_update`` kind: our insert, amend or cancel request failed with an RPC error.
ORDER_UPDATE_REJECTED = 3

#: ``ACTION.kind``: insert a new order (``slot`` and ``client_order_id`` are -1).
ACTION_INSERT = 0
#: ``ACTION.kind``: amend ``slot`` to ``price_ticks`` and total amount ``size_lots``.
ACTION_AMEND = 1
#: ``ACTION.kind``: cancel ``slot``.
ACTION_CANCEL = 2

# Risk breach bits returned by ``risk_check`` (OR-ed together; 0 means no breach).
#: abs(position) above ``max_position_lots``.
RISK_MAX_POSITION = 1
#: abs(position) * mark above ``max_notional_quote``.
RISK_MAX_NOTIONAL = 2
#: Unrealised loss at or beyond ``stop_loss_pct`` of the cost basis.
RISK_STOP_LOSS = 4
#: Unrealised gain at or beyond ``take_profit_pct`` of the cost basis.
RISK_TAKE_PROFIT = 8
#: Unrealised gain at or beyond ``upnl_take_profit_quote``.
RISK_UPNL_TAKE_PROFIT = 16
#: Equity fell ``max_drawdown_pct`` or more below its peak.
RISK_MAX_DRAWDOWN = 32
#: ``max_consecutive_losses`` losing round trips in a row.
RISK_CONSECUTIVE_LOSSES = 64
#: A position is open but the mark price is missing or unusable; price checks were skipped.
RISK_NO_MARK = 128

# --- narrow record fields (dtypes.py: QUOTE, ORDER, MARKET_SAMPLE) -------------------------------
#: Largest ladder level an ``ORDER`` / ``QUOTE`` row holds (int8 field): at most 128 levels a side.
LEVEL_MAX = 127
#: Largest instrument index an ``ORDER`` row holds (int8 field).
INSTRUMENT_MAX = 127
#: Largest size in lots the int32 ``*_lots`` fields of ``ORDER``, ``QUOTE`` and ``MARKET_SAMPLE``
#: hold (2**31 - 1; e.g. 2.1 million BTC at a 0.001 BTC volume tick).
LOTS_MAX = 2_147_483_647

# --- decision.py / risk_actions.py ---------------------------------------------------------------
#: A time before any clock reading (``PACING_STATE.last_cycle_ns`` of an engine that never quoted).
NEVER_NS = -(2**62)

#: ``pacing_due`` flag bit: a fill arrived since the last cycle (quote at once).
PACE_FLAG_FILL = 1
#: ``pacing_due`` flag bit: something other than the book changed (order replies, risk, ...).
PACE_FLAG_CHANGED = 2
#: ``pacing_due`` flag bit: a cycle is running; a due cycle must wait for it.
PACE_FLAG_BUSY = 4
#: ``pacing_due``: nothing due; ask again at ``PACING_STATE.wake_ns`` or on a ring.
PACE_WAIT = 0
#: ``pacing_due``: run a cycle now (its start is recorded); not timed from the book.
PACE_CYCLE = 1
#: ``pacing_due``: run a cycle now on a book not quoted yet: tick-to-quote is measured from it.
PACE_CYCLE_FRESH = 2
#: ``pacing_due``: a cycle is due but one is running (BUSY): ask again when it ends.
PACE_BUSY = 3
#: ``pacing_inline``: no book to quote on (the read brought none, or it is quoted already).
INLINE_NONE = 0
#: ``pacing_inline``: not here (paced or busy): ring the quoter task instead.
INLINE_WAKE = 1
#: ``pacing_inline``: quote now, in the reader (its start is recorded).
INLINE_CYCLE = 2
#: ``order_batch_prepare``'s counts (a 1-D int64 array of ``BATCH_COUNTS`` slots): actions the
#: token bucket refused, inserts / amends / cancels marked in the table, inserts the table
#: refused, the last refusal's status, client order ids used.
BATCH_THROTTLED = 0
BATCH_INSERTS = 1
BATCH_AMENDS = 2
BATCH_CANCELS = 3
BATCH_REFUSED = 4
BATCH_REFUSED_STATUS = 5
BATCH_CLIENT_IDS = 6
BATCH_COUNTS = 7
#: ``engine_tick`` (inline): no book to quote on (``INLINE_NONE``); no cycle ran.
TICK_NONE = -1
#: ``engine_tick`` (inline): paced, ring the quoter task (``INLINE_WAKE``); no cycle ran.
TICK_WAKE = -2
#: ``engine_tick`` (inline): the cycle's start is recorded but the book has no time yet
#: (``time_ns == 0``): nothing to quote on, no cycle ran.
TICK_NO_BOOK = -3
#: ``ticker_tick``: the raw ticker frame is not one the wire decoder takes (the caller decodes
#: it the general way); nothing was written, no cycle ran.
TICK_FALLBACK = -4
#: ``ticker_decode``: the ticker was decoded into the output arrays.
WIRE_OK = 0
#: ``ticker_decode``: not a shape the wire decoder takes: decode the frame the general way.
WIRE_FALLBACK = 1

#: ``GATE_STATE.tp_phase``: no take profit under way.
TP_IDLE = 0
#: Take profit: quoting paused, the quotes are being pulled (the touch may have been ours).
TP_CANCELLING = 1
#: Take profit: quotes pulled; waiting for a book newer than the cancel (or the timeout).
TP_WAIT_BOOK = 2
#: Take profit: the touch still beat the entry; the flatten is being sent.
TP_FLATTENING = 3

#: ``RISK_ACTION.call_again``: the step is complete; call again at ``next_check_ns``.
RISK_CALL_NEXT_CHECK = 0
#: ``RISK_ACTION.call_again``: carry out the actions, then call again at once.
RISK_CALL_AFTER_ACTIONS = 1
#: ``RISK_ACTION.call_again``: call again once a book newer than now arrived, or at
#: ``deadline_ns``, whichever comes first.
RISK_CALL_AFTER_BOOK = 2

#: ``RISK_ACTION.flatten_kind``: no flatten.
FLATTEN_NONE = 0
#: Flatten the whole position (limit ``flatten_slippage`` through the touch, inside the collar).
FLATTEN_ALL = 1
#: Reduce the position to the recovery threshold (same limit).
FLATTEN_TO_THRESHOLD = 2
#: Take profit: close the position at the touch (only when it beats the entry).
FLATTEN_AT_TOUCH = 3

#: ``RISK_ACTION.events`` bit: a new halting breach (counted once per breach).
EVENT_BREACH = 1
#: ``RISK_ACTION.events`` bit: quoting stopped for the rest of the session.
EVENT_STOPPED = 2
#: ``RISK_ACTION.events`` bit: a position is open but the mark became unusable.
EVENT_NO_MARK = 4
#: ``RISK_ACTION.events`` bit: a take profit closes the position at the touch.
EVENT_TAKE_PROFIT = 8
#: ``RISK_ACTION.events`` bit: one more level of the gradual recovery.
EVENT_RECOVERY_STEP = 16
#: ``RISK_ACTION.events`` bit: the recovery is complete (every level again).
EVENT_RECOVERY_DONE = 32
