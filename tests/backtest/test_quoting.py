"""qengine's own quoting in the backtester: ``qengine.backtest.run`` end to end on the BTCUSDT
recording for every model, the strategy's decision against ``quote_cycle``, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qengine.backtest as bt
from qengine.backtest import events as E
from qengine.backtest import layout as L
from qengine.backtest.data import DataError
from qengine.backtest.instruments import INSTRUMENTS, Instrument
from qengine.backtest.quoting_state import QuotingState
from qengine.backtest.quoting_strategy import quote_strategy
from qengine.config import EngineConfig, load_config
from qengine.errors import ConfigError
from qengine.kernels import codes
from qengine.kernels.dtypes import ACTION, ORDER, QUOTE, QUOTE_DIAG
from qengine.kernels.quote_cycle import quote_cycle

from .conftest import recording

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backtest.toml"
RECORD_NS = 100_000_000


def config(model: str = "glft", **overrides) -> EngineConfig:
    return load_config(EXAMPLE, {"quote.model": model, **overrides})


@pytest.fixture(scope="module")
def runs(btc_rows):
    """One run per model on the whole BTCUSDT recording (the rows converted once)."""
    return {model: bt.run(config(model), btc_rows) for model in ("as", "glft", "legacy")}


@pytest.mark.parametrize("model", ["as", "glft", "legacy"])
def test_each_model_trades_and_keeps_its_counts_consistent(runs, btc_rows, model):
    r = runs[model]
    c = r.counts
    assert c["events"] == len(btc_rows)
    assert c["fills"] == len(r.fills) > 20
    assert 0 < c["cycles"] <= c["wakeups"]
    assert c["orders_sent"] >= len(set(r.fills["order_id"].tolist()))
    assert c["send_errors"] == c["order_table_full"] == c["fill_booking_errors"] == 0
    assert set(r.fills["maker"].tolist()) <= {0, 1}
    # Only flatten orders (IOC) may take; every quote is post-only.
    assert int(np.sum(r.fills["maker"] == 0)) <= sum(
        1 for oid in r.fills["order_id"].tolist() if oid & 0xFF == codes.LEVEL_MAX)
    assert r.start_ns == int(min(btc_rows["exch_ts"][0], btc_rows["local_ts"][0]))
    assert r.end_ns >= r.records["ts"][-1]


@pytest.mark.parametrize("model", ["as", "glft", "legacy"])
def test_inventory_never_exceeds_the_position_limit(runs, model):
    r = runs[model]
    limit = round(r.config.risk.max_position / r.instrument.lot_size)
    position = np.cumsum(r.fills["side"] * r.fills["qty_lots"])
    # A hard limit: resting orders and orders with a request in flight together never add up
    # to more than the room to it (0.103 BTC against 0.1 before they were counted).
    assert np.abs(position).max() <= limit
    assert np.abs(r.records["position_lots"]).max() <= np.abs(position).max()


@pytest.mark.parametrize("model", ["as", "glft", "legacy"])
def test_recorder_rows_one_per_interval_and_money_adds_up(runs, model):
    r = runs[model]
    rec = r.records
    assert np.all(np.diff(rec["ts"]) > 0)
    assert len(np.unique(rec["ts"] // RECORD_NS)) == len(rec)
    assert abs(len(rec) - (r.end_ns - r.start_ns) / RECORD_NS) <= 2
    f = r.fills
    for row in rec[:: max(len(rec) // 40, 1)]:
        got = f[f["local_ts"] <= row["ts"]]
        assert row["position_lots"] == int(np.sum(got["side"] * got["qty_lots"]))
        assert row["traded_lots"] == int(np.sum(got["qty_lots"]))
        value = got["price_tick"] * 0.1 * got["qty_lots"] * 0.001
        fee = np.where(got["maker"] == 1, -0.00005, 0.0007) * value
        assert row["fee"] == pytest.approx(np.sum(fee), abs=1e-9)
        assert row["balance"] == pytest.approx(-np.sum(got["side"] * value) - np.sum(fee),
                                               abs=1e-6)
        mid = (row["best_bid_tick"] + row["best_ask_tick"]) / 2 * 0.1
        assert row["equity"] == pytest.approx(
            row["balance"] + row["position_lots"] * 0.001 * mid, abs=1e-6)
    quoted = rec[np.isfinite(rec["bid0_tick"]) & np.isfinite(rec["ask0_tick"])]
    assert len(quoted) > len(rec) // 2
    assert np.all(quoted["quoted_spread_ticks"] == quoted["ask0_tick"] - quoted["bid0_tick"])
    assert np.all(quoted["bid0_tick"] < quoted["ask0_tick"])
    assert np.all((rec["levels_allowed"] >= 0) & (rec["levels_allowed"] <= 3))


def test_risk_breaches_pull_quotes_and_flatten(btc_rows):
    # The quotes never take the position past max_position, so a notional limit below it
    # (3,000 USDT, about 0.05 BTC) is what the legacy model's inventory crosses here.
    r = bt.run(config("legacy", **{"risk.max_notional_usd": 3000.0}), btc_rows)
    assert r.counts["risk_breaches"] >= 1
    assert r.counts["flatten_orders"] >= 1
    breached = r.records[(r.records["risk_mask"] & codes.RISK_MAX_NOTIONAL) != 0]
    assert len(breached) > 0
    assert np.all(breached["levels_allowed"] == 0)


def test_progress_is_reported_between_kernel_calls_and_the_file_streams():
    seen: list[bt.Progress] = []
    r = bt.run(config(), recording("btcusdt_20240808.gz"), progress=seen.append)
    assert len(seen) >= 5
    done = [p.events_done for p in seen]
    assert done == sorted(done)
    assert done[-1] == r.counts["events"] == seen[-1].events_total
    assert seen[-1].end_ns == r.end_ns
    assert seen[0].start_ns == r.start_ns
    assert all(p.start_ns <= p.sim_time_ns for p in seen if p.sim_time_ns >= 0)


def test_a_small_recorder_buffer_yields_and_loses_no_row(btc_rows):
    from qengine.backtest.api import Backtest
    from qengine.backtest.quoting import backtest_config

    cfg, inst = config(), INSTRUMENTS["BTCUSDT"]
    state = QuotingState(cfg, inst, record_every_ns=RECORD_NS, record_rows=7)
    state.start(int(min(btc_rows["exch_ts"][0], btc_rows["local_ts"][0])))
    drained: list[np.ndarray] = []
    runner = Backtest(backtest_config(inst), quote_strategy, params=state.params,
                      scratch=state.scratch, public_trades=True)
    runner.run(btc_rows[:100_000], on_return=lambda *_: drained.append(state.drain_records()))
    small = np.concatenate(drained)
    whole = bt.run(cfg, btc_rows[:100_000]).records
    assert len(drained) > len(small) // 7
    assert len(small) == len(whole)
    for name in whole.dtype.names:  # field by field: NaN (no quote) equals NaN
        np.testing.assert_array_equal(small[name], whole[name])


# --- one decision against quote_cycle ------------------------------------------------------------

BASE, BID, ASK = 600_000, 617_990, 617_992


def _handle(state: QuotingState, now: int, local: list[tuple]) -> tuple:
    ist = np.zeros(L.I_SIZE, np.int64)
    ist[L.I_NOW] = now
    fst = np.zeros(L.F_SIZE)
    fst[L.F_TICK], fst[L.F_LOT], fst[L.F_CONTRACT] = 0.1, 0.001, 1.0
    lo = np.zeros(64, L.ORDER_DTYPE)
    for i, (oid, side, price, qty, leaves, status, req) in enumerate(local):
        fields = {"order_id": oid, "side": side, "price_tick": price, "qty_lots": qty,
                  "leaves_lots": leaves, "status": status, "req": req, "tif": L.GTX,
                  "local_ts": now - 1_000_000_000}
        for name, value in fields.items():
            lo[name][i] = value
    ist[L.I_N_LOCAL] = len(local)
    book = np.zeros((2, 40_000))
    book[0, BID - BASE], book[1, ASK - BASE] = 1.5, 2.0
    bs = np.array([BID, ASK, BID, ASK, BASE], np.int64)
    return (ist, fst, lo, np.zeros(64, L.ORDER_DTYPE), book, bs, state.params, state.scratch,
            np.zeros(0, L.PUBLIC_TRADE_DTYPE), np.zeros(4, L.FILL_DTYPE))


def _table(local: list[tuple]) -> np.ndarray:
    """The engine's order table for ``local``, written out by hand."""
    table = np.zeros(64, ORDER)
    status = {(L.ST_NEW, L.ST_NONE): codes.ORDER_OPEN, (L.ST_NONE, L.ST_NEW):
              codes.ORDER_PENDING_INSERT, (L.ST_NEW, L.ST_CANCELED): codes.ORDER_PENDING_CANCEL}
    for i, (oid, side, price, qty, leaves, st, req) in enumerate(local):
        filled = qty - leaves if req != L.ST_NEW else 0
        fields = {"client_order_id": oid, "order_key": oid, "side": 0 if side > 0 else 1,
                  "level": oid & 0xFF, "status": status[(st, req)], "price_ticks": price,
                  "amount_lots": qty, "filled_lots": filled, "booked_lots": filled,
                  "pending_price_ticks": price, "pending_amount_lots": qty}
        for name, value in fields.items():
            table[name][i] = value
    return table


