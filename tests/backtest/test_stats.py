"""Every statistic against a case computed by hand (the derivation is in the comments)."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest

from qengine.backtest import stats as S
from qengine.backtest.stats import STAT_KEYS, compute_stats

from .quoting_fixture import NS, FakeResult, Instrument, config, fills, records

NAN = math.nan
ROOT = Path(__file__).resolve().parents[2]
YEAR_S = 365 * 86_400


def _hand_case() -> FakeResult:
    # Five rows one second apart; each row holds 1 s except the last (0 s): time means are plain
    # means of rows 0-3. tick 0.1, lot 0.001 coins, max_position 0.003 coins = 3 lots.
    rec = records(
        ts=[0, NS, 2 * NS, 3 * NS, 4 * NS],
        mid_tick=[1000, 1002, 1001, 1003, 1004],
        best_bid_tick=[999, 1001, 1000, 1002, 1003],
        best_ask_tick=[1001, 1003, 1002, 1004, 1005],
        position_lots=[0, 2, 3, 3, 1],
        equity=[0.0, 1.0, -0.5, 2.0, 1.5],
        fee=[0.0, -0.01, -0.02, -0.02, -0.03],
        bid0_tick=[998, 1000, NAN, 1003, 1002],
        ask0_tick=[1002, 1005, 1003, NAN, 1006],
    )
    fl = fills(
        # exch_ts, order, side, price_tick, lots, maker
        (NS // 2, 1, 1, 999, 2, 1),
        (3 * NS // 2, 2, 1, 1000, 1, 1),
        (17 * NS // 10, 3, -1, 1003, 1, 1),
        (22 * NS // 10, 3, -1, 1003, 1, 0),  # a second fill of order 3
    )
    counts = {"orders_sent": 8, "amends": 3, "cancels": 5, "rejects": 1}
    return FakeResult(instrument=Instrument(), config=config(max_position=0.003), records=rec,
                      fills=fl, counts=counts, start_ns=0, end_ns=4_500_000_000)


def test_keys_are_the_documented_table_in_order():
    out = compute_stats(_hand_case())
    assert tuple(out) == STAT_KEYS
    assert all(type(v) in (int, float) for v in out.values())
    assert S.definitions_table() in S.__doc__


def test_pnl_fees_drawdown_and_turnover_by_hand():
    out = compute_stats(_hand_case())
    assert out["duration_s"] == 4.5
    assert out["pnl_quote"] == 1.5  # 1.5 - 0.0
    assert out["fees_quote"] == pytest.approx(-0.03)  # -0.03 - 0 (a rebate)
    assert out["pnl_before_fees_quote"] == pytest.approx(1.47)
    # running peak 0 1 1 2 2, drawdown 0 0 1.5 0 0.5
    assert out["max_drawdown_quote"] == 1.5
    # 99.9 x 0.002 + 100.0 x 0.001 + 100.3 x 0.001 x 2 = 0.5004
    assert out["turnover_quote"] == pytest.approx(0.5004)
    assert out["return_over_trade_bps"] == pytest.approx(1e4 * 1.5 / 0.5004)


def test_sharpe_and_sortino_by_hand():
    out = compute_stats(_hand_case())
    # 1 s changes 1.0 -1.5 2.5 -0.5: mean 0.375; squared deviations 0.390625 3.515625 4.515625
    # 0.765625 sum 9.1875 / 3 = 3.0625 -> std 1.75; downside sqrt((2.25 + 0.25) / 4) = sqrt(0.625)
    assert out["sample_interval_s"] == 1.0
    assert out["sharpe_annualised"] == pytest.approx(0.375 / 1.75 * math.sqrt(YEAR_S))
    assert out["sortino_annualised"] == pytest.approx(0.375 / math.sqrt(0.625) * math.sqrt(YEAR_S))
    # every 2 s: equity 0 -0.5 1.5 -> changes -0.5 2.0: mean 0.75, std sqrt(3.125)
    two = compute_stats(_hand_case(), sample_interval_s=2.0)
    assert two["sharpe_annualised"] == pytest.approx(0.75 / math.sqrt(3.125)
                                                     * math.sqrt(YEAR_S / 2))
    # downside sqrt(0.25 / 2)
    assert two["sortino_annualised"] == pytest.approx(0.75 / math.sqrt(0.125)
                                                      * math.sqrt(YEAR_S / 2))
    # every 1.5 s: grid 0 1.5 3 -> rows 0 1 3 -> equity 0 1 2: changes 1 1, std 0 -> NaN;
    # no losing interval -> Sortino NaN
    flat_steps = compute_stats(_hand_case(), sample_interval_s=1.5)
    assert math.isnan(flat_steps["sharpe_annualised"])
    assert math.isnan(flat_steps["sortino_annualised"])


def test_fill_counts_and_ratios_by_hand():
    out = compute_stats(_hand_case())
    assert (out["fills"], out["fills_buy"], out["fills_sell"], out["maker_fills"]) == (4, 2, 2, 3)
    assert (out["trades_buy"], out["trades_sell"]) == (2, 1)  # order 3 filled twice
    assert out["bought_coins"] == pytest.approx(0.003)
    assert out["sold_coins"] == pytest.approx(0.002)
    assert (out["orders_sent"], out["amends"], out["cancels"], out["rejects"]) == (8, 3, 5, 1)
    assert out["fill_ratio"] == 0.5  # 4 / 8
    assert out["order_to_trade_ratio"] == 4.0  # (8 + 3 + 5) / 4


def test_inventory_and_quote_statistics_by_hand():
    out = compute_stats(_hand_case())
    # rows 0-3 weigh 1 s each: lots 0 2 3 3 -> mean 2 lots
    assert out["avg_position_coins"] == pytest.approx(0.002)
    assert out["avg_abs_position_coins"] == pytest.approx(0.002)
    assert out["max_abs_position_coins"] == pytest.approx(0.003)
    assert out["final_position_coins"] == pytest.approx(0.001)
    assert out["time_at_limit_pct"] == 50.0  # rows 2 and 3 of 4 at 3 lots
    assert out["time_two_sided_pct"] == 50.0  # rows 0 and 1 (row 4 holds 0 s)
    assert out["quoted_spread_ticks"] == 4.5  # (4 + 5) / 2
    assert out["quoted_spread_bps"] == pytest.approx((4 / 1000 + 5 / 1002) * 1e4 / 2)
    # bids on rows 0 1 3: 999-998, 1001-1000, 1002-1003 -> (1 + 1 - 1) / 3
    assert out["bid_distance_to_touch_ticks"] == pytest.approx(1 / 3)
    # asks on rows 0 1 2: 1002-1001, 1005-1003, 1003-1002 -> 4 / 3
    assert out["ask_distance_to_touch_ticks"] == pytest.approx(4 / 3)


def test_markouts_by_hand():
    out = compute_stats(_hand_case())
    # +1 s: fill 1 (0.5 s) -> row 1 mid 1002: (1002 - 999) x +1 = 3; fill 2 (1.5 s) -> row 2
    # 1001: 1; fill 3 (1.7 s) -> row 2: (1001 - 1003) x -1 = 2; fill 4 (2.2 s) -> row 3: 0
    assert out["markout_1s_ticks"] == 1.5  # 6 / 4
    # money: 3 x 0.1 x 0.002 + 1 x 0.1 x 0.001 + 2 x 0.1 x 0.001 + 0 = 0.0009, / 4
    assert out["markout_1s_quote"] == pytest.approx(0.000225)
    # 10 s and 60 s end after the last row (4 s): no fill counts
    for key in ("markout_10s_ticks", "markout_10s_quote", "markout_60s_ticks",
                "markout_60s_quote"):
        assert math.isnan(out[key])
    # +2 s: rows 2 3 3 -> 2, 3, 0; fill 4 ends at 4.2 s, after the last row, and is left out
    custom = compute_stats(_hand_case(), markout_horizons_s=(0.0, 2.0))
    assert custom["markout_2s_ticks"] == pytest.approx(5 / 3)
    # +0 s: rows 0 1 1 2 -> (1000-999), (1002-1000), (1002-1003) x -1 = 1, (1001-1003) x -1 = 2
    assert custom["markout_0s_ticks"] == pytest.approx((1 + 2 + 1 + 2) / 4)
    assert "markout_1s_ticks" not in custom


def test_inverse_contract_values_and_markouts():
    # 2 contracts of 10 USD bought at 100.0 (tick 0.5 -> 200 ticks); mid 101.0 a second later:
    # turnover 2 x 10 / 100 = 0.2 coin; markout 2 x 10 x (1/100 - 1/101) coin
    rec = records(ts=[0, NS, 2 * NS], mid_tick=[200, 202, 202], equity=[0.0, 0.0, 0.0])
    case = FakeResult(
        instrument=Instrument(tick_size=0.5, lot_size=1.0, contract_size=10.0, inverse=True),
        config=config(max_position=5), records=rec, fills=fills((0, 1, 1, 200, 2, 1)),
        counts={"orders_sent": 1}, start_ns=0, end_ns=2 * NS)
    out = compute_stats(case)
    assert out["turnover_quote"] == pytest.approx(0.2)
    assert out["markout_1s_ticks"] == 2.0
    assert out["markout_1s_quote"] == pytest.approx(20 * (1 / 100 - 1 / 101))


def test_no_fills():
    case = dataclasses.replace(_hand_case(), fills=fills())
    out = compute_stats(case)
    assert (out["fills"], out["fills_buy"], out["fills_sell"], out["trades_buy"]) == (0, 0, 0, 0)
    assert out["turnover_quote"] == 0.0
    assert out["fill_ratio"] == 0.0  # 0 of 8 orders filled
    for key in ("return_over_trade_bps", "order_to_trade_ratio", "markout_1s_ticks",
                "markout_1s_quote"):
        assert math.isnan(out[key])
    nothing_sent = compute_stats(dataclasses.replace(case, counts={}))
    assert math.isnan(nothing_sent["fill_ratio"])
    assert nothing_sent["orders_sent"] == 0


def test_flat_equity_gives_nan_sharpe_and_sortino_and_zero_drawdown():
    base = _hand_case()
    rec = base.records.copy()
    rec["equity"] = 3.0
    out = compute_stats(dataclasses.replace(base, records=rec))
    assert out["pnl_quote"] == 0.0
    assert out["max_drawdown_quote"] == 0.0
    assert math.isnan(out["sharpe_annualised"])
    assert math.isnan(out["sortino_annualised"])


def test_one_side_only():
    base = _hand_case()
    sells = base.fills[base.fills["side"] < 0]
    out = compute_stats(dataclasses.replace(base, fills=sells))
    assert (out["fills_buy"], out["trades_buy"], out["bought_coins"]) == (0, 0, 0.0)
    assert (out["fills_sell"], out["trades_sell"]) == (2, 1)
    assert out["markout_1s_ticks"] == 1.0  # (2 + 0) / 2
    # only bids quoted: no two-sided time, no spread, no ask distance
    rec = base.records.copy()
    rec["ask0_tick"] = np.nan
    one_sided = compute_stats(dataclasses.replace(base, records=rec))
    assert one_sided["time_two_sided_pct"] == 0.0
    assert math.isnan(one_sided["quoted_spread_ticks"])
    assert math.isnan(one_sided["ask_distance_to_touch_ticks"])
    assert one_sided["bid_distance_to_touch_ticks"] == pytest.approx(1 / 3)


def test_no_record_rows():
    base = _hand_case()
    out = compute_stats(dataclasses.replace(base, records=base.records[:0]))
    assert tuple(out) == STAT_KEYS
    assert math.isnan(out["pnl_quote"])
    assert math.isnan(out["avg_position_coins"])
    assert math.isnan(out["markout_1s_ticks"])
    assert out["fills"] == 4


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sample_interval_s": 0}, "sample_interval_s"),
    ({"sample_interval_s": math.inf}, "sample_interval_s"),
    ({"markout_horizons_s": (1.0, -1.0)}, "markout horizons"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compute_stats(_hand_case(), **kwargs)


def test_records_out_of_order_are_refused():
    base = _hand_case()
    rec = base.records[::-1].copy()
    with pytest.raises(ValueError, match="records: ts"):
        compute_stats(dataclasses.replace(base, records=rec))


def test_readme_table_is_the_definitions_table():
    readme = (ROOT / "README.md").read_text()
    assert S.definitions_table() in readme
    assert re.search(r"qengine backtest --config \S+ --data \S+", readme)
    for image in re.findall(r"\]\((docs/[\w.-]+\.png)\)", readme):
        assert (ROOT / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image


def test_text_table_lists_every_key_with_its_unit():
    out = compute_stats(_hand_case())
    table = S.format_stats_table(out).splitlines()
    assert len(table) == len(STAT_KEYS)
    assert table[0].split() == ["duration_s", "4.5", "s"]
    assert "n/a" in S.format_stats_table({"markout_10s_ticks": NAN})


def test_rows_without_a_two_sided_book_are_left_out_of_spread_and_touch():
    base = _hand_case()
    rec = base.records.copy()
    # row 1: the ask side is empty (sentinel tick, no mid); the rest as in the hand case
    rec["best_ask_tick"][1] = np.iinfo(np.int64).max
    rec["mid_tick"][1] = np.nan
    out = compute_stats(dataclasses.replace(base, records=rec))
    # two-sided rows left: row 0 only (4 ticks, 40 bps); bids on rows 0 and 3: (1 - 1) / 2;
    # asks on rows 0 and 2: (1 + 1) / 2
    assert out["quoted_spread_ticks"] == 4.0
    assert out["quoted_spread_bps"] == pytest.approx(40.0)
    assert out["bid_distance_to_touch_ticks"] == 0.0
    assert out["ask_distance_to_touch_ticks"] == 1.0
