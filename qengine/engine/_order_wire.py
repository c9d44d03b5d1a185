"""The order manager's batches as wire bytes: io's request templates run through one kernel.

``OrderFrames.wire_templates`` (io owns the formats) gives every request as constant bytes and
the numbers between them; this object turns them into the arrays ``order_wire_encode`` reads,
once, and binds the kernel to its arrays, so a batch of any size costs one crossing: the
kernel formats the numbers from the ticks and lots, frames and masks every request.
"""

from __future__ import annotations

import numpy as np

from ..io import order_frames
from ..kernels import codes
from ..kernels import order_wire as wire
from ..kernels._jit import entry_point
from ..units import StepGrid

_TEMPLATES = {wire.TEMPLATE_INSERT_BUY: "insert_buy", wire.TEMPLATE_INSERT_SELL: "insert_sell",
              wire.TEMPLATE_AMEND: "amend", wire.TEMPLATE_CANCEL: "cancel"}
_FIELDS = {order_frames.AMOUNT: wire.FIELD_AMOUNT, order_frames.PRICE: wire.FIELD_PRICE,
           order_frames.CLIENT_ORDER_ID: wire.FIELD_CLIENT_ORDER_ID,
           order_frames.REQUEST_ID: wire.FIELD_REQUEST_ID}
#: Header (2 or 4 bytes) and masking key of a client frame, at most.
_FRAME_OVERHEAD = 8


class OrderWire:
    """Writes the first ``n`` rows of ``batch`` (``order_batch_prepare``'s output) as the masked
    websocket frames of their requests.

    Parameters
    ----------
    frames : OrderFrames
        The requests' formats (instrument, label).
    price_grid, lot_grid : StepGrid
        The instrument's tick and lot steps.
    batch : ACTION array
        The rows :meth:`build` reads (this very array on every call).
    """

    def __init__(self, frames: order_frames.OrderFrames, price_grid: StepGrid,
                 lot_grid: StepGrid, batch: np.ndarray) -> None:
        self._batch = batch
        templates = frames.wire_templates()
        n_parts = max(len(parts) // 2 + 1 for _, parts in templates.values())
        table = np.full((len(_TEMPLATES), n_parts, 3), wire.FIELD_NONE, np.int64)
        segments = bytearray()
        longest = 0
        #: The JSON-RPC method of each action kind.
        self.method_of_kind: dict[int, str] = {}
        for t, key in _TEMPLATES.items():
            method, parts = templates[key]
            self.method_of_kind[codes.ACTION_INSERT if t <= wire.TEMPLATE_INSERT_SELL else
                                codes.ACTION_AMEND if t == wire.TEMPLATE_AMEND else
                                codes.ACTION_CANCEL] = method
            for p in range(0, len(parts), 2):
                start = len(segments)
                segments += parts[p]
                field = _FIELDS[parts[p + 1]] if p + 1 < len(parts) else wire.FIELD_NONE
                table[t, p // 2] = (start, len(segments), field)
            longest = max(longest, sum(len(part) if type(part) is bytes else wire.NUMBER_BYTES
                                       for part in parts))
        self._segments = np.frombuffer(bytes(segments), np.uint8).copy()
        self._templates = table
        steps = (*price_grid.decimal, *lot_grid.decimal)
        #: Whether the kernel writes this instrument's numbers (steps of at most 18 decimals
        #: and int64 parts); otherwise every batch goes the general way (``build`` -> None).
        self.enabled = all(0 <= s < 2**63 for s in steps) and steps[1] <= 18 and steps[3] <= 18
        self._steps = np.array(steps if self.enabled else (1, 0, 1, 0), np.int64)
        self._scratch = np.zeros(longest + wire.NUMBER_BYTES, np.uint8)
        self._out = np.zeros(len(batch) * (longest + _FRAME_OVERHEAD), np.uint8)
        self._kinds = batch["kind"]
        self._staged = 0
        self._encode = entry_point(wire.order_wire_encode, batch, 0, self._segments, table,
                                   self._steps, 0, bytes(4 * len(batch)), self._scratch,
                                   self._out)

    def methods(self, n: int) -> list[str]:
        """The JSON-RPC method of each of the first ``n`` rows."""
        return list(map(self.method_of_kind.__getitem__, self._kinds[:n].tolist()))

    def stage(self, n: int) -> list[str]:
        """Make the first ``n`` rows the ones :meth:`write` writes; return their methods."""
        self._staged = n
        return self.methods(n)

    def write(self, first_id: int, mask_keys: bytes) -> bytes | None:
        """:meth:`build` of the rows :meth:`stage` named (a bound method, not a partial)."""
        return self.build(self._staged, first_id, mask_keys)

    def build(self, n: int, first_id: int, mask_keys: bytes) -> bytes | None:
        """The frames of the first ``n`` rows, request ``i`` with id ``first_id + i`` and mask
        key ``mask_keys[4 * i:4 * i + 4]``; ``None`` when the kernel cannot write them exactly
        (the caller then encodes them with ``OrderFrames``)."""
        if not self.enabled:
            return None
        written = self._encode(self._batch, n, self._segments, self._templates, self._steps,
                               first_id, mask_keys, self._scratch, self._out)
        if written < 0:
            return None
        return self._out[:written].tobytes()
