"""Orders as the simulator holds them, and their OrderStatus / OrderHistory JSON shapes."""

from __future__ import annotations

from typing import Any

from .instruments import Instrument

BUY = "buy"
SELL = "sell"
GTC = "good_till_cancelled"
IOC = "immediate_or_cancel"


class Fill:
    """One execution of an order (OrderFill of the protocol).

    Parameters
    ----------
    trade_id : str
        Exchange trade id.
    price_ticks : int
        Execution price in ticks.
    lots : int
        Executed size in lots.
    time_s : float
        Unix seconds.
    maker_taker : str
        ``maker`` or ``taker``.
    leg_index : int
        Index of the combination leg it executed on (0 for an outright).
    leg : Instrument or None
        That leg's instrument (None: the order's own); price and lots are in its units.
    """

    __slots__ = ("leg", "leg_index", "lots", "maker_taker", "price_ticks", "time_s", "trade_id")

    def __init__(self, trade_id: str, price_ticks: int, lots: int, time_s: float,
                 maker_taker: str, leg_index: int = 0, leg: Instrument | None = None) -> None:
        self.trade_id = trade_id
        self.price_ticks = price_ticks
        self.lots = lots
        self.time_s = time_s
        self.maker_taker = maker_taker
        self.leg_index = leg_index
        self.leg = leg

    def to_json(self, inst: Instrument) -> dict[str, Any]:
        """The OrderFill object (a combination's fills are per leg, as its trades are)."""
        inst = self.leg or inst
        return {"trade_id": self.trade_id, "price": inst.price(self.price_ticks),
                "amount": inst.amount(self.lots), "time": self.time_s,
                "maker_taker": self.maker_taker, "leg_index": self.leg_index}


class Order:
    """A client order (or one mass-quote level) and everything needed to report it.

    ``price_ticks`` is None only for a market order that has not been priced; ``seq`` orders the
    queue at a price (lower is earlier). ``session`` is the owning session object or None once
    that session has gone (persistent orders outlive it).
    """

    __slots__ = ("account", "amount_lots", "client_order_id", "close_time_s", "collar",
                 "create_time_s", "delete_reason", "direction", "filled_lots", "fills", "inst",
                 "label", "mass_quote", "order_id", "order_type", "persistent", "post_only",
                 "price_ticks", "reduce_only", "reject_post_only", "seq", "session",
                 "stp_action", "stp_level", "time_in_force")

    def __init__(self, *, order_id: str, inst: Instrument, account: Any, session: Any,
                 direction: str, order_type: str, time_in_force: str, price_ticks: int | None,
                 amount_lots: int, create_time_s: float, persistent: bool) -> None:
        self.order_id = order_id
        self.inst = inst
        self.account = account
        self.session = session
        self.direction = direction
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.price_ticks = price_ticks
        self.amount_lots = amount_lots
        self.filled_lots = 0
        self.create_time_s = create_time_s
        self.close_time_s: float | None = None
        self.delete_reason: str | None = None
        self.persistent = persistent
        self.label: str | int | float | None = None
        self.client_order_id: int | None = None
        self.post_only = False
        self.reject_post_only = False
        self.reduce_only = False
        self.collar = "reject"
        self.stp_level = "customer"
        self.stp_action = "cancel_aggressive_partial_fill"
        self.mass_quote = False
        self.fills: list[Fill] = []
        self.seq = 0

    @property
    def remaining_lots(self) -> int:
        """Open size in lots; 0 once the order is closed."""
        return 0 if self.close_time_s is not None else self.amount_lots - self.filled_lots

    @property
    def is_open(self) -> bool:
        """True while the order can still trade."""
        return self.close_time_s is None

    @property
    def status(self) -> str:
        """The five-value status rule of thalex-protocol.md 4.5."""
        if self.close_time_s is None:
            return "partially_filled" if self.filled_lots else "open"
        if self.filled_lots >= self.amount_lots:
            return "filled"
        return "cancelled_partially_filled" if self.filled_lots else "cancelled"

    def close(self, now_s: float, reason: str) -> None:
        """Mark closed with ``delete_reason``."""
        self.close_time_s = now_s
        self.delete_reason = reason

    def to_status(self, change_reason: str, new_fills: list[Fill] | None = None) -> dict[str, Any]:
        """OrderStatus; ``new_fills`` None means all fills (the ``existing`` snapshot rule)."""
        inst = self.inst
        fills = self.fills if new_fills is None else new_fills
        out: dict[str, Any] = {
            "order_id": self.order_id,
            "order_type": self.order_type,
            "time_in_force": self.time_in_force,
            "instrument_name": inst.name,
            "direction": self.direction,
        }
        if self.price_ticks is not None:
            out["price"] = inst.price(self.price_ticks)
        out["amount"] = inst.amount(self.amount_lots)
        out["filled_amount"] = inst.amount(self.filled_lots)
        out["remaining_amount"] = inst.amount(self.remaining_lots)
        if self.label is not None:
            out["label"] = self.label
        if self.client_order_id is not None:
            out["client_order_id"] = self.client_order_id
        out["status"] = self.status
        out["fills"] = [f.to_json(inst) for f in fills]
        out["change_reason"] = change_reason
        if self.delete_reason is not None:
            out["delete_reason"] = self.delete_reason
        out["insert_reason"] = "client_request"
        out["create_time"] = self.create_time_s
        if self.close_time_s is not None:
            out["close_time"] = self.close_time_s
        if self.reduce_only:
            out["reduce_only"] = True
        out["persistent"] = self.persistent
        return out

    def to_history(self) -> dict[str, Any]:
        """OrderHistory: always close_time, at most 8 fills, and none of the OrderStatus
        fields the schema's OrderHistory lacks (remaining_amount, change_reason,
        time_in_force, persistent)."""
        out = self.to_status("existing")
        for key in ("remaining_amount", "change_reason", "time_in_force", "persistent"):
            out.pop(key, None)
        out["fills"] = out["fills"][:8]
        return out
