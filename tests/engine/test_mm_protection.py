"""Mass-quote protection goes out as Thalex requires: ``trade_amount <= quote_amount``, with
``quote_amount`` bounding one level (each level is its own order)."""

from __future__ import annotations

from fractions import Fraction

import pytest
import trio

from qengine.config import EngineConfig
from qengine.engine._session import mm_protection_amounts
from qengine.errors import ConfigError
from qengine.strategy.setup import InstrumentSpec

from .conftest import exchange_side_counts, running, wait_until

BTC_SPEC = InstrumentSpec(index=0, name="BTC-PERPETUAL", product="FBTCUSD", underlying="BTCUSD",
                          tick_size=1.0, volume_tick=0.001, min_order_lots=1)


def _config(**risk: float) -> EngineConfig:
    from qengine.config import RiskConfig

    return EngineConfig(order_mode="mass_quote", risk=RiskConfig(**risk))


def test_defaults_send_trade_amount_not_above_quote_amount():
    # Defaults: base 0.02, largest multiplier 2, inventory growth up to 1.5x, plus one lot.
    trade, quote = mm_protection_amounts(_config(mm_protection_trade_amount=0.05), BTC_SPEC)
    assert (trade, quote) == (0.05, 0.061)
    trade, quote = mm_protection_amounts(_config(), BTC_SPEC)
    assert (trade, quote) == (1.0, 1.0)  # the old code sent (1.0, 0.061): refused by Thalex
    trade, quote = mm_protection_amounts(
        _config(mm_protection_trade_amount=0.05, mm_protection_quote_amount=0.08), BTC_SPEC)
    assert (trade, quote) == (0.05, 0.08)
    assert trade <= quote


def test_a_quote_amount_below_the_largest_level_is_a_config_error():
    config = _config(mm_protection_trade_amount=0.03, mm_protection_quote_amount=0.04)
    with pytest.raises(ConfigError, match=r"risk\.mm_protection_quote_amount: 0\.04 is below "
                                          r"the largest level .* BTC-PERPETUAL \(0\.061\)"):
        mm_protection_amounts(config, BTC_SPEC)


async def test_engine_refuses_to_start_with_a_too_small_quote_amount(autojump_clock):
    errors: list[BaseException] = []
    with trio.fail_after(60):
        try:
            async with running(order_mode="mass_quote", risk__mm_protection_trade_amount=0.01,
                               risk__mm_protection_quote_amount=0.02):
                raise AssertionError("the engine started")
        except* ConfigError as group:  # the simulator's nursery wraps it in a group
            errors.extend(group.exceptions)
    (error,) = errors
    assert "risk.mm_protection_quote_amount: 0.02 is below" in str(error)


async def test_engine_sets_a_valid_protection_and_quotes_every_level(autojump_clock):
    with trio.fail_after(120):
        async with running(order_mode="mass_quote", quote__levels=3,
                           risk__mm_protection_trade_amount=0.04) as (sim, engine):
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            (session,) = list(sim.exchange.sessions.values())
            group = session.mm_groups["FBTCUSD"]
            assert (group.trade_amount, group.quote_amount) == (Fraction("0.04"),
                                                                Fraction("0.061"))
            assert engine.orders.mm_protection_amounts == (0.04, 0.061)
