"""Opt-in predictive adjustments: volume-candle predictions and the VAMP skew reach the quotes.

With ``quote.predictive_adjustments`` on, every closed volume candle runs ``candle_signals`` ->
``predict_adjustments`` -> ``apply_adjustments`` on the *base* parameters (so nothing compounds,
the old bot's bug, original-quoter.md 2.7) and writes the bounded results into
``state.params[0]``, which the next quote cycle reads:

- the risk aversion the model uses (``gamma``; ``legacy_gamma`` for the legacy model) within
  [0.25, 4] x its base;
- ``prior_kappa_per_tick`` within [0.25, 4] x its base (the fixed kappa, or the prior the
  intensity fit shrinks towards);
- ``sigma_scale`` within [0.5, 3] (base 1.0);
- ``reservation_offset_ticks`` = the predicted offset (bps of the mid) in ticks plus the VAMP skew;
- legacy model only: ``market_state_factor`` = 1.5 while the prediction has a trend, else its base.

The VAMP skew (decayed aggressive impact in lots x ``quote.vamp_skew_ticks_per_lot``, clamped to
+-:data:`VAMP_SKEW_MAX_TICKS`) is refreshed on every public-trade batch. Both parts expire: a
candle prediction older than ``quote.prediction_max_age_s`` and a VAMP skew not refreshed for as
long are dropped and the base values come back (checked on every trade batch and, as a plain
integer comparison, before every quote cycle). With the flag off nothing here writes anything.
"""

from __future__ import annotations

import logging

import numpy as np

from ..kernels import codes
from ..kernels.candles import apply_adjustments, candle_signals, predict_adjustments
from ..kernels.dtypes import ADJUSTED_PARAMS, CANDLE_ADJUST, CANDLE_SIGNALS, VAMP_OUT
from ..kernels.vamp import vamp_value
from ._state import EngineState

log = logging.getLogger("qengine.predictive")

#: Bounds of the adjusted gamma and kappa, as multiples of their base values.
GAMMA_MIN_FACTOR = 0.25
GAMMA_MAX_FACTOR = 4.0
KAPPA_MIN_FACTOR = 0.25
KAPPA_MAX_FACTOR = 4.0
#: Bounds of ``sigma_scale`` (base 1.0).
SIGMA_SCALE_MIN = 0.5
SIGMA_SCALE_MAX = 3.0
#: Adjustments at or below this magnitude are ignored (the old bot's 0.05).
MIN_ABS_ADJ = 0.05
#: Largest predicted reservation offset, bps of the mid (the predictor itself stays within 5).
RESERVATION_OFFSET_MAX_BPS = 5.0
#: Largest VAMP skew of the centre, ticks.
VAMP_SKEW_MAX_TICKS = 3.0
#: Horizon of the decayed VAMP impact, ns (the old bot's ``vamp.max_impact_age``, 300 s).
VAMP_MAX_IMPACT_AGE_NS = 300_000_000_000
#: The legacy model's market-state factor while the prediction has a trend (old bot 2.2 step 9).
TRENDING_MARKET_STATE_FACTOR = 1.5

_NEVER = -(2**62)


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


