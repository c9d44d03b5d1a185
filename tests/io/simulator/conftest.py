"""Fixtures for the simulator's own tests: a throwaway API key pair and an in-process harness
that drives the exchange through the same framing as the server, without sockets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from qengine.io.auth import make_login_token
from qengine.io.simulator.channels import Publisher
from qengine.io.simulator.config import InstrumentSpec, SimulatorConfig
from qengine.io.simulator.exchange import Exchange
from qengine.io.simulator.rpc import handle_text
from qengine.io.simulator.sessions import Session

KEY_ID = "test-key"


@dataclass(frozen=True)
class KeyPair:
    key_id: str
    private_pem: str
    public_pem: str

    def token(self) -> str:
        return make_login_token(self.key_id, self.private_pem)


def _make_key(key_id: str) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return KeyPair(key_id, private, public)


@pytest.fixture(scope="session")
def key_pair() -> KeyPair:
    return _make_key(KEY_ID)


@pytest.fixture(scope="session")
def other_key_pair() -> KeyPair:
    return _make_key("other-key")


def quiet_instruments(**overrides: Any) -> tuple[InstrumentSpec, ...]:
    """BTC and ETH perpetuals with no random takers (deterministic unit tests)."""
    common = {"taker_intensity_per_s": 0.0, "basis_volatility_ticks_per_sqrt_s": 0.0, **overrides}
    return (
        InstrumentSpec(instrument_name="BTC-PERPETUAL", product="FBTCUSD", underlying="BTCUSD",
                       tick_size=1.0, volume_tick_size=0.001, min_order_amount=0.001,
                       crowd_level_lots=500, **common),
        InstrumentSpec(instrument_name="ETH-PERPETUAL", product="FETHUSD", underlying="ETHUSD",
                       tick_size=0.1, volume_tick_size=0.01, min_order_amount=0.01,
                       crowd_level_lots=1000, **common),
    )


def make_config(key_pair: KeyPair, **overrides: Any) -> SimulatorConfig:
    base: dict[str, Any] = {"api_keys": {key_pair.key_id: key_pair.public_pem},
                            "instruments": quiet_instruments(), "start_time_s": 1.7e9}
    base.update(overrides)
    return SimulatorConfig(**base)


class Client:
    """A session driven in-process: ``call`` returns the decoded reply, ``pushes`` the
    notifications queued since the last look (as decoded objects)."""

    def __init__(self, ex: Exchange, key_pair: KeyPair) -> None:
        self.ex = ex
        self.key_pair = key_pair
        send, self._receive = trio.open_memory_channel[str](100000)
        self.session: Session = ex.open_session(send)
        self._next_id = 0
        self.frames: list[str] = []
        self.notes: list[dict[str, Any]] = []

    def raw(self, text: str) -> tuple[str | None, int | None]:
        reply, close = handle_text(self.ex, self.session, text)
        if reply is not None:
            self.session.send(reply)
        self.ex.flush()
        return reply, close

    def _drain(self) -> None:
        while True:
            try:
                frame = self._receive.receive_nowait()
            except trio.WouldBlock:
                return
            self.frames.append(frame)
            if frame.startswith('{"channel_name"'):
                self.notes.append(orjson.loads(frame))

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        request = {"method": method, "params": params or {}, "id": self._next_id}
        reply, _ = self.raw(orjson.dumps(request).decode())
        decoded = orjson.loads(reply)
        assert decoded["id"] == self._next_id
        return decoded

    def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        reply = self.call(method, params)
        assert "result" in reply, reply
        return reply["result"]

    def error_code(self, method: str, params: dict[str, Any] | None = None) -> int:
        reply = self.call(method, params)
        assert "error" in reply, reply
        return reply["error"]["code"]

    def login(self, cod: bool = True) -> None:
        self.result("public/login", {"token": self.key_pair.token()})
        if cod:
            self.result("private/set_cancel_on_disconnect", {"timeout_secs": 5})

    def pushes(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Notifications (optionally of one channel) received since the last look."""
        self._drain()
        taken = [m for m in self.notes if channel is None or m["channel_name"] == channel]
        self.notes = [m for m in self.notes if m not in taken]
        return taken

    def order_items(self) -> list[dict[str, Any]]:
        return [item for m in self.pushes("session.orders") for item in m["notification"]]


def make_exchange(config: SimulatorConfig) -> Exchange:
    keys = dict(config.api_keys)
    ex = Exchange(config, keys)
    ex.publisher = Publisher(ex)
    return ex


@pytest.fixture
def harness(key_pair: KeyPair):
    """Factory: ``harness(**config_overrides) -> (exchange, make_client)``."""

    def build(**overrides: Any) -> tuple[Exchange, Any]:
        ex = make_exchange(make_config(key_pair, **overrides))
        return ex, lambda kp=key_pair: Client(ex, kp)

    return build


@contextmanager
def standalone_simulator(config_dir: Path, *argv: str) -> Iterator[subprocess.Popen[str]]:
    """``python -m <argv...>`` with its demo key in ``config_dir``; killed if still running."""
    env = dict(os.environ, QENGINE_CONFIG_DIR=str(config_dir))
    proc = subprocess.Popen([sys.executable, "-m", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
