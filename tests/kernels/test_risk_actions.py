"""The risk state machine against its twin on random sequences, and each rule on its own:
halting breaches (cancel once, halt, flatten), stops, the take-profit sequence, the recovery."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qengine.config import EngineConfig, RiskConfig
from qengine.kernels import codes, risk_actions
from qengine.kernels.dtypes import RISK_STATE
from qengine.strategy.setup import (
    build_decision_params,
    build_risk_limits,
    new_gate_state,
    new_risk_io,
)
from tests.kernels.test_decision import SPEC
from tests.reference import risk_actions as twin

S = 1_000_000_000
MARK = 65_000.0
#: Limits far from a 0.09 BTC position (the take-profit cases).
ROOMY = {"max_position": 1.0, "max_notional_usd": 1e6}


def setup(**risk):
    defaults = dict(max_position=0.05, max_notional_usd=3000.0, stop_loss_pct=0.01,
                    take_profit_pct=0.005, upnl_take_profit_usd=5.0, drawdown_base_usd=10.0,
                    max_drawdown_pct=0.5, max_consecutive_losses=2, recovery_cooldown_s=3.0,
                    recovery_check_interval_s=5.0, gradual_recovery_steps=3)
    config = EngineConfig(risk=RiskConfig(**{**defaults, **risk}))
    return build_decision_params(config, SPEC), build_risk_limits(config, SPEC)


class Machine:
    """The kernel and its twin side by side, on copies of the same state."""

    def __init__(self, **risk):
        self.params, self.limits = setup(**risk)
        self.gates = [new_gate_state(ready=True), new_gate_state(ready=True)]
        self.states = [np.zeros(1, RISK_STATE), np.zeros(1, RISK_STATE)]
        self.ios = [new_risk_io(), new_risk_io()]

    def step(self, **inputs):
        results = []
        for fn, gate, state, (inp, action) in zip(
                (risk_actions.risk_step, twin.risk_step), self.gates, self.states, self.ios,
                strict=True):
            inp[0] = (0, 0, 0, MARK, math.nan, 0, 0, 64_990, 65_010, 0.0, 0.0, 0, 0)
            for name, value in inputs.items():
                inp[0][name] = value
            results.append(fn(self.params, self.limits, state, gate, inp, action))
        assert results[0] == results[1]
        for a, b in (self.gates, self.states, [io[1] for io in self.ios]):
            assert str(a.tolist()) == str(b.tolist())  # str: NaN equals NaN
        return self.ios[0][1][0], self.gates[0][0]


step_inputs = st.fixed_dictionaries({
    "dt_ms": st.sampled_from([0, 10, 500, 1000, 2000, 4000, 9000]),
    "position_lots": st.one_of(st.just(0), st.integers(-90, 90)),
    "entry_ticks": st.integers(64_800, 65_200),
    "mark_move_ticks": st.one_of(st.floats(-1_000, 1_000), st.just(math.nan)),
    "equity_quote": st.sampled_from([math.nan, 10.0, 10.0, 10.0, 4.0]),
    "trips": st.integers(0, 3),
    "losing_streak": st.integers(0, 3),
    "bid_offset_ticks": st.integers(-30, 30),
    "spread_ticks": st.integers(1, 50),
    "collar": st.booleans(),
    "books": st.integers(0, 2),
    "abort": st.integers(0, 20).map(lambda x: int(x == 0)),
})


@given(st.lists(step_inputs, min_size=1, max_size=40), st.booleans(), st.booleans(),
       st.booleans(), st.booleans())
def test_the_state_machine_matches_the_twin_on_any_sequence(steps, recovery, flatten, halts,
                                                              roomy):
    machine = Machine(recovery_enabled=recovery, flatten_position_enabled=flatten,
                      take_profit_halts=halts, **(ROOMY if roomy else {}))
    now, trips, books = 10 * S, 0, 0
    for s in steps:
        now += s["dt_ms"] * 1_000_000
        trips += s["trips"]
        books += s["books"]
        mark = MARK + s["mark_move_ticks"]
        bid = int(mark) + s["bid_offset_ticks"] if math.isfinite(mark) else 0
        machine.step(now_ns=now, position_lots=s["position_lots"],
                     cost_ticks_lots=s["position_lots"] * s["entry_ticks"],
                     mark_ticks=mark, equity_quote=s["equity_quote"],
                     round_trip_count=trips, losing_streak=s["losing_streak"],
                     best_bid_ticks=bid, best_ask_ticks=bid + s["spread_ticks"] if bid else 0,
                     collar_low_ticks=mark * 0.99 if s["collar"] else 0.0,
                     collar_high_ticks=mark * 1.01 if s["collar"] else 0.0,
                     book_updates=books, abort=s["abort"])


def test_a_stop_loss_pulls_the_quotes_once_flattens_inside_the_collar_and_halts():
    m = Machine()
    long = dict(position_lots=50, cost_ticks_lots=50 * 65_000, mark_ticks=64_000.0,
                best_bid_ticks=63_990, best_ask_ticks=64_010, collar_low_ticks=63_900.5)
    action, gate = m.step(now_ns=10 * S, **long)
    assert action["mask"] & codes.RISK_STOP_LOSS
    assert action["events"] & codes.EVENT_BREACH
    assert action["cancel_all"]
    assert (action["flatten_lots"], action["flatten_kind"]) == (50, codes.FLATTEN_ALL)
    # 50 bps through the bid (63,670) is below the collar: the collar low, rounded inside.
    assert action["flatten_limit_ticks"] == 63_901
    assert gate["halted"]
    assert not gate["stopped"]
    assert action["levels_allowed"] == 0
    action, gate = m.step(now_ns=11 * S, **long)
    assert not action["cancel_all"]
    assert gate["breach_count"] == 1
    assert action["flatten_lots"] == 50  # the position is still there: flatten again


def test_a_limit_breach_reduces_to_the_recovery_threshold():
    m = Machine()
    action, _ = m.step(now_ns=10 * S, position_lots=70, cost_ticks_lots=70 * 40_000,
                       mark_ticks=40_000.0, best_bid_ticks=39_999, best_ask_ticks=40_001)
    assert action["mask"] == codes.RISK_MAX_POSITION
    # 80 % of 50 lots = 40 (the notional allows more at this mark): sell 30.
    assert (action["flatten_lots"], action["flatten_kind"]) == (30, codes.FLATTEN_TO_THRESHOLD)


def test_a_drawdown_stops_for_good_and_nothing_recovers():
    m = Machine(max_drawdown_pct=0.1)
    m.step(now_ns=10 * S, equity_quote=10.0)
    action, gate = m.step(now_ns=11 * S, equity_quote=8.0)
    assert action["events"] & codes.EVENT_STOPPED
    assert gate["stopped"]
    for t in range(12, 80, 4):
        action, gate = m.step(now_ns=t * S, equity_quote=10.0)
        assert action["levels_allowed"] == 0


def test_the_take_profit_pauses_pulls_waits_for_a_fresh_book_rejudges_then_resumes():
    m = Machine(take_profit_halts=True, **ROOMY)
    long = dict(position_lots=90, cost_ticks_lots=90 * 64_950, mark_ticks=65_030.0,
                best_bid_ticks=65_025, best_ask_ticks=65_035)
    action, gate = m.step(now_ns=10 * S, book_updates=7, **long)
    assert action["mask"] & codes.RISK_UPNL_TAKE_PROFIT
    assert action["cancel_all"]
    assert gate["paused"]
    assert action["levels_allowed"] == 0
    assert action["call_again"] == codes.RISK_CALL_AFTER_ACTIONS
    assert action["flatten_lots"] == 0  # not before the quotes are pulled
    action, _ = m.step(now_ns=10 * S + 5_000_000, book_updates=7, **long)  # cancel done
    assert action["call_again"] == codes.RISK_CALL_AFTER_BOOK
    assert action["deadline_ns"] == 11 * S + 5_000_000
    action, _ = m.step(now_ns=10 * S + 9_000_000, book_updates=8, **long)  # a newer book
    assert (action["flatten_lots"], action["flatten_limit_ticks"]) == (90, 65_025)
    assert action["events"] & codes.EVENT_TAKE_PROFIT
    assert action["levels_allowed"] == 0
    action, gate = m.step(now_ns=10 * S + 20_000_000, book_updates=9, position_lots=0)
    assert action["call_again"] == codes.RISK_CALL_NEXT_CHECK
    assert action["wake_quoter"]
    assert not gate["paused"]
    assert gate["halted"]
    assert gate["cooldown_until_ns"] == 13 * S


def test_a_take_profit_whose_touch_fell_back_closes_nothing_and_resumes():
    m = Machine(**ROOMY)
    long = dict(position_lots=90, cost_ticks_lots=90 * 64_950, mark_ticks=65_030.0,
                best_bid_ticks=65_025, best_ask_ticks=65_035)
    m.step(now_ns=10 * S, book_updates=1, **long)
    m.step(now_ns=10 * S, book_updates=1, **long)
    action, gate = m.step(now_ns=10 * S + S, book_updates=1,  # no fresh book: the deadline
                          **{**long, "best_bid_ticks": 64_940})
    assert action["flatten_lots"] == 0
    assert not gate["paused"]
    assert not gate["halted"]
    assert action["levels_allowed"] == 3
    # The next attempt waits for the take-profit interval (max of check interval, cooldown).
    action, gate = m.step(now_ns=12 * S, book_updates=2, **long)
    assert not action["cancel_all"]
    assert not gate["paused"]
    action, gate = m.step(now_ns=13 * S, book_updates=2, **long)
    assert action["cancel_all"]
    assert gate["paused"]
    action, gate = m.step(now_ns=13 * S, abort=1, **long)  # the cancel failed
    assert not gate["paused"]
    assert gate["tp_phase"] == codes.TP_IDLE


def test_recovery_waits_for_the_cooldown_then_adds_one_level_per_check_interval():
    m = Machine()
    m.step(now_ns=10 * S, position_lots=60, cost_ticks_lots=60 * 65_000)
    levels = []
    for t in range(11, 30):
        action, gate = m.step(now_ns=t * S)
        levels.append(action["levels_allowed"])
    # Halted at 10 s; cooldown 3 s; then one more level every 5 s until all 3.
    assert levels[:3] == [0, 0, 1]  # 11, 12: cooling down; 13: one level
    assert levels[3:7] == [1] * 4
    assert levels[7] == 2
    assert levels[8:12] == [2] * 4
    assert levels[12:] == [3] * 7
    assert not gate["recovering"]
    assert not gate["halted"]
    assert m.gates[0][0]["breach_count"] == 1


def test_the_losing_streak_restarts_with_its_pause():
    m = Machine()
    action, gate = m.step(now_ns=10 * S, round_trip_count=2, losing_streak=2)
    assert action["mask"] == codes.RISK_CONSECUTIVE_LOSSES
    assert gate["streak_start_trips"] == 2
    action, _ = m.step(now_ns=11 * S, round_trip_count=2, losing_streak=2)
    assert action["mask"] == 0  # no round trip since the pause: the streak is 0
    action, _ = m.step(now_ns=12 * S, round_trip_count=4, losing_streak=4)
    assert action["mask"] == codes.RISK_CONSECUTIVE_LOSSES


def test_the_check_interval_adapts_to_the_position():
    p, _ = setup(large_position=0.5, small_position=0.1, monitor_interval_s=2.0,
                 monitor_fast_interval_s=1.0, monitor_slow_interval_s=4.0)
    got = [risk_actions.risk_check_interval_ns(p, lots) // S for lots in (0, 99, 100, 500, 501)]
    assert got == [4, 4, 2, 2, 1]
    assert got == [twin.risk_check_interval_ns(p, lots) // S for lots in (0, 99, 100, 500, 501)]


def test_the_state_machine_matches_the_twin_on_long_random_walks():
    seen_events, seen_phases, seen_kinds = 0, set(), set()
    for seed in range(6):
        rng = np.random.default_rng(seed)
        machine = Machine(recovery_enabled=seed != 5, take_profit_halts=seed % 2 == 1,
                          max_position=0.08, max_notional_usd=6000.0)
        now, mark, lots, entry, trips, books = 10 * S, MARK, 0, MARK, 0, 0
        for _ in range(1500):
            now += int(rng.choice([5, 50, 250, 1000])) * 1_000_000
            mark += float(rng.normal(0.0, 40.0))
            if rng.random() < 0.05:  # a fill moves the position; flat positions restart
                lots = int(np.clip(lots + rng.integers(-40, 41), -100, 100))
                entry = mark
                trips += int(lots == 0)
            books += int(rng.integers(0, 2))
            bid = int(mark) - int(rng.integers(0, 5))
            seen_mark = math.nan if rng.random() < 0.02 else mark  # the mark feed drops out
            action, _ = machine.step(
                now_ns=now, position_lots=lots, cost_ticks_lots=int(lots * entry),
                mark_ticks=seen_mark, equity_quote=10.0 + lots * (mark - entry) * 0.001,
                round_trip_count=trips, losing_streak=int(rng.integers(0, 3)),
                best_bid_ticks=bid, best_ask_ticks=bid + int(rng.integers(1, 10)),
                collar_low_ticks=mark * 0.995, collar_high_ticks=mark * 1.005,
                book_updates=books, abort=int(rng.random() < 0.01))
            if action["flatten_lots"]:  # the flatten fills: the position closes (or shrinks)
                lots -= int(action["flatten_lots"])
                trips += int(lots == 0)
            seen_events |= int(action["events"])
            seen_phases.add(int(action["phase"]))
            seen_kinds.add(int(action["flatten_kind"]))
    # The walks went through every event, take-profit phase and flatten kind.
    assert seen_events == 63
    assert seen_phases == {codes.TP_IDLE, codes.TP_CANCELLING, codes.TP_WAIT_BOOK,
                           codes.TP_FLATTENING}
    assert seen_kinds == {codes.FLATTEN_NONE, codes.FLATTEN_ALL, codes.FLATTEN_TO_THRESHOLD,
                          codes.FLATTEN_AT_TOUCH}
