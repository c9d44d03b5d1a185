"""A TCP relay between a quoter process and the simulator that can stall one direction, reset
its connections and refuse or blackhole new ones (the faults of issue 9's chaos runs)."""

from __future__ import annotations

import trio

#: Directions a stall can hold: client -> exchange ("up") and exchange -> client ("down").
UP, DOWN = "up", "down"
#: What happens to a new connection.
PASS, REFUSE, BLACKHOLE = "pass", "refuse", "blackhole"


class ChaosProxy:
    """Relays loopback TCP to ``upstream_port``; faults are switched by setting attributes."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.mode = PASS
        #: Directions whose bytes are held back (the connection stays open, nothing moves).
        self.stalled: set[str] = set()
        self._scopes: list[trio.CancelScope] = []

    def url(self) -> str:
        """The websocket URL of the simulator behind this proxy."""
        return f"ws://127.0.0.1:{self.port}/ws/api/v2"

    async def serve(self, *, task_status: trio.TaskStatus[ChaosProxy] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        """Listen on a free loopback port until cancelled."""
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            task_status.started(self)
            await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    def reset(self) -> int:
        """Close every relayed connection at once (both sides); return how many."""
        scopes, self._scopes = self._scopes, []
        for scope in scopes:
            scope.cancel()
        return len(scopes)

    async def _handle(self, client: trio.SocketStream) -> None:
        async with client:
            if self.mode == REFUSE:
                return
            with trio.CancelScope() as scope:
                self._scopes.append(scope)
                try:
                    if self.mode == BLACKHOLE:
                        await trio.sleep_forever()  # accepted, never answered
                    upstream = await trio.open_tcp_stream("127.0.0.1", self.upstream_port)
                    async with upstream, trio.open_nursery() as pumps:
                        pumps.start_soon(self._pump, client, upstream, UP, pumps.cancel_scope)
                        pumps.start_soon(self._pump, upstream, client, DOWN, pumps.cancel_scope)
                finally:
                    if scope in self._scopes:
                        self._scopes.remove(scope)

    async def _pump(self, source: trio.SocketStream, sink: trio.SocketStream, direction: str,
                    both: trio.CancelScope) -> None:
        try:
            while True:
                data = await source.receive_some(65536)
                if not data:
                    break
                while direction in self.stalled:  # noqa: ASYNC110 - hold the bytes, socket open
                    await trio.sleep(0.01)
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        both.cancel()  # one side closed: close the other too
