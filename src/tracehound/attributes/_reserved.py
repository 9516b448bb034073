"""Reserved keys with required types and values (A002), and how to coerce them.

The table holds the OpenTracing standard tags backends still interpret
(`error`, `span.kind`, `sampling.priority`, `peer.*`, ...) and the OTel keys
whose type matters for indexing (status codes, ports, body sizes).  Users
extend or override it from the config (``[tool.tracehound.attributes.reserved]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULT_RESERVED", "NO_FIX", "TYPES", "ReservedSpec"]

TYPES = ("bool", "int", "float", "str")
"""Type names a reserved spec accepts; ``float`` accepts ints too."""

NO_FIX: Any = object()
"""Returned by `ReservedSpec.coerce` when the value cannot be made valid."""

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True)
class ReservedSpec:
    """The type and allowed values of one reserved key."""

    type: str
    minimum: float | None = None
    maximum: float | None = None
    choices: frozenset[str] | None = None

    def describe(self) -> str:
        """``int in 100..599``, ``str, one of client, server``: for messages."""
        text = self.type
        if self.minimum is not None or self.maximum is not None:
            low = "" if self.minimum is None else f"{self.minimum:g}"
            high = "" if self.maximum is None else f"{self.maximum:g}"
            text += f" in {low}..{high}"
        if self.choices:
            text += ", one of " + ", ".join(sorted(self.choices))
        return text

    def accepts(self, value: object) -> bool:
        """Fast check for the hot path: True only when ``value`` surely fits.

        Exact classes only (an ``IntEnum`` answers False); callers confirm a
        False with `problem`.
        """
        cls = value.__class__
        kind = self.type
        if kind == "str":
            return cls is str and (self.choices is None or value in self.choices)
        if kind == "bool":
            return cls is bool
        if cls is not int and (kind == "int" or cls is not float):
            return False
        low, high = self.minimum, self.maximum
        return (low is None or low <= value) and (high is None or value <= high)  # type: ignore[operator]

    def problem(self, value: object) -> str | None:
        """Why ``value`` does not fit, or None when it does."""
        if not self._type_ok(value):
            return f"expected {self.describe()}, got {type(value).__name__}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                return f"expected {self.describe()}, got {value!r}"
            if self.maximum is not None and value > self.maximum:
                return f"expected {self.describe()}, got {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"expected {self.describe()}, got {value!r}"
        return None

    def _type_ok(self, value: object) -> bool:
        if self.type == "bool":
            return isinstance(value, bool)
        if self.type == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if self.type == "float":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        return isinstance(value, str)

    def coerce(self, value: object) -> Any:
        """``value`` made to fit (``"200"`` -> 200, ``"SERVER"`` -> ``"server"``), or NO_FIX."""
        fixed = self._convert(value)
        if fixed is NO_FIX or self.problem(fixed) is not None:
            return NO_FIX
        return fixed

    def _convert(self, value: object) -> Any:
        if self._type_ok(value):
            return self._choice(value) if isinstance(value, str) else value
        if self.type == "bool":
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            return False if text in _FALSE else NO_FIX
        if self.type in ("int", "float"):
            return _to_number(value, integer=self.type == "int")
        if isinstance(value, (bool, int, float)):
            return self._choice(str(value).lower() if isinstance(value, bool) else str(value))
        return NO_FIX

    def _choice(self, text: str) -> str:
        """The allowed choice ``text`` names, ignoring case and spaces; else ``text``."""
        if self.choices is None or text in self.choices:
            return text
        wanted = text.strip().lower()
        return next((c for c in self.choices if c.lower() == wanted), text)


def _to_number(value: object, *, integer: bool) -> Any:
    if isinstance(value, bool):
        return NO_FIX
    if isinstance(value, str):
        text = value.strip()
        try:
            number: float = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return NO_FIX
    elif isinstance(value, (int, float)):
        number = value
    else:
        return NO_FIX
    if isinstance(number, float):
        if not math.isfinite(number):
            return NO_FIX
        if integer:
            return int(number) if number.is_integer() else NO_FIX
    return number


def _spec(type_: str, low: float | None = None, high: float | None = None, *choices: str):
    return ReservedSpec(type_, low, high, frozenset(choices) if choices else None)


_STR = _spec("str")
_PORT = _spec("int", 0, 65535)
_STATUS = _spec("int", 100, 599)
_SIZE = _spec("int", 0)

DEFAULT_RESERVED: Mapping[str, ReservedSpec] = MappingProxyType(
    {
        # OpenTracing standard tags (semantic_conventions.md of the OpenTracing spec)
        "error": _spec("bool"),
        "span.kind": _spec("str", None, None, "client", "server", "producer", "consumer"),
        "sampling.priority": _spec("int", 0),
        "component": _STR,
        "db.instance": _STR,
        "db.statement": _STR,
        "db.type": _STR,
        "db.user": _STR,
        "http.method": _STR,
        "http.status_code": _STATUS,
        "http.url": _STR,
        "message_bus.destination": _STR,
        "peer.address": _STR,
        "peer.hostname": _STR,
        # peer.ipv4 is a string in the spec table but an IntTag in opentracing-java,
        # and Jaeger stores it as an int: both are in real data, so its type is not checked.
        "peer.ipv6": _STR,
        "peer.port": _PORT,
        "peer.service": _STR,
        # OpenTelemetry keys whose type backends index on
        "http.response.status_code": _STATUS,
        "http.request.method": _STR,
        "http.request.body.size": _SIZE,
        "http.response.body.size": _SIZE,
        "server.port": _PORT,
        "client.port": _PORT,
        "network.peer.port": _PORT,
        "network.local.port": _PORT,
        "url.port": _PORT,
        "rpc.grpc.status_code": _spec("int", 0, 16),
        "otel.status_code": _spec("str", None, None, "OK", "ERROR"),
        "error.type": _STR,
        "exception.type": _STR,
        "exception.message": _STR,
    }
)
"""Key -> spec; extend with the config's ``reserved`` table."""
