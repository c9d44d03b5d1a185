"""The order manager: sends the quoter's actions as orders (or mass quotes), within rate limits.

- Inserts reserve their order-table row *before* the request leaves, amends and cancels mark
  their row pending: the diff never sends a second request for an order with one in flight.
- Every request is awaited; its result (or typed error) is applied to the table. A cancel is
  never assumed done before the exchange says so.
- A token bucket sized from the exchange's ``message_rate`` meters requests; the actions arrive
  in priority order (cancels, then level 0 first), so when throttled the most important go first.
- Error 4 (throttled) backs off; error 1 (order not found) closes the row and asks for an
  order reconciliation; a timeout also asks for one (the order may or may not exist).
- Client order ids come from this object's own counter, never shared with JSON-RPC request ids,
  above a random per-process base (``our_orders.client_order_id_base``): a restarted engine
  never reuses the ids of a dead process's orders. Reconciliation matches orders by exchange
  order id and cancels any order with our label this process did not place.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import trio

from ..clock import now_ns
from ..io import errors as io_errors
from ..io import messages as m
from ..io.order_frames import OrderFrames
from ..io.thalex import ThalexClient
from ..kernels import codes
from ..kernels._jit import entry_point
from ..kernels.order_batch import order_batch_prepare
from ..kernels.orders import order_apply_update, order_reserve
from ..telemetry import COUNTER, Telemetry
from ..units import NS_PER_S, seconds_to_ns
from ._gate import QuoteGate, Wakeup
from ._listener import Listener
from ._order_wire import OrderWire
from ._our_orders import OnRefusal, cancel_by_id, cancel_our_orders, client_order_id_base
from ._reconcile import settle_orders
from ._state import EngineState
from ._token_bucket import TokenBucket

log = logging.getLogger("qengine.orders")

_DIRECTION = {codes.SIDE_BUY: "buy", codes.SIDE_SELL: "sell"}
#: Level of order-table rows that are not quotes (flatten orders): above any quoted level.
FLATTEN_LEVEL = codes.LEVEL_MAX
_INSERTS, _AMENDS, _CANCELS = COUNTER["inserts"], COUNTER["amends"], COUNTER["cancels"]


class OrderManager:
    """Sends insert / amend / cancel actions and applies their results."""

    def __init__(self, state: EngineState, listener: Listener, telemetry: Telemetry,
                 client: ThalexClient, gate: QuoteGate, wakeup: Wakeup) -> None:
        self.state = state
        self.listener = listener
        self.telemetry = telemetry
        self.counters = telemetry.counters.values
        self.client = client
        #: Asked right before an insert leaves (no await in between): may this level be quoted
        #: now? A halt that lands while a cycle's requests are being prepared must stop the
        #: inserts not yet on the wire, or they would arrive after the halt's cancel_session.
        self.gate = gate
        #: Rung when replies were applied (a rejected insert frees a level to quote again).
        self.wakeup = wakeup
        # 90 % of the granted rate leaves room for the risk monitor's own requests.
        self.bucket = TokenBucket(9.0)
        self.client_order_id_base = client_order_id_base()
        self.next_client_order_id = self.client_order_id_base + 1
        self.backoff_until_s = -math.inf
        self.backoff_s = 0.5
        self.reconcile_needed = False
        self.last_mass_quote: tuple[Any, ...] | None = None
        self.last_mass_quote_s = -math.inf
        #: Set protection again before the next mass quote (after cancel_session, or when the
        #: exchange reports it used up).
        self.mm_protection_needed = False
        self.mm_protection_amounts = (0.0, 0.0)
        self._replies: trio.Nursery | None = None
        #: The params JSON of our orders, constant parts encoded once (one ``%`` per order).
        self.frames = OrderFrames(state.spec.name, state.config.label)
        #: Order batches whose answers are still outstanding.
        self.in_flight = 0
        #: ``order_batch_prepare`` through its compiled entry point (arrays bound once), its
        #: output rows and counts.
        self._batch = np.zeros_like(state.actions)
        self._counts = np.zeros(codes.BATCH_COUNTS, np.int64)
        self._prepare_batch = entry_point(
            order_batch_prepare, state.orders, state.actions, 0, self.bucket.state, 0, 0, 0,
            state.spec.index, self._batch, self._counts)
        #: The batch's rows written as wire frames by one kernel call.
        self.wire = OrderWire(self.frames, state.spec.price_grid, state.spec.lot_grid,
                              self._batch)

    def set_message_rate(self, message_rate: int) -> None:
        """Size the token bucket from the exchange's granted message rate."""
        self.bucket.set_rate(0.9 * message_rate)

    def _new_client_order_id(self) -> int:
        cid = self.next_client_order_id
        self.next_client_order_id += 1
        return cid

    @property
    def throttled(self) -> bool:
        """True while backing off after an exchange throttle (error 4)."""
        return trio.current_time() < self.backoff_until_s

    # -- the quoter's entry point -----------------------------------------------------------------

    async def execute(self, n_actions: int, tick_ns: int | None = None) -> int:
        """Send the first ``n_actions`` rows of ``state.actions``; return how many were sent.

        ``tick_ns`` is the arrival time of the ticker that triggered this cycle (None when the
        cycle was not triggered by a fresh ticker): tick-to-quote is measured from it.
        """
        now_s = trio.current_time()  # one clock read for the throttle check and the kernel
        if n_actions <= 0 or now_s < self.backoff_until_s:
            return 0
        state, counts = self.state, self._counts
        # One kernel call marks the table (reserve / pending) before the requests leave, so no
        # second request can be diffed for the same order while one is in flight; it also
        # meters the batch and drops inserts a halt since the cycle no longer allows.
        n = self._prepare_batch(state.orders, state.actions, n_actions, self.bucket.state,
                                int(now_s * NS_PER_S), self.gate.insert_levels,
                                self.next_client_order_id,
                                state.spec.index, self._batch, counts)
        throttled, inserts, amends, cancels, refused, status, ids = counts.tolist()
        self.next_client_order_id += ids
        counters = self.counters
        if inserts:
            counters[_INSERTS] += inserts
        if amends:
            counters[_AMENDS] += amends
        if cancels:
            counters[_CANCELS] += cancels
        if throttled or refused:
            self._count_refusals(throttled, refused, status)
        if not n:
            return 0
        # The rows as tuples of Python ints (field order of ACTION), made once: before the send
        # only when it needs them (verbose log, the general way), else after it, off the timed
        # path (only the one running cycle, ``Quoter.cycling``, calls ``execute``, so nothing
        # refills ``_batch`` during the await).
        prepared = None
        if state.config.telemetry.verbose_logging:
            prepared = self._batch[:n].tolist()
            log.debug("sending %s", prepared)
        # One kernel call writes every request's masked frame (ids and mask keys from io);
        # numbers it cannot spell exactly go the general way, through OrderFrames.
        batch = None
        if self.wire.enabled:
            wire = self.wire
            batch = await self.client.send_order_frames(wire.stage(n), wire.write)
        if batch is None:
            if prepared is None:
                prepared = self._batch[:n].tolist()
            batch = await self.client.send_encoded_orders(
                [self._request(*row) for row in prepared])
        sent_ns = now_ns()
        # The cycle's orders left in one socket write: tick-to-quote ends here. The answers
        # are collected by the order manager's own task, so the quoter is free for the next
        # tick (the table's pending states keep it from touching these orders meanwhile).
        if tick_ns is not None:
            self.telemetry.tick_to_quote.record(sent_ns - tick_ns)
        self.in_flight += 1
        if prepared is None:
            prepared = self._batch[:n].tolist()
        if self._replies is None:
            await self._collect(prepared, batch, sent_ns)
        else:
            self._replies.start_soon(self._collect, prepared, batch, sent_ns)
        return n

    def _count_refusals(self, throttled: int, refused: int, status: int) -> None:
        counters = self.counters
        if throttled:
            counters[COUNTER["throttled"]] += throttled
        if refused:
            counters[COUNTER["errors"]] += refused
            log.error("order table full (status %d): %d insert(s) skipped", status, refused)

    async def _collect(self, prepared: list[tuple[int, ...]], batch: Any, sent_ns: int) -> None:
        try:
            results = await batch.wait()
        finally:
            self.in_flight -= 1
        self.telemetry.rpc_round_trip.record(now_ns() - sent_ns)
        for (kind, _slot, cid, *_rest), result in zip(prepared, results, strict=True):
            if isinstance(result, io_errors.ThalexError):
                self._on_error(kind, cid, result)
            elif isinstance(result, BaseException):
                # Timeout, lost connection or a malformed reply: the request may or may not
                # have happened, so reconcile with the exchange before trusting the row.
                self.counters[COUNTER["errors"]] += 1
                self.reconcile_needed = True
                log.warning("order request for client order %d did not complete: %s", cid,
                            result)
            else:
                if self.state.config.telemetry.verbose_logging:
                    log.debug("reply %s", result)
                self.listener.apply_order(result)
        self.wakeup.ring()

    def sends_without_waiting(self) -> bool:
        """Would a cycle's orders leave now without awaiting any answer? Only in ``orders`` mode
        (a mass quote awaits its answer), with the reply collector running and no
        reconciliation due. Batches still awaiting answers do not stop it: the diff leaves
        every order with a request in flight alone, so a cycle now only acts on the others."""
        return (self.state.config.order_mode == "orders" and self._replies is not None
                and not self.reconcile_needed)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The order manager's service: owns the nursery where order replies are collected, and
        asks for an order reconciliation every ``order_reconcile_interval_s`` (the quoter runs
        it before its next cycle; mass quotes are not in the order table, so not with them)."""
        config = self.state.config
        interval_s = config.connection.order_reconcile_interval_s
        if config.order_mode != "orders":
            interval_s = math.inf
        async with trio.open_nursery() as nursery:
            self._replies = nursery
            task_status.started()
            try:
                while True:
                    await trio.sleep(interval_s)
                    self.reconcile_needed = True
                    self.wakeup.ring()
            finally:
                self._replies = None

    def _request(self, kind: int, _slot: int, cid: int, side: int, _level: int, price_ticks: int,
                 size_lots: int) -> tuple[str, bytes]:
        spec = self.state.spec
        if kind == codes.ACTION_INSERT:
            return self.frames.insert(_DIRECTION[side], spec.amount(size_lots),
                                      spec.price(price_ticks), cid)
        if kind == codes.ACTION_AMEND:
            return self.frames.amend(cid, spec.amount(size_lots), spec.price(price_ticks))
        return self.frames.cancel(cid)

    def _on_error(self, kind: int, cid: int, exc: io_errors.ThalexError) -> None:
        orders = self.state.orders
        if isinstance(exc, io_errors.OrderNotFound) and kind != codes.ACTION_INSERT:
            # Already filled or cancelled: the push with the details follows (or came first).
            order_apply_update(orders, cid, -1, codes.ORDER_UPDATE_REJECTED, 0, 0, 0, now_ns())
            self.reconcile_needed = True
            return
        order_apply_update(orders, cid, -1, codes.ORDER_UPDATE_REJECTED, 0, 0, 0, now_ns())
        if isinstance(exc, io_errors.Throttled):
            self.counters[COUNTER["throttled"]] += 1
            self.backoff_until_s = trio.current_time() + self.backoff_s
            self.backoff_s = min(5.0, self.backoff_s * 2)
            log.warning("throttled by the exchange; backing off %.1f s", self.backoff_s / 2)
            return
        self.counters[COUNTER["rejects"]] += 1
        self.counters[COUNTER["errors"]] += 1
        log.error("%s of client order %d rejected: %s",
                  {codes.ACTION_INSERT: "insert", codes.ACTION_AMEND: "amend"}.get(kind, "cancel"),
                  cid, exc)

    def note_success(self) -> None:
        """Reset the throttle backoff after a clean cycle."""
        if not self.throttled:
            self.backoff_s = 0.5

    # -- mass quoting ------------------------------------------------------------------------------

    async def refill_mm_protection(self, trade_amount: float, quote_amount: float) -> None:
        """Set (refill) the market-maker protection of the quoted product."""
        self.mm_protection_amounts = (trade_amount, quote_amount)
        await self.client.set_mm_protection(self.state.spec.product, trade_amount, quote_amount)
        self.mm_protection_needed = False
        self.last_mass_quote = None

    async def mass_quote(self, n_quotes: int, tick_ns: int | None = None) -> None:
        """Send the ladder as one multi-level mass quote when it changed since the last one
        (or ``force_refresh_s`` passed); ``n_quotes == 0`` pulls both sides."""
        spec = self.state.spec
        if self.mm_protection_needed and n_quotes > 0:
            try:
                await self.refill_mm_protection(*self.mm_protection_amounts)
            except io_errors.ThalexClientError as exc:
                self.counters[COUNTER["errors"]] += 1
                log.error("could not refill mm protection: %s", exc)
                return
        if n_quotes > 0 and not self.gate.may_quote_level(0):
            return  # halted (or reconnecting) while the protection was being refilled
        if trio.current_time() - self.last_mass_quote_s >= \
                self.state.config.quote.force_refresh_s:
            self.last_mass_quote = None
        bids, asks = [], []
        for row in self.state.quotes[:n_quotes]:
            level = m.QuoteLevel(price=spec.price(int(row["price_ticks"])),
                                 amount=spec.amount(int(row["size_lots"])))
            (bids if row["side"] == codes.SIDE_BUY else asks).append(level)
        key = (tuple(bids), tuple(asks))
        if key == self.last_mass_quote or self.throttled or self.bucket.take_up_to(1) < 1:
            return
        if tick_ns is not None:
            self.telemetry.tick_to_quote.record(now_ns() - tick_ns)
        request = m.QuoteRequest(instrument_name=spec.name, bid=key[0], ask=key[1])
        started = now_ns()
        self.counters[COUNTER["mass_quotes"]] += 1
        try:
            result = await self.client.mass_quote([request], label=self.state.config.label,
                                                  post_only=True)
        except io_errors.Throttled:
            self.counters[COUNTER["throttled"]] += 1
            self.backoff_until_s = trio.current_time() + self.backoff_s
            return
        except io_errors.MmProtectionNotSet:
            self.mm_protection_needed = True
            self.last_mass_quote = None
            return
        except io_errors.ThalexClientError as exc:
            self.counters[COUNTER["errors"]] += 1
            log.error("mass quote failed: %s", exc)
            self.last_mass_quote = None
            return
        self.telemetry.rpc_round_trip.record(now_ns() - started)
        self.last_mass_quote = key
        self.last_mass_quote_s = trio.current_time()
        if result.n_fail:
            self.counters[COUNTER["rejects"]] += result.n_fail
            log.warning("mass quote: %d sides failed: %s", result.n_fail,
                        "; ".join(f"{e.side} {e.price}: {e.message}" for e in result.errors[:3]))

    # -- flattening and bulk cancels ---------------------------------------------------------------

    async def flatten(self, lots: int, limit_ticks: int, reason: str) -> int:
        """Send a reduce-only IOC limit for ``lots`` (signed: > 0 sells a long) at ``limit_ticks``.

        Returns the lots filled (as reported by the insert result).
        """
        if lots == 0 or limit_ticks <= 0:
            return 0
        spec = self.state.spec
        side = codes.SIDE_SELL if lots > 0 else codes.SIDE_BUY
        cid = self._new_client_order_id()
        if order_reserve(self.state.orders, cid, spec.index, side, FLATTEN_LEVEL, limit_ticks,
                         abs(lots), now_ns()) < 0:
            log.error("order table full: flatten order tracked by its result only")
        log.warning("flattening %s %s at limit %s (%s)", _DIRECTION[side],
                    spec.amount(abs(lots)), spec.price(limit_ticks), reason)
        try:
            result = await self.client.insert(
                _DIRECTION[side], spec.name, spec.amount(abs(lots)), spec.price(limit_ticks),
                time_in_force="immediate_or_cancel", reduce_only=True, post_only=False,
                label=self.state.config.label, client_order_id=cid)
        except io_errors.ThalexClientError as exc:
            order_apply_update(self.state.orders, cid, -1, codes.ORDER_UPDATE_REJECTED, 0, 0, 0,
                               now_ns())
            self.counters[COUNTER["errors"]] += 1
            self.reconcile_needed = True
            log.error("flatten order failed: %s", exc)
            return 0
        self.listener.apply_order(result)
        return spec.amount_lots(result.filled_amount)

    async def cancel_everything(self, reason: str) -> None:
        """Pull every quote of ours now: ``cancel_session`` (it reaches in-flight orders too);
        if the exchange refuses it, cancel our orders one by one (never account-wide)."""
        log.warning("cancelling all quotes: %s", reason)
        self.last_mass_quote = None
        self.mm_protection_needed = True  # cancel_session resets the protection groups
        try:
            await self.client.cancel_session()
        except io_errors.ThalexError as exc:
            log.error("cancel_session refused (%s); cancelling our orders one by one", exc)
            await cancel_our_orders(self.client, self.state.config.label, {self.state.spec.name})

    def mm_protection_lost(self) -> None:
        """The exchange pulled our mass quotes: set protection again before the next one."""
        self.mm_protection_needed = True
        self.last_mass_quote = None

    async def reconcile_if_needed(self) -> bool:
        """Run a due order reconciliation; return False when it failed (it stays due)."""
        if not self.reconcile_needed:
            return True
        try:
            await self.reconcile_orders()
        except io_errors.ThalexClientError as exc:
            self.reconcile_needed = True  # keep trying; never die on it
            log.warning("order reconciliation failed (%s); retrying", exc)
            return False
        return True

    async def reconcile_orders(self) -> int:
        """Make the order table match the exchange; cancel unknown orders of ours (see
        ``_reconcile``: rows newer than the snapshot keep their state).

        Returns how many live orders of ours the table did not know (each was sent a cancel;
        one refused is tried again at the next reconciliation).
        """
        self.reconcile_needed = False
        requested_ns, at_request = now_ns(), self.state.orders.copy()
        live = await self.client.open_orders()
        timeout_ns = seconds_to_ns(self.state.config.connection.request_timeout_s)
        orphans = settle_orders(self.listener, live, requested_ns, at_request,
                                now_ns() - timeout_ns)
        cancelled, failed = await cancel_by_id(self.client, [o.order_id for o in orphans],
                                               on_refusal=OnRefusal.RETRY)
        if failed:
            self.reconcile_needed = True  # try again next cycle
        if orphans:
            log.warning("%d open order(s) with our label this process did not place: %d "
                        "cancelled, %d already gone, %d to try again", len(orphans), cancelled,
                        len(orphans) - cancelled - len(failed), len(failed))
        return len(orphans)

    def reset_table(self) -> None:
        """Forget every row (after a reconnect all our orders were cancelled on the exchange)."""
        self.state.orders[:] = 0
        self.state.client_id_by_key.clear()
        self.last_mass_quote = None
