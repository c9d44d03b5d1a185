"""Predictive adjustments (candle predictions, VAMP skew) reaching ``state.params``: listener-level
unit tests without sockets, config validation, and one run against the simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from qengine.clock import now_ns
from qengine.config import EngineConfig, QuoteConfig, load_config
from qengine.engine import _predictive as predictive
from qengine.engine._gate import Wakeup
from qengine.engine._listener import Listener
from qengine.engine._state import EngineState, select_instruments
from qengine.errors import ConfigError
from qengine.io import messages as m
from qengine.kernels import codes
from qengine.telemetry import Telemetry

from .conftest import BTC, exchange_side_counts, running, wait_until

MID = 65_000
_INSTRUMENTS = [m.Instrument(instrument_name=BTC, product="FBTCUSD", type="perpetual",
                             underlying="BTCUSD", tick_size=1.0, volume_tick_size=0.001,
                             min_order_amount=0.001, base_currency="BTC",
                             expiration_timestamp=None)]
#: Three one-trade candles (threshold 1 BTC): buys at rising prices with uneven sizes, so the
#: signals show momentum (trend up, positive offset) and volatility (volume dispersion).
RISING = [(65_000.0, 1.0, "buy"), (65_100.0, 3.0, "buy"), (65_200.0, 1.0, "buy")]


def _listener(**quote: object) -> Listener:
    config = EngineConfig(quote=QuoteConfig(**quote))  # type: ignore[arg-type]
    state = EngineState(config, select_instruments(config, _INSTRUMENTS))
    state.book.bid_ticks, state.book.ask_ticks = MID - 1, MID + 1
    return Listener(state, Telemetry(), Wakeup())


def _feed(listener: Listener, trades: list[tuple[float, float, str]]) -> None:
    records = tuple(m.PublicTrade(price=price, amount=amount, taker_side=side, time=0.0,
                                  instrument_name=BTC) for price, amount, side in trades)
    listener.on_public_trades(m.Notification(kind="recent_trades", key=BTC, records=records,
                                             snapshot=False))


def _feed_each(listener: Listener, trades: list[tuple[float, float, str]]) -> None:
    for trade in trades:
        _feed(listener, [trade])


def _assert_bounded(listener: Listener) -> None:
    p, pred = listener.state.params[0], listener.predictor
    gamma = float(p[pred.gamma_field])
    assert pred.base_gamma * 0.25 <= gamma <= pred.base_gamma * 4.0
    kappa = float(p["prior_kappa_per_tick"])
    assert pred.base_kappa_per_tick * 0.25 <= kappa <= pred.base_kappa_per_tick * 4.0
    assert 0.5 <= float(p["sigma_scale"]) <= 3.0
    offset_max = predictive.RESERVATION_OFFSET_MAX_BPS * MID / 1e4 + predictive.VAMP_SKEW_MAX_TICKS
    assert abs(float(p["reservation_offset_ticks"])) <= offset_max + 1.0
    assert float(p["market_state_factor"]) in (1.0, 1.5)


async def test_flag_off_never_changes_the_params(autojump_clock):
    listener = _listener(vamp_skew_ticks_per_lot=0.01)
    before = listener.state.params.copy()
    _feed_each(listener, RISING * 3)
    assert int(listener.state.candle_state[0]["count"]) == 9  # the candles are built anyway
    await trio.sleep(10.0)
    listener.predictor.expire(now_ns())
    assert listener.state.params.tobytes() == before.tobytes()
    assert listener.predictor.predictions == 0


async def test_a_closed_candle_moves_the_params_within_bounds(autojump_clock):
    listener = _listener(predictive_adjustments=True)
    p, pred = listener.state.params[0], listener.predictor
    base_gamma, base_kappa = float(p["gamma"]), float(p["prior_kappa_per_tick"])
    _feed_each(listener, RISING[:2])
    assert pred.predictions == 0  # two candles: still warming up
    assert float(p["gamma"]) == base_gamma
    _feed(listener, RISING[2:])
    assert pred.predictions == 1
    adjust = pred.adjust[0]
    assert adjust["gamma_adj"] > 0.05
    assert adjust["trend"] == 1
    # Applied to the base values, not compounded: gamma = base (1 + adj) exactly.
    assert float(p["gamma"]) == pytest.approx(base_gamma * (1 + adjust["gamma_adj"]))
    assert float(p["prior_kappa_per_tick"]) == pytest.approx(base_kappa * (1 + adjust["kappa_adj"]))
    assert float(p["sigma_scale"]) == pytest.approx(1 + adjust["vol_adj"])
    assert float(p["sigma_scale"]) > 1.0
    offset = adjust["reservation_offset_bps"] * MID / 1e4
    assert offset > 0
    assert float(p["reservation_offset_ticks"]) == pytest.approx(offset)
    assert float(p["market_state_factor"]) == 1.0  # A-S ignores it: left at its base
    _assert_bounded(listener)
    # Later candles: every prediction starts again from the base (the old bot compounded).
    for n, trade in enumerate([RISING[1], RISING[0], RISING[1], RISING[2]] * 2, start=2):
        _feed(listener, [trade])
        assert pred.predictions == n
        gamma_adj = float(pred.adjust[0]["gamma_adj"])
        expected = base_gamma * (1 + gamma_adj) if gamma_adj > 0.05 else base_gamma
        assert float(p["gamma"]) == pytest.approx(expected)
        _assert_bounded(listener)


async def test_predictions_expire_back_to_the_base_values(autojump_clock):
    listener = _listener(predictive_adjustments=True, prediction_max_age_s=5.0)
    base = listener.state.params.copy()
    _feed_each(listener, RISING)
    assert listener.state.params.tobytes() != base.tobytes()
    await trio.sleep(4.9)
    listener.predictor.expire(now_ns())
    assert listener.state.params.tobytes() != base.tobytes()  # still fresh
    await trio.sleep(0.2)
    listener.predictor.expire(now_ns())
    assert listener.state.params.tobytes() == base.tobytes()
    assert listener.predictor.expiries == 1
    assert listener.predictor.expires_ns is None  # nothing left to expire: expire() is a no-op


async def test_a_trade_batch_without_a_candle_also_expires_a_stale_prediction(autojump_clock):
    listener = _listener(predictive_adjustments=True)
    base = listener.state.params.copy()
    _feed_each(listener, RISING)
    await trio.sleep(6.0)
    _feed(listener, [(65_200.0, 0.1, "sell")])  # below the candle threshold: no close
    assert listener.state.params.tobytes() == base.tobytes()


async def test_legacy_model_trends_and_adjusts_its_own_gamma(autojump_clock):
    listener = _listener(predictive_adjustments=True, model="legacy")
    p = listener.state.params[0]
    base_gamma = float(p["gamma"])
    _feed_each(listener, RISING)
    assert float(p["market_state_factor"]) == predictive.TRENDING_MARKET_STATE_FACTOR
    assert float(p["legacy_gamma"]) > 0.4
    assert float(p["gamma"]) == base_gamma  # the A-S field is not the legacy model's gamma
    _assert_bounded(listener)
    await trio.sleep(6.0)
    listener.predictor.expire(now_ns())
    assert float(p["market_state_factor"]) == 1.0
    assert float(p["legacy_gamma"]) == 0.4


async def test_vamp_skew_follows_aggressive_flow_clamped_and_expires(autojump_clock):
    listener = _listener(predictive_adjustments=True, vamp_skew_ticks_per_lot=0.01)
    p = listener.state.params[0]
    _feed(listener, [(65_001.0, 0.2, "buy")])  # 200 lots x 0.01 = 2 ticks up, no candle
    assert float(p["reservation_offset_ticks"]) == pytest.approx(2.0)
    assert float(p["gamma"]) == listener.predictor.base_gamma  # no prediction involved
    _feed(listener, [(64_999.0, 0.5, "sell")])  # net -300 lots: clamped at -3 ticks
    assert float(p["reservation_offset_ticks"]) == -predictive.VAMP_SKEW_MAX_TICKS
    await trio.sleep(5.5)
    listener.predictor.expire(now_ns())
    assert float(p["reservation_offset_ticks"]) == 0.0


async def test_vamp_skew_off_by_default(autojump_clock):
    listener = _listener(predictive_adjustments=True)
    _feed(listener, [(65_001.0, 0.5, "buy")])
    assert float(listener.state.params[0]["reservation_offset_ticks"]) == 0.0


_trade = st.tuples(st.integers(64_000, 66_000).map(float),
                   st.sampled_from([0.001, 0.05, 0.3, 0.9, 1.0, 2.5, 7.0]),
                   st.sampled_from(["buy", "sell"]))


@settings(deadline=None)
@given(st.lists(st.lists(_trade, min_size=1, max_size=4), min_size=1, max_size=12),
       st.sampled_from(["as", "glft", "legacy"]))
def test_params_stay_bounded_for_any_tape(batches, model):
    async def run() -> None:
        listener = _listener(predictive_adjustments=True, model=model,
                             vamp_skew_ticks_per_lot=0.05, volume_candle_threshold=0.5)
        for batch in batches:
            _feed(listener, batch)
            _assert_bounded(listener)
            assert np.isfinite(float(listener.state.params[0]["reservation_offset_ticks"]))

    trio.run(run)


@pytest.mark.parametrize(("key", "value"), [("quote.prediction_max_age_s", 0.0),
                                            ("quote.prediction_max_age_s", -1.0),
                                            ("quote.vamp_skew_ticks_per_lot", -0.1)])
def test_new_config_keys_are_validated(key, value):
    with pytest.raises(ConfigError, match=key):
        load_config(None, {key: value})


def test_new_config_keys_defaults_are_off():
    q = QuoteConfig()
    assert (q.predictive_adjustments, q.prediction_max_age_s, q.vamp_skew_ticks_per_lot) == (
        False, 5.0, 0.0)
    with pytest.raises(ConfigError, match="vamp_skew_ticks_per_lot"):
        EngineConfig(quote=QuoteConfig(vamp_skew_ticks_per_lot=math.nan))


async def test_engine_quotes_with_predictions_on_against_the_simulator(autojump_clock):
    with trio.fail_after(120):
        async with running(quote__predictive_adjustments=True,
                           quote__vamp_skew_ticks_per_lot=0.005,
                           quote__volume_candle_threshold=0.2) as (sim, engine):
            await wait_until(lambda: exchange_side_counts(sim) == (3, 3))
            predictor = engine.listener.predictor
            base = engine.state.params.copy()
            # Crowd takers (the crowd sits at mid +- 5 ticks, inside our quotes): candles of
            # uneven size and alternating side close one per trade.
            for side, amount in (("buy", 0.2), ("sell", 0.6), ("buy", 0.2), ("buy", 0.4)):
                sim.inject_taker(BTC, side, amount)
                await trio.sleep(0.3)
            await wait_until(lambda: predictor.predictions >= 1)
            p = engine.state.params[0]
            assert float(p["gamma"]) > float(base[0]["gamma"])  # volume dispersion: wider
            assert 0.5 <= float(p["sigma_scale"]) <= 3.0
            assert abs(float(p["reservation_offset_ticks"])) <= 3.0 + 5.0 * 65_000 / 1e4
            # Quoting goes on under the adjusted params: the flat-inventory centre is mid + offset.
            offset = float(p["reservation_offset_ticks"])
            assert offset != 0.0
            diag = engine.state.diag
            await wait_until(lambda: diag[codes.DIAG_RESERVATION_TICKS]
                             == pytest.approx(diag[codes.DIAG_MID_TICKS] + offset), 4.0)
            await trio.sleep(1.0)
            assert exchange_side_counts(sim) == (3, 3)
            assert engine.state.diag[codes.DIAG_STATUS] == codes.STATUS_OK
            # No new candle: the base values come back and quoting continues.
            await trio.sleep(6.0)
            await wait_until(lambda: engine.state.params.tobytes() == base.tobytes())
            assert predictor.expiries >= 1
            assert exchange_side_counts(sim) == (3, 3)
            assert sim.internal_errors == 0
