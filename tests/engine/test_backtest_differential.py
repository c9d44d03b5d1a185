"""Live engine vs backtester on one simulated market: the same quotes at the same market states.

The live engine quotes against the simulator for a minute of simulated time (autojump clock)
while a ``MarketRecorder`` records the simulator's book and public trades as event rows and a
``CycleLog`` logs every quote cycle: book, position, levels allowed, the estimators' outputs and
the ladder decided. Then the backtester runs qengine's strategy (``qengine.backtest.run``, the
same config) on the recording and logs its cycles the same way.

The market moves (index volatility, basis noise) and fills us: takers of a fixed large size
sweep a thin, deep crowd up to a random reach from the mid. A taker that reaches one of our
quotes fills all of it in the simulator and, with crowd levels behind our price, also trades
beyond it, which is what fills a resting order in the backtester (a trade through its price;
a trade exactly at its price only eats the queue ahead, which holds the live order itself). So
both sides are filled by the same takers and walk through the same inventories.
"""

from __future__ import annotations

import numpy as np
import pytest
import trio

import qengine.engine._listener as listener_module
from qengine.kernels import codes
from qengine.sim import IndexSpec, MarketRecorder

from .conftest import BTC, quiet_instruments, running, sim_config
from .livelog import (
    DIAG_FIELDS,
    LADDER_FIELDS,
    CycleLog,
    replay_feed,
)

pytestmark = pytest.mark.slow

LIVE_S = 60.0


def moving_market():
    """Index volatility, basis noise, a thin crowd 60 ticks deep, and takers (2 BTC, always more
    than the book up to their reach) that reach a level d ticks from the mid at 0.5 exp(-0.05 d)
    per second per side."""
    return sim_config(
        instruments=quiet_instruments(
            taker_intensity_per_s=0.5, taker_kappa_per_tick=0.05, taker_size_lots_mean=2000.0,
            taker_size_kind="fixed", crowd_levels=60, crowd_level_lots=5,
            basis_volatility_ticks_per_sqrt_s=0.5),
        indices=(IndexSpec(underlying="BTCUSD", initial_price=65000.0,
                           volatility_per_sqrt_s=2e-4),
                 IndexSpec(underlying="ETHUSD", initial_price=3500.0,
                           volatility_per_sqrt_s=0.0)))


async def live_session(monkeypatch, seconds: float = LIVE_S, **dotted):
    """Run the engine on the moving market; return (config, spec, cycle log, recorded rows)."""
    recorder = MarketRecorder(BTC)
    with trio.fail_after(600):
        async with running(moving_market(), market_tap=recorder, **dotted) as (sim, engine):
            log = CycleLog(engine, sim.exchange.now_s, monkeypatch, listener_module)
            await trio.sleep(seconds)
    return engine.config, engine.state.spec, log, recorder.rows()


def assert_same_decisions(got: np.ndarray, want: np.ndarray) -> None:
    for name in (*DIAG_FIELDS, *LADDER_FIELDS):
        if got.dtype[name].kind == "f":
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)  # NaN == NaN
        else:
            assert np.array_equal(got[name], want[name]), name


async def test_live_decisions_with_estimators_on_are_the_kernels_on_the_logged_inputs(
        autojump_clock, monkeypatch):
    """Estimators on (EWMA volatility from the book, intensity fitted to public trades, the
    rolling A-S horizon): the live engine's every decision is the pure kernels' decision on what
    it logged (the trades fed to the intensity estimator and each cycle's book, position and
    levels, in order), replayed from fresh estimators through the strategy layer's setup, the
    same setup and kernels the backtester runs. Bit for bit: sigma, A and kappa per side, status,
    flags and the ladder of every cycle."""
    config, spec, log, _ = await live_session(monkeypatch, quote__estimate_intensity=True)
    live = log.decisions()
    assert len(live) >= 100
    replayed = replay_feed(config, spec, live, log.feed)
    assert_same_decisions(replayed, live)
    # Not a constant decision: the estimators moved, the engine was filled and skewed.
    fitted = (live["flags"] & codes.QUOTE_FLAG_INTENSITY_PRIOR) == 0
    assert np.count_nonzero(fitted) >= 10
    assert len(np.unique(live["sigma_per_sqrt_s"])) >= 50
    assert len(np.unique(live["kappa_bid_per_tick"][fitted])) >= 10
    assert len(np.unique(live["position_lots"])) >= 3
    assert sum(kind == "trade" for kind, _ in log.feed) >= 20

