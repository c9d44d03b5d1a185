"""Quote models: textbook numbers by hand, old-bot numbers by hand, twin comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import avellaneda, codes
from qengine.kernels import model as stage
from qengine.kernels.dtypes import QUOTE_DIAG
from qengine.kernels.params import LEGACY_OVERRIDES, make_quote_params
from tests.reference import avellaneda as twin
from tests.reference import model as model_twin

S = 1_000_000_000


def _diag():
    diag = np.zeros(1, QUOTE_DIAG)
    for name in QUOTE_DIAG.names:
        if QUOTE_DIAG[name].kind == "f":
            diag[0][name] = np.nan
    return diag


def _same(a, b, rel=1e-9):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


# --- research API --------------------------------------------------------------------------------


def test_reservation_price_matches_the_textbook_by_hand():
    # s = 100, q = 2, gamma = 0.1, sigma = 2, tau = 0.5: r = 100 - 2 * 0.1 * 4 * 0.5 = 99.6
    assert avellaneda.reservation_price(100.0, 2.0, 0.1, 2.0, 0.5) == pytest.approx(99.6)
    assert avellaneda.reservation_price(100.0, -2.0, 0.1, 2.0, 0.5) == pytest.approx(100.4)
    assert avellaneda.reservation_price(100.0, 0.0, 0.1, 2.0, 0.5) == 100.0


def test_optimal_spread_matches_the_avellaneda_stoikov_paper_example():
    # A-S (2008) simulation: sigma 2, T 1, gamma 0.1, k 1.5 -> 0.4 + 20 ln(16/15) = 1.69077...
    assert avellaneda.optimal_spread(0.1, 2.0, 1.0, 1.5) == pytest.approx(1.6907704227514236)
    # At the horizon only the liquidity term is left: 20 ln(16/15) = 1.2907...
    assert avellaneda.optimal_spread(0.1, 2.0, 0.0, 1.5) == pytest.approx(1.2907704227514236)


def test_optimal_spread_with_zero_gamma_is_the_risk_neutral_limit():
    assert avellaneda.optimal_spread(0.0, 2.0, 1.0, 1.5) == pytest.approx(2.0 / 1.5)
    assert avellaneda.optimal_spread(1e-9, 2.0, 1.0, 1.5) == pytest.approx(2.0 / 1.5, rel=1e-6)


@pytest.mark.parametrize(
    "args",
    [(-0.1, 2.0, 1.0, 1.5), (0.1, -2.0, 1.0, 1.5), (0.1, 2.0, -1.0, 1.5), (0.1, 2.0, 1.0, 0.0),
     (math.nan, 2.0, 1.0, 1.5)],
)
def test_optimal_spread_returns_nan_for_invalid_input(args):
    assert math.isnan(avellaneda.optimal_spread(*args))


def test_glft_depths_match_the_closed_form_by_hand():
    gamma, sigma, a, kappa = 0.1, 2.0, 140.0, 1.5
    c1 = math.log(1 + gamma / kappa) / gamma
    c2 = math.sqrt(gamma / (2 * a * kappa) * (1 + gamma / kappa) ** (1 + kappa / gamma))
    assert c1 == pytest.approx(0.6453852113757118)
    for q in (-3.0, 0.0, 1.0, 2.5):
        bid = avellaneda.glft_bid_depth(q, gamma, sigma, a, kappa)
        ask = avellaneda.glft_ask_depth(q, gamma, sigma, a, kappa)
        assert bid == pytest.approx(c1 + (2 * q + 1) / 2 * sigma * c2)
        assert ask == pytest.approx(c1 - (2 * q - 1) / 2 * sigma * c2)
        # Total spread does not depend on inventory; the skew is linear in it.
        assert bid + ask == pytest.approx(2 * c1 + sigma * c2)
        assert bid - ask == pytest.approx(2 * q * sigma * c2)


def test_glft_returns_nan_for_non_positive_a_or_kappa():
    assert math.isnan(avellaneda.glft_bid_depth(0.0, 0.1, 2.0, 0.0, 1.5))
    assert math.isnan(avellaneda.glft_ask_depth(0.0, 0.1, 2.0, 140.0, -1.0))


def test_legacy_spread_with_defaults_is_2_27e_3_of_price():
    # original-quoter.md 2.2: S = 1.5 * 1.4 * 0.00108 P + 0.01 * 0.4 * sqrt(300)
    spread = avellaneda.legacy_spread(
        100_000.0, 1.0, 0.01, 0.0, 20.0, 0.4, 14.0, 0.0002, 0.0005, 1.2, 1.5, 0.4, 300.0, 0.7,
        1.0, 0.01,
    )
    assert spread == pytest.approx(1.5 * 1.4 * 108.0 + 0.004 * math.sqrt(300.0))
    assert spread / 100_000.0 == pytest.approx(2.27e-3, rel=2e-3)


def test_legacy_spread_uses_the_tick_floor_at_low_prices_and_the_market_state_factor():
    # P = 1000: fee floor 1.08 < 14 ticks, so S_floor = 14; trending market x1.5.
    spread = avellaneda.legacy_spread(
        1000.0, 1.0, 0.0, 10.0, 20.0, 0.4, 14.0, 0.0002, 0.0005, 1.2, 1.5, 0.4, 300.0, 0.7,
        1.5, 0.01,
    )
    inventory_term = 0.7 * 0.5 * 0.01 * 0.4
    assert spread == pytest.approx((1.5 * 14 * 1.4 + 0.004 * math.sqrt(300) + inventory_term) * 1.5)


def test_legacy_skew_is_linear_in_inventory():
    assert avellaneda.legacy_skew(200.0, 10.0, 20.0, 0.8) == pytest.approx(40.0)
    assert avellaneda.legacy_skew(200.0, -20.0, 20.0, 0.8) == pytest.approx(-80.0)


finite = st.floats(-1e6, 1e6, allow_nan=False)
positive = st.floats(1e-6, 1e3)
maybe_nan = st.one_of(st.floats(-10, 1e3), st.just(math.nan))


@given(finite, finite, maybe_nan, maybe_nan, maybe_nan, maybe_nan)
def test_research_functions_match_their_twins(mid, q, gamma, sigma, tau, kappa):
    assert _same(avellaneda.reservation_price(mid, q, gamma, sigma, tau),
                 twin.reservation_price(mid, q, gamma, sigma, tau))
    assert _same(avellaneda.optimal_spread(gamma, sigma, tau, kappa),
                 twin.optimal_spread(gamma, sigma, tau, kappa))
    assert _same(avellaneda.glft_bid_depth(q / 1e4, gamma, sigma, tau, kappa),
                 twin.glft_bid_depth(q / 1e4, gamma, sigma, tau, kappa), rel=1e-7)
    assert _same(avellaneda.glft_ask_depth(q / 1e4, gamma, sigma, tau, kappa),
                 twin.glft_ask_depth(q / 1e4, gamma, sigma, tau, kappa), rel=1e-7)


# --- horizon -------------------------------------------------------------------------------------


def test_horizon_modes():
    fixed = make_quote_params(horizon_mode_code=codes.HORIZON_FIXED, horizon_s=60.0)
    assert stage.horizon_tau_s(fixed, 123 * S) == 60.0
    end = make_quote_params(horizon_mode_code=codes.HORIZON_SESSION_END, session_end_ns=100 * S,
                            min_tau_s=1.0)
    assert stage.horizon_tau_s(end, 70 * S) == pytest.approx(30.0)
    assert stage.horizon_tau_s(end, 200 * S) == 1.0  # past the end: floored
    rolling = make_quote_params(horizon_mode_code=codes.HORIZON_ROLLING, horizon_s=60.0,
                                session_end_ns=1000 * S, min_tau_s=0.5)
    assert stage.horizon_tau_s(rolling, 1015 * S) == pytest.approx(45.0)
    assert stage.horizon_tau_s(rolling, 985 * S) == pytest.approx(15.0)
    assert stage.horizon_tau_s(rolling, 1000 * S) == pytest.approx(60.0)
    assert stage.horizon_tau_s(rolling, 1060 * S - 1) == 0.5
    assert math.isnan(stage.horizon_tau_s(make_quote_params(horizon_mode_code=9), 0))


@given(st.sampled_from([0, 1, 2, 7]), st.floats(-5, 1e5), st.integers(-10**15, 10**15),
       st.integers(-10**15, 10**15), st.floats(0, 10))
def test_horizon_matches_twin(mode, horizon_s, end_ns, now_ns, min_tau_s):
    params = make_quote_params(horizon_mode_code=mode, horizon_s=horizon_s, session_end_ns=end_ns,
                               min_tau_s=min_tau_s)
    assert _same(stage.horizon_tau_s(params, now_ns), model_twin.horizon_tau_s(params, now_ns))


# --- model_touch ---------------------------------------------------------------------------------


def test_legacy_touch_with_defaults_reproduces_the_old_bot():
    params = make_quote_params(**LEGACY_OVERRIDES)
    diag = _diag()
    assert stage.model_touch(params, 100_000.0, 0.01, 0, 0, 1.0, 0.5, 1.0, 0.5, diag) == 0
    # S = 226.869 -> bid = round(99886.57) = 99887, ask = round(100113.43) = 100113
    assert diag[0]["bid0_ticks"] == 99_887.0
    assert diag[0]["ask0_ticks"] == 100_113.0
    assert diag[0]["spread_ticks"] == pytest.approx(226.8692820323)
    assert diag[0]["min_spread_ticks"] == pytest.approx(108.0)
    assert math.isnan(diag[0]["tau_s"])


def test_legacy_touch_skews_both_quotes_down_when_long():
    params = make_quote_params(**LEGACY_OVERRIDES)
    diag = _diag()
    stage.model_touch(params, 100_000.0, 0.01, 10_000, 0, 1.0, 0.5, 1.0, 0.5, diag)
    spread = 1.5 * 1.4 * 108.0 + 0.004 * math.sqrt(300) + 0.7 * 0.5 * 0.01 * 0.4
    skew = 0.5 * spread * 0.8 * 0.5  # q / Q = 0.5
    assert diag[0]["bid0_ticks"] == round(100_000 - spread / 2 - skew)  # 99841
    assert diag[0]["ask0_ticks"] == round(100_000 + spread / 2 - skew)  # 100068
    assert diag[0]["reservation_ticks"] == pytest.approx(100_000 - skew)


def test_as_touch_by_hand_with_and_without_the_fee_floor():
    # sigma 1e-4 at mid 100000 ticks = 10 ticks/sqrt(s); q = 5 coins; gamma 0.01; tau 60 s.
    params = make_quote_params(model_code=codes.MODEL_AS, gamma_per_tick_unit=0.01, horizon_s=60.0,
                               lot_size_coins=0.001, maker_fee_bps=0.0, profit_margin_bps=0.0,
                               min_spread_ticks=1, max_spread_ticks=10_000)
    diag = _diag()
    assert stage.model_touch(params, 1e5, 1e-4, 5_000, 0, 1.0, 0.05, 1.0, 0.05, diag) == 0
    r = 1e5 - 5 * 0.01 * 100 * 60  # 99700
    spread = 0.01 * 100 * 60 + 200 * math.log(1.2)
    assert diag[0]["reservation_ticks"] == pytest.approx(r)
    assert diag[0]["spread_ticks"] == pytest.approx(spread)
    assert diag[0]["bid0_ticks"] == pytest.approx(r - spread / 2)
    assert diag[0]["ask0_ticks"] == pytest.approx(r + spread / 2)
    assert diag[0]["tau_s"] == 60.0
    # With the default fees the 96.5-tick spread is widened to the 108-tick fee floor around r.
    floored = make_quote_params(model_code=codes.MODEL_AS, gamma_per_tick_unit=0.01, horizon_s=60.0)
    diag = _diag()
    stage.model_touch(floored, 1e5, 1e-4, 5_000, 0, 1.0, 0.05, 1.0, 0.05, diag)
    assert diag[0]["bid0_ticks"] == pytest.approx(r - 54.0)
    assert diag[0]["ask0_ticks"] == pytest.approx(r + 54.0)
    assert int(diag[0]["flags"]) & codes.QUOTE_FLAG_SPREAD_FLOORED


def test_max_spread_cap_keeps_the_centre():
    params = make_quote_params(model_code=codes.MODEL_AS, gamma_per_tick_unit=0.01,
                               max_spread_ticks=120,
                               maker_fee_bps=0.0, profit_margin_bps=0.0)
    diag = _diag()
    stage.model_touch(params, 1e5, 1e-3, 5_000, 0, 1.0, 0.05, 1.0, 0.05, diag)
    centre = diag[0]["reservation_ticks"]
    assert diag[0]["spread_ticks"] > 120
    assert diag[0]["ask0_ticks"] - diag[0]["bid0_ticks"] == pytest.approx(120.0)
    assert (diag[0]["ask0_ticks"] + diag[0]["bid0_ticks"]) / 2 == pytest.approx(centre)
    assert int(diag[0]["flags"]) & codes.QUOTE_FLAG_SPREAD_CAPPED


def test_glft_touch_uses_quote_units_for_inventory():
    params = make_quote_params(model_code=codes.MODEL_GLFT, gamma_per_tick_unit=0.05,
                               base_size_lots=20,
                               maker_fee_bps=0.0, profit_margin_bps=0.0, min_spread_ticks=1)
    diag = _diag()
    stage.model_touch(params, 1e5, 1e-4, 40, 0, 2.0, 0.1, 2.0, 0.1, diag)
    q = 2.0  # 40 lots / 20 lots per quote
    assert diag[0]["bid0_ticks"] == pytest.approx(
        1e5 - avellaneda.glft_bid_depth(q, 0.05, 10.0, 2.0, 0.1))
    assert diag[0]["ask0_ticks"] == pytest.approx(
        1e5 + avellaneda.glft_ask_depth(q, 0.05, 10.0, 2.0, 0.1))


@pytest.mark.parametrize("mid", [0.0, -5.0, math.nan])
def test_model_touch_rejects_a_bad_mid_and_leaves_no_touch(mid):
    diag = _diag()
    args = (mid, 1e-4, 0, 0, 1.0, 0.05, 1.0, 0.05)
    status = stage.model_touch(make_quote_params(), *args, diag)
    assert status == codes.STATUS_BAD_INPUT
    assert math.isnan(diag[0]["bid0_ticks"])
    assert math.isnan(diag[0]["ask0_ticks"])


@given(
    model=st.sampled_from([codes.MODEL_AS, codes.MODEL_GLFT, codes.MODEL_LEGACY, 5]),
    mid=st.one_of(st.floats(1.0, 1e7), st.just(math.nan), st.just(0.0)),
    sigma=st.one_of(st.floats(0.0, 0.05), st.just(math.nan)),
    inventory=st.integers(-30_000, 30_000),
    gamma=st.floats(0.0, 1.0),
    kappas=st.tuples(st.floats(1e-3, 5.0), st.floats(1e-3, 5.0)),
    a=st.floats(0.0, 50.0),
    spreads=st.tuples(st.integers(0, 300), st.integers(0, 3000)),
    tick=st.sampled_from([1.0, 0.5, 0.1, 5.0]),
    horizon_mode=st.sampled_from([0, 1, 2]),
    now_s=st.integers(0, 10_000),
    sigma_scale=st.one_of(st.just(1.0), st.floats(0.0, 4.0), st.just(-1.0), st.just(math.nan)),
    offset=st.one_of(st.just(0.0), st.floats(-500.0, 500.0), st.just(math.inf),
                     st.just(math.nan)),
)
def test_model_touch_matches_twin(model, mid, sigma, inventory, gamma, kappas, a, spreads, tick,
                                  horizon_mode, now_s, sigma_scale, offset):
    params = make_quote_params(
        model_code=model, gamma_per_tick_unit=gamma, tick_size_quote=tick,
        min_spread_ticks=spreads[0],
        max_spread_ticks=spreads[1], horizon_mode_code=horizon_mode, session_end_ns=5000 * S,
        sigma_scale_ratio=sigma_scale, reservation_offset_ticks=offset,
    )
    got, want = _diag(), _diag()
    args = (mid, sigma, inventory, now_s * S, a, kappas[0], a, kappas[1])
    assert stage.model_touch(params, *args, got) == model_twin.model_touch(params, *args, want)
    for x, y in zip(got[0].tolist(), want[0].tolist(), strict=True):
        assert _same(float(x), float(y))


# --- predictive inputs: sigma_scale and reservation_offset_ticks ---------------------------------


def _touch(params, mid=1e5, sigma=1e-4, inventory=5_000, a=2.0, kappa=0.1):
    diag = _diag()
    status = stage.model_touch(params, mid, sigma, inventory, 0, a, kappa, a, kappa, diag)
    assert status == codes.STATUS_OK
    return diag


_NO_FEES = {"maker_fee_bps": 0.0, "profit_margin_bps": 0.0, "min_spread_ticks": 1,
            "max_spread_ticks": 10_000}


def test_neutral_predictive_fields_reproduce_the_plain_models_exactly():
    # A-S by the research API (the model as it was before the predictive fields existed).
    params = make_quote_params(model_code=codes.MODEL_AS, gamma_per_tick_unit=0.01,
                               sigma_scale_ratio=1.0,
                               reservation_offset_ticks=0.0, **_NO_FEES)
    diag = _touch(params)
    r = avellaneda.reservation_price(1e5, 5.0, 0.01, 1e-4 * 1e5, 60.0)
    half = 0.5 * avellaneda.optimal_spread(0.01, 1e-4 * 1e5, 60.0, 0.1)
    assert diag[0]["bid0_ticks"] == r - half
    assert diag[0]["ask0_ticks"] == r + half
    # GLFT: the mid minus / plus the closed-form depths, bit for bit.
    params = make_quote_params(model_code=codes.MODEL_GLFT, gamma_per_tick_unit=0.05,
                               base_size_lots=20, **_NO_FEES)
    diag = _touch(params)
    assert diag[0]["bid0_ticks"] == 1e5 - avellaneda.glft_bid_depth(250.0, 0.05, 10.0, 2.0,
                                                                          0.1)
    assert diag[0]["ask0_ticks"] == 1e5 + avellaneda.glft_ask_depth(250.0, 0.05, 10.0, 2.0,
                                                                          0.1)
    # Legacy: the old bot's pinned numbers (test_legacy_touch_with_defaults_reproduces_the_old_bot).
    diag = _touch(make_quote_params(**LEGACY_OVERRIDES), sigma=0.01, inventory=0)
    assert (diag[0]["bid0_ticks"], diag[0]["ask0_ticks"]) == (99_887.0, 100_113.0)


@pytest.mark.parametrize("model", [codes.MODEL_AS, codes.MODEL_GLFT])
@pytest.mark.parametrize("offset", [7.25, -12.5, 300.0])
@pytest.mark.parametrize("fees", [True, False])
def test_offset_shifts_both_touches_by_exactly_the_offset(model, offset, fees):
    extra = {} if fees else _NO_FEES  # with fees the 108-tick floor applies around the centre
    base = _touch(make_quote_params(model_code=model, gamma_per_tick_unit=0.01, **extra))
    moved = _touch(make_quote_params(model_code=model, gamma_per_tick_unit=0.01,
                                     reservation_offset_ticks=offset,
                                     **extra))
    for index in ("bid0_ticks", "ask0_ticks", "reservation_ticks"):
        assert moved[0][index] - base[0][index] == pytest.approx(offset, abs=1e-9)
    # Spread, floor and diagnostics other than the centre do not move.
    for index in ("spread_ticks", "min_spread_ticks"):
        assert moved[0][index] == pytest.approx(base[0][index], rel=1e-12)


@pytest.mark.parametrize("inventory", [0, 10_000, -4_000])
@pytest.mark.parametrize("offset", [3.0, -40.0])
def test_legacy_offset_shifts_both_touches_by_a_whole_tick_offset(inventory, offset):
    base = _touch(make_quote_params(**LEGACY_OVERRIDES), sigma=0.01, inventory=inventory)
    moved = _touch(make_quote_params(**LEGACY_OVERRIDES, reservation_offset_ticks=offset),
                   sigma=0.01, inventory=inventory)
    assert moved[0]["bid0_ticks"] - base[0]["bid0_ticks"] == offset
    assert moved[0]["ask0_ticks"] - base[0]["ask0_ticks"] == offset
    # The spread (and its fee floor) is computed on the raw mid, as the old bot did.
    assert moved[0]["spread_ticks"] == base[0]["spread_ticks"]


def test_sigma_scale_acts_like_a_scaled_sigma_for_the_textbook_models():
    for model in (codes.MODEL_AS, codes.MODEL_GLFT):
        scaled = _touch(make_quote_params(model_code=model, gamma_per_tick_unit=0.01,
                                          sigma_scale_ratio=2.5, **_NO_FEES))
        plain = _touch(make_quote_params(model_code=model, gamma_per_tick_unit=0.01, **_NO_FEES),
                       sigma=2.5e-4)
        for index in ("bid0_ticks", "ask0_ticks"):
            assert scaled[0][index] == pytest.approx(plain[0][index], rel=1e-12)
    # A-S by hand: r moves by q gamma (s sigma)^2 tau with s = 2.
    diag = _touch(make_quote_params(model_code=codes.MODEL_AS, gamma_per_tick_unit=0.01,
                                    sigma_scale_ratio=2.0, **_NO_FEES))
    assert diag[0]["reservation_ticks"] == pytest.approx(1e5 - 5 * 0.01 * 400 * 60)


def test_legacy_sigma_scale_multiplies_the_floored_sigma():
    # sigma 0.002 is floored to 0.01 first, then doubled: the vol term uses 0.02.
    params = make_quote_params(**LEGACY_OVERRIDES, sigma_scale_ratio=2.0)
    diag = _touch(params, sigma=0.002, inventory=0)
    expected = 1.5 * 1.4 * 108.0 + 0.02 * 0.4 * math.sqrt(300)
    assert diag[0]["spread_ticks"] == pytest.approx(expected)
    # The trending market-state factor (1.5) multiplies the whole spread.
    params = make_quote_params(**LEGACY_OVERRIDES, market_state_factor_ratio=1.5)
    diag = _touch(params, sigma=0.01, inventory=0)
    assert diag[0]["spread_ticks"] == pytest.approx(
        1.5 * (1.5 * 1.4 * 108.0 + 0.01 * 0.4 * math.sqrt(300)))


@pytest.mark.parametrize("fields", [{"sigma_scale_ratio": -0.5}, {"sigma_scale_ratio": math.nan},
                                    {"sigma_scale_ratio": math.inf},
                                    {"reservation_offset_ticks": math.nan},
                                    {"reservation_offset_ticks": -math.inf}])
def test_invalid_predictive_fields_are_rejected_without_a_touch(fields):
    diag = _diag()
    status = stage.model_touch(make_quote_params(**fields), 1e5, 1e-4, 0, 0, 1.0, 0.05, 1.0,
                                    0.05, diag)
    assert status == codes.STATUS_BAD_INPUT
    assert math.isnan(diag[0]["bid0_ticks"])
    assert math.isnan(diag[0]["ask0_ticks"])
