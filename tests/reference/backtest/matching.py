"""Twin of ``qengine.backtest.matching``: the exchange rules on a list of order dicts.

Each call reads the resting orders and the exchange book out of the arrays, applies the rule in
plain Python, and writes back the orders (sorted by id), the per-tick counts and every response
(in the response pipe, FIFO). Tests compare kernel and twin up to slot order.
"""

from __future__ import annotations

from qengine.backtest import layout as L

from . import book as book_twin
from . import pipes as pipes_twin
from . import queue as queue_twin

FIELDS = L.ORDER_DTYPE.names


def _orders(xo, ist):
    return [{f: xo[i][f].item() for f in FIELDS} for i in range(int(ist[L.I_N_EXCH]))]


def _write(xo, ist, own, bs, orders):
    own[:, :] = 0
    for i, o in enumerate(sorted(orders, key=lambda o: o["order_id"])):
        for f in FIELDS:
            xo[i][f] = o[f]
        own[0 if o["side"] == L.BUY else 1, o["price_tick"] - bs[L.BS_BASE]] += 1
    ist[L.I_N_EXCH] = len(orders)


def _respond(tolo, ist, lat, o):
    ts = o["exch_ts"] + pipes_twin.response_latency(ist, lat, o["exch_ts"])
    count, head, cap = int(ist[L.I_TOLO_COUNT]), int(ist[L.I_TOLO_HEAD]), len(tolo)
    if count >= cap:
        ist[L.I_DROPPED] += 1
        return
    if count:
        ts = max(ts, int(ist[L.I_TOLO_LAST]))
    pos = (head + count) % cap
    for f in FIELDS:
        tolo[pos][f] = o[f]
    tolo[pos]["pipe_ts"] = ts
    ist[L.I_TOLO_COUNT] = count + 1
    ist[L.I_TOLO_LAST] = ts


def _level(book, bs, row, tick):
    col = tick - int(bs[L.BS_BASE])
    return float(book[row, col]) if 0 <= col < book.shape[1] else 0.0


def _fill(o, ts, lots, maker, tick, tolo, ist, lat):
    o.update(maker=maker, exec_price_tick=o["price_tick"] if maker else tick, exec_lots=lots,
             leaves_lots=o["leaves_lots"] - lots, exch_ts=ts)
    o["status"] = L.ST_PARTIAL if o["leaves_lots"] > 0 else L.ST_FILLED
    _respond(tolo, ist, lat, dict(o))


def _take(o, ts, book, bs, fst, tolo, ist, lat):
    buy = o["side"] == L.BUY
    best = int(bs[L.BS_BEST_ASK] if buy else bs[L.BS_BEST_BID])
    if ist[L.I_EXCHANGE] != L.EXCHANGE_PARTIAL:
        _fill(o, ts, o["leaves_lots"], 0, best, tolo, ist, lat)
        return
    row, step, lot = (1, 1, fst[L.F_LOT]) if buy else (0, -1, fst[L.F_LOT])
    market = o["ord_type"] == L.MARKET
    if market:
        ticks = [best + step * i for i in range(100)]
    else:
        last = o["price_tick"] - step if o["tif"] == L.GTC else o["price_tick"]
        ticks = list(range(best, last + step, step))
    if o["tif"] == L.FOK and not market:
        cum, enough = 0.0, False
        for t in ticks:
            cum += _level(book, bs, row, t)
            if book_twin.rust_round(cum / lot) >= o["qty_lots"]:
                enough = True
                break
        if not enough:
            o.update(status=L.ST_EXPIRED, exch_ts=ts)
            return
    for t in ticks:
        if o["leaves_lots"] <= 0:
            return
        qty = _level(book, bs, row, t)
        lots = min(book_twin.rust_round(qty / lot), o["leaves_lots"]) if qty > 0 else 0
        if lots > 0:
            _fill(o, ts, lots, 0, t, tolo, ist, lat)
            if o["leaves_lots"] <= 0:
                return
    if o["tif"] == L.GTC and not market:
        _fill(o, ts, o["leaves_lots"], 0, o["price_tick"], tolo, ist, lat)
        return
    o.update(status=L.ST_EXPIRED, exch_ts=ts)


def _arrive(o, ts, orders, ist, fst, book, bs, tolo, lat):
    """Accept, reject or execute the new order ``o``; return it (responded) and orders."""
    o.update(req=L.ST_NONE, exch_ts=ts)
    if any(x["order_id"] == o["order_id"] for x in orders):
        o["req"] = L.ST_REJECTED
        _respond(tolo, ist, lat, o)
        return
    buy = o["side"] == L.BUY
    best = int(bs[L.BS_BEST_ASK] if buy else bs[L.BS_BEST_BID])
    empty = best in (L.INVALID_MAX, L.INVALID_MIN)
    market = o["ord_type"] == L.MARKET
    through = o["price_tick"] >= best if buy else o["price_tick"] <= best
    crosses = market or (not empty and through)
    if (market and empty) or (crosses and o["tif"] == L.GTX and not market):
        o["status"] = L.ST_EXPIRED
    elif crosses:
        _take(o, ts, book, bs, fst, tolo, ist, lat)
        if o["status"] != L.ST_EXPIRED:
            return
    elif o["tif"] in (L.IOC, L.FOK):
        o["status"] = L.ST_EXPIRED
    elif len(orders) >= ist_capacity(ist):
        o["req"] = L.ST_REJECTED
        ist[L.I_DROPPED] += 1
    else:
        o["status"] = L.ST_NEW
        o["front_q"] = _level(book, bs, 0 if buy else 1, o["price_tick"])
        o["cum_trade"] = 0.0
        orders.append(dict(o))
    _respond(tolo, ist, lat, o)


