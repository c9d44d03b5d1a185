"""Session, market-data and subscription calls of ``ThalexClient`` (see ``qengine.io.thalex``).

Split from ``thalex.py`` by concern (house limit of about 400 lines per module): this part holds
login, cancel-on-disconnect, cancel_session, the public market-data calls and the subscription
bookkeeping that ``open_thalex_client`` replays on every reconnect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import messages as m
from .auth import Credentials, make_login_token
from .errors import BadResponse
from .rpc_session import RpcSession

__all__ = ["ThalexSessionCalls"]


def _records(decode: Any) -> Any:
    def decode_all(result: Any) -> list[Any]:
        if type(result) is not list:
            raise BadResponse(f"expected a list, got {type(result).__name__}")
        return [decode(item) for item in result]

    return decode_all


class ThalexSessionCalls(RpcSession):
    """Session and public calls; every method takes ``timeout_s`` (seconds) like ``call``."""

    def __init__(self, *, request_timeout_s: float = 10.0) -> None:
        super().__init__(request_timeout_s=request_timeout_s)
        self._public_channels: dict[str, None] = {}  # insertion-ordered sets
        self._private_channels: dict[str, None] = {}
        #: Account number returned by the last successful login ("" before).
        self.account_number = ""

    # -- session ----------------------------------------------------------------------------------

    async def login(
        self,
        credentials: Credentials,
        *,
        account: str | None = None,
        timeout_s: float | None = None,
    ) -> str:
        """Log in with a fresh RS512 token; return the account number. The key is never logged."""
        token = make_login_token(credentials.key_id, credentials.private_key_pem)
        result = await self.call(
            "public/login", {"token": token, "account": account}, timeout_s=timeout_s
        )
        if type(result) is not dict or type(result.get("account_number")) is not str:
            raise BadResponse("public/login: result lacks account_number")
        self.account_number = result["account_number"]
        return self.account_number

    async def set_cancel_on_disconnect(
        self, timeout_secs: int, *, timeout_s: float | None = None
    ) -> int:
        """Make the session non-persistent; return the granted ``message_rate`` (messages/s).

        ``timeout_secs`` is the exchange's heartbeat interval in whole seconds (our pings count).
        """
        result = await self.call(
            "private/set_cancel_on_disconnect",
            {"timeout_secs": int(timeout_secs)},
            timeout_s=timeout_s,
        )
        rate = result.get("message_rate") if type(result) is dict else None
        if type(rate) is not int:
            raise BadResponse("private/set_cancel_on_disconnect: no integer message_rate")
        return rate

    async def cancel_session(self, *, timeout_s: float | None = None) -> None:
        """Delete every non-persistent order of this session, in flight ones included."""
        await self.call("private/cancel_session", None, timeout_s=timeout_s)

    # -- market data ------------------------------------------------------------------------------

    async def instruments(
        self, *, timeout_s: float | None = None
    ) -> list[m.Instrument | m.SkippedRow]:
        """All active instruments; a row lacking a field an Instrument needs (the schema requires
        none) comes back as a ``SkippedRow`` naming the field, so one odd row fails nothing."""
        return await self.call_decoded(
            "public/instruments", None, _records(m.decode_instrument_row), timeout_s=timeout_s
        )

    async def instrument(
        self, instrument_name: str, *, timeout_s: float | None = None
    ) -> m.Instrument:
        """One instrument by name (``UnknownInstrument`` if there is none)."""
        return await self.call_decoded(
            "public/instrument",
            {"instrument_name": instrument_name},
            m.decode_instrument,
            timeout_s=timeout_s,
        )

    async def ticker(self, instrument_name: str, *, timeout_s: float | None = None) -> m.Ticker:
        """A ticker snapshot (subscribe to ``ticker.<name>.<delay>`` instead of polling)."""
        return await self.call_decoded(
            "public/ticker",
            {"instrument_name": instrument_name},
            lambda result: m.decode_ticker(result, instrument_name),
            timeout_s=timeout_s,
        )

    async def index(self, underlying: str, *, timeout_s: float | None = None) -> m.IndexPrice:
        """The index price of ``underlying`` (e.g. ``"BTCUSD"``)."""
        return await self.call_decoded(
            "public/index", {"underlying": underlying}, m.decode_index, timeout_s=timeout_s
        )

    async def book(self, instrument_name: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        """Top of book ``{"bids": [[price, amount, outright], ...], "asks": ..., "last", "time"}``
        (raw JSON: ``messages`` has no decoder for this one-off result)."""
        result = await self.call(
            "public/book", {"instrument_name": instrument_name}, timeout_s=timeout_s
        )
        if type(result) is not dict or "bids" not in result or "asks" not in result:
            raise BadResponse("public/book: result lacks bids/asks")
        return result

    async def system_info(self, *, timeout_s: float | None = None) -> dict[str, Any]:
        """``{"environment", "api_version", "banners"}``; also a cheap round-trip probe."""
        result = await self.call("public/system_info", None, timeout_s=timeout_s)
        if type(result) is not dict:
            raise BadResponse("public/system_info: result is not an object")
        return result

    # -- subscriptions (remembered and restored on every reconnect) -------------------------------

    async def _subscribe(
        self, method: str, channels: Sequence[str], into: dict[str, None], timeout_s: float | None
    ) -> list[str]:
        result = await self.call(method, {"channels": list(channels)}, timeout_s=timeout_s)
        if type(result) is not list:
            raise BadResponse(f"{method}: result is not a list")
        for channel in result:
            into[channel] = None
        return result

    async def public_subscribe(
        self, channels: Sequence[str], *, timeout_s: float | None = None
    ) -> list[str]:
        """Subscribe to public channels; return those actually subscribed (invalid ones are
        dropped silently by the exchange, so check the result)."""
        return await self._subscribe("public/subscribe", channels, self._public_channels, timeout_s)

    async def private_subscribe(
        self, channels: Sequence[str], *, timeout_s: float | None = None
    ) -> list[str]:
        """Subscribe to private channels (needs login); return those actually subscribed."""
        return await self._subscribe(
            "private/subscribe", channels, self._private_channels, timeout_s
        )

    async def unsubscribe(
        self, channels: Sequence[str], *, timeout_s: float | None = None
    ) -> list[str]:
        """Unsubscribe public and/or private channels; return those unsubscribed."""
        for channel in channels:  # forget first: never resurrect them on a reconnect
            self._public_channels.pop(channel, None)
            self._private_channels.pop(channel, None)
        result = await self.call("unsubscribe", {"channels": list(channels)}, timeout_s=timeout_s)
        if type(result) is not list:
            raise BadResponse("unsubscribe: result is not a list")
        return result

    async def resubscribe(self, *, timeout_s: float | None = None) -> None:
        """Subscribe again to every remembered channel (run by the reconnect hook)."""
        if self._public_channels:
            await self.call(
                "public/subscribe", {"channels": list(self._public_channels)}, timeout_s=timeout_s
            )
        if self._private_channels:
            await self.call(
                "private/subscribe", {"channels": list(self._private_channels)}, timeout_s=timeout_s
            )
