"""Field readers shared by the Thalex message decoders (see ``messages.py``).

Every reader raises :class:`MessageError` with a text naming the field and what was wrong, never
quoting a whole payload. JSON numbers arrive from orjson as ``int`` or ``float``; a ``bool`` is
not a number (``type(True) is bool``), NaN and infinities are rejected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["MessageError", "SkippedRow"]

_MAX_SHOWN = 40  # characters of an offending value quoted in an error text


class MessageError(ValueError):
    """A payload does not have the shape the protocol describes."""


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A list item that is not a complete record of the kind asked for (an instrument without
    ``tick_size``, a trade row of a non-fill type or with a missing field, a portfolio line
    without ``position``). The schema marks no
    field required, so such rows are legal: the decoder hands them on instead of raising, and
    the caller decides whether the row concerns it (our instrument, our fill) or is skipped.

    ``what`` is ``"instrument"``, ``"trade"`` or ``"portfolio entry"``; the identifying fields
    are taken when present;
    ``reason`` names the field and what was wrong with it.
    """

    what: str
    instrument_name: str | None
    trade_id: str | None
    trade_type: str | None
    reason: str


def skipped_row(what: str, obj: Any, reason: str) -> SkippedRow:
    """A :class:`SkippedRow` for ``obj`` with whatever identifying strings it carries."""
    fields = obj if type(obj) is dict else {}

    def text(key: str) -> str | None:
        value = fields.get(key)
        return value if type(value) is str and value else None

    return SkippedRow(what, text("instrument_name"), text("trade_id"), text("trade_type"), reason)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def as_dict(value: Any, what: str) -> dict:
    """``value`` if it is a JSON object, else MessageError naming ``what``."""
    if type(value) is not dict:
        raise MessageError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def as_list(value: Any, what: str) -> list:
    """``value`` if it is a JSON array, else MessageError naming ``what``."""
    if type(value) is not list:
        raise MessageError(f"{what} must be a JSON array, got {type(value).__name__}")
    return value


def to_float(value: Any, key: str) -> float:
    """A finite JSON number as float; bools, strings, NaN and infinities are rejected."""
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            raise MessageError(f"field {key!r} must be finite, got {value!r}")
        return value
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            raise MessageError(f"field {key!r} is out of range") from None
    raise MessageError(f"field {key!r} must be a number, got {kind.__name__} {_show(value)}")


def req(obj: dict, key: str) -> Any:
    """The value under ``key``; missing or null is an error."""
    value = obj.get(key)
    if value is None:
        raise MessageError(f"missing required field {key!r}")
    return value


def num(obj: dict, key: str) -> float:
    """Required finite number."""
    return to_float(req(obj, key), key)


def opt_num(obj: dict, key: str) -> float | None:
    """Optional finite number; missing or null gives None."""
    value = obj.get(key)
    return None if value is None else to_float(value, key)


def non_negative(obj: dict, key: str) -> float:
    """Required finite number >= 0 (amounts)."""
    value = num(obj, key)
    if value < 0.0:
        raise MessageError(f"field {key!r} must not be negative, got {value!r}")
    return value


def positive(obj: dict, key: str) -> float:
    """Required finite number > 0 (tick sizes, fill amounts)."""
    value = num(obj, key)
    if value <= 0.0:
        raise MessageError(f"field {key!r} must be positive, got {value!r}")
    return value


def string(obj: dict, key: str) -> str:
    """Required non-empty string."""
    value = req(obj, key)
    if type(value) is not str or not value:
        raise MessageError(f"field {key!r} must be a non-empty string, got {_show(value)}")
    return value


def opt_string(obj: dict, key: str) -> str | None:
    """Optional string; missing or null gives None."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not str:
        raise MessageError(f"field {key!r} must be a string, got {_show(value)}")
    return value


def label(obj: dict, key: str) -> str | None:
    """Optional label: the spec allows the exchange to echo it as a number."""
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    if type(value) is float and math.isfinite(value):
        return repr(value)
    raise MessageError(f"field {key!r} must be a string or number, got {_show(value)}")


def choice(obj: dict, key: str, allowed: frozenset[str]) -> str:
    """Required string from a closed set (money-relevant enums such as ``direction``)."""
    value = string(obj, key)
    if value not in allowed:
        raise MessageError(f"field {key!r} has unknown value {_show(value)}")
    return value


def opt_bool(obj: dict, key: str, default: bool | None) -> bool | None:
    """Optional JSON boolean; missing or null gives ``default``."""
    value = obj.get(key)
    if value is None:
        return default
    if type(value) is not bool:
        raise MessageError(f"field {key!r} must be a boolean, got {_show(value)}")
    return value


def to_int(value: Any, key: str) -> int:
    """A JSON integer >= 0; an integral float is accepted (ids may pass through doubles)."""
    if type(value) is float and math.isfinite(value) and value.is_integer():
        value = int(value)
    if type(value) is not int or value < 0:
        raise MessageError(f"field {key!r} must be a non-negative integer, got {_show(value)}")
    return value


def opt_int(obj: dict, key: str) -> int | None:
    """Optional non-negative integer; missing or null gives None."""
    value = obj.get(key)
    return None if value is None else to_int(value, key)


def level(value: Any, key: str) -> tuple[float, float, float]:
    """A book level ``[price, amount, outright_amount]``; the third entry is optional."""
    row = as_list(value, key)
    if len(row) < 2:
        raise MessageError(f"field {key!r} must be [price, amount, ...], got {len(row)} items")
    price = to_float(row[0], f"{key}[0]")
    amount = to_float(row[1], f"{key}[1]")
    if amount < 0.0:
        raise MessageError(f"field {key!r} has a negative amount {amount!r}")
    outright = to_float(row[2], f"{key}[2]") if len(row) > 2 and row[2] is not None else amount
    return price, amount, outright


def plain_numbers(obj: dict, keys: tuple[str, ...], getter: Any
                   ) -> tuple[float | None, ...] | list[float | None] | None:
    """The values under ``keys`` (``getter`` is ``itemgetter(*keys)``) as floats, None where
    missing or null, when every one is a finite number (bools are not); None otherwise, and the
    caller then takes its checking path for the specific error. The common case (every key
    present, every value a number) runs in C: itemgetter, map(type), sum."""
    try:
        values = getter(obj)
    except KeyError:
        values = None
    if values is not None:
        kinds = set(map(type, values))
        if kinds in (_FLOATS, _NUMBERS):
            try:
                if int in kinds:
                    values = tuple(map(float, values))
                total = sum(values)
            except OverflowError:
                return None
            if total - total == 0.0:
                return values
    out: list[float | None] = []
    for key in keys:
        value = obj.get(key)
        kind = type(value)
        if kind is float:
            if value - value != 0.0:  # inf or nan
                return None
        elif kind is int:
            if not -_INT_LIMIT < value < _INT_LIMIT:
                return None
            value = float(value)
        elif value is not None:
            return None
        out.append(value)
    return out


_INT_LIMIT = 2**1023
_FLOATS = {float}
_NUMBERS = {float, int}
