"""Typed reads of JSON-RPC ``params``: each raises ``RpcError(6)`` naming the bad field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..io.error_codes import INVALID_REQUEST
from .errors import RpcError

_MISSING = object()
_MAX_U64 = 2**64 - 1


def _bad(name: str, problem: str) -> RpcError:
    return RpcError(INVALID_REQUEST, f"invalid params: {name} {problem}")


def number(params: Mapping[str, Any], name: str, *, required: bool = True) -> float | None:
    """A JSON number (not a bool), or None when optional and absent."""
    value = params.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise _bad(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(name, "must be a number")
    if not math.isfinite(value):
        raise _bad(name, "must be finite")
    return float(value)


def string(params: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    """A JSON string, or None when optional and absent."""
    value = params.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise _bad(name, "is required")
        return None
    if not isinstance(value, str):
        raise _bad(name, "must be a string")
    return value


def boolean(params: Mapping[str, Any], name: str, default: bool = False) -> bool:
    """A JSON bool with a default when absent."""
    value = params.get(name, _MISSING)
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(name, "must be a boolean")
    return value


def enum(params: Mapping[str, Any], name: str, allowed: tuple[str, ...],
         default: str | None = None) -> str | None:
    """One of ``allowed``; unknown values are invalid requests like Thalex's parse errors."""
    value = string(params, name, required=False)
    if value is None:
        return default
    if value not in allowed:
        raise _bad(name, f"unknown variant {value!r}, expected one of {list(allowed)}")
    return value


def u64(params: Mapping[str, Any], name: str) -> int | None:
    """An unsigned 64-bit integer (client order ids), or None when absent."""
    value = params.get(name, _MISSING)
    if value is _MISSING or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_U64:
        raise _bad(name, "must be an integer in [0, 2^64-1]")
    return value


def label(params: Mapping[str, Any]) -> str | int | float | None:
    """Free user label: a string (numbers are tolerated and echoed back)."""
    value = params.get("label")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad("label", "must be a string")
    return value


def string_list(params: Mapping[str, Any], name: str) -> list[str]:
    """A required array of strings (channel lists)."""
    value = params.get(name, _MISSING)
    if value is _MISSING or not isinstance(value, list) or \
            not all(isinstance(v, str) for v in value):
        raise _bad(name, "must be an array of strings")
    return value


def comma_set(params: Mapping[str, Any], name: str) -> set[str] | None:
    """Comma-separated string filter (trade_history's instrument_names), or None."""
    value = string(params, name, required=False)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}
