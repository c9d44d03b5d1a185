"""``open_engine``: owns the engine's nursery, starts its services, and leaves the market safely.

Start-up: warm up kernels (compile before connecting) -> connect to the given venue (the engine
never starts one) and validate the configured instruments (an unknown one is a clear
``StartupError`` before any login or order) -> connect with keys: login, cancel-on-disconnect,
cancel leftover orders of ours, subscribe, reconcile orders and portfolio -> start the listener,
quoter, risk monitor, heartbeat and telemetry with ``nursery.start``. Every reconnect re-runs
login, cancel-on-disconnect, resubscription and reconciliation before quoting resumes.

Exit (normal, cancelled or failed): the services stop, then a shielded, time-limited
``cancel_session`` + ``cancel_all`` runs, the exchange's open orders are checked and reported.
Private modules, lowest layer first: ``_state`` (arrays), ``_gate`` (may we quote; the
quoter's wakeup), ``_account`` (fills, positions), ``_listener``, ``_orders`` (with
``_our_orders``, ``_token_bucket``), ``_risk``, ``_quoter``, ``_services`` (the ``Engine``
record, built in one place), ``_session`` (connect, reconnect hooks, heartbeat, leaving the
market) and ``_status`` (status line, summary).
``tests/test_house_rules.py`` enforces that order.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import trio

from .. import kernels
from ..config import EngineConfig
from ..errors import ConfigError, StartupError
from ..io import errors as io_errors
from ..io.auth import Credentials
from ._services import ENGINE_KERNELS, Engine, build_engine
from ._session import (
    busy_poll,
    heartbeat,
    leave_market,
    open_connection,
    validate_instruments,
)
from ._status import build_summary, status_reporter

__all__ = ["Engine", "open_engine"]

log = logging.getLogger("qengine.engine")

class _Startup:
    # Whether the engine reached ``yield``: failures before it are start-up failures.
    reached = False


def _startup_failure(group: BaseExceptionGroup) -> StartupError | ConfigError | None:
    """The StartupError to raise for a group of start-up failures, or None if it is not one."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    if not leaves or len(leaves) > 1:
        return None
    (leaf,) = leaves
    if isinstance(leaf, StartupError | ConfigError):
        return leaf
    if isinstance(leaf, io_errors.AuthenticationFailed):
        return StartupError("login refused (error 19): check the API key id and private key")
    if isinstance(leaf, io_errors.ConnectionLost):
        return StartupError(f"cannot connect: {leaf}")
    if isinstance(leaf, io_errors.ThalexError):
        return StartupError(f"the exchange refused a start-up request: {leaf}")
    if isinstance(leaf, io_errors.ThalexClientError):  # a timeout or a malformed answer
        return StartupError(f"start-up request failed: {leaf}")
    return None


@asynccontextmanager
async def open_engine(config: EngineConfig, *, url: str, credentials: Credentials
                      ) -> AsyncIterator[Engine]:
    """Start an engine for ``config`` on the venue at ``url``; quote until the block exits; then
    leave the market safely. The engine never starts a venue (``qengine.venue`` does, for
    ``qengine quote`` and ``run_engine``).

    Raises
    ------
    StartupError
        Unknown instrument, unreachable venue or a refused login; nothing was
        quoted. Failures after start-up propagate as raised by the failing task (an exception
        group, per trio's rules).
    ConfigError
        A setting found invalid only once the instrument is known (mm protection amounts).
    """
    startup = _Startup()
    try:
        async with _open_engine(config, url, credentials, startup) as engine:
            yield engine
    except BaseExceptionGroup as group:
        failure = None if startup.reached else _startup_failure(group)
        if failure is None:
            raise
        raise failure from None


@asynccontextmanager
async def _open_engine(config: EngineConfig, url: str, credentials: Credentials,
                       startup: _Startup) -> AsyncIterator[Engine]:
    report = kernels.warm_up(ENGINE_KERNELS)
    log.debug("kernels ready: %d in %.2f s (%d from cache)", report.kernels, report.seconds,
              report.cache_hits)
    async with trio.open_nursery() as outer:
        specs = await validate_instruments(config, url)
        engine = build_engine(config, specs, url)
        state = engine.state
        open_orders_at_exit = None
        try:
            async with open_connection(engine, credentials) as client:
                try:
                    async with trio.open_nursery() as services:
                        await _start_services(engine, services)
                        with _startup_objects_frozen():
                            log.info(
                                "qengine quoting %s on %s (%s model, %d levels, %s mode); "
                                "position %s; kernels %d in %.2f s",
                                state.spec.name, url,
                                config.quote.model, config.quote.levels, config.order_mode,
                                state.position(), report.kernels, report.seconds)
                            startup.reached = True
                            try:
                                yield engine
                            finally:
                                engine.gate.close()  # nothing new is sent while services stop
                                services.cancel_scope.cancel()
                finally:
                    engine.gate.close()
                    open_orders_at_exit = await leave_market(engine, client)
        finally:
            engine.summary = build_summary(engine, open_orders_at_exit)
            engine.stopped.set()
            outer.cancel_scope.cancel()


#: Engines running in this process that froze the collector's view (see below).
_freezers = 0


@contextmanager
def _startup_objects_frozen() -> Iterator[None]:
    """Everything built before quoting (modules, kernels, state: ~130,000 objects) lives as
    long as the engine: moved out of the garbage collector's sight (``gc.freeze``), a full
    collection while quoting costs microseconds, not ~40 ms. Process-wide: the last engine
    to stop releases it (``gc.unfreeze``; a host's own ``gc.freeze`` is released with it)."""
    global _freezers
    _freezers += 1
    gc.freeze()
    try:
        yield
    finally:
        _freezers -= 1
        if _freezers == 0:
            gc.unfreeze()  # the engines' objects can be collected once they are gone


async def _start_services(engine: Engine, services: trio.Nursery) -> None:
    await services.start(engine.orders.run)
    await services.start(engine.quoter.run)
    await services.start(engine.monitor.run)
    await services.start(heartbeat, engine)
    await services.start(status_reporter, engine)
    if engine.config.connection.busy_poll:
        await services.start(busy_poll)