@pytest.mark.parametrize("model", ["as", "glft", "legacy"])
def test_a_cycle_sends_exactly_what_quote_cycle_decides(model):
    cfg, inst = config(model), INSTRUMENTS["BTCUSDT"]
    state = QuotingState(cfg, inst, record_every_ns=RECORD_NS)
    now = 1_700_000_000_000_000_000
    state.start(now - 5_000_000_000)
    local = [
        # Ids above the strategy's own counter (it numbers its orders from 1).
        ((1001 << 8) | 0, 1, BID - 40, 10, 10, L.ST_NEW, L.ST_NONE),  # level-0 bid: amended
        ((1002 << 8) | 5, -1, ASK + 90, 10, 10, L.ST_NEW, L.ST_NONE),  # level 5: none, cancelled
        ((1003 << 8) | 1, 1, BID - 70, 10, 10, L.ST_NONE, L.ST_NEW),  # insert in flight: left alone
        ((1004 << 8) | 2, -1, ASK + 60, 10, 4, L.ST_NEW, L.ST_CANCELED),  # cancel in flight
    ]
    h = _handle(state, now, local)
    setup = tuple(state.view(n).copy() for n in ("quote_params", "bid_mult", "ask_mult"))
    est = tuple(state.view(n).copy() for n in ("samples", "cursor", "vol_state", "vol_returns",
                                               "intensity"))
    quotes, diag = np.zeros(2 * cfg.quote.levels, QUOTE), np.zeros(1, QUOTE_DIAG)
    actions = np.zeros(64, ACTION)
    inputs = (now, BID, ASK, 1500, 2000, 0, cfg.quote.levels)
    n = quote_cycle(setup, est, inputs, (quotes, diag), _table(local), 0,
                    cfg.quote.amend_threshold_ticks, actions)
    assert quote_strategy(h) == 0
    ist, outbox = h[0], h[3]
    sent = outbox[: ist[L.I_N_OUTBOX]]
    assert n > 0
    assert len(sent) == n
    kinds = {codes.ACTION_INSERT: L.ST_NEW, codes.ACTION_AMEND: L.ST_REPLACED,
             codes.ACTION_CANCEL: L.ST_CANCELED}
    ids = [row[0] for row in local]
    for a, o in zip(actions[:n], sent, strict=True):
        assert o["req"] == kinds[int(a["kind"])]
        assert o["side"] == (1 if a["side"] == codes.SIDE_BUY else -1)
        if a["kind"] == codes.ACTION_INSERT:
            assert (o["price_tick"], o["qty_lots"], o["tif"]) == (
                a["price_ticks"], a["size_lots"], L.GTX)
            assert o["order_id"] & 0xFF == a["level"]
            assert o["order_id"] not in ids
        else:
            assert o["order_id"] == ids[a["slot"]]
        if a["kind"] == codes.ACTION_AMEND:
            assert (o["price_tick"], o["qty_lots"]) == (a["price_ticks"], a["size_lots"])
    assert {int(a["kind"]) for a in actions[:n]} >= {codes.ACTION_AMEND, codes.ACTION_CANCEL}
    np.testing.assert_array_equal(state.view("quotes"), quotes)
    assert state.view("diag")[0]["mid_ticks"] == diag[0]["mid_ticks"]


