"""Array layouts shared by the backtest kernels: the order record, state slots and codes.

All backtest state lives in numpy arrays so that one cached kernel runs a whole backtest and a
Python wrapper can grow or stream them between calls. Codes follow hftbacktest's numbering
(status, request, time in force) so that orders read the same in both engines.
"""

from __future__ import annotations

import numba
import numpy as np

from .events import EVENT_DTYPE

# One order, as the local side, the exchange side and the latency pipes hold it.
ORDER_DTYPE = np.dtype(
    [
        ("order_id", "<i8"),
        ("side", "<i8"),  # +1 buy, -1 sell
        ("price_tick", "<i8"),
        ("qty_lots", "<i8"),
        ("leaves_lots", "<i8"),
        ("exec_lots", "<i8"),
        ("exec_price_tick", "<i8"),
        ("tif", "<i8"),
        ("ord_type", "<i8"),
        ("status", "<i8"),
        ("req", "<i8"),
        ("local_ts", "<i8"),
        ("exch_ts", "<i8"),
        ("maker", "<i8"),
        ("pipe_ts", "<i8"),  # arrival time while the order travels in a latency pipe
        ("front_q", "<f8"),  # quantity ahead in the queue (exchange side), in qty units
        ("cum_trade", "<f8"),  # trade qty at our price since the last depth change
    ],
    align=True,
)

# Status and request codes (hftbacktest's values).
ST_NONE, ST_NEW, ST_EXPIRED, ST_FILLED, ST_CANCELED, ST_PARTIAL, ST_REJECTED, ST_REPLACED = (
    0, 1, 2, 3, 4, 5, 6, 7,
)
# Time in force and order type.
GTC, GTX, FOK, IOC = 0, 1, 2, 3
LIMIT, MARKET = 0, 1
BUY, SELL = 1, -1

INVALID_MIN = np.iinfo(np.int64).min
INVALID_MAX = np.iinfo(np.int64).max

# Book scalars (one int64[5] per book): best bid/ask ticks, lowest bid and highest ask ever set
# since the side was last empty, and the tick of column 0 of the book arrays.
BS_BEST_BID, BS_BEST_ASK, BS_LOW_BID, BS_HIGH_ASK, BS_BASE = 0, 1, 2, 3, 4
BS_SIZE = 5

# Queue models and exchange kinds.
QUEUE_RISK_AVERSE, QUEUE_POWER_PROB = 0, 1
EXCHANGE_NO_PARTIAL, EXCHANGE_PARTIAL = 0, 1

# Integer state (int64 array ``ist``): clocks, cursors, counters, settings.
(
    I_NOW, I_START_TS, I_POS_LOTS, I_CASH, I_VERSION,
    I_LOCAL_ROW, I_EXCH_ROW, I_LOCAL_SCANNED, I_EXCH_SCANNED,
    I_N_LOCAL, I_N_EXCH, I_N_OUTBOX,
    I_TOEX_HEAD, I_TOEX_COUNT, I_TOEX_LAST, I_TOLO_HEAD, I_TOLO_COUNT, I_TOLO_LAST,
    I_ORDERS, I_CANCELS, I_MODIFIES, I_REJECTS, I_FILLS, I_DROPPED,
    I_EVENTS, I_WAKE_UPS, I_N_FILL_LOG, I_N_REC, I_NEXT_REC_TS,
    I_IN_GOTO, I_TARGET, I_RESULT, I_STOP,
    I_MODE, I_INTERVAL_NS, I_TIMEOUT_NS, I_WAKE_ON_RESP, I_QUEUE, I_EXCHANGE, I_INVERSE,
    I_ENTRY_NS, I_RESP_NS, I_LAT_ROW, I_RECORD_EVERY_NS, I_NEED_TICK, I_FINAL, I_SEEN_ROWS,
    I_N_TRADES, I_WAKE_AT, I_NO_STRATEGY,
) = range(50)
I_SIZE = 50
# ``ist[I_NO_STRATEGY]`` 1: a replay without a strategy; the runner counts and records wake-ups
# but calls nothing (a call passes the ~70 words of ``HANDLE``: most of an idle wake-up's cost).

# Float state (float64 array ``fst``).
(
    F_BALANCE, F_FEE, F_TRADED_VALUE, F_TICK, F_LOT, F_CONTRACT, F_MAKER_FEE, F_TAKER_FEE,
    F_QUEUE_N,
) = range(9)
F_SIZE = 10

# Wake-up modes.
MODE_INTERVAL, MODE_FEED = 0, 1

