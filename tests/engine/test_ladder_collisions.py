"""Issue 9, item 4: never two of our orders at one price, with level spacing equal to the amend
threshold (level 1 sits exactly ``amend_threshold_ticks`` from level 0).

Every insert and amend the simulator executes is followed by a look at the account's book: a
second order of ours at a price where one already rests (same side) is a collision.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import trio

from qengine.io.simulator import rpc

from .conftest import (
    LABEL,
    assert_matches_exchange,
    exchange_side_counts,
    quoted_prices,
    running,
    wait_until,
)


def _count_collisions(monkeypatch, sim) -> list[tuple[Any, ...]]:
    """Wrap the simulator's insert and amend; return the list that collects collisions."""
    collisions: list[tuple[Any, ...]] = []

    def checked(handler):
        def run(ex, session, params):
            result = handler(ex, session, params)
            prices = Counter((o["direction"], o["price"]) for o in sim.open_orders()
                             if o.get("label") == LABEL)
            collisions.extend(key for key, n in prices.items() if n > 1)
            return result
        return run

    for method in ("private/insert", "private/amend"):
        handler, bucket = rpc.METHODS[method]
        monkeypatch.setitem(rpc.METHODS, method, (checked(handler), bucket))
    return collisions


async def test_spacing_equal_to_the_amend_threshold_never_stacks_two_orders(autojump_clock,
                                                                            monkeypatch):
    walk = random.Random(9)
    with trio.fail_after(600):
        # At the quiet market's volatility the step is half the configured spacing: levels
        # 2 ticks apart, as far as the amend threshold.
        async with running(quote__levels=3, quote__spacing_ticks=4,
                           quote__amend_threshold_ticks=2) as (sim, engine):
            collisions = _count_collisions(monkeypatch, sim)
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            bids, _ = quoted_prices(sim)
            assert [bids[0] - b for b in bids] == [0, 2, 4]
            amends = engine.telemetry.counters.snapshot()["amends"]
            index = 65000.0
            for _ in range(300):  # a random walk in steps the ladder's spacing can match
                index += walk.choice((-4.0, -3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 4.0))
                sim.set_index_price("BTCUSD", index)
                await trio.sleep(walk.choice((0.3, 0.6, 1.1)))
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            assert engine.telemetry.counters.snapshot()["amends"] > amends + 100
            assert collisions == [], len(collisions)
            assert_matches_exchange(sim, engine)
