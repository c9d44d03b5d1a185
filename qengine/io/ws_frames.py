"""Client websocket frames (RFC 6455 5.2-5.3): headers, masking, and the masking keys' source.

Sans-IO helpers of :mod:`qengine.io._websocket`: every frame a client sends is masked with a
fresh 4-byte key from a strong random source, never used twice.
"""

from __future__ import annotations

import os
import struct

__all__ = ["MaskKeys", "encode_frame", "mask"]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def mask(payload: bytes, key: bytes) -> bytes:
    """``payload`` XOR the 4-byte ``key`` repeated (masking and unmasking are the same)."""
    # XOR through Python ints: one C-level pass, far faster than a per-byte loop.
    n = len(payload)
    if n == 0:
        return b""
    repeated = (key * (n // 4 + 1))[:n]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")
    return value.to_bytes(n, "little")


def encode_frame(opcode: int, payload: bytes, *, mask_key: bytes | None = None) -> bytes:
    """Encode one final frame; masked when ``mask_key`` (4 bytes) is given (client side)."""
    n = len(payload)
    head = 0x80 | opcode
    mask_bit = 0x80 if mask_key is not None else 0
    if n < 126:
        header = struct.pack("!BB", head, mask_bit | n)
    elif n < 65536:
        header = struct.pack("!BBH", head, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", head, mask_bit | 127, n)
    if mask_key is None:
        return header + payload
    return header + mask_key + mask(payload, mask_key)


class MaskKeys:
    """Masking keys from the OS's CSPRNG (RFC 6455 5.3 asks for a strong source), fetched
    4 KiB at a time: a quote cycle's frames then cost no ``getrandom`` call of their own."""

    __slots__ = ("_offset", "_pool")
    _POOL_BYTES = 4096

    def __init__(self) -> None:
        self._pool = b""
        self._offset = 0

    def take(self, n: int) -> bytes:
        """``n`` fresh random bytes (never handed out twice)."""
        if self._offset + n > len(self._pool):
            self._pool = os.urandom(max(self._POOL_BYTES, n))
            self._offset = 0
        start = self._offset
        self._offset = start + n
        return self._pool[start:start + n]
