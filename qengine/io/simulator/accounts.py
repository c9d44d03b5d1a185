"""Accounts: positions, average price, fees, realised PnL and perpetual funding, exactly.

Money is kept as ``Fraction`` in USD and converted to float only in JSON. Funding convention:
``funding_mark`` is what one long contract has *paid* since start, so a position's funding
liability is ``funding_mark * position - perpetual_funding_entry_value`` and its funding PnL is
minus that (our reading of thalex-protocol.md 7.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .instruments import Instrument
from .orders import BUY, SELL, Order

_TRADES_KEEP = 50000


class Position:
    """One instrument's position in lots with its cost basis and realised results."""

    __slots__ = ("avg_price", "funding_entry", "lots", "realised_funding", "realised_pnl")

    def __init__(self) -> None:
        self.lots = 0
        self.avg_price = Fraction(0)
        self.realised_pnl = Fraction(0)
        self.funding_entry = Fraction(0)
        self.realised_funding = Fraction(0)

    def apply(self, inst: Instrument, signed_lots: int, price: Fraction,
              funding_mark: Fraction) -> tuple[Fraction, Fraction]:
        """Book a fill; return (position PnL, funding PnL) realised by it, in USD."""
        old = self.lots
        new = old + signed_lots
        pnl = Fraction(0)
        funding_pnl = Fraction(0)
        if old == 0 or (old > 0) == (signed_lots > 0):
            self.avg_price = (self.avg_price * abs(old) + price * abs(signed_lots)) / abs(new)
            self.funding_entry += funding_mark * signed_lots * inst.lot
        else:
            closed = min(abs(signed_lots), abs(old))
            sign = 1 if old > 0 else -1
            pnl = (price - self.avg_price) * closed * inst.lot * sign
            portion = self.funding_entry * closed / abs(old)
            funding_pnl = -(funding_mark * sign * closed * inst.lot - portion)
            self.funding_entry -= portion
            if abs(signed_lots) > abs(old):
                rest = new
                self.avg_price = price
                self.funding_entry = funding_mark * rest * inst.lot
        self.lots = new
        self.realised_pnl += pnl
        self.realised_funding += funding_pnl
        return pnl, funding_pnl


@dataclass(frozen=True, slots=True)
class AccountState:
    """In-process snapshot of an account for tests (amounts in coin units, money in USD).

    Attributes
    ----------
    account_number : str
        The exchange account number.
    position_lots : dict[str, int]
        Position per instrument in lots (volume ticks).
    positions : dict[str, float]
        Position per instrument in coin units.
    realised_pnl : float
        Positional PnL realised so far, USD, before fees and funding.
    fees : float
        Fees paid (negative: rebates received), USD.
    realised_funding : float
        Funding PnL realised so far, USD.
    open_orders : list[dict]
        OrderStatus objects of every open order.
    trade_count : int
        Number of executions.
    """

    account_number: str
    position_lots: dict[str, int]
    positions: dict[str, float]
    realised_pnl: float
    fees: float
    realised_funding: float
    open_orders: list[dict[str, Any]]
    trade_count: int


