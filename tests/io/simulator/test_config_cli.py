"""Config validation, seeded determinism of the market, and the standalone command."""

from __future__ import annotations

import signal

import pytest

from qengine.io.simulator import FaultConfig, InstrumentSpec, SimulatorConfig

from .conftest import make_config, make_exchange, standalone_simulator


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"port": 70000}, "port"),
    ({"seed": -1}, "seed"),
    ({"step_s": 0}, "step_s"),
    ({"time_scale": float("nan")}, "time_scale"),
    ({"taker_fee_rate": 0.5}, "taker_fee_rate"),
    ({"max_open_orders": 0}, "max_open_orders"),
    ({"instruments": ()}, "instruments"),
    ({"api_keys": {"k": 5}}, "api_keys"),
    ({"faults": FaultConfig(reject_insert_fraction=0.1)}, None),
])
def test_config_errors_name_the_field(kwargs, field):
    if field is None:
        assert SimulatorConfig(**kwargs).faults.reject_insert_fraction == 0.1
        return
    with pytest.raises(ValueError, match=rf"SimulatorConfig\.{field}"):
        SimulatorConfig(**kwargs)


def test_instrument_and_fault_validation():
    with pytest.raises(ValueError, match="min_order_amount"):
        InstrumentSpec(instrument_name="X-PERPETUAL", product="FX", underlying="XUSD",
                       tick_size=1, volume_tick_size=0.01, min_order_amount=0.015)
    with pytest.raises(ValueError, match="expiry_date"):
        InstrumentSpec(instrument_name="BTC-25DEC26", product="FBTCUSD", underlying="BTCUSD",
                       type="future", tick_size=1, volume_tick_size=0.001, min_order_amount=0.001)
    with pytest.raises(ValueError, match=r"FaultConfig\.reject_insert_fraction"):
        FaultConfig(reject_insert_fraction=2.0)
    with pytest.raises(ValueError, match="no index"):
        SimulatorConfig(instruments=(InstrumentSpec(
            instrument_name="SOL-PERPETUAL", product="FSOLUSD", underlying="SOLUSD",
            tick_size=0.01, volume_tick_size=0.1, min_order_amount=0.1),))
    config = SimulatorConfig()
    with pytest.raises(AttributeError):
        config.seed = 3  # frozen


def _trajectory(key_pair, seed):
    ex = make_exchange(make_config(key_pair, seed=seed, instruments=SimulatorConfig().instruments))
    path = []
    for _ in range(200):
        ex.step_market()
        market = ex.markets["BTC-PERPETUAL"]
        path.append((market.mid_ticks, market.last_price_ticks, market.mark))
    return path


async def test_market_is_deterministic_for_a_seed_and_takers_trade(key_pair, autojump_clock):
    first = _trajectory(key_pair, 11)
    assert first == _trajectory(key_pair, 11)
    assert first != _trajectory(key_pair, 12)
    assert len({mid for mid, _, _ in first}) > 3  # the mid moves
    assert first[-1][1] is not None  # random takers traded with the crowd


async def test_dated_future_and_instrument_filters(key_pair, harness):
    future = InstrumentSpec(instrument_name="BTC-25DEC26", product="FBTCUSD",
                            underlying="BTCUSD", type="future", tick_size=1.0,
                            volume_tick_size=0.001, min_order_amount=0.001, basis_ticks=300,
                            expiry_date="2026-12-25", expiration_timestamp=1798185600)
    _, make = harness(instruments=(*SimulatorConfig().instruments, future))
    client = make()
    names = [i["instrument_name"] for i in client.result("public/instruments",
                                                          {"underlying": "BTCUSD"})]
    assert names == ["BTC-PERPETUAL", "BTC-25DEC26"]
    assert client.result("public/instrument", {"instrument_name": "BTC-25DEC26"})[
        "expiry_date"] == "2026-12-25"
    assert "funding_rate" not in client.result("public/ticker",
                                               {"instrument_name": "BTC-25DEC26"})
    assert client.error_code("public/index", {"underlying": "XXX"}) == 40
    assert client.result("public/index", {"underlying": "ETHUSD"})["price"] == 3500.0


@pytest.mark.slow
def test_standalone_command_prints_url_and_exits_zero_on_sigint(tmp_path):
    with standalone_simulator(tmp_path / "cfg", "qengine.io.simulator", "--port", "0",
                              "--seed", "3") as proc:
        line = proc.stdout.readline()
        assert line.startswith("listening on ws://127.0.0.1:")
        assert line.rstrip().endswith("/ws/api/v2")
        assert (tmp_path / "cfg").is_dir()  # demo key pair created for zero set-up
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def test_standalone_command_rejects_bad_key_argument():
    from qengine.io.simulator.cli import main

    assert main(["--key", "no-equals-sign"]) == 2
