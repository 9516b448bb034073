"""The OpenTelemetry Go SDK's ``stdouttrace`` exporter: one JSON object per span.

The exporter Go's getting-started guide writes to ``traces.txt`` prints each
span as an object (indented with ``WithPrettyPrint``), one after the other:
``SpanContext``/``Parent`` with hex ``TraceID``/``SpanID``, ``SpanKind`` as the
OTLP number, ``StartTime``/``EndTime`` in RFC 3339 with nanoseconds (the zero
time ``0001-01-01T00:00:00Z`` with ``WithoutTimestamps``), attributes and the
resource as ``[{"Key": ..., "Value": {"Type": "STRING", "Value": ...}}]``.
"""

from __future__ import annotations

from typing import Any

import orjson

from tracehound.doctor.sources._rows import (
    Document,
    iso_to_nanos,
    key_values,
    read_span_objects,
    service_of,
)

__all__ = ["looks_like", "read"]


def looks_like(value: Any) -> bool:
    """Whether a parsed JSON value is one span printed by ``stdouttrace``."""
    if not isinstance(value, dict):
        return False
    context = value.get("SpanContext")
    return isinstance(context, dict) and "SpanID" in context and "TraceID" in context


def read(doc: Document) -> int:
    """Emit the span of ``doc`` (a list of them is read too); returns how many it held."""
    return read_span_objects(
        doc, looks_like, _row, "not a stdouttrace span (no SpanContext with TraceID and SpanID)"
    )


def _row(doc: Document, span: dict[str, Any], offset: str) -> tuple[Any, ...]:
    context = span["SpanContext"]
    parent = span.get("Parent")
    resource = _attributes(span.get("Resource"))
    scope = span.get("InstrumentationScope") or span.get("InstrumentationLibrary")
    scope = scope if isinstance(scope, dict) else {}
    scope_id = doc.sink.scope(
        service_of(resource), resource, _text(scope.get("Name")), _text(scope.get("Version"))
    )
    status = span.get("Status")
    status = status if isinstance(status, dict) else {}
    links = [
        {
            "traceId": _text(link["SpanContext"].get("TraceID")),
            "spanId": _text(link["SpanContext"].get("SpanID")),
            "attributes": _attributes(link.get("Attributes")),
        }
        for link in _list(span.get("Links"))
        if isinstance(link, dict) and isinstance(link.get("SpanContext"), dict)
    ]
    events = [
        {
            "timeUnixNano": iso_to_nanos(event.get("Time")),
            "name": _text(event.get("Name")) or "",
            "attributes": _attributes(event.get("Attributes")),
        }
        for event in _list(span.get("Events"))
        if isinstance(event, dict)
    ]
    return (
        _text(context.get("TraceID")),
        _text(context.get("SpanID")),
        _text(parent.get("SpanID")) if isinstance(parent, dict) else None,
        _text(context.get("TraceState")) or None,
        _text(span.get("Name")),
        _text(span.get("SpanKind")),
        iso_to_nanos(span.get("StartTime")),
        iso_to_nanos(span.get("EndTime")),
        _attributes(span.get("Attributes")),
        events or None,
        links or None,
        {"code": _text(status.get("Code")) or "Unset", "message": _text(status.get("Description"))},
        offset,
        scope_id,
        None,
        doc.source,
    )


def _attributes(value: Any) -> list[dict[str, Any]]:
    """Go's ``[{"Key": k, "Value": {"Type": t, "Value": v}}]`` as an OTLP/JSON attribute list."""
    pairs = []
    for item in _list(value):
        if isinstance(item, dict) and isinstance(item.get("Key"), str):
            typed = item.get("Value")
            pairs.append((item["Key"], typed.get("Value") if isinstance(typed, dict) else typed))
    return key_values(pairs)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode() if isinstance(value, (list, dict)) else str(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
