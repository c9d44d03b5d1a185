"""A Thalex-like listing: perpetuals, dated futures and their rolls for BTC and ETH.

Names, ticks and sizes follow Thalex's contract specifications (thalex-protocol.md 5): futures
``BTC-25DEC26`` expire at 08:00 UTC; rolls are ``combination`` instruments named
``BTC-25DEC26-PERPETUAL`` (future against the perpetual) and ``BTC-25DEC26-26JUN26`` (later
against earlier future), and *buying* one buys the later expiry and sells the earlier. Each coin
gets a daily future (the first 08:00 UTC at least 12 hours out), a weekly one (the first Friday
after the daily) and a quarterly one (the last Friday of the first March, June, September or
December at least four weeks out), priced at the index plus a carry basis, and a roll for every
pair of its perpetual and futures (Thalex lists each pair), priced off its legs' mids.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools

from .config import InstrumentSpec, default_indices, default_instruments

#: Annualised carry of the futures over the index (their mean basis).
CARRY_PER_YEAR = 0.05
_EXPIRY_HOUR_UTC = 8
_FRIDAY = 4
_QUARTER_MONTHS = (3, 6, 9, 12)
_YEAR_S = 365.25 * 86400.0
#: Per coin: (tick, lot, roll minimum order, roll crowd lots, roll taker lots).
_COINS = {"BTC": (1.0, 0.001, 0.1, 500, 200.0), "ETH": (0.1, 0.01, 1.0, 500, 200.0)}


def future_name(coin: str, expiry: dt.date) -> str:
    """Thalex's dated future name, e.g. ``BTC-25DEC26``."""
    return f"{coin}-{expiry.day:02d}{expiry.strftime('%b').upper()}{expiry.strftime('%y')}"


def expiries(start_s: float) -> tuple[dt.date, dt.date, dt.date]:
    """(daily, weekly, quarterly) expiry dates for a listing made at Unix time ``start_s``."""
    daily = dt.datetime.fromtimestamp(start_s + 12 * 3600 + (24 - _EXPIRY_HOUR_UTC) * 3600,
                                      dt.UTC).date()  # 08:00 on it is >= 12 h after start
    weekly = daily + dt.timedelta(days=1)
    weekly += dt.timedelta(days=(_FRIDAY - weekly.weekday()) % 7)
    earliest = dt.datetime.fromtimestamp(start_s, dt.UTC).date() + dt.timedelta(days=28)
    year, month = earliest.year, earliest.month
    while True:
        if month in _QUARTER_MONTHS:
            last_day = dt.date(year, month, calendar.monthrange(year, month)[1])
            quarterly = last_day - dt.timedelta(days=(last_day.weekday() - _FRIDAY) % 7)
            if quarterly >= earliest:
                return daily, weekly, quarterly
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _expiry_s(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, _EXPIRY_HOUR_UTC,
                           tzinfo=dt.UTC).timestamp())


def thalex_instruments(start_s: float) -> tuple[InstrumentSpec, ...]:
    """The perpetuals of ``default_instruments`` plus, per coin, three dated futures and the
    six rolls between them and the perpetual, for a simulator starting at ``start_s``."""
    perpetuals = default_instruments()
    index_price = {i.underlying: i.initial_price for i in default_indices()}
    out = list(perpetuals)
    for perp in perpetuals:
        coin = perp.instrument_name.split("-")[0]
        tick, lot, roll_min, roll_crowd_lots, roll_taker_lots = _COINS[coin]
        dated = []
        for day in expiries(start_s):
            expiry_s = _expiry_s(day)
            years = max(0.0, expiry_s - start_s) / _YEAR_S
            spec = InstrumentSpec(
                instrument_name=future_name(coin, day), product=perp.product,
                underlying=perp.underlying, type="future", tick_size=tick,
                volume_tick_size=lot, min_order_amount=lot,
                basis_ticks=index_price[perp.underlying] * CARRY_PER_YEAR * years / tick,
                crowd_level_lots=perp.crowd_level_lots,
                taker_intensity_per_s=0.5 * perp.taker_intensity_per_s,
                taker_size_lots_mean=perp.taker_size_lots_mean, expiry_date=day.isoformat(),
                expiration_timestamp=expiry_s)
            dated.append(spec)
        out += dated
        # Every pair, the later expiry first: each future against the perpetual, then the
        # futures against each other.
        pairs = [(future, perp) for future in dated]
        pairs += [(later, earlier) for earlier, later in itertools.combinations(dated, 2)]
        for later, earlier in pairs:
            tail = "PERPETUAL" if earlier is perp else earlier.instrument_name.split("-")[1]
            out.append(InstrumentSpec(
                instrument_name=f"{later.instrument_name}-{tail}", product=perp.product,
                underlying=perp.underlying, type="combination", tick_size=tick,
                volume_tick_size=lot, min_order_amount=roll_min, crowd_half_spread_ticks=3,
                crowd_level_lots=roll_crowd_lots, taker_intensity_per_s=0.2,
                taker_size_lots_mean=roll_taker_lots,
                expiry_date=(earlier.expiry_date or later.expiry_date),
                expiration_timestamp=(earlier.expiration_timestamp
                                      or later.expiration_timestamp),
                legs=((later.instrument_name, 1), (earlier.instrument_name, -1))))
    return tuple(out)
