"""Pure-Python twin of ``qengine.kernels.order_wire``, built on io's own encoders: the params
of ``OrderFrames``, the envelope of ``encode_request`` and the frames of ``encode_frame``, with
prices and amounts the floats ``StepGrid.value`` gives for the ticks and lots."""

from __future__ import annotations

from qengine.io.jsonrpc import encode_request
from qengine.io.ws_frames import encode_frame
from qengine.kernels import codes

_DIRECTION = {codes.SIDE_BUY: "buy", codes.SIDE_SELL: "sell"}


def order_wire_encode(rows, frames, price_grid, lot_grid, first_id, keys):
    """The frames of ``rows`` (``(kind, slot, cid, side, level, ticks, lots)`` tuples) joined,
    request ``i`` with id ``first_id + i`` and mask key ``keys[4 * i:4 * i + 4]``."""
    out = []
    for i, (kind, _slot, cid, side, _level, ticks, lots) in enumerate(rows):
        if kind == codes.ACTION_INSERT:
            method, params = frames.insert(_DIRECTION[side], lot_grid.value(lots),
                                           price_grid.value(ticks), cid)
        elif kind == codes.ACTION_AMEND:
            method, params = frames.amend(cid, lot_grid.value(lots), price_grid.value(ticks))
        else:
            method, params = frames.cancel(cid)
        payload = encode_request(method, params, first_id + i)
        out.append(encode_frame(0x1, payload, mask_key=bytes(keys[4 * i:4 * i + 4])))
    return b"".join(out)
