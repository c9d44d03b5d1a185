"""Scenario 7: the simulator rejects a fraction of inserts (temporary failure) or throttles
them; quoting continues, and the errors are counted."""

from __future__ import annotations

import pytest
import trio

from qengine.sim import FaultConfig

from .conftest import (
    assert_matches_exchange,
    exchange_side_counts,
    hit_bids,
    lift_asks,
    running,
    sim_config,
    wait_until,
)
from .test_reconnect import assert_orders_agree


@pytest.mark.parametrize(("code", "counter"), [(20, "rejects"), (4, "throttled")])
async def test_rejected_and_throttled_inserts_do_not_stop_quoting(autojump_clock, code, counter):
    faults = FaultConfig(reject_insert_fraction=0.4, reject_insert_code=code)
    with trio.fail_after(300):
        async with running(sim_config(faults=faults), quote__levels=3) as (sim, engine):
            for round_ in range(6):
                await wait_until(lambda: exchange_side_counts(sim) == (3, 3), timeout_s=60.0)
                # Fills take orders away: the engine must insert again through the faults.
                if round_ % 2:
                    lift_asks(sim, 2)
                else:
                    hit_bids(sim, 2)
                await wait_until(lambda: engine.state.position_lots()
                                 == sim.account_state().position_lots["BTC-PERPETUAL"])
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3), timeout_s=60.0)
            await trio.sleep(1.0)
            counters = engine.telemetry.counters.snapshot()
            assert counters[counter] > 0
            if code == 20:
                assert counters["errors"] >= counters["rejects"] > 0
            assert counters["fills"] >= 12
            assert_orders_agree(sim, engine)
            assert_matches_exchange(sim, engine)
        assert_matches_exchange(sim, engine)
        assert sim.open_orders() == []
