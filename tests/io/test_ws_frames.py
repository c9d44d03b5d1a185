"""The sans-IO frame reader (``ws_frames.FrameReader``): bytes in, messages and control frames
out, no sockets. Frames are built here byte by byte from RFC 6455 5.2, not with the module's own
encoder, except where the round trip through ``encode_frame`` is the point."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.io.ws_frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    FrameViolation,
    close_code_and_reason,
    encode_frame,
)

MAX_BYTES = 1 << 20


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0,
          mask_key: bytes | None = None, length: int | None = None) -> bytes:
    """One frame as RFC 6455 5.2 lays it out (``length`` overrides the announced length)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    mask_bit = 0x80 if mask_key is not None else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack(">Q", n)
    if mask_key is None:
        return head + payload
    return head + mask_key + bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))


def read(reader: FrameReader, data: bytes = b"") -> list[bytes]:
    reader.buffer += data
    messages: list[bytes] = []
    reader.read(messages)
    return messages


def test_a_text_frame_is_one_message_and_its_bytes_leave_the_buffer():
    reader = FrameReader(MAX_BYTES)
    assert read(reader, frame(OP_TEXT, b'{"a":1}') + frame(OP_TEXT, b"")) == [b'{"a":1}', b""]
    assert reader.buffer == b""
    assert reader.controls == []


