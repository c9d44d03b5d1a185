"""The backtester's data error (its own module, so that the converters and the loader share it
without importing each other)."""

from __future__ import annotations

from ..errors import QEngineError

__all__ = ["DataError"]


class DataError(QEngineError, ValueError):
    """Malformed or out-of-order event data; ``source``, ``row`` (event row, from 0) or ``line``
    (line of a raw recording, from 1) and ``field`` say where."""

    def __init__(self, source: str, message: str, *, row: int | None = None,
                 line: int | None = None, field: str | None = None) -> None:
        self.source = source
        self.row = row
        self.line = line
        self.field = field
        where = [source]
        if row is not None:
            where.append(f"row {row}")
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join(where)}: {message}")
