"""``qengine simulate`` fault flags: parsed into FaultConfig, validated with clear errors, and
observable by a client of the standalone process."""

from __future__ import annotations

import signal
import time

import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed

from qengine.cli import build_parser
from qengine.io.auth import demo_credentials, make_login_token
from qengine.io.simulator import FaultConfig
from qengine.io.simulator.cli import fault_config, main

from .conftest import standalone_simulator
from .test_server import Ws, open_websocket_url


def _faults(*argv: str) -> FaultConfig:
    return fault_config(build_parser().parse_args(["simulate", *argv]))


def test_every_fault_field_has_a_flag():
    assert _faults() == FaultConfig()
    got = _faults("--drop-every-s", "30", "--drop-after-messages", "7", "--delay-ms", "250",
                  "--reject-rate", "0.25", "--reject-code", "20",
                  "--system-reconnect-every-s", "60", "--reconnect-grace-s", "2.5",
                  "--malformed-rate", "0.01")
    assert got == FaultConfig(drop_every_s=30.0, drop_after_messages=7, reply_delay_s=0.25,
                              reject_insert_fraction=0.25, reject_insert_code=20,
                              system_reconnect_every_s=60.0, reconnect_grace_s=2.5,
                              malformed_frame_fraction=0.01)
    assert set(FaultConfig.__dataclass_fields__) == {
        "drop_every_s", "drop_after_messages", "reply_delay_s", "reject_insert_fraction",
        "reject_insert_code", "system_reconnect_every_s", "reconnect_grace_s",
        "malformed_frame_fraction"}


@pytest.mark.parametrize(("argv", "message"), [
    (["--reject-rate", "2"], "--reject-rate: must be a number in [0, 1], got '2'"),
    (["--reject-rate", "nan"], "--reject-rate: must be a number in [0, 1]"),
    (["--delay-ms", "-5"], "--delay-ms: must be a number >= 0, got '-5'"),
    (["--drop-every-s", "0"], "--drop-every-s: must be a number > 0, got '0'"),
    (["--drop-every-s", "inf"], "--drop-every-s: must be a number > 0"),
    (["--drop-after-messages", "1.5"], "--drop-after-messages: must be an integer >= 1"),
    (["--reject-code", "x"], "--reject-code: must be an integer >= 1, got 'x'"),
    (["--malformed-rate", "1.01"], "--malformed-rate: must be a number in [0, 1]"),
    (["--system-reconnect-every-s", "-1"], "--system-reconnect-every-s: must be a number > 0"),
])
def test_bad_fault_values_fail_with_the_flag_named(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


async def _observe_faults(url: str, token: str) -> dict[str, object]:
    seen: dict[str, object] = {}
    async with open_websocket_url(url) as ws:
        opened = trio.current_time()
        client = Ws(ws)
        started = trio.current_time()
        assert (await client.call("public/system_info"))["result"]["api_version"]
        seen["reply_s"] = trio.current_time() - started
        assert "result" in await client.call("public/login", {"token": token})
        reply = await client.call("private/insert", {
            "direction": "buy", "instrument_name": "BTC-PERPETUAL", "amount": 0.1,
            "price": 60000})
        seen["insert_error"] = reply.get("error", {}).get("code")
        await ws.send_message(orjson.dumps({"method": "public/subscribe", "id": 99, "params": {
            "channels": ["ticker.BTC-PERPETUAL.raw"]}}).decode())
        seen["malformed"], seen["close_code"] = await _until_closed(ws)
        seen["open_s"] = trio.current_time() - opened
    return seen


async def _until_closed(ws) -> tuple[int, int]:
    """Read until the server closes: (frames that are not JSON, the close code)."""
    malformed = 0
    while True:
        try:
            orjson.loads(await ws.get_message())
        except orjson.JSONDecodeError:
            malformed += 1
        except ConnectionClosed as closed:
            return malformed, closed.reason.code


@pytest.mark.slow
def test_standalone_simulator_injects_the_faults_of_its_flags(tmp_path):
    config_dir = tmp_path / "cfg"
    with standalone_simulator(config_dir, "qengine", "simulate", "--port", "0",
                              "--drop-every-s", "3", "--delay-ms", "200", "--reject-rate", "1",
                              "--malformed-rate", "1") as proc:
        url = proc.stdout.readline().split()[-1]
        assert url.startswith("ws://127.0.0.1:")
        credentials = demo_credentials(config_dir)
        token = make_login_token(credentials.key_id, credentials.private_key_pem, time.time())
        seen = trio.run(_observe_faults, url, token)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    assert seen["reply_s"] >= 0.2  # --delay-ms 200
    assert seen["insert_error"] == 4  # --reject-rate 1 with the default code
    assert seen["malformed"] >= 1  # --malformed-rate 1: before every notification
    assert seen["close_code"] == 1001  # --drop-every-s 3
    assert 3.0 <= seen["open_s"] < 6.0