# --- the runner hands the strategy the public trades ---------------------------------------------


def test_the_strategy_gets_every_public_trade_since_its_last_wake_up(btc_rows):
    import numba

    from qengine.backtest.api import Backtest, BacktestConfig

    @numba.njit(L.STRATEGY_SIG)
    def count_trades(h):
        ist, scratch, trades = h[0], h[7], h[8]
        for i in range(ist[L.I_N_TRADES]):
            scratch[0] += 1
            scratch[1] += trades[i].price_tick * trades[i].side
            scratch[2] = max(scratch[2], trades[i].local_ts)
            if trades[i].local_ts > ist[L.I_NOW]:
                scratch[3] += 1  # a trade from the future
        ist[L.I_N_TRADES] = 0
        return 0

    rows = btc_rows
    for wake_s, trades in ((0.1, True), (120.0, True), (0.1, False)):
        cfg = BacktestConfig(tick_size=0.1, lot_size=0.001, wake_interval_ns=round(wake_s * 1e9))
        scratch = np.zeros(4)
        runner = Backtest(cfg, count_trades, scratch=scratch, public_trades=trades)
        runner.run(rows)
        last = scratch[2]
        ev = rows["ev"]
        local_trade = (((ev & np.uint64(E.KIND_MASK)) == E.TRADE_EVENT)
                       & ((ev & np.uint64(E.LOCAL_EVENT)) != 0)
                       & ((ev & np.uint64(E.BUY_EVENT | E.SELL_EVENT)) != 0))
        want = rows[local_trade & (rows["local_ts"] <= (last if trades else 0))]
        side = np.where((want["ev"] & np.uint64(E.BUY_EVENT)) != 0, 1, -1)
        assert scratch[0] == len(want)
        assert scratch[3] == 0
        assert scratch[1] == np.sum(np.round(want["px"] / 0.1).astype(np.int64) * side)
        if wake_s > 60:  # more trades than the first buffer (4,096) arrive between wake-ups
            start = min(rows["exch_ts"][0], rows["local_ts"][0])
            per_wake = np.bincount((want["local_ts"] - start) // round(wake_s * 1e9))
            assert per_wake.max() > 4096


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"instrument": "NOPE"}, "unknown instrument 'NOPE'"),
    ({"instrument": 3}, "instrument must be a name"),
    ({"latency_ms": -1.0}, "latency_ms"),
    ({"latency_ms": float("nan")}, "latency_ms"),
    ({"queue": "fifo"}, "queue must be"),
    ({"queue": "powerprob:-2"}, "queue must be"),
    ({"record_interval_ms": 0}, "record_interval_ms"),
    ({"record_interval_ms": 1e-7}, "record_interval_ms must be at least 1 ns"),
    ({"wake_interval_ms": 1e-7}, "wake_interval_ms must be at least 1 ns"),
    ({"partial_fills": "yes"}, "partial_fills"),
    ({"progress": 5}, "progress"),
    ({"wake_interval_ms": 0.0}, "wake_interval_ms"),
    ({"instrument": Instrument(name="X", tick_size=0.1, lot_size=0.001, inverse=True)},
     "inverse"),
])
def test_bad_settings_are_named_before_the_run(kwargs, match):
    seen = []
    kwargs.setdefault("progress", seen.append)
    with pytest.raises(ConfigError, match=match):
        bt.run(config(), recording("btcusdt_20240808.gz"), **kwargs)
    assert seen == []


