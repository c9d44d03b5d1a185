"""How one socket read's frames are sorted before the JSON parser sees them (sans-IO, pure).

Market data is conflated: of the pushes of one channel in a read, only the newest is decoded;
older ones that start the Thalex way (``{"channel_name":"ticker....``) are skipped unparsed. The
newest push of a raw market channel (the engine's own ticker) is handed over as its bytes. And
when nothing else in the read must be applied before the consumer's cycle on that push (answers
are handled by their callers after it anyway; order pushes of live orders without a fill move
no position and close no order), it goes to the consumer first, before the rest is parsed.
"""

from __future__ import annotations

from typing import Any

from .jsonrpc import Notification, parse_frame

#: How a Thalex push starts on the wire (its channel name follows up to the next quote).
PUSH_HEAD = b'{"channel_name":"'
#: How an answer and an order push start on the wire (Thalex writes ``id`` / the name first).
ANSWER_HEAD = b'{"id":'
ORDERS_HEAD = PUSH_HEAD + b'session.orders"'


def push_heads(names: frozenset[bytes] | tuple[bytes, ...]) -> tuple[bytes, ...]:
    """How each named channel's pushes start on the wire (``{"channel_name":"<name>"``)."""
    return tuple(PUSH_HEAD + name + b'"' for name in names)


def may_wait(data: bytes) -> bool:
    """Whether a frame of the read may be handled after the quoted ticker's cycle: an answer
    (its caller's task runs after the reader's cycle either way), or a ``session.orders`` push
    of live orders that lists no fill (every ``"fills"`` key an empty list, every ``"status"``
    open or partially filled: it moves no position and closes no order, so at worst the
    cycle leaves an order whose request is in flight alone one tick longer). Anything else,
    or the same spelled another way, may not."""
    if data.startswith(ANSWER_HEAD):
        return True
    return data.startswith(ORDERS_HEAD) and \
        data.count(b'"fills"') == data.count(b'"fills":[]') and \
        data.count(b'"status"') == data.count(b'"status":"open"') + \
        data.count(b'"status":"partially_filled"')


def is_raw(data: Any, raw_heads: tuple[bytes, ...]) -> bool:
    """Whether ``data`` is a push of a raw market channel (``raw_heads``: each channel's
    ``{"channel_name":"<name>"``) that is not a snapshot."""
    return type(data) is bytes and data.startswith(raw_heads) and b'"snapshot"' not in data


def first_push(raw: list[Any], raw_heads: tuple[bytes, ...]) -> tuple[int, list[int]] | None:
    """The read's newest raw market push, when it may go to the consumer before the rest:
    ``(its index, indices of the older pushes of its channel)``, else None.

    It may when every other frame of the read is an older push of its channel (before it) or
    one that may wait (:func:`may_wait`): the cycle on that book then sees what it would have
    seen with the whole read applied first.
    """
    first = len(raw) - 1
    while first >= 0:  # newest first: every frame after the push must be one that may wait
        data = raw[first]
        if is_raw(data, raw_heads):
            break
        if type(data) is not bytes or not may_wait(data):
            return None
        first -= 1
    if first < 0:
        return None
    push = raw[first]
    head = push[:push.find(b'"', len(PUSH_HEAD)) + 1]  # one of raw_heads (names hold no quote)
    older = []
    for index in range(first):
        data = raw[index]
        if type(data) is not bytes:
            return None
        if data.startswith(head) and b'"snapshot"' not in data:
            older.append(index)  # superseded: never decoded
        elif not may_wait(data):
            return None
    return first, older


def parse_newest(raw: list[Any], raw_names: frozenset[bytes], prefixes: tuple[bytes, ...],
                 channel_prefixes: tuple[str, ...]) -> tuple[list[Any], int]:
    """Parse a read's frames, keeping of each conflated channel (``prefixes`` as bytes,
    ``channel_prefixes`` as text) and of each raw channel only its newest push; the others
    are None. Returns the frames and how many were dropped.

    Newest first, so a broken newest frame lets the one before it through. A push that starts
    the Thalex way (``{"channel_name":"<name>"``, no snapshot flag) is recognised from its first
    bytes: when a newer one of its channel was served it is dropped unparsed. Frames of another
    shape (other key order, a snapshot flag, escapes in the name) are parsed, and dropped after
    all when a newer push of their channel was kept. The newest push of a raw channel is kept
    unparsed (its bytes).
    """
    frames: list[Any] = [None] * len(raw)
    served: set[bytes] = set()  # channels whose newest push, in its first bytes, was seen
    kept: set[str] = set()  # channels whose newest push was kept
    dropped = 0
    for index in range(len(raw) - 1, -1, -1):
        data = raw[index]
        name = None
        if type(data) is bytes and data.startswith(PUSH_HEAD):
            end = data.find(b'"', len(PUSH_HEAD))
            name = data[len(PUSH_HEAD):end] if end > 0 else b""
            if not (name in raw_names or name.startswith(prefixes)) or b"\\" in name or \
                    b'"snapshot"' in data:
                name = None
        if name is not None and name in served:
            dropped += 1
            continue
        if name is not None and name in raw_names:
            served.add(name)
            channel = name.decode()
            if channel in kept:  # a newer push of it came in another shape
                dropped += 1
                continue
            kept.add(channel)
            frames[index] = data
            continue
        frame = parse_frame(data)
        if name is not None and type(frame) is Notification and not frame.snapshot and \
                frame.channel_name.encode() == name:
            served.add(name)
        if type(frame) is Notification and not frame.snapshot and \
                frame.channel_name.startswith(channel_prefixes):
            if frame.channel_name in kept:
                dropped += 1
                continue
            kept.add(frame.channel_name)
        frames[index] = frame
    return frames, dropped