def test_bytes_left_over_from_the_upgrade_are_read_first():
    reader = FrameReader(MAX_BYTES, frame(OP_TEXT, b"early"))
    assert read(reader) == [b"early"]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_7_16_and_64_bit_lengths_arrive_whole_however_the_bytes_are_split(size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    data = frame(OP_BINARY, payload) + frame(OP_TEXT, b"next")
    header_bytes = 2 if size < 126 else 4 if size < 65536 else 10
    reader = FrameReader(MAX_BYTES)
    # Every cut inside the header (the extended length too), and after it one inside the
    # payload: no cut leaves a whole frame.
    cuts = [*range(1, header_bytes), *([header_bytes, header_bytes + size // 2] if size else [])]
    seen: list[bytes] = []
    start = 0
    for cut in cuts:
        seen += read(reader, data[start:cut])
        start = cut
        assert seen == []  # incomplete: nothing out, nothing dropped
        assert reader.buffer == data[:cut]
    assert read(reader, data[start:]) == [payload, b"next"]
    assert reader.buffer == b""


def test_a_fragmented_message_with_controls_between_its_fragments_is_reassembled():
    reader = FrameReader(MAX_BYTES)
    data = (frame(OP_TEXT, b"hel", fin=False) + frame(OP_PING, b"p1")
            + frame(OP_CONT, b"lo ", fin=False) + frame(OP_PONG, b"p2")
            + frame(OP_CONT, b"world"))
    assert read(reader, data) == [b"hello world"]
    assert reader.controls == [(OP_PING, b"p1"), (OP_PONG, b"p2")]


def test_fragments_spread_over_reads_make_one_message_when_the_last_arrives():
    reader = FrameReader(MAX_BYTES)
    assert read(reader, frame(OP_BINARY, b"\x00\x01", fin=False)) == []
    assert read(reader, frame(OP_CONT, b"\x02", fin=False)) == []
    assert read(reader, frame(OP_CONT, b"\x03") + frame(OP_TEXT, b"t")) == [b"\x00\x01\x02\x03",
                                                                            b"t"]
    # The reader is ready for the next fragmented message.
    assert read(reader, frame(OP_TEXT, b"a", fin=False) + frame(OP_CONT, b"b")) == [b"ab"]


def test_a_close_ends_the_read_and_what_follows_it_stays():
    reader = FrameReader(MAX_BYTES)
    after = frame(OP_TEXT, b"after")
    close = frame(OP_CLOSE, struct.pack(">H", 1001) + b"going away")
    assert read(reader, frame(OP_TEXT, b"before") + close + after) == [b"before"]
    assert reader.controls == [(OP_CLOSE, struct.pack(">H", 1001) + b"going away")]
    assert reader.buffer == after


def test_close_payloads_give_their_code_and_reason():
    assert close_code_and_reason(b"") == (1005, "")
    assert close_code_and_reason(struct.pack(">H", 1000)) == (1000, "")
    assert close_code_and_reason(struct.pack(">H", 4001) + "départ".encode()) == (4001, "départ")
    assert close_code_and_reason(struct.pack(">H", 1011) + b"\xff") == (1011, "\ufffd")


@pytest.mark.parametrize(("data", "code", "why"), [
    (frame(OP_TEXT, b"hi", mask_key=b"\x01\x02\x03\x04"), 1002, "must not be masked"),
    (frame(OP_TEXT, b"hi", rsv=0b100), 1002, "RSV bits"),
    (frame(OP_TEXT, b"hi", rsv=0b001), 1002, "RSV bits"),
    (frame(OP_CONT, b"orphan"), 1002, "continuation without a started message"),
    (frame(OP_TEXT, b"a", fin=False) + frame(OP_TEXT, b"b"), 1002, "new message inside"),
    (frame(0x3, b"x"), 1002, "reserved opcode 3"),
    (frame(0xB, b"x"), 1002, "reserved control opcode 11"),
    (frame(OP_PING, b"x", fin=False), 1002, "fragmented or oversized control frame"),
    (frame(OP_PING, b"x" * 126), 1002, "fragmented or oversized control frame"),
    (frame(OP_CLOSE, b"\x03"), 1002, "one-byte close payload"),
    (frame(OP_TEXT, b"", length=MAX_BYTES + 1), 1009, "frame too large"),
    (frame(OP_TEXT, b"x" * (MAX_BYTES // 2 + 1), fin=False)
     + frame(OP_CONT, b"x" * (MAX_BYTES // 2)), 1009, "message too large"),
])
def test_protocol_violations_raise_with_their_close_code(data, code, why):
    reader = FrameReader(MAX_BYTES)
    with pytest.raises(FrameViolation, match=why) as raised:
        read(reader, data)
    assert raised.value.code == code
    assert why in raised.value.why
    assert reader.buffer == data  # nothing is consumed by a read that failed


def test_a_too_large_frame_is_refused_from_its_header_alone():
    reader = FrameReader(1000)
    with pytest.raises(FrameViolation) as raised:
        read(reader, frame(OP_BINARY, b"", length=1001)[:4])
    assert raised.value.code == 1009


def test_controls_read_before_a_violation_are_kept_for_the_connection():
    reader = FrameReader(MAX_BYTES)
    with pytest.raises(FrameViolation):
        read(reader, frame(OP_PING, b"p") + frame(OP_TEXT, b"m") + frame(OP_CONT, b"bad"))
    assert reader.controls == [(OP_PING, b"p")]


def test_the_reader_takes_what_encode_frame_writes_unmasked():
    reader = FrameReader(MAX_BYTES)
    payloads = [b"", b"x" * 125, b"y" * 126, b"z" * 70_000]
    data = b"".join(encode_frame(OP_TEXT, p) for p in payloads)
    assert read(reader, data) == payloads


@given(
    messages=st.lists(st.tuples(st.binary(max_size=300), st.integers(1, 4)), max_size=12),
    pings=st.lists(st.booleans(), max_size=12),
    chunk=st.integers(1, 97),
)
def test_any_fragmentation_and_any_read_size_give_the_same_messages(messages, pings, chunk):
    data = b""
    expected_controls = []
    for i, (payload, parts) in enumerate(messages):
        step = max(1, len(payload) // parts)
        pieces = [payload[j:j + step] for j in range(0, len(payload), step)] or [b""]
        for k, piece in enumerate(pieces):
            data += frame(OP_TEXT if k == 0 else OP_CONT, piece, fin=k == len(pieces) - 1)
            if i < len(pings) and pings[i] and k == 0:
                data += frame(OP_PING, str(i).encode())
                expected_controls.append((OP_PING, str(i).encode()))
    reader = FrameReader(MAX_BYTES)
    seen: list[bytes] = []
    for start in range(0, len(data), chunk):
        seen += read(reader, data[start:start + chunk])
    assert seen == [payload for payload, _ in messages]
    assert reader.controls == expected_controls
    assert reader.buffer == b""
