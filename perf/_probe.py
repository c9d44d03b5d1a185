"""Wire stamps around a running engine, for the tick-to-quote and cold-start benches.

Installed in a *benchmark child process only* (it patches classes of trio and qengine for the
life of that process; the engine's code is not changed). Four stamp points, all on the
system-wide monotonic clock (``time.monotonic_ns``):

* ``trio.SocketStream.receive_some`` returning: the socket read that delivered bytes
  (a ticker frame's arrival in the process);
* ``Listener.on_ticker`` / ``Listener.took_ticker`` (after the engine wrote the book, from an
  io-decoded ticker or from the ticker lane's kernel decode): remembers that read's stamp and
  the ticker's ``mark_timestamp``, which the perf feeder sets to its send time;
* ``OrderManager.execute`` entry: arms the probe with the stamps of the ticker the cycle used
  (there is no checkpoint between the quote cycle and this call, so that is the newest ticker);
  cycles the engine itself does not count (``tick_ns=None``: not triggered by a fresh ticker)
  give no sample either;
* ``trio.SocketStream.send_all`` called while armed: the first order action of the cycle is
  handed to the socket (trio sends before it first yields). One sample per cycle that sent
  actions. The read stamp is taken when the read returns to the reader task, which can be one
  scheduler pass after the syscall, so read-based figures are slightly low; the feeder-send-based
  ones are not affected.

Each wrapper costs well under a microsecond next to the millisecond-scale things it brackets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

#: Stamp points of one sample, in path order, each as ns after the frame's socket read:
#: ``frames`` the read's websocket frames handed to the RPC session (frame decode done),
#: ``decoded`` the ticker reaching the listener (JSON, classification, record decode done),
#: ``applied`` the book written (state update done), ``cycle_in`` / ``cycle_out`` the quote
#: kernel call, ``execute`` the order manager entered, ``send`` the first order bytes handed to
#: the socket (order encoding done; the write syscall follows before any yield). On the ticker
#: lane's one-call path (``Quoter.tick_raw``: the raw frame decoded, paced and quoted in one
#: kernel call, then the book written) ``decoded`` = ``applied`` = ``cycle_in`` = the call's
#: start and ``cycle_out`` its end: JSON decode and state update are inside the kernel call.
#: When the lane decodes without quoting (``Listener.apply_raw``), ``decoded`` is the kernel's
#: return and ``applied`` the book written.
STAGE_POINTS = ("frames", "decoded", "applied", "cycle_in", "cycle_out", "execute", "send")


class WireProbe:
    """Stamps and samples (ns). ``install()`` patches; ``reset()`` starts a measuring window."""

    def __init__(self, capacity: int = 2_000_000) -> None:
        self.from_send_ns = np.zeros(capacity, dtype=np.int64)
        self.from_read_ns = np.zeros(capacity, dtype=np.int64)
        #: Frame read -> ``execute`` entry: the part before the order manager starts sending.
        self.read_to_execute_ns = np.zeros(capacity, dtype=np.int64)
        #: Per-stage stamps of each sample (ns after the read), see :data:`STAGE_POINTS`.
        self.stages_ns = np.zeros((capacity, len(STAGE_POINTS)), dtype=np.int64)
        #: Frame read -> send in CPU time of the engine's thread (``time.thread_time_ns``): the
        #: wall figure minus the time the thread waited for a core (a shared machine).
        self.cpu_from_read_ns = np.zeros(capacity, dtype=np.int64)
        self.last_read_cpu_ns = 0
        self.ticker_read_cpu_ns = 0
        self.points = dict.fromkeys(STAGE_POINTS, 0)
        self.ticker_points: dict[str, int] = {}
        self.n = 0
        self.dropped = 0
        self.last_read_ns = 0
        self.ticker_read_ns = 0
        self.ticker_sent_ns = 0
        self.armed: tuple[int, int, int] | None = None
        self.in_tick_raw = False
        #: Monotonic ns when the first order action ever left (cold start's "first quote").
        self.first_action_ns = 0
        #: Called once, at the first order action (e.g. a ``trio.Event``'s ``set``).
        self.on_first_action: Callable[[], object] | None = None

    def reset(self) -> None:
        """Forget the samples taken so far (call after the warm-up)."""
        self.n = 0
        self.dropped = 0

    def samples(self) -> dict[str, np.ndarray]:
        """This window's samples (ns): ``from_send``, ``from_read``, ``read_to_execute``, and
        per stage point the time after the read (``at_<point>``)."""
        out = {"from_send": self.from_send_ns[:self.n].copy(),
               "from_read": self.from_read_ns[:self.n].copy(),
               "read_to_execute": self.read_to_execute_ns[:self.n].copy(),
               "cpu_from_read": self.cpu_from_read_ns[:self.n].copy()}
        for column, point in enumerate(STAGE_POINTS):
            out[f"at_{point}"] = self.stages_ns[:self.n, column].copy()
        return out

    def _record(self, now: int) -> None:
        if self.first_action_ns == 0:
            self.first_action_ns = now
            if self.on_first_action is not None:
                self.on_first_action()
        sent, read, execute = self.armed or (0, 0, 0)
        self.armed = None
        if not read:
            return
        if self.n >= self.from_send_ns.size:
            self.dropped += 1
            return
        self.from_send_ns[self.n] = now - sent if sent else -1
        self.from_read_ns[self.n] = now - read
        self.read_to_execute_ns[self.n] = execute - read
        self.cpu_from_read_ns[self.n] = time.thread_time_ns() - self.ticker_read_cpu_ns
        self.points["send"] = now
        row = self.stages_ns[self.n]
        for column, point in enumerate(STAGE_POINTS):
            stamp = self.points[point] if point in ("cycle_in", "cycle_out", "execute",
                                                      "send") else self.ticker_points[point]
            row[column] = stamp - read
        self.n += 1

    def install(self) -> None:
        """Patch trio's socket stream, the listener and the order manager (process-wide)."""
        import trio

        from qengine.engine._listener import Listener
        from qengine.engine._orders import OrderManager
        from qengine.engine._quoter import Quoter
        from qengine.io.rpc_session import RpcSession
        from qengine.kernels.ticker_wire import OUT_MARK_TIMESTAMP

        probe = self
        clock = time.monotonic_ns
        cpu_clock = time.thread_time_ns
        receive_some = trio.SocketStream.receive_some
        send_all = trio.SocketStream.send_all
        on_ticker = Listener.on_ticker
        took_ticker = Listener.took_ticker
        execute = OrderManager.execute
        run_cycle = Quoter.run_cycle
        tick_raw = Quoter.tick_raw
        handle_read = RpcSession.handle_read
        points = self.points

        async def probed_receive_some(stream: Any, max_bytes: int | None = None) -> Any:
            data = await receive_some(stream, max_bytes)
            # CPU first: its clock is a syscall (1-2 us on this VM), kept out of the wall figure.
            probe.last_read_cpu_ns = cpu_clock()
            probe.last_read_ns = clock()
            return data

        async def probed_send_all(stream: Any, data: Any) -> None:
            # Stamped on entry: trio makes the send syscall before its first yield, while the
            # return comes only after a scheduler pass (other tasks run in between).
            if probe.armed is not None:
                probe._record(clock())
            await send_all(stream, data)

        async def probed_handle_read(session: Any, raw: Any) -> None:
            points["frames"] = clock()
            await handle_read(session, raw)

        def note_ticker(stamp: float, decoded: int, applied: int) -> None:
            probe.ticker_sent_ns = int(stamp * 1e9) if stamp else 0
            probe.ticker_read_ns = probe.last_read_ns
            probe.ticker_read_cpu_ns = probe.last_read_cpu_ns
            probe.ticker_points = {"frames": points["frames"], "decoded": decoded,
                                   "applied": applied}

        def probed_on_ticker(listener: Any, notification: Any, *args: Any) -> None:
            decoded = clock()
            on_ticker(listener, notification, *args)
            note_ticker(notification.records[0].mark_timestamp, decoded, clock())

        def probed_took_ticker(listener: Any, *args: Any) -> None:
            decoded = clock()
            took_ticker(listener, *args)
            if probe.in_tick_raw:  # decoded and applied inside the one kernel call
                decoded = applied = points["cycle_in"]
            else:
                applied = clock()
            note_ticker(float(listener.lane.values[OUT_MARK_TIMESTAMP]), decoded, applied)

        def probed_tick_raw(quoter: Any, *args: Any) -> int:
            points["cycle_in"] = clock()
            probe.in_tick_raw = True
            try:
                n = tick_raw(quoter, *args)
            finally:
                probe.in_tick_raw = False
            points["cycle_out"] = clock()
            return n

        def probed_run_cycle(quoter: Any, *args: Any, **kwargs: Any) -> int:
            points["cycle_in"] = clock()
            n = run_cycle(quoter, *args, **kwargs)
            points["cycle_out"] = clock()
            return n

        async def probed_execute(manager: Any, n_actions: int, *args: Any, **kwargs: Any) -> int:
            # The engine passes ``tick_ns=None`` for cycles no fresh ticker triggered (forced
            # refresh, fill, after a rate-limit pause): like its histogram, take no sample then.
            tick_ns = args[0] if args else kwargs.get("tick_ns", 0)
            fresh = tick_ns is not None
            points["execute"] = clock()
            probe.armed = (probe.ticker_sent_ns, probe.ticker_read_ns if fresh else 0,
                           points["execute"])
            try:
                return await execute(manager, n_actions, *args, **kwargs)
            finally:
                probe.armed = None

        trio.SocketStream.receive_some = probed_receive_some
        trio.SocketStream.send_all = probed_send_all
        Listener.on_ticker = probed_on_ticker
        Listener.took_ticker = probed_took_ticker
        OrderManager.execute = probed_execute
        Quoter.run_cycle = probed_run_cycle
        Quoter.tick_raw = probed_tick_raw
        RpcSession.handle_read = probed_handle_read
