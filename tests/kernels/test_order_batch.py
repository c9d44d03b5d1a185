"""``order_batch_prepare``: a cycle's actions made ready in one call, against its twin, and the
rules one by one (meter, levels allowed, ids, table marks, refusals)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, order_batch, orders
from qengine.kernels.dtypes import ACTION, ORDER
from qengine.strategy.setup import new_bucket_state
from tests.reference import order_batch as twin

MS = 1_000_000
INSERT, AMEND, CANCEL = codes.ACTION_INSERT, codes.ACTION_AMEND, codes.ACTION_CANCEL
BUY, SELL = codes.SIDE_BUY, codes.SIDE_SELL


def world(open_rows, capacity=8):
    """A table with ``open_rows`` resting orders (client ids 1..), plus a closed one."""
    table = np.zeros(capacity, ORDER)
    for cid in range(1, open_rows + 1):
        slot = orders.order_reserve(table, cid, 0, codes.SIDE_BUY, cid - 1, 100 - cid, 5, 0)
        orders.order_apply_update(table, cid, 500 + cid, codes.ORDER_UPDATE_LIVE, 100 - cid, 5,
                                  0, 0)
        assert slot == cid - 1
    if open_rows < capacity:
        orders.order_reserve(table, 99, 0, codes.SIDE_SELL, 0, 200, 5, 0)
        orders.order_apply_update(table, 99, -1, codes.ORDER_UPDATE_REJECTED, 0, 0, 0, 0)
    return table


def actions_of(rows):
    actions = np.zeros(16, ACTION)
    for i, row in enumerate(rows):
        actions[i] = row
    return actions


def run(fn, table, actions, n, bucket, now, levels, next_id):
    out, counts = np.zeros(16, ACTION), np.zeros(codes.BATCH_COUNTS, np.int64)
    k = fn(table, actions, n, bucket, now, levels, next_id, 0, out, counts)
    return k, out[:k].tolist(), counts.tolist(), table.tolist(), bucket.tolist()


action = st.one_of(
    st.tuples(st.just(INSERT), st.just(-1), st.just(0), st.sampled_from([0, 1, 2]),
              st.integers(0, 4), st.integers(90, 110), st.integers(-1, 20)),
    st.tuples(st.just(AMEND), st.integers(-1, 8), st.integers(0, 9), st.just(1),
              st.integers(0, 4), st.integers(90, 110), st.integers(0, 20)),
    st.tuples(st.just(CANCEL), st.integers(-1, 8), st.integers(0, 9), st.just(1),
              st.integers(0, 4), st.just(0), st.just(0)),
)


@given(st.lists(action, max_size=12), st.integers(0, 8), st.integers(0, 5),
       st.floats(1.0, 20.0), st.integers(0, 3000), st.integers(0, 12))
def test_the_kernel_matches_its_twin(rows, open_rows, levels, rate, elapsed_ms, extra):
    results = []
    for fn in (order_batch.order_batch_prepare, twin.order_batch_prepare):
        table, bucket = world(open_rows), new_bucket_state(rate, 0)
        bucket[0]["tokens"] = 0.0  # what elapsed_ms earns
        results.append(run(fn, table, actions_of(rows), min(len(rows) + extra, 16), bucket,
                           elapsed_ms * MS, levels, 1000))
    assert results[0] == results[1]


def test_inserts_get_ids_and_rows_amends_and_cancels_mark_theirs():
    table, bucket = world(2), new_bucket_state(100.0, 0)
    actions = actions_of([(CANCEL, 1, 2, 1, 1, 0, 0), (AMEND, 0, 1, 1, 0, 98, 7),
                          (INSERT, -1, 0, BUY, 1, 97, 5), (INSERT, -1, 0, SELL, 0, 103, 5)])
    k, out, counts, _, _ = run(order_batch.order_batch_prepare, table, actions, 4, bucket,
                               5 * MS, 3, 1000)
    assert k == 4
    assert [(r[0], r[2]) for r in out] == [(CANCEL, 2), (AMEND, 1), (INSERT, 1000),
                                           (INSERT, 1001)]
    assert counts == [0, 2, 1, 1, 0, 0, 2]
    status = {int(r["client_order_id"]): int(r["status"]) for r in table if r["status"]}
    assert status == {1: codes.ORDER_PENDING_AMEND, 2: codes.ORDER_PENDING_CANCEL,
                      1000: codes.ORDER_PENDING_INSERT, 1001: codes.ORDER_PENDING_INSERT}
    assert 99 not in status  # the closed row was freed first


def test_the_meter_and_the_levels_allowed_drop_actions_but_never_amends_or_cancels():
    table, bucket = world(1), new_bucket_state(2.0, 0)  # two tokens
    actions = actions_of([(INSERT, -1, 0, BUY, 0, 97, 5), (CANCEL, 0, 1, BUY, 0, 0, 0),
                          (INSERT, -1, 0, SELL, 0, 103, 5)])
    k, out, counts, _, _ = run(order_batch.order_batch_prepare, table, actions, 3, bucket, 0,
                               0, 1000)  # halted since the cycle: no insert may leave
    assert k == 1
    assert out[0][0] == CANCEL
    assert counts[codes.BATCH_THROTTLED] == 1
    assert counts[codes.BATCH_CLIENT_IDS] == 0


def test_a_full_table_refuses_the_insert_and_its_id_is_used_up():
    table, bucket = world(2, capacity=2), new_bucket_state(10.0, 0)
    actions = actions_of([(INSERT, -1, 0, 1, 0, 97, 5)])
    k, _, counts, _, _ = run(order_batch.order_batch_prepare, table, actions, 1, bucket, 0, 3, 7)
    assert k == 0
    assert counts[codes.BATCH_REFUSED] == 1
    assert counts[codes.BATCH_REFUSED_STATUS] == codes.STATUS_FULL
    assert counts[codes.BATCH_CLIENT_IDS] == 1
