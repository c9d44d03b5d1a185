"""Websocket frames (RFC 6455 5.2-5.5), sans-IO: bytes in, frames out, no sockets.

The framing half of :mod:`qengine.io._websocket`. Outbound: every frame a client sends is masked
with a fresh 4-byte key from a strong random source, never used twice. Inbound: ``FrameReader``
parses server frames out of a buffer, reassembles fragmented messages and refuses what RFC 6455
forbids with ``FrameViolation`` (the close code to answer with, and why).
"""

from __future__ import annotations

import os
import struct

__all__ = ["FrameReader", "FrameViolation", "MaskKeys", "close_code_and_reason", "encode_frame",
           "mask"]

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


class FrameViolation(Exception):
    """The peer broke RFC 6455; ``code`` is the close code to answer with (1002: protocol
    error, 1009: too big) and ``why`` says which rule."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code
        self.why = why


def close_code_and_reason(payload: bytes) -> tuple[int, str]:
    """The status code and reason of a close frame's payload (1005: it carries none); the
    reader has refused a one-byte payload already."""
    if len(payload) < 2:
        return 1005, ""
    return int.from_bytes(payload[:2], "big"), payload[2:].decode("utf-8", "replace")


class FrameReader:
    """Server frames out of a byte buffer: bytes are appended to ``buffer``; :meth:`read` takes
    out every complete frame.

    Server frames must be unmasked and set no RSV bit (no extension is negotiated); a frame or
    a reassembled message above ``max_message_bytes`` is refused with 1009. Control frames may
    come between the fragments of a message; they are collected in ``controls`` as
    ``(opcode, payload)`` for the connection to answer (the caller empties it).
    """

    __slots__ = ("_fragment_bytes", "_fragment_opcode", "_fragments", "_max", "buffer",
                 "controls")

    def __init__(self, max_message_bytes: int, leftover: bytes = b"") -> None:
        self.buffer = bytearray(leftover)
        self.controls: list[tuple[int, bytes]] = []
        self._max = max_message_bytes
        self._fragments: list[bytes] = []
        self._fragment_bytes = 0
        self._fragment_opcode = -1

    def read(self, messages: list[bytes]) -> None:
        """Append the buffer's complete messages to ``messages`` (in order) and drop the bytes
        read; a close frame ends the read (what follows it stays in the buffer).

        Raises
        ------
        FrameViolation
            A frame broke RFC 6455 (the buffer is left as it was).
        """
        buf = self.buffer
        max_bytes = self._max
        pos = 0
        end = len(buf)
        # Payloads are copied once, out of a view (a bytearray slice would copy twice); the
        # view is released before the buffer is resized.
        with memoryview(buf) as view:
            while end - pos >= 2:
                b0 = buf[pos]
                b1 = buf[pos + 1]
                length = b1 & 0x7F
                offset = pos + 2
                if length == 126:
                    if end - offset < 2:
                        break
                    length = (buf[offset] << 8) | buf[offset + 1]
                    offset += 2
                elif length == 127:
                    if end - offset < 8:
                        break
                    length = int.from_bytes(buf[offset : offset + 8], "big")
                    offset += 8
                if b1 & 0x80:
                    raise FrameViolation(1002, "server frames must not be masked")
                if b0 & 0x70:
                    raise FrameViolation(1002, "RSV bits set without a negotiated extension")
                if length > max_bytes:
                    raise FrameViolation(1009, "frame too large")
                if end - offset < length:
                    break
                payload = view[offset : offset + length].tobytes()
                pos = offset + length
                opcode = b0 & 0x0F
                if opcode == OP_TEXT and b0 & 0x80 and self._fragment_opcode < 0:
                    messages.append(payload)  # the common case: one unfragmented text frame
                    continue
                if self._take_frame(opcode, bool(b0 & 0x80), payload, messages):
                    break
        if pos:
            del buf[:pos]

    def _take_frame(self, opcode: int, fin: bool, payload: bytes, messages: list[bytes]) -> bool:
        """Take one frame other than a whole text message; True when it was a close."""
        if opcode >= 0x8:
            if not fin or len(payload) > 125:
                raise FrameViolation(1002, "fragmented or oversized control frame")
            if opcode not in (OP_PING, OP_PONG, OP_CLOSE):
                raise FrameViolation(1002, f"reserved control opcode {opcode}")
            if opcode == OP_CLOSE and len(payload) == 1:
                raise FrameViolation(1002, "one-byte close payload")
            self.controls.append((opcode, payload))
            return opcode == OP_CLOSE
        if opcode == OP_CONT:
            if self._fragment_opcode < 0:
                raise FrameViolation(1002, "continuation without a started message")
        elif opcode in (OP_TEXT, OP_BINARY):
            if self._fragment_opcode >= 0:
                raise FrameViolation(1002, "new message inside a fragmented one")
            self._fragment_opcode = opcode
        else:
            raise FrameViolation(1002, f"reserved opcode {opcode}")
        self._fragment_bytes += len(payload)
        if self._fragment_bytes > self._max:
            raise FrameViolation(1009, "message too large")
        self._fragments.append(payload)
        if fin:
            messages.append(b"".join(self._fragments))
            self._fragments = []
            self._fragment_bytes = 0
            self._fragment_opcode = -1
        return False