def test_bad_config_and_instrument_values_are_named():
    with pytest.raises(ConfigError, match="EngineConfig"):
        bt.run({"quote": {}}, recording("btcusdt_20240808.gz"))
    with pytest.raises(ConfigError, match=r"quote\.levels"):
        config(**{"quote.levels": 0})
    with pytest.raises(ConfigError, match="tick_size"):
        Instrument(name="X", tick_size=0.0, lot_size=0.001)
    with pytest.raises(ConfigError, match="maker_fee"):
        Instrument(name="X", tick_size=0.1, lot_size=0.001, maker_fee=0.5)
    with pytest.raises(ConfigError, match="unknown instrument 'BTC-PERPETUAL-X'"):
        bt.run(config(**{"instrument": "BTC-PERPETUAL-X"}), recording("btcusdt_20240808.gz"))


def test_bad_data_is_named_before_the_run(tmp_path):
    seen = []
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros(3, [("a", "<i8")]))
    for data, match in ((tmp_path / "missing.npz", "no such file"),
                        (garbage, "cannot read"), (wrong, "fields are"),
                        ([], "no event sources"), ([3], "path or a numpy array"),
                        (np.zeros(0, E.EVENT_DTYPE), "no event rows")):
        with pytest.raises(DataError, match=match):
            bt.run(config(), data, progress=seen.append)
    assert seen == []


