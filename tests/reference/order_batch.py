"""Pure-Python twin of ``qengine.kernels.order_batch``: the batch written as a plain loop over
the order-table and bucket twins."""

from __future__ import annotations

from qengine.kernels import codes

from .decision import bucket_take
from .orders import order_release, order_request_amend, order_request_cancel, order_reserve


def order_batch_prepare(table, actions, n_actions, bucket, now_ns, levels_allowed,
                        next_client_order_id, instrument, out, counts):
    order_release(table)
    granted = bucket_take(bucket, now_ns, n_actions)
    tally = dict.fromkeys(range(codes.BATCH_COUNTS), 0)
    tally[codes.BATCH_THROTTLED] = max(n_actions - granted, 0)
    ids = iter(range(next_client_order_id, 2**62))
    used = next_client_order_id
    send = []
    for kind, slot, cid, side, level, price, size in actions[:granted].tolist():
        if len(send) == len(out):
            break
        if kind == codes.ACTION_INSERT:
            if level >= levels_allowed:
                continue
            cid = next(ids)
            used = cid + 1
            slot = order_reserve(table, cid, instrument, side, level, price, size, now_ns)
            if slot < 0:
                tally[codes.BATCH_REFUSED] += 1
                tally[codes.BATCH_REFUSED_STATUS] = -slot
                continue
            tally[codes.BATCH_INSERTS] += 1
        elif kind == codes.ACTION_AMEND:
            if order_request_amend(table, slot, price, size, now_ns) != codes.STATUS_OK:
                continue
            tally[codes.BATCH_AMENDS] += 1
        else:
            if order_request_cancel(table, slot, now_ns) != codes.STATUS_OK:
                continue
            tally[codes.BATCH_CANCELS] += 1
        send.append((kind, slot, cid, side, level, price, size))
    tally[codes.BATCH_CLIENT_IDS] = used - next_client_order_id
    for i, row in enumerate(send):
        out[i] = row
    counts[:] = [tally[i] for i in range(codes.BATCH_COUNTS)]
    return len(send)
