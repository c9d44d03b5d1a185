"""Connecting a ``ThalexClient`` (``qengine.io.client``): network URLs and ``open_thalex_client``.

Open a client with :func:`open_thalex_client`, an async context manager that owns the connection's
nursery (reader, keepalive, reconnect supervisor). On *every* (re)connect it logs in (when given
credentials), re-arms cancel-on-disconnect, resubscribes every channel subscribed so far and then
runs the caller's ``on_connect`` hook (e.g. reconcile orders and positions). Pushes reach the
caller's ``on_inbound`` consumer, one batch per socket read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from .auth import Credentials
from .client import ThalexClient
from .rpc_session import InboundHandler
from .transport import ReconnectPolicy, Transport, TransportConfig, open_transport

__all__ = ["NETWORK_URLS", "ThalexClient", "open_thalex_client", "url_for_network"]

#: WebSocket URLs of the real exchange (thalex-protocol.md 1.1); "sim" needs a port.
NETWORK_URLS = {
    "test": "wss://testnet.thalex.com/ws/api/v2",
    "prod": "wss://thalex.com/ws/api/v2",
}
SIM_PATH = "/ws/api/v2"


def url_for_network(name: str, *, sim_port: int | None = None, sim_host: str = "127.0.0.1") -> str:
    """Return the websocket URL of ``"sim"`` (the default everywhere), ``"test"`` or ``"prod"``.

    Parameters
    ----------
    name : {"sim", "test", "prod"}
        Network name as given to ``--network``.
    sim_port : int, optional
        TCP port of the local simulator; required for ``"sim"``.
    sim_host : str
        Host of the local simulator.
    """
    if name == "sim":
        if sim_port is None:
            raise ValueError("the 'sim' network needs the simulator's port")
        return f"ws://{sim_host}:{sim_port}{SIM_PATH}"
    try:
        return NETWORK_URLS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; use sim, test or prod") from None


ConnectHook = Callable[[ThalexClient], Awaitable[None]]


@asynccontextmanager
async def open_thalex_client(
    url: str,
    *,
    credentials: Credentials | None = None,
    account: str | None = None,
    cancel_on_disconnect_s: int | None = None,
    on_connect: ConnectHook | None = None,
    on_disconnect: Callable[[BaseException], None] | None = None,
    request_timeout_s: float = 10.0,
    ping_interval_s: float = 5.0,
    stale_after_s: float = 15.0,
    connect_timeout_s: float = 10.0,
    reconnect: ReconnectPolicy | None = ReconnectPolicy(),  # noqa: B008 - frozen, shared safely
    user_agent: str = "qengine",
    seed: int | None = None,
    on_inbound: InboundHandler | None = None,
    conflate: tuple[str, ...] = (),
    client: ThalexClient | None = None,
) -> AsyncIterator[ThalexClient]:
    """Connect a :class:`ThalexClient` and keep it connected until the block exits.

    Parameters
    ----------
    url : str
        Websocket URL (:func:`url_for_network`).
    credentials : Credentials, optional
        API key; when given, every (re)connect logs in first.
    account : str, optional
        Sub-account number for the login.
    cancel_on_disconnect_s : int, optional
        When given, every (re)connect arms cancel-on-disconnect with this heartbeat (whole
        seconds; keep ``ping_interval_s`` below it).
    on_connect : async callable(client), optional
        Runs after login, cancel-on-disconnect and resubscription on every (re)connect.
    on_disconnect : callable(exception), optional
        Called (sync) when a connection is lost, after pending requests have failed.
    request_timeout_s : float
        Default per-request timeout, seconds (of a client built here).
    ping_interval_s, stale_after_s, connect_timeout_s : float
        Keepalive ping period, silence after which the link is dead, connect limit (seconds).
    reconnect : ReconnectPolicy or None
        Backoff after a loss; ``None`` lets a loss end the block with ``ConnectionLost``.
    user_agent : str
        ``User-Agent`` header.
    seed : int, optional
        Seed of the backoff jitter.
    on_inbound : async callable(Inbound), optional
        The consumer of the pushes: one ``rpc_session.Inbound`` per socket read, awaited in the
        reader (it must never wait for an answer of this client). Without it pushes are dropped.
    conflate : tuple of str
        Channel prefixes of market data: only the newest push per channel in a read is kept.
    client : ThalexClient, optional
        A client built beforehand (so that services can be built with it); connected here, once.

    Raises
    ------
    ConnectionLost
        The first connection failed (or a later one could not be restored).
    ThalexError
        Login or cancel-on-disconnect was refused (e.g. ``AuthenticationFailed``).
    """
    if cancel_on_disconnect_s is not None and not ping_interval_s < cancel_on_disconnect_s:
        raise ValueError("ping_interval_s must be shorter than cancel_on_disconnect_s")
    if client is None:
        client = ThalexClient(request_timeout_s=request_timeout_s)
    session = client._session  # io wires its own parts
    if on_inbound is not None:
        session.deliver_to(on_inbound, conflate)

    async def on_every_connect(transport: Transport) -> None:
        session.attach(transport)
        if credentials is not None:
            await client.login(credentials, account=account)
        if cancel_on_disconnect_s is not None:
            await client.set_cancel_on_disconnect(cancel_on_disconnect_s)
        await client._resubscribe()  # wiring: replays the subscriptions
        if on_connect is not None:
            await on_connect(client)

    def lost(exc: BaseException) -> None:
        session.connection_lost(exc)
        if on_disconnect is not None:
            on_disconnect(exc)

    config = TransportConfig(
        url=url,
        ping_interval_s=ping_interval_s,
        stale_after_s=stale_after_s,
        connect_timeout_s=connect_timeout_s,
        reconnect=reconnect,
        user_agent=user_agent,
        seed=seed,
    )
    async with open_transport(
        config,
        on_batch=session.handle_read,
        on_connect=on_every_connect,
        on_disconnect=lost,
    ):
        yield client
