"""The venue a session trades on: its URL and the credentials for it.

``connection.url`` or a Thalex network gives the URL and keys from the environment (or
``.env``). ``network = "sim"`` without a URL starts the simulator in its own process (``python -m
qengine simulate --market quoting``), so the engine's tick-to-quote and CPU are the engine's alone;
its first line of output is its URL. The process runs in its own session (a terminal's Ctrl-C
reaches only the engine, which leaves the market on the still-running venue), is stopped when
the block exits (normally, on a signal or an error), and stops by itself if this process dies
(its standard input closes).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from .config import EngineConfig
from .errors import StartupError
from .io import auth
from .io.thalex import url_for_network

log = logging.getLogger("qengine.venue")

#: How long the simulator process may take to report its URL (imports, the listing).
SIMULATOR_START_TIMEOUT_S = 60.0
#: How long it may take to stop after its stdin closed before it gets SIGTERM (a signal in
#: the middle of that stop would end it without its own clean-up).
SIMULATOR_EOF_STOP_S = 2.0
#: How long it may take to stop after SIGTERM before it is killed.
SIMULATOR_STOP_TIMEOUT_S = 5.0
_LISTENING = "listening on "


@dataclass(frozen=True, slots=True)
class Venue:
    """Where ``open_engine`` connects, and with which keys."""

    url: str
    credentials: auth.Credentials
    #: The simulator process this session started (None for a given URL or a Thalex network).
    simulator_pid: int | None = None


@dataclass(frozen=True, slots=True)
class SimulatorProcess:
    """A running ``qengine simulate`` child: its URL and process id."""

    url: str
    pid: int


def credentials_for(config: EngineConfig) -> auth.Credentials:
    """The demo key on the simulator, else keys from the environment (or ``.env``)."""
    if config.connection.network == "sim":
        return auth.demo_credentials()
    # A .env file in the working directory may hold the keys (the old bot loaded one); the
    # process environment wins over it.
    environ = {**auth.read_env_file(".env"), **os.environ}
    try:
        return auth.load_credentials(config.connection.network, environ)
    except auth.AuthError as exc:
        raise StartupError(str(exc)) from None


@asynccontextmanager
async def open_venue(config: EngineConfig) -> AsyncIterator[Venue]:
    """The venue of ``config``; a simulator process when the network is ``sim`` without a URL.

    Raises
    ------
    StartupError
        Missing keys, or a simulator process that did not start.
    """
    connection = config.connection
    if connection.url or connection.network != "sim":
        url = connection.url or url_for_network(connection.network)
        yield Venue(url, credentials_for(config))
        return
    # The demo key pair exists before the simulator process reads its public half.
    credentials = await trio.to_thread.run_sync(credentials_for, config)
    async with simulator_process(seed=config.simulator.seed,
                                 time_scale=config.simulator.time_scale) as simulator:
        yield Venue(simulator.url, credentials, simulator.pid)


@asynccontextmanager
async def simulator_process(*, seed: int, time_scale: float) -> AsyncIterator[SimulatorProcess]:
    """Run ``qengine simulate`` (the quoting market) in a child process until the block exits.

    Raises
    ------
    StartupError
        The process ended, or did not report its URL in time.
    """
    argv = [sys.executable, "-m", "qengine", "simulate", "--port", "0", "--market", "quoting",
            "--seed", str(seed), "--time-scale", repr(time_scale), "--stop-on-stdin-eof"]
    process = await trio.lowlevel.open_process(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    try:
        url = await _first_line_url(process)
        log.info("simulator process %d listening on %s", process.pid, url)
        yield SimulatorProcess(url, process.pid)
    finally:
        await _stop(process)


async def _first_line_url(process: trio.Process) -> str:
    assert process.stdout is not None
    received = b""
    why = f"did not report its URL within {SIMULATOR_START_TIMEOUT_S:g} s"
    with trio.move_on_after(SIMULATOR_START_TIMEOUT_S):
        while b"\n" not in received:
            chunk = await process.stdout.receive_some()
            if not chunk:
                why = f"ended (exit code {await process.wait()}) before reporting its URL"
                break
            received += chunk
    line = received.split(b"\n", 1)[0].decode(errors="replace").strip()
    if not line.startswith(_LISTENING):
        raise StartupError(f"the simulator process {why} (output: {line!r})")
    return line.removeprefix(_LISTENING)


async def _stop(process: trio.Process) -> None:
    # Shielded and time-limited: runs on every exit path, cancellation included.
    with trio.CancelScope(shield=True):
        if process.stdin is not None:
            await process.stdin.aclose()  # its end of file: the simulator stops by itself
            with trio.move_on_after(SIMULATOR_EOF_STOP_S):
                await process.wait()
        if process.poll() is None:
            process.terminate()
        with trio.move_on_after(SIMULATOR_STOP_TIMEOUT_S):
            await process.wait()
        if process.poll() is None:
            log.error("simulator process %d ignored SIGTERM; killing it", process.pid)
            process.kill()
            await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()
