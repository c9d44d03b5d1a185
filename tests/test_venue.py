"""The session's venue: ``network = "sim"`` runs the simulator in its own process, stopped with
the session on every exit path (normal end, SIGINT, a killed parent), never left running."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio

from qengine.config import load_config
from qengine.errors import StartupError
from qengine.io.auth import demo_credentials, demo_public_key_pem
from qengine.io.thalex import open_thalex_client
from qengine.venue import credentials_for, open_venue, simulator_process

QUOTE = [sys.executable, "-m", "qengine", "quote"]
_STARTED = re.compile(rb"simulator process (\d+) listening on (\S+)")


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private demo key pair, shared with the child processes through the environment."""
    path = tmp_path / "cfg"
    monkeypatch.setenv("QENGINE_CONFIG_DIR", str(path))
    demo_public_key_pem()
    return path


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie awaiting its reaper counts as stopped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def _wait_gone(pid: int, timeout_s: float) -> None:
    with trio.fail_after(timeout_s):
        while _alive(pid):  # noqa: ASYNC110 - another process's state has no event
            await trio.sleep(0.05)


async def _our_open_orders(url: str) -> list[object]:
    async with open_thalex_client(url, credentials=demo_credentials(), reconnect=None) as client:
        return [o for o in await client.open_orders() if o.label == "qengine"]


def _simulator_started(log: Path) -> re.Match[bytes] | None:
    return _STARTED.search(log.read_bytes())


async def _started_simulator(log: Path, timeout_s: float = 60.0) -> tuple[int, str]:
    """(pid, url) of the simulator process, from the quoter's log line."""
    with trio.fail_after(timeout_s):
        while not (match := _simulator_started(log)):  # noqa: ASYNC110 - a file has no event
            await trio.sleep(0.05)
    return int(match[1]), match[2].decode()


def test_a_given_url_or_thalex_network_starts_no_process(config_dir):
    async def main() -> None:
        config = load_config(None, {"connection.url": "ws://127.0.0.1:1/ws/api/v2"})
        async with open_venue(config) as venue:
            assert venue.url == "ws://127.0.0.1:1/ws/api/v2"
            assert venue.simulator_pid is None
            assert venue.credentials.key_id == demo_credentials().key_id

    trio.run(main)


def test_missing_keys_for_a_thalex_network_are_a_startup_error(config_dir, monkeypatch,
                                                                tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in list(os.environ):
        if name.startswith("THALEX"):
            monkeypatch.delenv(name)
    with pytest.raises(StartupError, match="THALEX_TEST_API_KEY_ID"):
        credentials_for(load_config(None, {"connection.network": "test"}))


@pytest.mark.slow
async def test_simulator_process_serves_the_quoting_market_and_is_reaped(config_dir):
    async with simulator_process(seed=3, time_scale=1.0) as simulator:
        assert simulator.pid != os.getpid()
        assert _alive(simulator.pid)
        async with open_thalex_client(simulator.url, reconnect=None) as client:
            names = {row.instrument_name for row in await client.instruments()}
        assert {"BTC-PERPETUAL", "ETH-PERPETUAL"} <= names
    assert not _exists(simulator.pid)  # stopped and reaped


@pytest.mark.slow
async def test_sigint_leaves_the_market_before_the_simulator_process_stops(tmp_path,
                                                                           config_dir):
    log, summary = tmp_path / "quote.log", tmp_path / "summary.json"
    with log.open("wb") as out:
        quoter = await trio.lowlevel.open_process(
            [*QUOTE, "--levels", "2", "--summary-json", str(summary)], stdout=out,
            stderr=subprocess.STDOUT)
    try:
        pid, url = await _started_simulator(log)
        assert pid != quoter.pid
        with trio.fail_after(60):
            while len(await _our_open_orders(url)) != 4:  # noqa: ASYNC110 - polled
                await trio.sleep(0.1)
        quoter.send_signal(signal.SIGINT)
        with trio.fail_after(30):
            code = await quoter.wait()
        assert code == 0, log.read_text()
        data = orjson.loads(summary.read_bytes())
        assert data["open_orders_at_exit"] == 0  # the venue was still up to cancel them
        assert data["errors"] == 0
        await _wait_gone(pid, 1.0)  # stopped before the quoter exited
    finally:
        if quoter.poll() is None:
            quoter.kill()
            await quoter.wait()


@pytest.mark.slow
async def test_a_killed_quoter_takes_its_simulator_process_with_it(tmp_path, config_dir):
    log = tmp_path / "quote.log"
    with log.open("wb") as out:
        quoter = await trio.lowlevel.open_process([*QUOTE], stdout=out,
                                                  stderr=subprocess.STDOUT)
    pid, _url = await _started_simulator(log)
    quoter.kill()
    await quoter.wait()
    try:
        await _wait_gone(pid, 10.0)  # its standard input closed with the quoter
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
async def test_a_failed_start_stops_the_simulator_process(tmp_path, config_dir):
    log = tmp_path / "quote.log"
    with log.open("wb") as out:
        quoter = await trio.lowlevel.open_process([*QUOTE, "--instrument", "BTC-NOPE"],
                                                  stdout=out, stderr=subprocess.STDOUT)
    with trio.fail_after(60):
        code = await quoter.wait()
    text = log.read_text()
    assert code == 1, text
    assert "qengine: cannot start: unknown instrument 'BTC-NOPE'" in text
    pid, _url = await _started_simulator(log, timeout_s=1.0)
    assert not _alive(pid)


def _standalone_simulator(stderr: Any) -> subprocess.Popen[bytes]:
    """``qengine simulate --stop-on-stdin-eof``, as the venue starts it; after its URL line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qengine", "simulate", "--port", "0", "--market", "quoting",
         "--stop-on-stdin-eof"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    assert ready, "the simulator printed no URL within 60 s"
    assert process.stdout.readline().startswith(b"listening on ws://")
    return process


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["stdin closed", "SIGTERM, stdin still open"])
def test_the_simulator_process_stops_cleanly_either_way(config_dir, tmp_path, stop):
    # A thread left blocked reading stdin used to make the interpreter abort at exit
    # ("Fatal Python error: _enter_buffered_busy", exit -6) when a signal ended the run.
    for attempt in range(3):
        log = tmp_path / f"stderr-{attempt}.txt"
        with log.open("wb") as stderr:
            process = _standalone_simulator(stderr)
        try:
            if stop == "SIGTERM, stdin still open":
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            process.stdin.close()
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            for stream in (process.stdin, process.stdout):
                stream.close()
        err = log.read_bytes()
        assert process.returncode == 0, err.decode(errors="replace")[-2000:]
        assert b"Fatal Python error" not in err
