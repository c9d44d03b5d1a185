"""``connection.busy_poll``: the event loop never sleeps while the engine quotes, and the engine
still quotes, follows the market and leaves nothing on the exchange."""

from __future__ import annotations

import pytest
import trio

from .conftest import exchange_side_counts, running, wait_until


class IoWaits(trio.abc.Instrument):
    """The timeouts trio's run loop asked epoll for (0: a poll without waiting)."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def before_io_wait(self, timeout: float) -> None:
        self.timeouts.append(timeout)


@pytest.mark.slow
@pytest.mark.parametrize("busy", [True, False])
async def test_busy_poll_keeps_the_loop_from_sleeping_while_quoting(busy):
    # Real clock: a task that is always ready would stop an autojump clock from ever jumping.
    waits = IoWaits()
    with trio.fail_after(60):
        async with running(connection__busy_poll=busy) as (sim, engine):
            await wait_until(lambda: exchange_side_counts(sim) != (0, 0))
            trio.lowlevel.add_instrument(waits)
            await trio.sleep(0.5)  # the ticker stream and the quoter go on meanwhile
            trio.lowlevel.remove_instrument(waits)
            quoted = engine.quoter.cycles
            await wait_until(lambda: engine.quoter.cycles > quoted)  # still quoting
        assert sim.open_orders() == []
        assert engine.summary["open_orders_at_exit"] == 0
    if busy:  # polled without waiting, many times a millisecond
        assert len(waits.timeouts) > 1_000
        assert max(waits.timeouts) == 0
    else:  # the loop waits in epoll between messages
        assert max(waits.timeouts) > 0
    # Once the engine stopped, the spinning task is gone: the loop may sleep again.
    after = IoWaits()
    trio.lowlevel.add_instrument(after)
    await trio.sleep(0.01)
    trio.lowlevel.remove_instrument(after)
    assert max(after.timeouts) > 0
