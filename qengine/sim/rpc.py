"""Framing of one request: parse, validate the envelope, rate-limit, dispatch, build the reply.

Replies start with ``"id"`` (echoing any JSON value, ``null`` when absent). Malformed JSON and bad
envelopes get error 6 with id ``null`` (or the id when it could be read); a text frame that is
valid JSON but not an object is not JSON-RPC at all and closes the connection (1003).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import trio

from ..io.error_codes import INVALID_REQUEST, TEMPORARY_FAILURE, THROTTLED, UNKNOWN_METHOD
from .errors import RpcError
from .exchange import Exchange
from .methods import CANCEL, INSERT_METHODS, METHODS
from .sessions import Session

logger = logging.getLogger(__name__)

CLOSE_NOT_JSON_RPC = 1003


def reply_frame(request_id: Any, result: Any) -> str:
    """Success reply, ``id`` first."""
    return '{"id":' + orjson.dumps(request_id).decode() + ',"result":' + \
        orjson.dumps(result).decode() + "}"


def error_frame(request_id: Any, code: int, message: str) -> str:
    """Error reply, ``id`` first."""
    return '{"id":' + orjson.dumps(request_id).decode() + ',"error":' + \
        orjson.dumps({"code": code, "message": message}).decode() + "}"


def handle_text(ex: Exchange, session: Session, text: str) -> tuple[str | None, int | None]:
    """Execute one text frame.

    Returns
    -------
    (reply, close_code)
        The reply frame to queue, or a WebSocket close code for frames that are not JSON-RPC.
    """
    if len(text) > ex.config.max_request_bytes or \
            len(text.encode("utf-8", "surrogatepass")) > ex.config.max_request_bytes:
        return error_frame(None, INVALID_REQUEST, "request too large"), None
    try:
        request = orjson.loads(text)
    except orjson.JSONDecodeError:
        return error_frame(None, INVALID_REQUEST, "request parsing error: malformed JSON"), None
    if not isinstance(request, dict):
        return None, CLOSE_NOT_JSON_RPC
    request_id = request.get("id")
    try:
        result = _dispatch(ex, session, request)
    except RpcError as exc:
        return error_frame(request_id, exc.code, exc.message), None
    except Exception:  # a simulator bug must not take down the other sessions
        ex.internal_errors += 1
        logger.exception("simulator: internal error on %r", request.get("method"))
        return error_frame(request_id, TEMPORARY_FAILURE, "internal error"), None
    return reply_frame(request_id, result), None


def _dispatch(ex: Exchange, session: Session, request: dict[str, Any]) -> Any:
    method = request.get("method")
    if not isinstance(method, str):
        raise RpcError(INVALID_REQUEST, "request parsing error: method must be a string")
    params = request.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RpcError(INVALID_REQUEST, "request parsing error: params must be an object")
    entry = METHODS.get(method)
    if entry is None:
        raise RpcError(UNKNOWN_METHOD, f"unknown method {method[:64]}")
    handler, bucket_name = entry
    config = ex.config
    if config.rate_limits_enabled:
        bucket = session.cancel_bucket if bucket_name == CANCEL else session.message_bucket
        if not bucket.take(trio.current_time()):
            raise RpcError(THROTTLED, "throttle exceeded")
    faults = config.faults
    if method in INSERT_METHODS and faults.reject_insert_fraction > 0.0 and \
            ex.fault_rng.random() < faults.reject_insert_fraction:
        raise RpcError(faults.reject_insert_code, "rejected (fault injection)")
    return handler(ex, session, params)
