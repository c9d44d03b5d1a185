"""``cancel_by_id``: one cancel per exchange order id, an order already gone counts as done, and
each refusal policy does its own thing (raise / warn and return for a retry / log an error and
go on), so the reconnect sweep, the orphan cancel and the shutdown sweep keep their behaviour."""

from __future__ import annotations

import logging

import pytest
import trio.lowlevel

from qengine.engine._our_orders import OnRefusal, cancel_by_id, cancel_our_orders
from qengine.io import errors as io_errors
from qengine.io import messages as m

from .conftest import BTC, LABEL

#: How the fake exchange answers a cancel of these order ids (any other id is cancelled).
GONE, REFUSED, UNANSWERED = "gone-1", "refused-1", "unanswered-1"


class CancelClient:
    """Cancels are recorded; ``GONE`` is unknown to the exchange, ``REFUSED`` is refused with a
    generic exchange error, ``UNANSWERED`` times out. ``open_orders`` answers ``live``."""

    def __init__(self, live: list[m.OrderUpdate] | None = None) -> None:
        self.tried: list[str] = []
        self.cancelled: list[str] = []
        self.live = live or []

    async def open_orders(self) -> list[m.OrderUpdate]:
        await trio.lowlevel.checkpoint()
        return list(self.live)

    async def cancel(self, *, order_id: str) -> None:
        await trio.lowlevel.checkpoint()
        self.tried.append(order_id)
        if order_id == GONE:
            raise io_errors.OrderNotFound(1, "order not found", "private/cancel")
        if order_id == REFUSED:
            raise io_errors.ThalexError(5, "try later", "private/cancel")
        if order_id == UNANSWERED:
            raise io_errors.RequestTimeout("private/cancel", 10.0)
        self.cancelled.append(order_id)


def _order(order_id: str, *, label: str = LABEL, name: str = BTC) -> m.OrderUpdate:
    return m.decode_order({
        "order_id": order_id, "instrument_name": name, "direction": "buy",
        "order_type": "limit", "time_in_force": "good_till_cancelled", "price": 64000.0,
        "amount": 0.01, "filled_amount": 0.0, "remaining_amount": 0.01, "status": "open",
        "change_reason": "existing", "insert_reason": "client_request", "label": label,
        "create_time": 1.7e9, "persistent": False, "fills": []})


def _refusals(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "qengine.orders"]


@pytest.mark.parametrize("on_refusal", list(OnRefusal))
async def test_an_order_already_gone_counts_as_done_under_every_policy(on_refusal, caplog):
    caplog.set_level(logging.DEBUG, logger="qengine.orders")
    client = CancelClient()
    result = await cancel_by_id(client, ["a", GONE, "b"], on_refusal=on_refusal)
    assert result == (2, [])  # gone is neither cancelled nor failed
    assert client.tried == ["a", GONE, "b"]
    assert _refusals(caplog) == []


async def test_raise_stops_at_the_first_refusal_and_raises_it(caplog):
    caplog.set_level(logging.DEBUG, logger="qengine.orders")
    client = CancelClient()
    with pytest.raises(io_errors.ThalexError) as raised:
        await cancel_by_id(client, ["a", REFUSED, "b"], on_refusal=OnRefusal.RAISE)
    assert type(raised.value) is io_errors.ThalexError
    assert raised.value.code == 5
    assert client.tried == ["a", REFUSED]  # nothing after the refusal is tried
    assert client.cancelled == ["a"]
    assert _refusals(caplog) == []  # raised, not logged
    with pytest.raises(io_errors.RequestTimeout):
        await cancel_by_id(client, [UNANSWERED], on_refusal=OnRefusal.RAISE)


async def test_retry_warns_goes_on_and_returns_the_refused_ids(caplog):
    caplog.set_level(logging.DEBUG, logger="qengine.orders")
    client = CancelClient()
    result = await cancel_by_id(client, ["a", REFUSED, GONE, UNANSWERED, "b"],
                                on_refusal=OnRefusal.RETRY)
    assert result == (2, [REFUSED, UNANSWERED])
    assert client.cancelled == ["a", "b"]
    assert _refusals(caplog) == [
        (logging.WARNING, f"could not cancel unknown order {REFUSED}: Thalex error 5 "
                          "(private/cancel): try later"),
        (logging.WARNING, f"could not cancel unknown order {UNANSWERED}: no answer to "
                          "private/cancel within 10 s"),
    ]


async def test_skip_logs_an_error_and_goes_on(caplog):
    caplog.set_level(logging.DEBUG, logger="qengine.orders")
    client = CancelClient()
    result = await cancel_by_id(client, [REFUSED, "a", UNANSWERED],
                                on_refusal=OnRefusal.SKIP)
    assert result == (1, [REFUSED, UNANSWERED])
    assert client.cancelled == ["a"]
    assert _refusals(caplog) == [
        (logging.ERROR, f"cancel of order {REFUSED} failed: Thalex error 5 (private/cancel): "
                        "try later"),
        (logging.ERROR, f"cancel of order {UNANSWERED} failed: no answer to private/cancel "
                        "within 10 s"),
    ]


async def test_an_error_that_is_no_client_error_always_raises():
    class Broken(CancelClient):
        async def cancel(self, *, order_id: str) -> None:
            raise ValueError(order_id)

    for on_refusal in OnRefusal:
        with pytest.raises(ValueError, match="a"):
            await cancel_by_id(Broken(), ["a", "b"], on_refusal=on_refusal)


async def test_the_sweep_cancels_only_live_orders_of_ours_and_raises_by_default():
    live = [_order("a"), _order("other-label", label="someone-else"),
            _order("other-instrument", name="ETH-PERPETUAL"), _order(GONE), _order("b")]
    client = CancelClient(live)
    assert await cancel_our_orders(client, LABEL, {BTC}) == 2
    assert client.tried == ["a", GONE, "b"]
    client = CancelClient([_order(REFUSED), _order("a")])
    with pytest.raises(io_errors.ThalexError):
        await cancel_our_orders(client, LABEL, {BTC})
    assert client.cancelled == []


async def test_the_shutdown_sweep_goes_on_past_a_refusal(caplog):
    caplog.set_level(logging.DEBUG, logger="qengine.orders")
    client = CancelClient([_order(REFUSED), _order("a")])
    cancelled = await cancel_our_orders(client, LABEL, {BTC},
                                        on_refusal=OnRefusal.SKIP)
    assert cancelled == 1
    assert client.cancelled == ["a"]
    assert [level for level, _ in _refusals(caplog)] == [logging.ERROR]