class Predictor:
    """Writes bounded predictive adjustments into ``state.params[0]`` (see the module doc).

    Parameters
    ----------
    state : EngineState
        Its ``params`` row must still hold the values built from config: they become the base.
    """

    def __init__(self, state: EngineState) -> None:
        q = state.config.quote
        self.state = state
        self.enabled = q.predictive_adjustments
        self.max_age_ns = int(q.prediction_max_age_s * 1e9)
        self.vamp_ticks_per_lot = q.vamp_skew_ticks_per_lot
        row = state.params[0]
        self.legacy = int(row["model"]) == codes.MODEL_LEGACY
        #: The params field holding the gamma the model uses.
        self.gamma_field = "legacy_gamma" if self.legacy else "gamma"
        self.base_gamma = float(row[self.gamma_field])
        self.base_kappa_per_tick = float(row["prior_kappa_per_tick"])
        self.base_sigma_scale = float(row["sigma_scale"])
        self.base_offset_ticks = float(row["reservation_offset_ticks"])
        self.base_market_state_factor = float(row["market_state_factor"])
        self.signals = np.zeros(1, CANDLE_SIGNALS)
        self.adjust = np.zeros(1, CANDLE_ADJUST)
        self.adjusted = np.zeros(1, ADJUSTED_PARAMS)
        self.vamp_out = np.zeros(1, VAMP_OUT)
        #: The newest applied prediction: its time (ns, ``_NEVER`` if none), values and offset.
        self.prediction_ns = _NEVER
        self.gamma = self.base_gamma
        self.kappa_per_tick = self.base_kappa_per_tick
        self.sigma_scale = self.base_sigma_scale
        self.offset_ticks = 0.0
        self.trend = 0
        #: True while the last write applied a fresh prediction.
        self.prediction_live = False
        #: The newest VAMP skew (ticks) and when it was computed (ns).
        self.vamp_skew_ticks = 0.0
        self.vamp_ns = _NEVER
        #: When the params next need rewriting because something expires (ns); None: never.
        self.expires_ns: int | None = None
        self.predictions = 0
        self.expiries = 0

    def on_trades(self, now_ns: int, mid_ticks: float, candle_closed: bool) -> None:
        """After a public-trade batch was fed: predict on a closed candle, refresh the VAMP skew,
        drop what expired and write the params.

        Parameters
        ----------
        now_ns : int
            Current time, ns (the clock the candles were stamped with).
        mid_ticks : float
            Mid of the book, ticks (converts the bps offset).
        candle_closed : bool
            True when the batch closed at least one candle.
        """
        if not self.enabled:
            return
        if candle_closed:
            self._predict(mid_ticks)
        if self.vamp_ticks_per_lot > 0.0:
            status = vamp_value(self.state.vamp_state, self.state.vamp_impacts, now_ns,
                                VAMP_MAX_IMPACT_AGE_NS, self.vamp_out)
            if status != codes.STATUS_BAD_INPUT:
                impact_lots = float(self.vamp_out[0]["impact_lots"])
                self.vamp_skew_ticks = _clamp(impact_lots * self.vamp_ticks_per_lot,
                                              -VAMP_SKEW_MAX_TICKS, VAMP_SKEW_MAX_TICKS)
                self.vamp_ns = now_ns
        self._write(now_ns)

    def expire(self, now_ns: int) -> None:
        """Restore base values whose prediction or skew has expired (cheap; quoter hot path)."""
        if self.expires_ns is not None and now_ns >= self.expires_ns:
            self._write(now_ns)

    def _predict(self, mid_ticks: float) -> None:
        # Signals of the three newest candles -> relative adjustments -> bounded values.
        state = self.state
        if candle_signals(state.candle_state, state.candles, self.signals) != codes.STATUS_OK:
            return
        if predict_adjustments(self.signals, self.adjust) != codes.STATUS_OK:
            return
        status = apply_adjustments(
            self.adjust, self.base_gamma, self.base_kappa_per_tick, self.base_sigma_scale,
            MIN_ABS_ADJ,
            self.base_gamma * GAMMA_MIN_FACTOR, self.base_gamma * GAMMA_MAX_FACTOR,
            self.base_kappa_per_tick * KAPPA_MIN_FACTOR,
            self.base_kappa_per_tick * KAPPA_MAX_FACTOR,
            SIGMA_SCALE_MIN, SIGMA_SCALE_MAX, self.adjusted,
        )
        if status != codes.STATUS_OK:
            return
        out, adjust = self.adjusted[0], self.adjust[0]
        self.gamma = float(out["gamma"])
        self.kappa_per_tick = float(out["kappa"])
        self.sigma_scale = float(out["sigma"])
        offset_bps = _clamp(float(adjust["reservation_offset_bps"]),
                            -RESERVATION_OFFSET_MAX_BPS, RESERVATION_OFFSET_MAX_BPS)
        self.offset_ticks = offset_bps * mid_ticks / 1e4
        self.trend = int(adjust["trend"])
        self.prediction_ns = int(adjust["time_ns"])
        self.predictions += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("prediction: gamma %.4g kappa %.4g sigma x%.3f offset %.2f ticks trend %d",
                      self.gamma, self.kappa_per_tick, self.sigma_scale, self.offset_ticks,
                      self.trend)

    def _write(self, now_ns: int) -> None:
        # Fresh parts are written, expired ones fall back to base; remember the next expiry.
        prediction_fresh = now_ns - self.prediction_ns <= self.max_age_ns
        vamp_fresh = now_ns - self.vamp_ns <= self.max_age_ns
        if self.prediction_live and not prediction_fresh:
            self.expiries += 1
        self.prediction_live = prediction_fresh
        row = self.state.params[0]
        offset = self.base_offset_ticks
        if prediction_fresh:
            row[self.gamma_field] = self.gamma
            row["prior_kappa_per_tick"] = self.kappa_per_tick
            row["sigma_scale"] = self.sigma_scale
            offset += self.offset_ticks
        else:
            row[self.gamma_field] = self.base_gamma
            row["prior_kappa_per_tick"] = self.base_kappa_per_tick
            row["sigma_scale"] = self.base_sigma_scale
        if self.legacy:
            trending = prediction_fresh and self.trend != 0
            row["market_state_factor"] = (TRENDING_MARKET_STATE_FACTOR if trending
                                          else self.base_market_state_factor)
        if vamp_fresh:
            offset += self.vamp_skew_ticks
        row["reservation_offset_ticks"] = offset
        ends = [t + self.max_age_ns + 1 for t, fresh in
                ((self.prediction_ns, prediction_fresh), (self.vamp_ns, vamp_fresh)) if fresh]
        self.expires_ns = min(ends) if ends else None
