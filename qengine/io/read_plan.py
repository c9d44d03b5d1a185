"""How one socket read's frames are sorted before the JSON parser sees them (sans-IO, pure).

Market data is conflated: of the pushes of one channel in a read, only the newest is decoded;
older ones that start the Thalex way (``{"channel_name":"ticker....``) are skipped unparsed. The
newest push of a raw market channel (the engine's own ticker) is handed over as its bytes. And
when nothing before that push in the read moves a position before the consumer's cycle would
(answers are handled by their callers after it anyway; order pushes that list no fill move
none), it may go to the consumer first, before the rest of the read is parsed.
"""

from __future__ import annotations

from typing import Any

from .jsonrpc import Notification, parse_frame

#: How a Thalex push starts on the wire (its channel name follows up to the next quote).
PUSH_HEAD = b'{"channel_name":"'
#: How an answer and an order push start on the wire (Thalex writes ``id`` / the name first).
ANSWER_HEAD = b'{"id":'
ORDERS_HEAD = PUSH_HEAD + b'session.orders"'


def may_wait(data: bytes) -> bool:
    """Whether a frame before the quoted ticker may be handled after it: an answer (its
    caller's task runs after the reader's cycle either way) or a ``session.orders`` push that
    lists no fill (every ``"fills"`` key it holds is an empty list: it moves no position).
    Anything else, or fills spelled another way, may not."""
    return data.startswith(ANSWER_HEAD) or (
        data.startswith(ORDERS_HEAD) and data.count(b'"fills"') == data.count(b'"fills":[]'))


def is_raw(data: Any, raw_heads: tuple[bytes, ...]) -> bool:
    """Whether ``data`` is a push of a raw market channel (``raw_heads``: each channel's
    ``{"channel_name":"<name>"``) that is not a snapshot."""
    return type(data) is bytes and data.startswith(raw_heads) and b'"snapshot"' not in data


def first_push(raw: list[Any], raw_heads: tuple[bytes, ...]) -> tuple[int, list[int]] | None:
    """The read's newest raw market push, when it may go to the consumer before the rest:
    ``(its index, indices of the older pushes of its channel)``, else None.

    It may when every frame before it is an older push of its channel or one that may wait
    (:func:`may_wait`: a quote on that book is the one it would make after them), and no frame
    after it can be a newer push of its channel (those that follow are as if the read had
    ended before them).
    """
    first = len(raw) - 1
    while first >= 0 and not is_raw(raw[first], raw_heads):
        first -= 1
    if first < 0:
        return None
    push = raw[first]
    head = next(head for head in raw_heads if push.startswith(head))
    for data in raw[first + 1:]:
        if type(data) is not bytes or data.startswith(head) or not (
                data.startswith(ANSWER_HEAD) or data.startswith(PUSH_HEAD)):
            return None
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


def parse_newest(raw: list[Any], raw_names: frozenset[bytes], prefixes: tuple[bytes, ...]
                 ) -> tuple[list[Any], int]:
    """Parse a read's frames, except market pushes older than a valid one of the same channel
    later in the read: those are recognised from their first bytes and skipped unparsed
    (None). Returns the frames and how many were skipped.

    Newest first, so a broken newest frame lets the one before it through. Frames of another
    shape (other key order, a snapshot flag, escapes in the name) are parsed and go through
    :func:`superseded`. The newest push of a raw channel is kept unparsed (its bytes), older
    ones skipped.
    """
    frames: list[Any] = [None] * len(raw)
    served: set[bytes] = set()
    skipped = 0
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
            skipped += 1
            continue
        if name is not None and name in raw_names:
            frames[index] = data
            served.add(name)
            continue
        frame = frames[index] = parse_frame(data)
        if name is not None and type(frame) is Notification and not frame.snapshot and \
                frame.channel_name.encode() == name:
            served.add(name)
    return frames, skipped


def superseded(frames: list[Any], prefixes: tuple[str, ...]) -> set[int]:
    """Indices of the parsed market pushes (and raw pushes) that a later push of the same
    channel in the read supersedes."""
    newest: dict[str, int] = {}
    out: set[int] = set()
    for index, frame in enumerate(frames):
        if type(frame) is bytes:  # a raw push (newest of its channel), name in its head
            channel = frame[len(PUSH_HEAD):frame.find(b'"', len(PUSH_HEAD))].decode()
            previous = newest.get(channel)
            if previous is not None:
                out.add(previous)
            newest[channel] = index
        elif type(frame) is Notification and not frame.snapshot and \
                frame.channel_name.startswith(prefixes):
            previous = newest.get(frame.channel_name)
            if previous is not None:
                out.add(previous)
            newest[frame.channel_name] = index
    return out
