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
