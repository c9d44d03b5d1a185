"""Issue 9, item 3: client order ids unique across processes; orders reconciled by exchange
order id; an order with our label that this process did not place is cancelled.

The late order of a dead process is inserted by a second session on the same account with our
label, which then disappears without cancel-on-disconnect, so the order stays on the book: what
a SIGKILLed engine's in-flight insert looks like when the network delivers it after the restart
(the last test kills a real ``qengine quote`` process and restarts it).
"""

from __future__ import annotations

import signal

import pytest
import trio

from qengine.engine._our_orders import CLIENT_ID_COUNTER_BITS, CLIENT_ID_MAX
from qengine.io.auth import demo_credentials
from qengine.io.thalex import open_thalex_client
from qengine.sim import serve_simulator

from .conftest import BTC, LABEL, assert_matches_exchange, closed_orders, ours, running, sim_config
from .test_processes import QUOTE, _poll, _spawn
from .test_reconnect import LEVELS, _settled, assert_orders_agree, wait_until

RECONCILE_S = 2.0


async def _late_order(url: str, direction: str, price: float, client_order_id: int) -> str:
    """Insert a resting order with our label from another session; return its order id."""
    async with open_thalex_client(url, credentials=demo_credentials(), reconnect=None) as client:
        order = await client.insert(direction, BTC, 0.01, price, label=LABEL,
                                    client_order_id=client_order_id, post_only=True)
    return order.order_id


async def test_a_dead_process_order_delivered_late_is_cancelled_not_adopted(autojump_clock):
    with trio.fail_after(120):
        async with running(quote__levels=LEVELS,
                           connection__order_reconcile_interval_s=RECONCILE_S) as (sim, engine):
            await _settled(sim, engine)
            mine = {o["order_id"]: o["client_order_id"] for o in ours(sim)}
            # Worst case: the late order carries a client id this process is using right now
            # (the old per-process counter made this the normal case after a restart).
            taken = min(mine.values())
            late = [await _late_order(sim.url, "buy", 60000.0, taken),
                    await _late_order(sim.url, "sell", 70000.0, 3)]
            assert set(late) <= {o["order_id"] for o in ours(sim)}
            arrived_s = trio.current_time()
            await wait_until(lambda: not set(late) & {o["order_id"] for o in ours(sim)},
                             timeout_s=RECONCILE_S + 1.0)
            assert trio.current_time() - arrived_s <= RECONCILE_S + 1.0
            # Cancelled, not filled; and our own order with the same client id is untouched.
            gone = {o.order_id: o for o in closed_orders(sim) if o.order_id in late}
            assert all(o.filled_lots == 0 for o in gone.values())
            assert len(gone) == 2
            await _settled(sim, engine)
            assert_orders_agree(sim, engine)
            assert engine.telemetry.counters.snapshot()["errors"] == 0
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)


async def test_client_order_ids_differ_between_processes_and_stay_exact(autojump_clock):
    with trio.fail_after(120):
        async with running(quote__levels=LEVELS) as (sim, engine):
            await _settled(sim, engine)
            first = {o["client_order_id"] for o in ours(sim)}
            base = engine.orders.client_order_id_base
        # A restart on the same account: a new base, so no id of the first run comes back.
        async with running(quote__levels=LEVELS) as (sim, engine):
            await _settled(sim, engine)
            second = {o["client_order_id"] for o in ours(sim)}
            assert engine.orders.client_order_id_base != base
        assert first.isdisjoint(second)
        for cid in first | second:
            assert isinstance(cid, int)
            assert 2**CLIENT_ID_COUNTER_BITS < cid <= CLIENT_ID_MAX
            assert float(cid) == cid  # exact where a decoder makes it a double


@pytest.mark.slow
async def test_a_restarted_process_cancels_the_killed_process_late_order(tmp_path, nursery):
    sim = await nursery.start(serve_simulator, sim_config())
    config = tmp_path / "restart.toml"
    config.write_text("[connection]\ncancel_on_disconnect_s = 3\n"
                      f"order_reconcile_interval_s = {RECONCILE_S}\n[quote]\nlevels = 2\n")
    args = [*QUOTE, "--url", sim.url, "--config", str(config)]

    def our_orders() -> list[dict]:
        return [o for o in sim.open_orders() if o.get("label") == LABEL]

    async def quoting() -> bool:
        return len(our_orders()) == 4

    dead = await _spawn(args, tmp_path / "dead.log")
    await _poll(quoting, 30.0, "the first process quoting")
    dead_ids = {o["client_order_id"] for o in our_orders()}
    dead.kill()
    assert await dead.wait() == -signal.SIGKILL
    restarted = await _spawn(args, tmp_path / "restarted.log")
    try:
        await _poll(quoting, 30.0, "the restarted process quoting")
        live = {o["order_id"]: o["client_order_id"] for o in our_orders()}
        assert dead_ids.isdisjoint(live.values())
        # The dead process's last insert, delivered now: our label, its client id.
        late = await _late_order(sim.url, "buy", 60000.0, max(dead_ids))

        async def cancelled() -> bool:
            return late not in {o["order_id"] for o in our_orders()}

        await _poll(cancelled, RECONCILE_S + 2.0, "the late order cancelled")
        assert await quoting()  # its own orders still quote
        restarted.send_signal(signal.SIGINT)
        with trio.fail_after(10.0):
            assert await restarted.wait() == 0
        assert sim.open_orders() == []
        assert "open order(s) with our label this process did not place" in (
            tmp_path / "restarted.log").read_text()
    finally:
        if restarted.returncode is None:
            restarted.kill()
            await restarted.wait()