_CAPACITY = {}


def ist_capacity(ist):
    return _CAPACITY.get(id(ist), 1 << 30)


def exch_new(req, r, ts, xo, ist, fst, book, bs, own, tolo, lat):
    _CAPACITY[id(ist)] = len(xo)
    orders = _orders(xo, ist)
    o = {f: req[r][f].item() for f in FIELDS}
    _arrive(o, ts, orders, ist, fst, book, bs, tolo, lat)
    _write(xo, ist, own, bs, orders)
    for f in FIELDS:
        req[r][f] = o[f]
    return 0


def exch_cancel(req, r, ts, xo, ist, book, bs, own, tolo, lat):
    orders = _orders(xo, ist)
    oid = int(req[r]["order_id"])
    found = [x for x in orders if x["order_id"] == oid]
    if not found:
        o = {f: req[r][f].item() for f in FIELDS}
        o.update(req=L.ST_REJECTED, exch_ts=ts)
    else:
        o = found[0]
        orders.remove(o)
        o.update(req=L.ST_NONE, status=L.ST_CANCELED, exch_ts=ts)
    _respond(tolo, ist, lat, o)
    _write(xo, ist, own, bs, orders)
    return 0


def exch_modify(req, r, ts, xo, ist, fst, book, bs, own, tolo, lat):
    orders = _orders(xo, ist)
    o = {f: req[r][f].item() for f in FIELDS}
    found = [x for x in orders if x["order_id"] == o["order_id"]]
    if not found:
        o.update(req=L.ST_REJECTED, exch_ts=ts)
        _respond(tolo, ist, lat, o)
    elif found[0]["price_tick"] != o["price_tick"] or o["qty_lots"] > found[0]["leaves_lots"]:
        orders.remove(found[0])
        o["leaves_lots"] = o["qty_lots"]
        _CAPACITY[id(ist)] = len(xo)
        _arrive(o, ts, orders, ist, fst, book, bs, tolo, lat)
    else:
        x = found[0]
        x.update(qty_lots=o["qty_lots"], leaves_lots=o["qty_lots"], exch_ts=ts,
                 status=L.ST_NEW, req=L.ST_NONE)
        _respond(tolo, ist, lat, dict(x))
    _write(xo, ist, own, bs, orders)
    return 0


def exch_trade(taker_side, price_tick, qty, ts, xo, ist, fst, bs, own, tolo, lat):
    orders = _orders(xo, ist)
    keep = []
    for o in orders:
        done = False
        through = (price_tick > o["price_tick"]) if taker_side == L.BUY else (
            price_tick < o["price_tick"])
        if o["side"] != taker_side and through:
            _fill(o, ts, o["leaves_lots"], 1, o["price_tick"], tolo, ist, lat)
            done = True
        elif o["side"] != taker_side and price_tick == o["price_tick"]:
            arr = _as_record(o)
            queue_twin.queue_trade(arr, 0, qty)
            lots = queue_twin.queue_filled_lots(arr, 0, fst[L.F_LOT])
            o.update(front_q=float(arr[0]["front_q"]), cum_trade=float(arr[0]["cum_trade"]))
            if lots > 0:
                partial = ist[L.I_EXCHANGE] == L.EXCHANGE_PARTIAL
                _fill(o, ts, min(lots, o["leaves_lots"]) if partial else o["leaves_lots"], 1,
                      o["price_tick"], tolo, ist, lat)
                done = o["leaves_lots"] <= 0
        if not done:
            keep.append(o)
    _write(xo, ist, own, bs, keep)
    return 0


def exch_depth(side, price_tick, qty, ts, book, xo, ist, fst, bs, own, tolo, lat):
    prev_best, new_best, prev_qty = book_twin.book_update(book, bs, side != L.BUY, price_tick,
                                                          qty, fst[L.F_LOT])
    orders = _orders(xo, ist)
    for o in orders:
        if o["price_tick"] == price_tick and o["side"] == side:
            arr = _as_record(o)
            queue_twin.queue_depth(arr, 0, int(ist[L.I_QUEUE]), float(fst[L.F_QUEUE_N]),
                                   prev_qty, qty)
            o.update(front_q=float(arr[0]["front_q"]), cum_trade=float(arr[0]["cum_trade"]))
    keep = orders
    improved = new_best > prev_best if side == L.BUY else new_best < prev_best
    if improved:
        keep = []
        for o in orders:
            crossed = o["side"] != side and (
                o["price_tick"] <= new_best if side == L.BUY else o["price_tick"] >= new_best)
            if crossed:
                _fill(o, ts, o["leaves_lots"], 1, o["price_tick"], tolo, ist, lat)
            else:
                keep.append(o)
    _write(xo, ist, own, bs, keep)
    return 0


def _as_record(o):
    import numpy as np

    arr = np.zeros(1, L.ORDER_DTYPE)
    for f in FIELDS:
        arr[0][f] = o[f]
    return arr
