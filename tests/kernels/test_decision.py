"""The decision kernels (levels allowed, pacing, token bucket, the fused cycle) against their
twins on random sequences, and the rules they encode, one by one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.config import EngineConfig, QuoteConfig
from qengine.kernels import codes, decision
from qengine.strategy.setup import (
    InstrumentSpec,
    build_decision_params,
    new_bucket_state,
    new_gate_state,
    new_pacing_state,
)
from tests.kernels.test_quote_cycle import MULT, World
from tests.reference import decision as twin

MS = 1_000_000
SPEC = InstrumentSpec(index=0, name="BTC-PERPETUAL", product="FBTCUSD", underlying="BTCUSD",
                      tick_size=1.0, volume_tick=0.001, min_order_lots=1)


def params(**quote):
    return build_decision_params(EngineConfig(quote=QuoteConfig(**quote)), SPEC)


def same(a, b):
    assert a.tolist() == b.tolist()


# -- levels allowed ---------------------------------------------------------------------------

gates = st.fixed_dictionaries({name: st.integers(0, 1) for name in
                               ("ready", "halted", "paused", "recovering")}
                              ).map(lambda d: {**d, "recovery_step": 0})


@given(gates, st.integers(0, 5), st.integers(0, 20_000 * MS), st.integers(0, 20_000 * MS))
def test_gate_levels_match_the_twin(flags, step, now_ns, book_ns):
    p, gate = params(levels=3), new_gate_state()
    for name, value in {**flags, "recovery_step": step}.items():
        gate[0][name] = value
    assert decision.gate_levels(p, gate, now_ns, book_ns) == twin.gate_levels(p, gate, now_ns,
                                                                              book_ns)
    assert decision.gate_levels_allowed(p, gate) == twin.gate_levels_allowed(p, gate)


def test_levels_are_zero_unless_ready_fresh_and_not_halted_and_grow_while_recovering():
    p, gate = params(levels=3, max_book_age_s=10.0), new_gate_state(ready=True)
    now = 100_000 * MS
    assert decision.gate_levels(p, gate, now, now - 10_000 * MS) == 3
    assert decision.gate_levels(p, gate, now, now - 10_001 * MS) == 0  # stale book
    assert decision.gate_levels(p, gate, now, 0) == 0  # no book yet
    gate[0]["recovering"], gate[0]["recovery_step"] = 1, 2
    assert decision.gate_levels(p, gate, now, now) == 2
    gate[0]["recovery_step"] = 0
    assert decision.gate_levels(p, gate, now, now) == 1  # at least one level
    gate[0]["paused"] = 1
    assert decision.gate_levels(p, gate, now, now) == 0
    gate[0]["paused"], gate[0]["ready"] = 0, 0
    assert decision.gate_levels(p, gate, now, now) == 0


# -- pacing -------------------------------------------------------------------------------------

pacing_events = st.lists(st.tuples(
    st.integers(0, 800 * MS),  # time passing
    st.integers(0, 2),  # new books
    st.integers(0, 7),  # flags (FILL | CHANGED | BUSY)
    st.booleans(),  # asked by the reader (inline) or by the task
), min_size=1, max_size=60)


@given(pacing_events, st.sampled_from([0, 100, 500]), st.sampled_from([1_000, 15_000]))
def test_pacing_matches_the_twin_on_any_sequence(events, min_ms, refresh_ms):
    p = params(min_quote_interval_s=min_ms / 1000, force_refresh_s=refresh_ms / 1000)
    pacing = new_pacing_state(p, 0)
    mirror = pacing.copy()
    now, updates = 0, 0
    for dt, books, flags, inline in events:
        now += dt
        updates += books
        if inline:
            busy = bool(flags & codes.PACE_FLAG_BUSY)
            got = decision.pacing_inline(p, pacing, now, updates, busy)
            assert got == twin.pacing_inline(p, mirror, now, updates, busy)
        else:
            got = decision.pacing_due(p, pacing, now, updates, flags)
            assert got == twin.pacing_due(p, mirror, now, updates, flags)
        same(pacing, mirror)


def test_a_fill_skips_the_pacing_and_a_book_waits_for_it():
    p = params(min_quote_interval_s=0.5, force_refresh_s=15.0)
    pacing = new_pacing_state(p, 0)
    assert decision.pacing_due(p, pacing, 0, 0, 0) == codes.PACE_WAIT
    assert pacing[0]["wake_ns"] == 15_000 * MS  # the forced refresh
    assert decision.pacing_due(p, pacing, 0, 1, 0) == codes.PACE_CYCLE_FRESH
    assert decision.pacing_due(p, pacing, 100 * MS, 2, 0) == codes.PACE_WAIT  # paced
    assert pacing[0]["wake_ns"] == 500 * MS
    assert decision.pacing_due(p, pacing, 100 * MS, 2, codes.PACE_FLAG_FILL) == codes.PACE_CYCLE
    assert pacing[0]["last_cycle_ns"] == 100 * MS


def test_after_a_pacing_pause_a_fresh_book_is_awaited_briefly_then_the_aged_one_is_quoted():
    p = params(min_quote_interval_s=0.5, force_refresh_s=15.0)
    pacing = new_pacing_state(p, 0)
    assert decision.pacing_due(p, pacing, 0, 1, 0) == codes.PACE_CYCLE_FRESH
    assert decision.pacing_due(p, pacing, 100 * MS, 2, 0) == codes.PACE_WAIT
    # The pacing ends: wait up to 200 ms for a newer book.
    assert decision.pacing_due(p, pacing, 500 * MS, 2, 0) == codes.PACE_WAIT
    assert pacing[0]["wake_ns"] == 700 * MS
    assert decision.pacing_due(p, pacing, 700 * MS, 2, 0) == codes.PACE_CYCLE  # aged: untimed
    # Again, but a fresh book arrives during the wait: quoted and timed.
    assert decision.pacing_due(p, pacing, 800 * MS, 3, 0) == codes.PACE_WAIT
    assert decision.pacing_due(p, pacing, 1200 * MS, 3, 0) == codes.PACE_WAIT
    assert decision.pacing_due(p, pacing, 1250 * MS, 4, 0) == codes.PACE_CYCLE_FRESH


def test_the_reader_quotes_inline_only_on_an_unquoted_book_after_the_pacing():
    p = params(min_quote_interval_s=0.5)
    pacing = new_pacing_state(p, 0)
    assert decision.pacing_inline(p, pacing, 0, 0, False) == codes.INLINE_NONE
    assert decision.pacing_inline(p, pacing, 0, 1, True) == codes.INLINE_WAKE  # busy
    assert decision.pacing_inline(p, pacing, 0, 1, False) == codes.INLINE_CYCLE
    assert decision.pacing_inline(p, pacing, 400 * MS, 2, False) == codes.INLINE_WAKE  # paced
    assert decision.pacing_inline(p, pacing, 500 * MS, 2, False) == codes.INLINE_CYCLE
    assert pacing[0]["market_seen"] == 2


def test_a_due_cycle_waits_while_one_runs_and_the_refresh_comes_regardless():
    p = params(min_quote_interval_s=0.5, force_refresh_s=15.0)
    pacing = new_pacing_state(p, 0)
    busy = codes.PACE_FLAG_BUSY | codes.PACE_FLAG_FILL
    assert decision.pacing_due(p, pacing, 0, 0, busy) == codes.PACE_BUSY
    assert decision.pacing_due(p, pacing, 0, 0, codes.PACE_FLAG_CHANGED) == codes.PACE_CYCLE
    assert decision.pacing_due(p, pacing, 14_999 * MS, 0, 0) == codes.PACE_WAIT
    assert decision.pacing_due(p, pacing, 15_000 * MS, 0, 0) == codes.PACE_CYCLE


# -- token bucket -------------------------------------------------------------------------------

@given(st.lists(st.tuples(st.integers(0, 2_000 * MS), st.integers(0, 30),
                          st.one_of(st.none(), st.floats(0.0, 50.0))), max_size=40),
       st.floats(1.0, 50.0))
def test_the_bucket_matches_the_twin(steps, rate):
    bucket = new_bucket_state(rate, 0)
    mirror = bucket.copy()
    now = 0
    for dt, wanted, new_rate in steps:
        now += dt
        if new_rate is not None:
            decision.bucket_set_rate(bucket, now, new_rate)
            twin.bucket_set_rate(mirror, now, new_rate)
        assert decision.bucket_take(bucket, now, wanted) == twin.bucket_take(mirror, now, wanted)
        same(bucket, mirror)


def test_the_bucket_grants_a_burst_of_one_second_then_the_rate():
    bucket = new_bucket_state(10.0, 0)
    assert decision.bucket_take(bucket, 0, 25) == 10
    assert decision.bucket_take(bucket, 0, 1) == 0
    assert decision.bucket_take(bucket, 250 * MS, 5) == 2  # 2.5 tokens earned
    assert decision.bucket_take(bucket, 10_000 * MS, 50) == 10  # never more than a second's
    decision.bucket_set_rate(bucket, 10_000 * MS, 0.1)
    assert bucket[0]["rate_per_s"] == 1.0  # at least one request a second


# -- the fused cycle ----------------------------------------------------------------------------

@pytest.mark.parametrize("halted", [0, 1])
@pytest.mark.parametrize("book_age_ms", [0, 20_000])
def test_engine_cycle_is_gate_levels_then_quote_cycle(halted, book_age_ms):
    from qengine.kernels.params import make_quote_params

    quote_params = make_quote_params(level_count=3, base_size_lots=10, position_limit_lots=500,
                                     min_spread_ticks=2, max_spread_ticks=400)
    p = params(levels=3)
    resting = [(codes.SIDE_BUY, 0, 99_990, 10), (codes.SIDE_SELL, 0, 100_010, 10)]
    worlds, results = [World(resting), World(resting)], []
    for world, fn in zip(worlds, (decision.engine_cycle, twin.engine_cycle), strict=True):
        gate, pacing = new_gate_state(ready=True), new_pacing_state(p, 0)
        gate[0]["halted"] = halted
        now = 50_000 * MS
        book = (now - book_age_ms * MS, 99_995, 100_005, 3, 4, 0)
        state = (world.samples, world.cursor, world.vol_state, world.vol_returns,
                 world.intensity_state)
        n = fn((p, gate, pacing), now, (quote_params, MULT, MULT), state, book,
               (world.quotes, world.diag), world.orders, 0, 2, world.actions)
        results.append((n, world.actions[:n].tolist(), int(pacing[0]["levels"])))
    assert results[0] == results[1]
    n, actions, levels = results[0]
    assert levels == (0 if halted or book_age_ms else 3)
    if levels == 0:  # nothing allowed: every resting order is cancelled
        assert sorted(a[0] for a in actions) == [codes.ACTION_CANCEL] * 2
