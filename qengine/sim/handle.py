"""The in-process handle to a running simulator, handed back by ``nursery.start``.

``Simulator`` *is* the bound port (an ``int`` subclass), so ``port = await
nursery.start(serve_simulator, config)`` works as documented, and it also gives tests and the
engine's end-to-end checks the exchange's own view: positions, realised PnL, open orders, and a
few levers (force a taker, move an index, push a system event, drop connections).
"""

from __future__ import annotations

from typing import Any

import trio

from .accounts import AccountState
from .errors import RpcError
from .exchange import Exchange, notification_frame
from .orders import BUY, SELL
from .server import Server


class Simulator(int):
    """Bound port plus a handle on the running exchange.

    Attributes
    ----------
    port : int
        The bound TCP port (also the int value).
    host : str
        The bound interface.
    url : str
        ``ws://HOST:PORT/ws/api/v2``.
    exchange : Exchange
        The exchange state (read-only use recommended).
    """

    exchange: Exchange
    host: str
    url: str
    _server: Server
    _cancel_scope: trio.CancelScope

    def __new__(cls, port: int, *, exchange: Exchange, server: Server, host: str,
                cancel_scope: trio.CancelScope) -> Simulator:
        self = super().__new__(cls, port)
        self.exchange = exchange
        self.host = host
        self.url = f"ws://{host}:{port}/ws/api/v2"
        self._server = server
        self._cancel_scope = cancel_scope
        return self

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return int(self)

    def __repr__(self) -> str:
        return f"Simulator(url={self.url!r})"

    def __str__(self) -> str:
        return str(int(self))  # behaves as the port in f-strings and str()

    def __format__(self, spec: str) -> str:
        return format(int(self), spec)

    # ---- reading the exchange's state ---------------------------------------------------------
    def _account(self, key_id: str | None) -> Any:
        accounts = self.exchange.accounts
        if key_id is None:
            if len(accounts) != 1:
                raise ValueError(f"several accounts {sorted(accounts)}: pass key_id")
            return next(iter(accounts.values()))
        if key_id not in accounts:
            raise KeyError(f"no account for key id {key_id!r}")
        return accounts[key_id]

    def account_state(self, key_id: str | None = None) -> AccountState:
        """Positions, realised PnL, fees and open orders of the account of ``key_id``."""
        return self._account(key_id).state(self.exchange.instruments)

    def positions(self, key_id: str | None = None) -> dict[str, float]:
        """Position per instrument in coin units."""
        return self.account_state(key_id).positions

    def open_orders(self, key_id: str | None = None) -> list[dict[str, Any]]:
        """OrderStatus objects of the account's open orders."""
        return self.account_state(key_id).open_orders

    def mid_price(self, instrument_name: str) -> float:
        """Current mid in USD (the centre of the crowd's quotes)."""
        market = self.exchange.markets[instrument_name]
        return market.inst.price(market.mid_ticks)

    @property
    def internal_errors(self) -> int:
        """Requests that hit a simulator bug (answered with error 20); tests expect 0."""
        return self.exchange.internal_errors

    @property
    def session_count(self) -> int:
        """Connected sessions."""
        return len(self.exchange.sessions)

    # ---- levers -----------------------------------------------------------------------------
    def inject_taker(self, instrument_name: str, direction: str, amount: float,
                     limit_price: float | None = None) -> float:
        """A crowd taker executes now against the book (clients first at each price).

        Parameters
        ----------
        instrument_name : str
            Instrument to trade.
        direction : str
            ``buy`` lifts asks, ``sell`` hits bids.
        amount : float
            Size in coin units.
        limit_price : float or None
            Worst price in USD; None sweeps at any price.

        Returns
        -------
        float
            Amount executed in coin units.
        """
        ex = self.exchange
        market = ex.markets[instrument_name]
        inst = market.inst
        if direction not in (BUY, SELL):
            raise ValueError("direction must be 'buy' or 'sell'")
        try:
            lots = inst.amount_to_lots(amount)
            limit = None if limit_price is None else inst.price_to_ticks(limit_price)
        except RpcError as exc:
            raise ValueError(exc.message) from None
        buys = direction == BUY
        matches, _ = market.book.plan(buys, limit, lots, None)
        ex.execute(market, None, buys, matches, ex.now_s())
        ex.flush()
        return inst.amount(sum(m.lots for m in matches))

    def set_index_price(self, underlying: str, price: float) -> None:
        """Move an index; mids, crowd and mark follow at the next market step."""
        if price <= 0:
            raise ValueError("price must be positive")
        self.exchange.indices[underlying].price = float(price)

    def send_system_event(self, event: str = "reconnect") -> int:
        """Push ``{"event": event}`` on ``system`` to subscribers; return how many got it."""
        frame = notification_frame("system", '{"event":' + f'"{event}"' + "}")
        sessions = list(self.exchange.subscribers.get("system", {}))
        for session in sessions:
            session.send(frame)
        return len(sessions)

    async def drop_connections(self, code: int = 1001) -> int:
        """Close every client connection (as a network drop would); return how many."""
        connections = list(self._server.connections.values())
        for ws in connections:
            with trio.move_on_after(2.0):
                await ws.aclose(code, "dropped by the simulator")
        return len(connections)

    def stop(self) -> None:
        """Stop serving (cancels the simulator's nursery)."""
        self._cancel_scope.cancel()
