"""Scenarios 8, 9, 11, 12: ``qengine quote`` as a process (real time, so marked slow).

SIGINT leaves the market cleanly (exit 0, nothing open, the summary written); a SIGKILLed or
frozen quoter loses its orders to cancel-on-disconnect; an unknown instrument or a bad config
fails fast with a clear message and sends nothing.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio

from qengine.io.auth import demo_credentials
from qengine.io.thalex import open_thalex_client
from qengine.sim import serve_simulator

from .conftest import BTC, LABEL, sim_config

pytestmark = pytest.mark.slow

QUOTE = [sys.executable, "-m", "qengine", "quote"]
#: Every field of the exit summary (the issue's list and the engine's extras).
SUMMARY_FIELDS = {
    "instrument", "duration_s", "orders_inserted", "orders_amended", "orders_cancelled",
    "mass_quotes", "fills", "final_position", "realised_pnl_usd", "unrealised_pnl_usd",
    "fees_usd", "funding_usd", "reconnects", "errors", "rejects", "throttled", "risk_breaches",
    "tickers_by_lane", "tickers_by_io", "quote_cycles", "tick_to_quote_p50_us",
    "tick_to_quote_p99_us", "rss_mb",
    "open_orders_at_exit", "time_ns",
}


async def _spawn(args: list[str], log: Path) -> trio.Process:
    with log.open("wb") as out:
        return await trio.lowlevel.open_process(args, stdout=out, stderr=subprocess.STDOUT)


async def _wait_exit(process: trio.Process, timeout_s: float) -> int:
    with trio.fail_after(timeout_s):
        return await process.wait()


async def _poll(predicate: Any, timeout_s: float, what: str) -> None:
    with trio.move_on_after(timeout_s):
        while not await predicate():  # noqa: ASYNC110 - polled state has no event
            await trio.sleep(0.1)
        return
    raise AssertionError(f"{what} not within {timeout_s} s")


async def _our_open_orders(url: str) -> list[Any]:
    """The small client: our open orders as the exchange reports them to a fresh session."""
    async with open_thalex_client(url, credentials=demo_credentials(), reconnect=None) as client:
        return [o for o in await client.open_orders() if o.label == LABEL]


async def _start_standalone_simulator(log: Path) -> tuple[trio.Process, str]:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "qengine", "simulate", "--port", "0", "--seed", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    line = b""
    with trio.fail_after(20):
        while not line.endswith(b"\n"):
            chunk = await process.stdout.receive_some(1)
            assert chunk, "simulator exited before listening"
            line += chunk
    assert line.startswith(b"listening on ws://127.0.0.1:")
    return process, line.decode().split()[-1]


async def test_sigint_leaves_no_orders_and_writes_the_summary(tmp_path):
    summary_path = tmp_path / "summary.json"
    sim_process, url = await _start_standalone_simulator(tmp_path / "sim.log")
    try:
        quoter = await _spawn([*QUOTE, "--url", url, "--levels", "2",
                               "--summary-json", str(summary_path)], tmp_path / "quote.log")

        async def quoting() -> bool:
            return len(await _our_open_orders(url)) == 4

        await _poll(quoting, 30.0, "two levels per side")
        await trio.sleep(2.0)  # some market time (the standalone market has takers)
        quoter.send_signal(signal.SIGINT)
        code = await _wait_exit(quoter, 20.0)
        log = (tmp_path / "quote.log").read_text()
        assert code == 0, log
        assert await _our_open_orders(url) == []
        assert "SIGINT received: leaving the market" in log

        summary = orjson.loads(summary_path.read_bytes())
        assert set(summary) == SUMMARY_FIELDS
        assert summary["instrument"] == BTC
        assert summary["open_orders_at_exit"] == 0
        assert summary["orders_inserted"] >= 4
        assert summary["quote_cycles"] > 0
        assert summary["errors"] == 0
        assert all(isinstance(summary[k], int) for k in ("fills", "reconnects", "errors"))
        # Scenario 10 from the outside: position, fills and fees equal the account's.
        async with open_thalex_client(url, credentials=demo_credentials(),
                                      reconnect=None) as client:
            portfolio = {p.instrument_name: p.position for p in await client.portfolio()}
            trades, _ = await client.trade_history(limit=1000, instrument_names=[BTC])
        assert summary["final_position"] == portfolio.get(BTC, 0.0)
        ours = [t for t in trades if t.label == LABEL]
        assert summary["fills"] == len(ours)
        assert math.isclose(summary["fees_usd"], sum(t.fee for t in ours), abs_tol=1e-6)
    finally:
        sim_process.send_signal(signal.SIGINT)
        assert await _wait_exit(sim_process, 10.0) == 0


async def _quoter_on_inprocess_sim(nursery, tmp_path, cod_s: int):
    sim = await nursery.start(serve_simulator, sim_config())
    config = tmp_path / "cod.toml"
    config.write_text(f"[connection]\ncancel_on_disconnect_s = {cod_s}\n"
                      "[quote]\nlevels = 2\n")
    quoter = await _spawn([*QUOTE, "--url", sim.url, "--config", str(config)],
                          tmp_path / "quote.log")

    async def quoting() -> bool:
        return len([o for o in sim.open_orders() if o.get("label") == LABEL]) == 4

    await _poll(quoting, 30.0, "two levels per side")
    return sim, quoter


async def test_sigkilled_quoter_loses_its_orders_to_cancel_on_disconnect(tmp_path, nursery):
    sim, quoter = await _quoter_on_inprocess_sim(nursery, tmp_path, cod_s=3)
    quoter.kill()
    assert await _wait_exit(quoter, 10.0) == -signal.SIGKILL

    async def gone() -> bool:
        return sim.open_orders() == []

    await _poll(gone, 3.0 + 1.0, "orders cancelled")
    assert sim.session_count == 0


async def test_frozen_quoter_loses_its_orders_after_the_cod_timeout(tmp_path, nursery):
    # SIGSTOP keeps the socket open but silent: only the cancel-on-disconnect timer can act.
    sim, quoter = await _quoter_on_inprocess_sim(nursery, tmp_path, cod_s=3)
    quoter.send_signal(signal.SIGSTOP)
    try:
        stopped_s = trio.current_time()
        await trio.sleep(0.3)
        assert len(sim.open_orders()) == 4  # the connection is still there

        async def gone() -> bool:
            return sim.open_orders() == []

        await _poll(gone, 3.0 + 1.5, "orders cancelled by the timeout")
        assert trio.current_time() - stopped_s > 0.3
    finally:
        quoter.kill()
        quoter.send_signal(signal.SIGCONT)
        await _wait_exit(quoter, 10.0)


async def test_unknown_instrument_fails_before_anything_is_sent(tmp_path, nursery):
    sim = await nursery.start(serve_simulator, sim_config())
    logins: list[str] = []
    account_for_key = sim.exchange.account_for_key

    def recording(key_id: str) -> Any:  # every login looks its account up here
        logins.append(key_id)
        return account_for_key(key_id)

    sim.exchange.account_for_key = recording
    result = await trio.run_process([*QUOTE, "--url", sim.url, "--instrument", "BTC-NOPE"],
                                    capture_stdout=True, capture_stderr=True, check=False)
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "unknown instrument 'BTC-NOPE'" in stderr
    assert BTC in stderr
    # Nothing private happened: no login, no order, no trade.
    assert logins == []
    assert sim.open_orders() == []
    assert sim.account_state().trade_count == 0


@pytest.mark.parametrize(("toml", "key"), [
    ("[quote]\nlevles = 3\n", "quote.levles: unknown key"),
    ("[risk]\nmax_position = -1\n", "risk.max_position: must be > 0"),
    ("[connection]\ncancel_on_disconnect_s = \"6\"\n", "connection.cancel_on_disconnect_s"),
])
async def test_invalid_config_names_the_key(tmp_path, toml, key):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    result = await trio.run_process([*QUOTE, "--config", str(path)], capture_stdout=True,
                                    capture_stderr=True, check=False)
    assert result.returncode == 2
    assert key in result.stderr.decode()
    assert result.stdout == b""
