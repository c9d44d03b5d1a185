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
from qengine import backtest
from qengine.backtest.instruments import Instrument
from qengine.kernels import codes
from qengine.sim import IndexSpec, MarketRecorder

from ..decision_replay import (
    assert_same_decisions,
    decisions_by_state,
    ladder_key,
    recording_feed,
    replay_feed,
    state_key,
)
from .conftest import BTC, quiet_instruments, running, sim_config
from .livelog import CycleLog

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
    """Run the engine on the moving market; return (config, spec, cycle log, recorder)."""
    recorder = MarketRecorder(BTC)
    with trio.fail_after(600):
        async with running(moving_market(), market_tap=recorder, **dotted) as (_sim, engine):
            log = CycleLog(engine, monkeypatch, listener_module)
            await trio.sleep(seconds)
    return engine.config, engine.state.spec, log, recorder


def backtest_decisions(config, spec, recorder, path):
    """Run qengine's strategy with ``config`` on the recording (saved to ``path``); return the
    result, its decision log kept."""
    recorder.save(path)
    instrument = Instrument(name=spec.name, tick_size=spec.tick_size, lot_size=spec.volume_tick,
                            min_order_lots=spec.min_order_lots,
                            maker_fee=config.quote.maker_fee_rate,
                            taker_fee=config.quote.taker_fee_rate)
    # Zero latency: the engine's requests reach the simulator in no virtual time (autojump).
    return backtest.run(config, path, instrument=instrument, latency_ms=0.0, decision_log=True)


async def test_with_estimators_on_live_and_backtest_decide_as_the_kernels_on_their_inputs(
        autojump_clock, monkeypatch, tmp_path):
    """Estimators on (EWMA volatility from the book, intensity fitted to public trades, the
    rolling A-S horizon): their state depends on when each side sampled the market, so the two
    runs are compared through the one decision function instead. Every live decision is the
    pure kernels' decision on what the engine logged (the trades it fed the intensity estimator
    and each cycle's book, position and levels, in order), replayed from fresh estimators through
    the strategy layer's setup; and every backtest decision on the recording is the same
    replay's decision on the backtester's inputs (its cycles' books, positions and levels, and
    the recording's trades with the local mid at their arrival). Bit for bit: sigma, A and kappa
    per side, status, flags and the ladder of every cycle, on both sides."""
    config, spec, log, recorder = await live_session(monkeypatch, quote__estimate_intensity=True)
    live = log.decisions()
    assert len(live) >= 100
    assert_same_decisions(replay_feed(config, spec, live, log.feed), live)
    backtested = backtest_decisions(config, spec, recorder, tmp_path / "market.npz").decisions
    assert len(backtested) >= 100
    feed = recording_feed(recorder.rows(), spec, config.quote.intensity_half_life_s, backtested)
    assert_same_decisions(replay_feed(config, spec, backtested, feed), backtested)
    # Not a constant decision: the estimators moved, the engine was filled and skewed.
    fitted = (live["flags"] & codes.QUOTE_FLAG_INTENSITY_PRIOR) == 0
    assert np.count_nonzero(fitted) >= 10
    assert len(np.unique(live["sigma_per_sqrt_s"])) >= 50
    assert len(np.unique(live["kappa_bid_per_tick"][fitted])) >= 10
    assert len(np.unique(live["position_lots"])) >= 3
    assert sum(kind == "trade" for kind, _ in log.feed) >= 20
    assert sum(kind == "trade" for kind, _ in feed) >= 20
    assert np.count_nonzero((backtested["flags"] & codes.QUOTE_FLAG_INTENSITY_PRIOR) == 0) >= 10


#: The config of the state-only comparison (see its docstring for why each setting).
STATE_ONLY = {
    "quote__horizon": "fixed",
    "quote__sigma_fallback_daily": 0.02,
    "quote__sigma_floor_daily": 0.02,
    "quote__sigma_ceiling_daily": 0.02,
    "quote__estimate_intensity": False,
    "quote__min_quote_interval_s": 0.0,
    "risk__take_profit_enabled": False,
}


async def test_live_and_backtest_decide_the_same_quotes_at_the_same_market_states(
        autojump_clock, monkeypatch, tmp_path):
    """The live engine on the simulator and the backtester on the recording of that market,
    with one config: wherever both quoted at the same market state (touch, position, levels
    allowed), they decided the same ladder (every level's price and size on both sides), and
    that is most live cycles.

    The config makes the decision a function of that state only, switching off exactly what
    legitimately differs between the two runs:

    - ``quote.horizon = "fixed"``: the rolling horizon reads the clock, and the live engine's
      clock (trio's, monotonic) is not the recording's (simulated Unix time);
    - sigma floor = ceiling = fallback (0.02 a day): the volatility estimator is fed the book at
      each cycle, and the two sides cycle at different instants (the live engine on the tickers
      it reads and on order replies, the backtester on every row and response);
    - ``quote.estimate_intensity = false``: the intensity estimator is fed each trade with the
      mid at its arrival, and a trade arrives with its step's book in the live engine's read but
      before that step's depth rows in the recording; the fit differs in its last bits;
    - ``quote.min_quote_interval_s = 0``: the backtester quotes at every wake-up, so the live
      engine quotes on every book too; both rest the same orders through each market step and
      the same takers fill them (their positions must walk together for states to match);
    - ``risk.take_profit_enabled = false``: the take-profit check runs on the live monitor's
      timer and would flatten the two runs at different instants.

    With the estimators on, the test above compares the two through the decision function.
    """
    config, spec, log, recorder = await live_session(monkeypatch, **STATE_ONLY)
    result = backtest_decisions(config, spec, recorder, tmp_path / "market.npz")
    live, replayed = log.decisions(), result.decisions
    assert len(live) >= 500
    assert len(replayed) >= 500

    # Each side decides one ladder per state (the decision is a function of the state) ...
    live_ladders, backtest_ladders = decisions_by_state(live), decisions_by_state(replayed)
    assert all(len(ladders) == 1 for ladders in live_ladders.values())
    assert all(len(ladders) == 1 for ladders in backtest_ladders.values())
    # ... and it is the same ladder wherever both quoted at a state.
    matched = [row for row in live if state_key(row) in backtest_ladders]
    differ = [row for row in matched if ladder_key(row) not in backtest_ladders[state_key(row)]]
    assert differ == [], f"{len(differ)} of {len(matched)} matched cycles differ"
    assert len(matched) >= 0.9 * len(live)
    # Not a constant decision: many books, inventories and ladders, both sides filled.
    assert len({state_key(row) for row in matched}) >= 200
    assert len({int(row["position_lots"]) for row in matched}) >= 5
    assert len({ladder_key(row) for row in matched}) >= 200
    assert result.counts["fills"] >= 5