# Why the runner returned.
RUN_END, RUN_NEED_DATA, RUN_GROW_BOOK, RUN_GROW_FILLS, RUN_FLUSH_RECORDER, RUN_STOPPED = (
    0, 1, 2, 3, 4, 5,
)
RUN_FULL = 6  # a latency pipe or order table is full (a setting too small for the strategy)
RUN_GROW_TRADES = 7  # the public-trade buffer is full
RUN_YIELD = 8  # the strategy asked its wrapper to run between two wake-ups (e.g. to drain)

#: A strategy's return value that hands control to the Python wrapper after this wake-up (its
#: requests are sent when the run resumes); any other non-zero value stops the run.
STRATEGY_YIELD = -1

# One fill as the local side received it.
FILL_DTYPE = np.dtype(
    [
        ("exch_ts", "<i8"), ("local_ts", "<i8"), ("order_id", "<i8"), ("side", "<i8"),
        ("price_tick", "<i8"), ("qty_lots", "<i8"), ("maker", "<i8"),
    ]
)

# One recorder row.
RECORD_DTYPE = np.dtype(
    [
        ("ts", "<i8"), ("mid", "<f8"), ("position", "<f8"), ("balance", "<f8"), ("fee", "<f8"),
        ("equity", "<f8"), ("open_orders", "<i8"),
    ]
)

# One row of qengine's quoting strategy's recorder (``qengine.backtest.quoting``): the state at
# the first wake-up of each record interval. Money in quote currency; ``balance`` is cash after
# fees, ``fee`` the fees paid so far (negative: rebates earned), ``equity = balance + position *
# mid * contract size``; ``bid0_tick`` / ``ask0_tick`` the best bid / ask of the ladder the last
# cycle decided (NaN: none quoted), ``sigma_per_sqrt_s`` the volatility it used (fraction of price
# per sqrt s), ``levels_allowed`` the levels per side it was allowed, ``risk_mask`` the breach
# bits of the last risk check (``qengine.kernels.codes.RISK_*``).
QUOTING_RECORD_DTYPE = np.dtype(
    [
        ("ts", "<i8"), ("best_bid_tick", "<i8"), ("best_ask_tick", "<i8"), ("mid_tick", "<f8"),
        ("position_lots", "<i8"), ("balance", "<f8"), ("fee", "<f8"), ("equity", "<f8"),
        ("traded_lots", "<i8"), ("traded_value", "<f8"), ("open_orders", "<i8"),
        ("bid0_tick", "<f8"), ("ask0_tick", "<f8"), ("sigma_per_sqrt_s", "<f8"),
        ("quoted_spread_ticks", "<f8"), ("levels_allowed", "<i8"), ("risk_mask", "<i8"),
    ]
)

# One public trade as the strategy's side received it (LOCAL trade rows, collected only when
# the run has a trade buffer), with the local book's touch at that moment (for the mid).
PUBLIC_TRADE_DTYPE = np.dtype(
    [
        ("local_ts", "<i8"), ("exch_ts", "<i8"), ("side", "<i8"),  # taker side +1 buy, -1 sell
        ("price_tick", "<i8"), ("qty", "<f8"), ("best_bid_tick", "<i8"),
        ("best_ask_tick", "<i8"),
    ]
)

ORDER_T = numba.from_dtype(ORDER_DTYPE)
ORDERS = ORDER_T[::1]
EVENTS = numba.from_dtype(EVENT_DTYPE)[::1]
FILLS = numba.from_dtype(FILL_DTYPE)[::1]
RECORDS = numba.from_dtype(RECORD_DTYPE)[::1]
TRADES = numba.from_dtype(PUBLIC_TRADE_DTYPE)[::1]
I8 = numba.types.int64
F8 = numba.types.float64
B1 = numba.types.boolean
I8A = numba.types.int64[::1]
F8A = numba.types.float64[::1]
BOOK = numba.types.float64[:, ::1]
OWN = numba.types.int64[:, ::1]

#: What a strategy receives at each wake-up: the local state and its outbox, then the public
#: trades received since its last wake-up (``trades[:ist[I_N_TRADES]]``; the strategy resets
#: the count) and the fill log (``fills[:ist[I_N_FILL_LOG]]``, read only). In feed mode a
#: strategy may set ``ist[I_WAKE_AT]`` (local ns, 0: none) to be woken by then at the latest.
HANDLE = numba.types.Tuple((I8A, F8A, ORDERS, ORDERS, BOOK, I8A, F8A, F8A, TRADES, FILLS))
#: A strategy: ``int64 strategy(handle)``; ``STRATEGY_YIELD`` returns to the wrapper, any other
#: non-zero return stops the run.
STRATEGY_SIG = I8(HANDLE)
STRATEGY = numba.types.FunctionType(STRATEGY_SIG)
