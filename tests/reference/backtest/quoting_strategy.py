"""Twin of ``qengine.backtest.quoting_strategy.quote_strategy``: one wake-up of qengine's
quoting, written out in plain Python on the same handle arrays, with the kernels' own twins
(``tests/reference``) in place of the kernels.

The local order table is read into dicts and written back; requests are appended to the outbox
as ``qengine.backtest.local`` would (same codes, same checks). Only the layout constants (where
each region sits in ``scratch``) are shared with the kernel.
"""

from __future__ import annotations

import math

import numpy as np

from qengine.backtest import layout as L
from qengine.backtest import quoting_layout as ql
from qengine.kernels import codes
from tests.reference import decision, intensity, position, risk_actions

FIELDS = L.ORDER_DTYPE.names


def _region(h, name):
    index = [n for n, _ in ql.REGIONS].index(name)
    dtype = ql.REGIONS[index][1]
    start, count = int(h[6][2 * index]), int(h[6][2 * index + 1])
    return h[7][start:start + count * dtype.itemsize // 8].view(dtype)


class _Local:
    """The strategy's side of the backtester: order table, outbox and the request rules."""

    def __init__(self, h):
        self.h = h
        ist, lo = h[0], h[2]
        self.orders = [{f: lo[i][f].item() for f in FIELDS} for i in range(int(ist[L.I_N_LOCAL]))]

    def find(self, oid):
        return next((o for o in self.orders if o["order_id"] == oid), None)

    def _out(self, o):
        ist, box = self.h[0], self.h[3]
        box[int(ist[L.I_N_OUTBOX])] = tuple(o[f] for f in FIELDS)
        ist[L.I_N_OUTBOX] += 1

    def submit(self, oid, side, price, qty, tif):
        ist = self.h[0]
        if qty <= 0 or self.find(oid) is not None:
            return -1
        o = dict.fromkeys(FIELDS, 0)
        o.update(order_id=oid, side=side, price_tick=price, qty_lots=qty, leaves_lots=qty,
                 tif=tif, ord_type=L.LIMIT, status=L.ST_NONE, req=L.ST_NEW,
                 local_ts=int(ist[L.I_NOW]), front_q=0.0, cum_trade=0.0)
        self.orders.append(o)
        ist[L.I_ORDERS] += 1
        self._out(o)
        return 0

    def modify(self, oid, price, qty):
        o = self.find(oid)
        if o is None or qty <= 0 or o["req"] != L.ST_NONE:
            return -1
        o.update(price_tick=price, qty_lots=qty, req=L.ST_REPLACED,
                 local_ts=int(self.h[0][L.I_NOW]))
        self.h[0][L.I_MODIFIES] += 1
        self._out(o)
        return 0

    def cancel(self, oid):
        o = self.find(oid)
        if o is None or o["req"] != L.ST_NONE:
            return -1
        o.update(req=L.ST_CANCELED, local_ts=int(self.h[0][L.I_NOW]))
        self.h[0][L.I_CANCELS] += 1
        self._out(o)
        return 0

    def clear_inactive(self):
        # The table's own compaction: from the end, a closed row takes the last row's place.
        gone = (L.ST_FILLED, L.ST_CANCELED, L.ST_EXPIRED)
        orders = self.orders
        n = len(orders)
        for i in range(n - 1, -1, -1):
            if orders[i]["status"] in gone:
                n -= 1
                orders[i] = orders[n]
        del orders[n:]

    def in_flight(self):
        return sum(1 for o in self.orders if o["req"] != L.ST_NONE)

    def write(self):
        lo = self.h[2]
        for i, o in enumerate(self.orders):
            lo[i] = tuple(o[f] for f in FIELDS)
        self.h[0][L.I_N_LOCAL] = len(self.orders)


def _book_fills(h, v):
    ist, fst, fills = h[0], h[1], h[9]
    done, n = int(v[ql.V_FILL_CURSOR]), int(ist[L.I_N_FILL_LOG])
    row = _region(h, "fill_row")
    for i in range(done, n):
        f = fills[i]
        value = fst[L.F_CONTRACT] * int(f["price_tick"]) * fst[L.F_TICK] * int(f["qty_lots"]) \
            * fst[L.F_LOT]
        rate = fst[L.F_MAKER_FEE] if f["maker"] else fst[L.F_TAKER_FEE]
        row[0] = (i, 0, codes.SIDE_BUY if f["side"] > 0 else codes.SIDE_SELL,
                  int(f["price_tick"]), int(f["qty_lots"]), rate * value, int(f["maker"]),
                  int(f["local_ts"]))
        status = position.position_apply_fill(
            _region(h, "positions"), _region(h, "lots"), _region(h, "seen_ids"),
            _region(h, "seen_cursor"), row, 0, h[6][ql.P_LOT_TICK_VALUE])
        if status != codes.STATUS_OK:
            v[ql.V_FILL_ERRORS] += 1
        v[ql.V_TRADED_LOTS] += int(f["qty_lots"])
    v[ql.V_FILL_CURSOR] = max(n, done)
    return n - done


def _feed_trades(h):
    ist, trades = h[0], h[8]
    state = _region(h, "intensity")
    for t in trades[: int(ist[L.I_N_TRADES])]:
        bb, ba = int(t["best_bid_tick"]), int(t["best_ask_tick"])
        if bb in (L.INVALID_MIN, L.INVALID_MAX) or ba in (L.INVALID_MIN, L.INVALID_MAX) \
                or not 0 < bb < ba:
            continue
        side = codes.SIDE_BUY if t["side"] > 0 else codes.SIDE_SELL
        intensity.intensity_update(state, int(t["local_ts"]), int(t["price_tick"]),
                                   0.5 * (bb + ba), side, h[6][ql.P_INTENSITY_HALF_LIFE_S])
    ist[L.I_N_TRADES] = 0


def _observe_book(h, v):
    fst, book, bs = h[1], h[4], h[5]
    bb, ba = int(bs[L.BS_BEST_BID]), int(bs[L.BS_BEST_ASK])
    bid = 0 if bb == L.INVALID_MIN else bb
    ask = 0 if ba == L.INVALID_MAX else ba

    def lots(row, tick):
        if tick == 0:
            return 0
        return min(round(float(book[row, tick - bs[L.BS_BASE]] / fst[L.F_LOT])), codes.LOTS_MAX)

    touch = (bid, ask, lots(0, bid), lots(1, ask))
    keys = (ql.V_BOOK_BID, ql.V_BOOK_ASK, ql.V_BOOK_BID_LOTS, ql.V_BOOK_ASK_LOTS)
    if tuple(int(v[k]) for k in keys) == touch:
        return False
    for k, value in zip(keys, touch, strict=True):
        v[k] = value
    v[ql.V_BOOK_TIME_NS] = h[0][L.I_NOW]
    v[ql.V_BOOK_UPDATES] += 1
    return True


def _cancel_after_replies(v, local):
    """Cancel the orders whose insert/amend left before the cancel-all once their reply is in."""
    since = int(v[ql.V_CANCEL_ALL_NS])
    if since == 0:
        return
    before = [o for o in local.orders if o["local_ts"] < since]
    for o in before:
        if o["req"] == L.ST_NONE and o["status"] in (L.ST_NEW, L.ST_PARTIAL):
            local.cancel(o["order_id"])
    if not any(o["req"] in (L.ST_NEW, L.ST_REPLACED) for o in before):
        v[ql.V_CANCEL_ALL_NS] = 0


def _risk(h, v, local):
    now = int(h[0][L.I_NOW])
    action = _region(h, "risk_action")
    call = int(v[ql.V_RISK_CALL])
    if call == codes.RISK_CALL_NEXT_CHECK:
        due = now >= v[ql.V_NEXT_CHECK_NS]
    elif call == codes.RISK_CALL_AFTER_ACTIONS:
        due = local.in_flight() == 0
    else:
        due = v[ql.V_BOOK_UPDATES] > v[ql.V_RISK_BOOK_UPDATES] or now >= action[0]["deadline_ns"]
    if not due:
        return 0
    ring = 0
    for _ in range(8):
        p = _region(h, "positions")[0]
        bid, ask = int(v[ql.V_BOOK_BID]), int(v[ql.V_BOOK_ASK])
        mark = 0.5 * (bid + ask) if 0 < bid < ask else math.nan
        upnl = position.position_unrealised(_region(h, "positions"), _region(h, "lots"), 0, mark,
                                            h[6][ql.P_LOT_TICK_VALUE])
        equity = (h[6][ql.P_DRAWDOWN_BASE_QUOTE] + p["realised_pnl_quote"]
                  - p["maker_fees_quote"] - p["taker_fees_quote"] + p["funding_quote"]
                  + (upnl if math.isfinite(upnl) else 0.0))
        _region(h, "risk_inputs")[0] = (
            now, p["position_lots"], p["cost_ticks_lots"], mark, equity, p["round_trip_count"],
            p["losing_streak"], bid, ask, 0.0, 0.0, v[ql.V_BOOK_UPDATES], 0)
        call = risk_actions.risk_step(
            _region(h, "decision_params"), _region(h, "risk_limits"), _region(h, "risk_state"),
            _region(h, "gate"), _region(h, "risk_inputs"), action)
        a = action[0]
        v[ql.V_RISK_MASK] = a["mask"]
        sent = 0
        if a["cancel_all"]:
            for o in list(local.orders):
                if o["req"] == L.ST_NONE and o["status"] in (L.ST_NEW, L.ST_PARTIAL):
                    sent += local.cancel(o["order_id"]) == 0
            v[ql.V_CANCEL_ALL_NS] = now
            _cancel_after_replies(v, local)
        lots = int(a["flatten_lots"])
        held = int(h[0][L.I_POS_LOTS])
        size = min(abs(lots), held if lots > 0 else -held)  # reduce-only
        if lots and size > 0 and a["flatten_limit_ticks"] > 0:
            oid = (int(v[ql.V_NEXT_ID]) << ql.LEVEL_BITS) | codes.LEVEL_MAX
            v[ql.V_NEXT_ID] += 1
            if local.submit(oid, -1 if lots > 0 else 1, int(a["flatten_limit_ticks"]), size,
                            L.IOC) == 0:
                v[ql.V_FLATTEN_ORDERS] += 1
                sent += 1
            else:
                v[ql.V_SEND_ERRORS] += 1
        if a["wake_quoter"]:
            ring = codes.PACE_FLAG_CHANGED
        v[ql.V_RISK_BOOK_UPDATES] = v[ql.V_BOOK_UPDATES]
        if call == codes.RISK_CALL_NEXT_CHECK:
            v[ql.V_NEXT_CHECK_NS] = a["next_check_ns"]
        if not (call == codes.RISK_CALL_AFTER_ACTIONS and sent == 0 and local.in_flight() == 0):
            break
    v[ql.V_RISK_CALL] = call
    return ring


def _mirror(local):
    rows = []
    for o in local.orders:
        if o["req"] == L.ST_NONE and o["status"] not in (L.ST_NEW, L.ST_PARTIAL):
            continue
        status = {L.ST_NEW: codes.ORDER_PENDING_INSERT, L.ST_REPLACED: codes.ORDER_PENDING_AMEND,
                  L.ST_CANCELED: codes.ORDER_PENDING_CANCEL}.get(o["req"], codes.ORDER_OPEN)
        filled = 0 if o["req"] == L.ST_NEW else max(o["qty_lots"] - o["leaves_lots"], 0)
        amount = o["qty_lots"]
        if o["req"] == L.ST_REPLACED:  # the old remaining rests until the amend lands
            amount, filled = o["leaves_lots"], 0
        rows.append((o["order_id"], o["order_id"], 0,
                     codes.SIDE_BUY if o["side"] > 0 else codes.SIDE_SELL,
                     o["order_id"] & ql.LEVEL_MASK, status, o["price_tick"], amount,
                     filled, filled, o["price_tick"], o["qty_lots"], o["local_ts"],
                     o["local_ts"]))
    return rows


def _quote(h, v, local, now):
    table = _region(h, "orders")
    rows = _mirror(local)
    table["status"] = codes.ORDER_EMPTY
    for k, row in enumerate(rows[: len(table)]):
        table[k] = row
    v[ql.V_TABLE_FULL] += max(len(rows) - len(table), 0)
    dp, gate, pacing = _region(h, "decision_params"), _region(h, "gate"), _region(h, "pacing")
    setup = tuple(_region(h, n) for n in ("quote_params", "bid_mult", "ask_mult"))
    state = tuple(_region(h, n) for n in ("samples", "cursor", "vol_state", "vol_returns",
                                          "intensity"))
    quotes, diag, actions = _region(h, "quotes"), _region(h, "diag"), _region(h, "actions")
    book = (*(int(v[k]) for k in (ql.V_BOOK_TIME_NS, ql.V_BOOK_BID, ql.V_BOOK_ASK,
                                  ql.V_BOOK_BID_LOTS, ql.V_BOOK_ASK_LOTS)),
            int(h[0][L.I_POS_LOTS]))
    n = decision.engine_cycle((dp, gate, pacing), now, setup, state, book, (quotes, diag), table,
                              0, int(h[6][ql.P_AMEND_THRESHOLD_TICKS]), actions)
    v[ql.V_CYCLES] += 1
    log = _region(h, "decisions")
    if len(log):
        log[int(v[ql.V_N_DECISIONS])] = np.zeros((), log.dtype)
        row = log[int(v[ql.V_N_DECISIONS])]
        d = diag[0]
        for name, value in zip(
                ("wake_ns", "time_ns", "best_bid_tick", "best_ask_tick", "best_bid_lots",
                 "best_ask_lots", "position_lots", "levels_allowed", "status", "flags",
                 "quote_count", "n_actions"),
                (now, *book, pacing[0]["levels"], d["status"], d["flags"], d["quote_count"], n),
                strict=True):
            row[name] = value
        for name in ("sigma_per_sqrt_s", "a_bid_per_s", "kappa_bid_per_tick", "a_ask_per_s",
                     "kappa_ask_per_tick", "bid_inflight_lots", "ask_inflight_lots"):
            row[name] = d[name]
        for q in quotes[: d["quote_count"]]:
            side = "bid" if q["side"] == codes.SIDE_BUY else "ask"
            row[f"{side}_price_ticks"][q["level"]] = q["price_ticks"]
            row[f"{side}_size_lots"][q["level"]] = q["size_lots"]
        v[ql.V_N_DECISIONS] += 1
    v[ql.V_N_QUOTES] = diag[0]["quote_count"] if pacing[0]["levels"] > 0 else 0
    if n <= 0:
        return
    granted = decision.bucket_take(_region(h, "bucket"), now, n)
    v[ql.V_RATE_LIMITED] += n - granted
    levels = decision.gate_levels_allowed(dp, gate) if gate[0]["ready"] else 0
    for a in actions[:granted]:
        side = 1 if a["side"] == codes.SIDE_BUY else -1
        if a["kind"] == codes.ACTION_INSERT:
            if a["level"] >= levels:
                v[ql.V_GATED_INSERTS] += 1
                continue
            oid = (int(v[ql.V_NEXT_ID]) << ql.LEVEL_BITS) | int(a["level"])
            v[ql.V_NEXT_ID] += 1
            code = local.submit(oid, side, int(a["price_ticks"]), int(a["size_lots"]), L.GTX)
        elif a["kind"] == codes.ACTION_AMEND:
            row = table[a["slot"]]
            code = local.modify(int(row["client_order_id"]), int(a["price_ticks"]),
                                int(a["size_lots"]) - int(row["filled_lots"]))
        else:
            code = local.cancel(int(table[a["slot"]]["client_order_id"]))
        if code != 0:
            v[ql.V_SEND_ERRORS] += 1


def _record(h, v, local):
    ist, fst, bs = h[0], h[1], h[5]
    records = _region(h, "records")
    bb, ba = int(bs[L.BS_BEST_BID]), int(bs[L.BS_BEST_ASK])
    valid = bb != L.INVALID_MIN and ba != L.INVALID_MAX
    mid = (bb + ba) / 2 if valid else math.nan
    quotes = _region(h, "quotes")[: int(v[ql.V_N_QUOTES])]
    bids = [int(q["price_ticks"]) for q in quotes if q["side"] == 0 and q["size_lots"] > 0]
    asks = [int(q["price_ticks"]) for q in quotes if q["side"] == 1 and q["size_lots"] > 0]
    bid0 = max(bids) if bids else math.nan
    ask0 = min(asks) if asks else math.nan
    balance = fst[L.F_BALANCE] - fst[L.F_FEE]
    pos = int(ist[L.I_POS_LOTS])
    levels = decision.gate_levels(_region(h, "decision_params"), _region(h, "gate"),
                                  int(ist[L.I_NOW]), int(v[ql.V_BOOK_TIME_NS]))
    records[int(v[ql.V_N_REC])] = (
        ist[L.I_NOW], bb if bb != L.INVALID_MIN else 0, ba if ba != L.INVALID_MAX else 0, mid,
        pos, balance, fst[L.F_FEE],
        balance + fst[L.F_CONTRACT] * pos * fst[L.F_LOT] * mid * fst[L.F_TICK],
        v[ql.V_TRADED_LOTS], fst[L.F_TRADED_VALUE],
        sum(1 for o in local.orders if o["status"] in (L.ST_NEW, L.ST_PARTIAL)), bid0, ask0,
        _region(h, "diag")[0]["sigma_per_sqrt_s"], ask0 - bid0, levels, v[ql.V_RISK_MASK])
    v[ql.V_N_REC] += 1


def _request_wake(h, v, now):
    """The earliest timer after now: quoter wake/refresh, risk check or deadline, recorder."""
    pacing = _region(h, "pacing")[0]
    call = int(v[ql.V_RISK_CALL])
    risk_at = {codes.RISK_CALL_NEXT_CHECK: int(v[ql.V_NEXT_CHECK_NS]),
               codes.RISK_CALL_AFTER_BOOK: int(_region(h, "risk_action")[0]["deadline_ns"]),
               }.get(call, 0)
    timers = [int(v[ql.V_NEXT_REC_NS]), int(pacing["wake_ns"]), int(pacing["refresh_due_ns"]),
              risk_at]
    h[0][L.I_WAKE_AT] = min((t for t in timers if t > now), default=0)


def quote_strategy(h):
    ist = h[0]
    v = _region(h, "vars")
    now = int(ist[L.I_NOW])
    flags = codes.PACE_FLAG_FILL if _book_fills(h, v) > 0 else 0
    _feed_trades(h)
    local = _Local(h)
    local.clear_inactive()
    _cancel_after_replies(v, local)
    updated = _observe_book(h, v)
    in_flight = local.in_flight()
    if in_flight < v[ql.V_IN_FLIGHT] or ist[L.I_REJECTS] != v[ql.V_REJECTS_SEEN]:
        flags |= codes.PACE_FLAG_CHANGED
    v[ql.V_REJECTS_SEEN] = ist[L.I_REJECTS]
    flags |= _risk(h, v, local)
    v[ql.V_PACE_FLAGS] |= flags
    if flags:
        v[ql.V_RUNG] = 1
    if v[ql.V_BOOK_TIME_NS] > 0:
        dp, pacing = _region(h, "decision_params"), _region(h, "pacing")
        cycle = False
        if updated:
            answer = decision.pacing_inline(dp, pacing, now, int(v[ql.V_BOOK_UPDATES]),
                                            local.in_flight() > 0)
            cycle = answer == codes.INLINE_CYCLE
            if answer == codes.INLINE_WAKE:
                v[ql.V_RUNG] = 1
        if not cycle and (v[ql.V_RUNG] or now >= pacing[0]["wake_ns"]):
            v[ql.V_RUNG] = 0
            answer = decision.pacing_due(dp, pacing, now, int(v[ql.V_BOOK_UPDATES]),
                                         int(v[ql.V_PACE_FLAGS]))
            cycle = answer in (codes.PACE_CYCLE, codes.PACE_CYCLE_FRESH)
        if cycle:
            v[ql.V_PACE_FLAGS] = 0
            _quote(h, v, local, now)
    v[ql.V_IN_FLIGHT] = local.in_flight()
    local.write()
    full = False
    if now >= v[ql.V_NEXT_REC_NS]:
        every = int(h[6][ql.P_RECORD_EVERY_NS])
        _record(h, v, local)
        v[ql.V_NEXT_REC_NS] = (now // every + 1) * every
        full = v[ql.V_N_REC] >= int(h[6][2 * ql.R_RECORDS + 1])
    _request_wake(h, v, now)
    if full:
        return L.STRATEGY_YIELD
    if 0 < v[ql.V_N_DECISIONS] >= int(h[6][2 * ql.R_DECISIONS + 1]):
        return L.STRATEGY_YIELD
    return 0
