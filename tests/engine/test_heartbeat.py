"""The heartbeat: a reconnect the exchange announces is made at once, not when it closes us."""

from __future__ import annotations

import trio

from .conftest import FaultConfig, exchange_side_counts, running, sim_config, wait_until

ANNOUNCE_EVERY_S = 20.0
GRACE_S = 60.0


async def test_an_announced_reconnect_is_made_at_once_and_quoting_resumes(autojump_clock):
    faults = FaultConfig(system_reconnect_every_s=ANNOUNCE_EVERY_S, reconnect_grace_s=GRACE_S)
    with trio.fail_after(300):
        async with running(sim_config(faults)) as (sim, engine):
            started_s = trio.current_time()
            await wait_until(lambda: engine.reconnects >= 1, timeout_s=2 * ANNOUNCE_EVERY_S)
            # Well before the exchange would have closed the connection itself.
            assert trio.current_time() - started_s < ANNOUNCE_EVERY_S + 5.0
            await wait_until(lambda: engine.gate.ready and exchange_side_counts(sim) == (3, 3))
