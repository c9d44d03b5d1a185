"""Issue 9, item 5: SIGINT while the connection is faulty still leaves the market clean.

``qengine quote`` runs as a process behind a chaos proxy; SIGINT arrives during a one-way
stall (either direction) or while the engine reconnects (new connections refused, or accepted
and never answered). Each time the process exits with code 0 within ``SHUTDOWN_BOUND_S`` of the
signal, and the exchange holds no order of ours afterwards: what the shielded, time-limited
exit cleanup cannot reach over the broken connection, the exchange's cancel-on-disconnect
removes when the process's socket closes.
"""

from __future__ import annotations

import signal

import pytest
import trio

from qengine.io.simulator import serve_simulator

from .chaos_proxy import BLACKHOLE, DOWN, REFUSE, UP, ChaosProxy
from .conftest import LABEL, sim_config
from .test_processes import QUOTE, _poll, _spawn

pytestmark = pytest.mark.slow

#: ``connection.shutdown_timeout_s`` of these runs.
SHUTDOWN_TIMEOUT_S = 3.0
#: SIGINT -> process exit: the cleanup's time limit plus 3 s for cancelling the services,
#: closing the broken connection and flushing the log (the bound the README states).
SHUTDOWN_BOUND_S = SHUTDOWN_TIMEOUT_S + 3.0


async def _stall(proxy: ChaosProxy, sim, direction: str) -> None:
    proxy.stalled.add(direction)
    await trio.sleep(1.5)  # shorter than cancel-on-disconnect: our orders still rest
    assert len([o for o in sim.open_orders() if o.get("label") == LABEL]) == 4


async def _reconnecting(proxy: ChaosProxy, sim, mode: str) -> None:
    proxy.mode = mode
    assert proxy.reset() == 1
    await _poll(lambda: _async(sim.session_count == 0), 5.0, "the session closed")
    await trio.sleep(0.7)  # the engine is now backing off or stuck in its next handshake


async def _async(value: bool) -> bool:
    return value


FAULTS = {
    "one-way stall, exchange to engine": lambda proxy, sim: _stall(proxy, sim, DOWN),
    "one-way stall, engine to exchange": lambda proxy, sim: _stall(proxy, sim, UP),
    "reconnect refused": lambda proxy, sim: _reconnecting(proxy, sim, REFUSE),
    "reconnect blackholed": lambda proxy, sim: _reconnecting(proxy, sim, BLACKHOLE),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_sigint_under_a_fault_exits_0_in_bound_with_no_order_left(tmp_path, nursery,
                                                                        fault):
    sim = await nursery.start(serve_simulator, sim_config())
    proxy = ChaosProxy(int(sim.url.split(":")[2].split("/")[0]))
    await nursery.start(proxy.serve)
    config = tmp_path / "faults.toml"
    config.write_text("[connection]\ncancel_on_disconnect_s = 6\n"
                      f"shutdown_timeout_s = {SHUTDOWN_TIMEOUT_S}\n[quote]\nlevels = 2\n")
    quoter = await _spawn([*QUOTE, "--url", proxy.url(), "--config", str(config)],
                          tmp_path / "quote.log")
    try:
        async def quoting() -> bool:
            return len([o for o in sim.open_orders() if o.get("label") == LABEL]) == 4

        await _poll(quoting, 30.0, "two levels per side")
        await FAULTS[fault](proxy, sim)
        signalled_s = trio.current_time()
        quoter.send_signal(signal.SIGINT)
        with trio.move_on_after(SHUTDOWN_BOUND_S):
            code = await quoter.wait()
        took_s = trio.current_time() - signalled_s
        log = (tmp_path / "quote.log").read_text()
        assert quoter.returncode is not None, f"still running {SHUTDOWN_BOUND_S} s after SIGINT"
        assert code == 0, log
        assert took_s <= SHUTDOWN_BOUND_S
        assert "SIGINT received: leaving the market" in log
        await _poll(lambda: _async(sim.session_count == 0), 2.0, "the session closed")
        assert sim.open_orders() == []
    finally:
        if quoter.returncode is None:
            quoter.kill()
            await quoter.wait()
