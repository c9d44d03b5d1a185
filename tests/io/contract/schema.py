"""Validate JSON-RPC frames against Thalex's own API description (``data/thalex-openapi.json``).

``ThalexSchema`` checks one frame: a request against its method's request schema, a reply
against the reply schema of the method it answers, a notification against the payload schema of
its channel; each check returns a list of problems (empty when the frame conforms). Objects are
closed: the loader adds ``unevaluatedProperties: false`` wherever the document describes an
object's properties, so a field the document lacks is a problem, as is a missing required one.
``FrameRecorder`` is a simulator ``wire_tap`` that checks a whole session. See
``data/README.md``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT = Path(__file__).parent / "data" / "thalex-openapi.json"
_URI = "urn:thalex:openapi"
_JSON = "application/json"
_APPLICATORS = ("allOf", "oneOf", "anyOf")
#: JSON-RPC ids are numbers or strings (null in a reply to a request without one); the
#: document types them ``object``, which no client sends.
_RPC_ID = {"type": ["integer", "string", "null"]}


def _describes_properties(node: dict[str, Any]) -> bool:
    return any(key in node for key in ("properties", "$ref", *_APPLICATORS))


def _close_objects(node: Any, at_instance: bool) -> None:
    """Add ``unevaluatedProperties: false`` to every schema that stands for a value (not to the
    in-place parts of ``allOf`` / ``oneOf`` / ``anyOf`` or to ``$ref`` targets, which the
    keyword sees through)."""
    if isinstance(node, list):
        for item in node:
            _close_objects(item, at_instance)
        return
    if not isinstance(node, dict):
        return
    if at_instance and _describes_properties(node) and "additionalProperties" not in node:
        node.setdefault("unevaluatedProperties", False)
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for child in value.values():
                _close_objects(child, True)
        elif key in ("items", "prefixItems", "additionalProperties", "contains"):
            _close_objects(value, True)
        elif key in ("oneOf", "anyOf"):
            # Alternatives are whole values (success or error reply): each is closed on its
            # own, or a success frame would also pass as an error frame (whose ``error`` the
            # document does not require) and match both.
            _close_objects(value, True)
        elif key in ("allOf", "not", "if", "then", "else"):
            _close_objects(value, False)


def _channel_pattern(template: str) -> re.Pattern[str]:
    # ``book.<instrument>.<grouping>.<nlevels>.<delay>``: a part is anything but the separator,
    # except that a decimal grouping may hold a dot.
    parts = re.split(r"(<[^>]+>)", template)
    regex = "".join(
        f"(?P<{part[1:-1]}>.+?)" if part.startswith("<") else re.escape(part) for part in parts
    )
    return re.compile(regex + r"\Z")


class ThalexSchema:
    """The API description, compiled once: methods, channels and their validators."""

    def __init__(self, path: Path = DOCUMENT) -> None:
        document = orjson.loads(path.read_bytes())
        schemas = document["components"]["schemas"]
        schemas["RpcRequest"]["properties"]["id"] = _RPC_ID
        schemas["RpcResponse"]["properties"]["id"] = _RPC_ID
        for schema in schemas.values():
            _close_objects(schema, False)
        #: JSON-RPC methods: the paths with an ``rpc`` operation (the others are REST twins).
        self.methods: set[str] = set()
        for name, item in document["paths"].items():
            operation = item.get("rpc")
            if operation is None:
                continue
            _close_objects(operation["requestBody"]["content"][_JSON]["schema"], True)
            _close_objects(operation["responses"]["default"]["content"][_JSON]["schema"], True)
            self.methods.add(name)
        self.channels: list[tuple[re.Pattern[str], str, str]] = []
        for name in schemas:
            if name.endswith("_payload"):
                template = name.removesuffix("_payload")
                params = f"{template}_params" if f"{template}_params" in schemas else ""
                self.channels.append((_channel_pattern(template), name, params))
        # Fixed names first, then the more specific (longer) templates.
        self.channels.sort(key=lambda c: ("<" in c[1], -len(c[1])))
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(_URI, resource)
        self._validators: dict[str, Draft202012Validator] = {}

    def _errors(self, pointer: str, instance: Any) -> list[str]:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{_URI}#{pointer}"}, registry=self._registry)
        return [_describe(error) for error in validator.iter_errors(instance)]

    def request_problems(self, frame: Any) -> list[str]:
        """Problems of a request frame ``{method, params, id}``, the description's rules that
        are stated only in prose included."""
        method = frame.get("method") if isinstance(frame, dict) else None
        if method not in self.methods:
            return [f"method {method!r} is not in the API description"]
        problems = self._errors(_method_pointer(method, "request"), frame)
        rule = _PROSE_RULES.get(method)
        params = frame.get("params")
        return problems + (rule(params) if rule and isinstance(params, dict) else [])

    def reply_problems(self, method: str, frame: Any) -> list[str]:
        """Problems of the reply to a ``method`` request (a reply to no request is one)."""
        if method not in self.methods:
            return [f"method {method!r} is not in the API description"]
        return self._errors(_method_pointer(method, "reply"), frame)

    def notification_problems(self, frame: Any) -> list[str]:
        """Problems of a notification frame ``{channel_name, notification, snapshot?}``."""
        channel = frame.get("channel_name") if isinstance(frame, dict) else None
        if not isinstance(channel, str):
            return ["notification without a string channel_name"]
        for pattern, payload, params in self.channels:
            match = pattern.match(channel)
            if match is None:
                continue
            problems = self._errors(f"/components/schemas/{_escape(payload)}", frame)
            if params:
                parts = {f"<{key}>": value for key, value in match.groupdict().items()}
                problems += [f"channel {channel}: {p}" for p in self._errors(
                    f"/components/schemas/{_escape(params)}", parts)]
            return problems
        return [f"channel {channel!r} is not in the API description"]


@functools.cache
def thalex_schema() -> ThalexSchema:
    """The compiled API description, shared by every test of the session."""
    return ThalexSchema()


def _protection_amounts(params: dict[str, Any]) -> list[str]:
    # trade_amount: "The value must be lower or equal to the `quote_amount`."
    trade, quote = params.get("trade_amount"), params.get("quote_amount")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (trade, quote))
    if numbers and trade > quote:
        return [f"params: trade_amount {trade} exceeds quote_amount {quote}"]
    return []


_PROSE_RULES = {"private/set_mm_protection": _protection_amounts}


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _method_pointer(method: str, which: str) -> str:
    path = f"/paths/{_escape(method)}/rpc"
    if which == "request":
        return f"{path}/requestBody/content/{_escape(_JSON)}/schema"
    return f"{path}/responses/default/content/{_escape(_JSON)}/schema"


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(frame)"
    if error.validator in ("oneOf", "anyOf"):
        # A reply is a oneOf of success and error: say why each branch failed.
        causes = sorted({_describe(c) for c in error.context or ()})
        return f"{where}: matches no single alternative [{'; '.join(causes[:8])}]"
    return f"{where}: {error.message[:200]}"


class FrameRecorder:
    """A ``wire_tap`` for ``serve_simulator``: collects every frame of a simulator's sessions and
    checks them against the API description, each reply against the method it answers."""

    def __init__(self, schema: ThalexSchema) -> None:
        self.schema = schema
        self.frames: list[tuple[int, str, str]] = []

    def __call__(self, session_id: int, direction: str, text: str) -> None:
        self.frames.append((session_id, direction, text))

    def count(self, direction: str) -> int:
        """Frames recorded in one direction (``"in"`` or ``"out"``)."""
        return sum(1 for _, d, _ in self.frames if d == direction)

    def problems(self) -> list[str]:
        """Every kind of non-conforming frame once, with its problems. Frames that are not JSON
        (fault injection sends garbage on purpose) are not the schema's business."""
        methods: dict[tuple[int, Any], Any] = {}
        found: dict[str, str] = {}
        for session_id, direction, text in self.frames:
            try:
                frame = orjson.loads(text)
            except orjson.JSONDecodeError:
                continue
            if direction == "in":
                methods[(session_id, frame.get("id"))] = frame.get("method")
                problems = self.schema.request_problems(frame)
            elif "channel_name" in frame:
                problems = self.schema.notification_problems(frame)
            else:
                method = methods.get((session_id, frame.get("id")))
                problems = self.schema.reply_problems(method, frame)
            if problems:
                found.setdefault(_shape(frame), f"{direction} {text[:240]}: {problems}")
        return list(found.values())


def _shape(value: Any) -> str:
    """A frame's structure without its values (one report per kind of mistake)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_shape(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ",".join(sorted({_shape(v) for v in value})) + "]"
    return type(value).__name__
