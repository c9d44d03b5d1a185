"""Fused pipeline: against a twin pipeline built from the reference twins, plus safety cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, intensity, pipeline
from qengine.kernels.dtypes import (
    INTENSITY_STATE,
    MARKET_SAMPLE,
    QUOTE,
    QUOTE_DIAG,
    RING_CURSOR,
    VOL_RETURN,
    VOL_STATE,
)
from qengine.kernels.params import LEGACY_OVERRIDES, make_level_multipliers, make_quote_params
from tests.reference import intensity as intensity_twin
from tests.reference import pipeline as twin

S = 1_000_000_000
MULT = make_level_multipliers([1.0, 1.5, 2.0])


class World:
    """One set of pipeline state arrays and outputs."""

    def __init__(self, ring_capacity=8, returns_capacity=8):
        self.samples = np.zeros(ring_capacity, MARKET_SAMPLE)
        self.cursor = np.zeros(1, RING_CURSOR)
        self.vol_state = np.zeros(1, VOL_STATE)
        self.vol_returns = np.zeros(returns_capacity, VOL_RETURN)
        self.intensity_state = np.zeros(2, INTENSITY_STATE)
        self.quotes = np.zeros(12, QUOTE)
        self.diag = np.zeros(1, QUOTE_DIAG)

    def bundles(self, params):
        state = (self.samples, self.cursor, self.vol_state, self.vol_returns, self.intensity_state)
        return (params, MULT, MULT), state, (self.quotes, self.diag)

    def run(self, fn, params, time_ns, bid, ask, inventory, levels_allowed=10):
        setup, state, out = self.bundles(params)
        n = fn(setup, state, (time_ns, bid, ask, 3, 4, inventory, levels_allowed), out, 0, 0)
        return n, self.quotes[:n].tolist(), self.diag.copy()[0]


def _assert_same(got, want):
    n, quotes, diag = got
    assert (n, quotes) == (want[0], want[1])
    np.testing.assert_allclose(np.array(diag.tolist(), float), np.array(want[2].tolist(), float),
                               rtol=1e-9, atol=1e-12, equal_nan=True)


def _trade(kernel_world, twin_world, time_ns, price, mid, taker_side):
    a = intensity.intensity_update(kernel_world.intensity_state, time_ns, price, mid,
                                   taker_side, 300.0)
    b = intensity_twin.intensity_update(twin_world.intensity_state, time_ns, price, mid,
                                        taker_side, 300.0)
    assert a == b


step = st.tuples(
    st.integers(0, 3 * S),  # time step
    st.integers(-6, 6),  # mid move in ticks
    st.sampled_from(["ok", "ok", "ok", "no_bid", "no_ask", "crossed", "back", "trade"]),
    st.integers(-2500, 2500),  # inventory
)


@given(
    model=st.sampled_from([codes.MODEL_AS, codes.MODEL_GLFT, codes.MODEL_LEGACY]),
    intensity_mode=st.sampled_from([codes.INTENSITY_FIT, codes.INTENSITY_FIXED]),
    estimator=st.sampled_from([codes.VOL_EWMA, codes.VOL_REALISED]),
    max_mid_age_s=st.integers(0, 3),
    steps=st.lists(step, min_size=1, max_size=25),
)
def test_pipeline_matches_twin_pipeline(model, intensity_mode, estimator, max_mid_age_s, steps):
    params = make_quote_params(
        model_code=model, intensity_mode_code=intensity_mode, vol_estimator_code=estimator,
        vol_min_sample_count=3,
        max_mid_age_ns=max_mid_age_s * S, position_limit_lots=2000, level_count=5,
        vol_window_ns=10 * S,
    )
    kernel_world, twin_world = World(), World()
    time_ns, mid = 1_000 * S, 50_000
    for dt, move, kind, inventory in steps:
        time_ns += dt
        mid += move
        bid, ask = mid - 2, mid + 2
        row_time = time_ns
        if kind == "no_bid":
            bid = 0
        elif kind == "no_ask":
            ask = -1
        elif kind == "crossed":
            bid, ask = ask, bid
        elif kind == "back":
            row_time = time_ns - 5 * S
        elif kind == "trade":
            side = codes.SIDE_BUY if move % 2 else codes.SIDE_SELL
            price = mid - 3 - abs(move) if side == codes.SIDE_BUY else mid + 3 + abs(move)
            _trade(kernel_world, twin_world, time_ns, price, float(mid), side)
        got = kernel_world.run(pipeline.quote_pipeline, params, row_time, bid, ask, inventory)
        want = twin_world.run(twin.quote_pipeline, params, row_time, bid, ask, inventory)
        _assert_same(got, want)


@pytest.mark.parametrize("model", [codes.MODEL_AS, codes.MODEL_GLFT, codes.MODEL_LEGACY])
def test_random_walk_session_matches_twin_and_keeps_the_ladder_sane(model):
    rng = np.random.default_rng(7)
    params = make_quote_params(model_code=model, level_count=5, position_limit_lots=3000,
                               vol_min_sample_count=5,
                               vol_window_ns=30 * S)
    kernel_world, twin_world = World(64, 64), World(64, 64)
    mid, time_ns, inventory = 60_000, 0, 0
    for _ in range(200):
        time_ns += int(rng.integers(1, 500_000_000))
        mid += int(rng.integers(-3, 4))
        inventory = int(np.clip(inventory + rng.integers(-200, 201), -3000, 3000))
        if rng.random() < 0.2:
            side = int(rng.integers(0, 2))
            offset = int(rng.integers(0, 20))
            price = mid - offset if side == codes.SIDE_BUY else mid + offset
            _trade(kernel_world, twin_world, time_ns, price, float(mid), side)
        got = kernel_world.run(pipeline.quote_pipeline, params, time_ns, mid - 1, mid + 1,
                               inventory)
        _assert_same(got, twin_world.run(twin.quote_pipeline, params, time_ns, mid - 1, mid + 1,
                                         inventory))
        quotes = kernel_world.quotes[: got[0]]
        bids = quotes[quotes["side"] == codes.SIDE_BUY]["price_ticks"]
        asks = quotes[quotes["side"] == codes.SIDE_SELL]["price_ticks"]
        if len(bids) and len(asks):
            assert bids.max() < asks.min()
    assert kernel_world.cursor[0]["count"] == 64


def test_one_sided_book_without_a_fresh_mid_quotes_nothing():
    world = World()
    params = make_quote_params(max_mid_age_ns=0)
    assert world.run(pipeline.quote_pipeline, params, 1 * S, 49_999, 50_001, 0)[0] == 6
    n, _, diag = world.run(pipeline.quote_pipeline, params, 2 * S, 0, 50_001, 0)
    assert n == 0
    assert diag["status"] == codes.STATUS_BAD_INPUT
    flags = int(diag["flags"])
    assert flags & codes.QUOTE_FLAG_BOOK_INVALID
    assert flags & codes.QUOTE_FLAG_NO_MID
    assert world.cursor[0]["count"] == 1  # nothing invented, nothing pushed


def test_one_sided_book_quotes_around_the_last_real_mid_while_it_is_fresh():
    world = World()
    params = make_quote_params(max_mid_age_ns=2 * S)
    _, before, _ = world.run(pipeline.quote_pipeline, params, 1 * S, 49_999, 50_001, 0)
    n, after, diag = world.run(pipeline.quote_pipeline, params, 2 * S, 49_999, 0, 0)
    assert after == before  # same mid, same state: the same ladder, no invented touch
    assert n == 6
    assert diag["mid_ticks"] == 50_000.0
    assert int(diag["flags"]) & codes.QUOTE_FLAG_BOOK_INVALID
    assert world.cursor[0]["count"] == 1
    # Too old now: stop quoting.
    assert world.run(pipeline.quote_pipeline, params, 4 * S, 49_999, 0, 0)[0] == 0


def test_fallback_mid_is_derived_from_the_last_book_row_half_tick_included():
    # The sample stores no mid: the fallback rebuilds it from the stored touch.
    params = make_quote_params(max_mid_age_ns=2 * S)
    results = []
    for fn in (pipeline.quote_pipeline, twin.quote_pipeline):
        world = World()
        _, fresh, _ = world.run(fn, params, 1 * S, 49_999, 50_000, 0)
        n, held, diag = world.run(fn, params, 2 * S, 0, 50_003, 0)
        assert n == 6
        assert held == fresh
        assert diag["mid_ticks"] == 49_999.5
        results.append(held)
    assert results[0] == results[1]


def test_inventory_at_the_limit_quotes_only_the_reducing_side():
    world = World()
    params = make_quote_params(position_limit_lots=1000)
    n, quotes, diag = world.run(pipeline.quote_pipeline, params, S, 49_999, 50_001, 1000)
    assert n == 3
    assert {q[0] for q in quotes} == {codes.SIDE_SELL}
    assert int(diag["flags"]) & codes.QUOTE_FLAG_BIDS_GATED
    n, quotes, diag = world.run(pipeline.quote_pipeline, params, 2 * S, 49_999, 50_001, -1000)
    assert n == 3
    assert {q[0] for q in quotes} == {codes.SIDE_BUY}
    assert int(diag["flags"]) & codes.QUOTE_FLAG_ASKS_GATED


def test_levels_allowed_throttles_the_ladder():
    world = World()
    params = make_quote_params(level_count=5)
    throttled = world.run(pipeline.quote_pipeline, params, S, 49_999, 50_001, 0, levels_allowed=1)
    assert throttled[0] == 2
    assert world.run(pipeline.quote_pipeline, params, 2 * S, 49_999, 50_001, 0)[0] == 10


def test_legacy_pipeline_reproduces_the_old_bot_ladder():
    world = World()
    params = make_quote_params(**LEGACY_OVERRIDES)
    n, quotes, diag = world.run(pipeline.quote_pipeline, params, S, 99_999, 100_001, 0)
    assert n == 6
    assert [q[2] for q in quotes] == [99_887, 99_879, 99_871, 100_113, 100_121, 100_129]
    assert {q[3] for q in quotes} == {100}
    assert diag["sigma_per_sqrt_s"] == 0.01


def test_diagnostics_report_sigma_fallback_and_intensity_priors():
    world = World()
    params = make_quote_params(sigma_fallback_per_sqrt_s=2e-4)
    _, _, diag = world.run(pipeline.quote_pipeline, params, S, 49_999, 50_001, 0)
    assert diag["sigma_per_sqrt_s"] == 2e-4
    flags = int(diag["flags"])
    assert flags & codes.QUOTE_FLAG_SIGMA_FALLBACK
    assert flags & codes.QUOTE_FLAG_INTENSITY_PRIOR
    assert diag["kappa_bid_per_tick"] > 0
    assert diag["a_ask_per_s"] > 0
    assert diag["tau_s"] == 60.0
    assert diag["quote_count"] == 6


def test_empty_diag_array_quotes_nothing():
    world = World()
    world.diag = np.zeros(0, QUOTE_DIAG)
    setup, state, out = world.bundles(make_quote_params())
    assert pipeline.quote_pipeline(setup, state, (S, 49_999, 50_001, 3, 4, 0, 10), out, 0, 0) == 0
    assert world.cursor[0]["count"] == 0  # nothing ingested either


def test_book_sizes_beyond_int32_are_stored_saturated_in_the_sample():
    params = make_quote_params(position_limit_lots=2000, level_count=3)
    for fn in (pipeline.quote_pipeline, twin.quote_pipeline):
        world = World()
        setup, state, out = world.bundles(params)
        fn(setup, state, (10 * S, 99_990, 100_010, 2**40, -(2**40), 0, 3), out, 0, 0)
        assert world.samples[0].tolist() == (10 * S, 99_990, 100_010, codes.LOTS_MAX,
                                             -codes.LOTS_MAX - 1)