class Account:
    """A trading account shared by every session logged in with its key.

    Parameters
    ----------
    number : str
        Account number, e.g. ``A000000001``.
    starting_cash : Fraction
        Cash collateral in USD.
    """

    def __init__(self, number: str, starting_cash: Fraction) -> None:
        self.number = number
        self.starting_cash = starting_cash
        self.fees = Fraction(0)
        self.positions: dict[str, Position] = {}
        self.open_orders: dict[str, Order] = {}
        self.closed_orders: list[Order] = []
        self.trades: list[dict[str, Any]] = []
        self.sessions: list[Any] = []
        self.sent_marks: dict[str, float] = {}  # mark last pushed per portfolio line

    def position(self, name: str) -> Position:
        """The position line of ``name`` (created flat on first use)."""
        pos = self.positions.get(name)
        if pos is None:
            pos = self.positions[name] = Position()
        return pos

    def position_lots(self, name: str) -> int:
        """Signed position in lots, 0 when never traded."""
        pos = self.positions.get(name)
        return 0 if pos is None else pos.lots

    def realised_total(self) -> Fraction:
        """Positional plus funding PnL minus fees, USD."""
        total = -self.fees
        for pos in self.positions.values():
            total += pos.realised_pnl + pos.realised_funding
        return total

    def book_fill(self, *, order: Order, price_ticks: int, lots: int, maker_taker: str,
                  fee_rate: Fraction, funding_mark: Fraction, index: float, trade_id: str,
                  now_s: float, leg: Instrument | None = None, quantity: int = 1,
                  leg_index: int = 0) -> dict[str, Any]:
        """Apply one execution of ``order``; return its Trade row (account.trade_history).

        For a combination order this books one ``leg`` (``trade_type`` ``combo``): ``lots``
        and ``price_ticks`` are then the leg's, and a negative ``quantity`` reverses the
        direction.
        """
        inst = leg or order.inst
        price = price_ticks * inst.tick
        buys = (order.direction == BUY) == (quantity > 0)
        signed = lots if buys else -lots
        pos = self.position(inst.name)
        pnl, funding_pnl = pos.apply(inst, signed, price, funding_mark)
        fee = fee_rate * price * lots * inst.lot
        self.fees += fee
        row: dict[str, Any] = {
            "trade_type": "normal" if leg is None else "combo", "trade_id": trade_id,
            "order_id": order.order_id, "instrument_name": inst.name,
            "direction": BUY if buys else SELL,
            "price": inst.price(price_ticks), "amount": inst.amount(lots), "time": now_s,
            "position_after": inst.amount(pos.lots),
            "session_realised_after": float(self.realised_total()),
            "position_pnl": float(pnl), "fee": float(fee), "fee_rate": float(fee_rate),
            "fee_basis": inst.price(price_ticks), "index": index, "maker_taker": maker_taker,
            "leg_index": leg_index,
        }
        if inst.spec.type == "perpetual":
            row["perpetual_funding_pnl"] = float(funding_pnl)
            row["funding_mark"] = float(funding_mark)
        if order.label is not None:
            row["label"] = order.label
        if order.client_order_id is not None:
            row["client_order_id"] = order.client_order_id
        self.trades.append(row)
        if len(self.trades) > _TRADES_KEEP:
            del self.trades[: len(self.trades) - _TRADES_KEEP]  # bounded memory on long runs
        return row

    def portfolio_line(self, inst: Instrument, mark: float, index: float,
                       funding_mark: Fraction) -> dict[str, Any]:
        """PortfolioEntry of one instrument (start price = average price: no daily settlement)."""
        pos = self.position(inst.name)
        amount = pos.lots * inst.lot
        mark_f = Fraction(mark)
        line: dict[str, Any] = {
            "instrument_name": inst.name, "position": inst.amount(pos.lots), "mark_price": mark,
            "index": index, "start_price": float(pos.avg_price),
            "average_price": float(pos.avg_price),
            "unrealised_pnl": float((mark_f - pos.avg_price) * amount),
            "realised_pnl": float(pos.realised_pnl), "entry_value": float(pos.avg_price * amount),
        }
        if inst.spec.type == "perpetual":
            if pos.funding_entry != 0:
                line["perpetual_funding_entry_value"] = float(pos.funding_entry)
            line["unrealised_perpetual_funding"] = float(
                -(funding_mark * amount - pos.funding_entry))
        return line

    def summary(self, lines: list[dict[str, Any]], margin_rate: float) -> dict[str, Any]:
        """AccountSummary from the current portfolio lines."""
        unrealised = sum(line["unrealised_pnl"] + line.get("unrealised_perpetual_funding", 0.0)
                         for line in lines)
        cash = float(self.starting_cash + self.realised_total())
        required = sum(abs(line["position"]) * line["mark_price"] for line in lines) * margin_rate
        margin = cash + unrealised
        return {
            "unrealised_pnl": unrealised, "cash_collateral": cash, "margin": margin,
            "required_margin": required, "remaining_margin": margin - required,
            "session_realised_pnl": float(self.realised_total()),
            "cash": [{"currency": "USD", "balance": cash, "collateral_factor": 1.0,
                      "collateral_index_price": 1.0, "transactable": True}],
        }

    def state(self, instruments: dict[str, Instrument]) -> AccountState:
        """Snapshot for tests and end-to-end comparisons."""
        lots = {name: pos.lots for name, pos in self.positions.items()}
        positions = {name: instruments[name].amount(n) for name, n in lots.items()}
        return AccountState(
            account_number=self.number, position_lots=lots, positions=positions,
            realised_pnl=float(sum((p.realised_pnl for p in self.positions.values()),
                                   Fraction(0))),
            fees=float(self.fees),
            realised_funding=float(sum((p.realised_funding for p in self.positions.values()),
                                       Fraction(0))),
            open_orders=[o.to_status("existing") for o in self.open_orders.values()],
            trade_count=len(self.trades))
