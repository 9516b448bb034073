"""Trace and span IDs as log lines spell them, normalised to the span table's lowercase hex.

Libraries name the fields differently (``trace_id``, ``traceId``, ``trace.id``,
``otelTraceID``, ``dd.trace_id``, ...) and some write a whole header
(``traceparent``, ``uber-trace-id``, ``b3``) or Google Cloud's
``projects/P/traces/ID``. A field is recognised by its name with case, ``_``,
``-`` and ``.`` ignored; an all-zero ID (OpenTelemetry's logging
instrumentation writes ``0`` outside a span) means "no trace".
"""

from __future__ import annotations

import re
from typing import Any

from tracehound.formats import parse_b3_single, parse_traceparent, parse_uber_trace_id

__all__ = ["SPAN_KEYS", "TRACE_KEYS", "key_form", "span_id", "trace_id"]


def key_form(key: str) -> str:
    """``key`` lowercased without ``_``, ``-``, ``.`` and ``@``: ``trace.id`` → ``traceid``."""
    return key.lower().replace("_", "").replace("-", "").replace(".", "").replace("@", "")


TRACE_KEYS: dict[str, str] = {
    # key form -> how its value is written
    "traceid": "hex",
    "oteltraceid": "hex",
    "traceidhex": "hex",
    "xb3traceid": "hex",
    "otelspantraceid": "hex",
    "ddtraceid": "decimal",  # Datadog: the low 64 bits, in decimal
    "loggingtraceid": "hex",
    "logginggoogleapiscom/trace": "gcp",
    "traceparent": "traceparent",
    "ubertraceid": "uber",
    "b3": "b3",
}
"""Field names (their `key_form`) that hold a trace ID, and how the value is written."""

SPAN_KEYS: dict[str, str] = {
    "spanid": "hex",
    "otelspanid": "hex",
    "xb3spanid": "hex",
    "ddspanid": "decimal",
    "logginggoogleapiscom/spanid": "hex",
}
"""Field names (their `key_form`) that hold a span ID (a header field gives it too)."""

_HEX = re.compile(r"[0-9a-fA-F]{1,32}")
_GCP = re.compile(r"projects/[^/]+/traces/([0-9a-fA-F]{32})")


def trace_id(value: Any, spelling: str) -> tuple[str | None, str | None]:
    """``(trace ID, span ID)`` from a field's ``value`` written as ``spelling`` (a value of
    `TRACE_KEYS`); ``(None, None)`` for no trace (empty, all zeros, unreadable)."""
    if spelling in ("traceparent", "uber", "b3"):
        return _header(str(value), spelling)
    if spelling == "gcp":
        match = _GCP.search(str(value))
        return (_id(match.group(1), 32) if match else None), None
    return _number(value, spelling, 32), None


def span_id(value: Any, spelling: str) -> str | None:
    """A span ID from a field's ``value`` (a `SPAN_KEYS` spelling), or ``None``."""
    return _number(value, spelling, 16)


def _number(value: Any, spelling: str, digits: int) -> str | None:
    if type(value) is str and spelling == "hex":  # the common case, first
        if len(value) <= digits and _HEX.fullmatch(value) and value.strip("0"):
            return value.lower().rjust(digits, "0")
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or spelling == "decimal":
        try:
            number = int(value)
        except (TypeError, ValueError):
            return None
        if number <= 0 or number >= 1 << (digits * 4):
            return None
        return f"{number:0{digits}x}"
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        return None
    return _id(value, digits)


def _id(text: str, digits: int) -> str | None:
    """Lowercase hex padded to ``digits`` (a 64-bit B3/Jaeger trace ID, as OTel keeps it)."""
    if len(text) > digits or not text.strip("0"):
        return None
    return text.lower().rjust(digits, "0")


def _header(value: str, spelling: str) -> tuple[str | None, str | None]:
    if spelling == "traceparent":
        parsed: Any = parse_traceparent(value)
    elif spelling == "uber":
        parsed = parse_uber_trace_id(value)
    else:
        parsed = parse_b3_single(value)
    if not parsed or not parsed.trace_id:
        return None, None
    return parsed.trace_id_hex, parsed.span_id_hex