def test_a_bad_row_is_named_by_file_and_row_before_the_run(tmp_path, btc_rows):
    good = tmp_path / "good.npz"
    np.savez(good, data=btc_rows[:100_000])
    rows = btc_rows[100_000:180_000].copy()
    rows["local_ts"][70_000] = rows["local_ts"][60_000] - 10**9  # out of order, late in file 2
    bad = tmp_path / "bad.npz"
    np.savez(bad, data=rows)
    seen = []
    with pytest.raises(DataError, match=r"bad\.npz.*row 70000"):
        bt.run(config(), [good, bad], progress=seen.append)
    assert seen == []  # nothing ran


def test_the_instrument_table_has_the_real_specs():
    t = INSTRUMENTS
    assert (t["BTCUSDT"].tick_size, t["BTCUSDT"].lot_size) == (0.1, 0.001)
    assert (t["ETHUSDT"].tick_size, t["ETHUSDT"].lot_size) == (0.01, 0.001)
    assert (t["BTC-PERPETUAL"].tick_size, t["BTC-PERPETUAL"].lot_size) == (1.0, 0.001)
    assert (t["ETH-PERPETUAL"].tick_size, t["ETH-PERPETUAL"].lot_size) == (0.1, 0.01)
    assert all(not i.inverse and i.min_order_lots == 1 for i in t.values())


def test_eth_runs_with_its_own_instrument(eth_rows):
    r = bt.run(config(), eth_rows, instrument="ETHUSDT", queue="powerprob:2", latency_ms=5)
    assert r.instrument is INSTRUMENTS["ETHUSDT"]
    assert r.counts["cycles"] > 0
    assert len(r.records) > 3000
    assert np.all(r.records["mid_tick"][100:] > 200_000)  # ETH near 2,600 USDT at 0.01 ticks


def test_files_in_time_order_give_the_run_of_the_whole(tmp_path, btc_rows):
    rows = btc_rows[:200_000]
    parts = [tmp_path / "a.npz", tmp_path / "b.npy"]
    np.savez(parts[0], data=rows[:77_777])
    np.save(parts[1], rows[77_777:])
    split, whole = bt.run(config(), parts), bt.run(config(), rows)
    assert split.counts == whole.counts
    np.testing.assert_array_equal(split.fills, whole.fills)
    for name in whole.records.dtype.names:
        np.testing.assert_array_equal(split.records[name], whole.records[name])


def test_partial_fills_keep_position_and_counts_consistent(btc_rows):
    r = bt.run(config("glft"), btc_rows, partial_fills=True, queue="powerprob:3")
    assert r.counts["fills"] == len(r.fills) > 0
    position = np.cumsum(r.fills["side"] * r.fills["qty_lots"])
    assert r.records["position_lots"][-1] == int(np.sum(
        (r.fills["side"] * r.fills["qty_lots"])[r.fills["local_ts"] <= r.records["ts"][-1]]))
    assert np.abs(position).max() <= round(r.config.risk.max_position / 0.001)


def test_the_decision_log_has_one_row_per_cycle_with_its_inputs_and_ladder(btc_rows):
    rows = btc_rows[:150_000]
    logged, plain = bt.run(config(), rows, decision_log=True), bt.run(config(), rows)
    assert plain.decisions is None
    assert logged.counts == plain.counts  # logging changes nothing
    d = logged.decisions
    assert d.dtype == bt.DECISION_DTYPE
    assert len(d) == logged.counts["cycles"]
    assert np.all(np.diff(d["wake_ns"]) > 0)
    quoted = d[d["quote_count"] > 0]
    assert len(quoted) > len(d) // 2
    both = quoted[(quoted["bid_size_lots"][:, 0] > 0) & (quoted["ask_size_lots"][:, 0] > 0)]
    assert len(both) > len(quoted) // 2
    assert np.all(both["bid_price_ticks"][:, 0] < both["ask_price_ticks"][:, 0])
    assert np.all(quoted["best_bid_tick"] < quoted["best_ask_tick"])
    n_levels = (quoted["bid_size_lots"] > 0).sum(axis=1) + (quoted["ask_size_lots"] > 0).sum(axis=1)
    np.testing.assert_array_equal(n_levels, quoted["quote_count"])
    with pytest.raises(ConfigError, match="decision_log"):
        bt.run(config(), rows, decision_log=1)

