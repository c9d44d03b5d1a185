"""Where the quoting strategy keeps its state: regions of the run's float64 ``scratch``.

A backtest strategy keeps its state in ``scratch`` (``layout.HANDLE``). The quoting strategy
needs the engine's record arrays there, so ``scratch`` is cut into regions, each viewed as one
record array (``region``); ``params[2r]`` holds the offset of region ``r`` in float64 words and
``params[2r + 1]`` its row count (written by ``quoting_state.QuotingState``). Every record is a
whole number of 8-byte words with 8-byte alignment, so the views are exact.
"""

from __future__ import annotations

import numpy as np

from qengine.kernels._jit import helper
from qengine.kernels.dtypes import (
    ACTION,
    BUCKET_STATE,
    DECISION_PARAMS,
    FILL,
    GATE_STATE,
    INTENSITY_STATE,
    LOT,
    MARKET_SAMPLE,
    ORDER,
    PACING_STATE,
    POSITION,
    QUOTE,
    QUOTE_DIAG,
    QUOTE_PARAMS,
    RING_CURSOR,
    RISK_ACTION,
    RISK_INPUTS,
    RISK_LIMITS,
    RISK_STATE,
    VOL_RETURN,
    VOL_STATE,
)

from .layout import F8A, I8, QUOTING_RECORD_DTYPE
from .quoting_decisions import DECISION_DTYPE

_I64 = np.dtype(np.int64)
_F64 = np.dtype(np.float64)

#: The regions, in order: (name, record dtype).
REGIONS = (
    ("quote_params", QUOTE_PARAMS), ("bid_mult", _F64), ("ask_mult", _F64),
    ("samples", MARKET_SAMPLE), ("cursor", RING_CURSOR), ("vol_state", VOL_STATE),
    ("vol_returns", VOL_RETURN), ("intensity", INTENSITY_STATE), ("quotes", QUOTE),
    ("diag", QUOTE_DIAG), ("orders", ORDER), ("actions", ACTION), ("positions", POSITION),
    ("lots", LOT), ("seen_ids", _I64), ("seen_cursor", RING_CURSOR), ("fill_row", FILL),
    ("records", QUOTING_RECORD_DTYPE), ("vars", _I64), ("decision_params", DECISION_PARAMS),
    ("gate", GATE_STATE), ("pacing", PACING_STATE), ("bucket", BUCKET_STATE),
    ("risk_limits", RISK_LIMITS), ("risk_state", RISK_STATE), ("risk_inputs", RISK_INPUTS),
    ("risk_action", RISK_ACTION), ("decisions", DECISION_DTYPE),
)
(R_QPARAMS, R_BID_MULT, R_ASK_MULT, R_SAMPLES, R_CURSOR, R_VOL_STATE, R_VOL_RETURNS,
 R_INTENSITY, R_QUOTES, R_DIAG, R_ORDERS, R_ACTIONS, R_POSITIONS, R_LOTS, R_SEEN_IDS,
 R_SEEN_CURSOR, R_FILL_ROW, R_RECORDS, R_VARS, R_DECISION, R_GATE, R_PACING, R_BUCKET,
 R_RISK_LIMITS, R_RISK_STATE, R_RISK_INPUTS, R_RISK_ACTION, R_DECISIONS) = range(len(REGIONS))
#: Float64 words per row of each region.
WORDS = tuple(dtype.itemsize // 8 for _, dtype in REGIONS)

# Scalars of ``params`` after the region table.
_S = 2 * len(REGIONS)
(P_AMEND_THRESHOLD_TICKS, P_INTENSITY_HALF_LIFE_S, P_RECORD_EVERY_NS, P_LOT_TICK_VALUE,
 P_DRAWDOWN_BASE_QUOTE) = range(_S, _S + 5)
PARAMS_SIZE = _S + 5

# The ``vars`` region (int64): counters and what the strategy remembers between wake-ups.
(V_NEXT_ID, V_FILL_CURSOR, V_CYCLES, V_N_REC, V_NEXT_REC_NS, V_BOOK_TIME_NS, V_BOOK_BID,
 V_BOOK_ASK, V_BOOK_BID_LOTS, V_BOOK_ASK_LOTS, V_BOOK_UPDATES, V_TRADED_LOTS, V_RISK_MASK,
 V_RATE_LIMITED, V_FLATTEN_ORDERS, V_N_QUOTES, V_TABLE_FULL, V_SEND_ERRORS, V_FILL_ERRORS,
 V_GATED_INSERTS, V_RISK_CALL, V_RISK_BOOK_UPDATES, V_NEXT_CHECK_NS, V_PACE_FLAGS, V_RUNG,
 V_IN_FLIGHT, V_REJECTS_SEEN, V_N_DECISIONS, V_CANCEL_ALL_NS) = range(29)
VARS_SIZE = 32

#: Client order id = sequence << LEVEL_BITS | level (a quote's ladder level, or the flatten
#: level ``codes.LEVEL_MAX``), so the order mirror knows each order's level.
LEVEL_BITS = 8
LEVEL_MASK = (1 << LEVEL_BITS) - 1


@helper(F8A(F8A, F8A, I8, I8, I8), inline=True)
def region(scratch, params, index, words, dtype):
    """Region ``index`` of ``scratch`` viewed as ``dtype`` rows of ``words`` float64 words."""
    start = np.int64(params[2 * index])
    return scratch[start:start + np.int64(params[2 * index + 1]) * words].view(dtype)
