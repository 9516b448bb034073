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

from tracehound.doctor.sources._rows import (
    Document,
    as_list,
    as_text,
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
        service_of(resource), resource, as_text(scope.get("Name")), as_text(scope.get("Version"))
    )
    status = span.get("Status")
    status = status if isinstance(status, dict) else {}
    links = [
        {
            "traceId": as_text(link["SpanContext"].get("TraceID")),
            "spanId": as_text(link["SpanContext"].get("SpanID")),
            "attributes": _attributes(link.get("Attributes")),
        }
        for link in as_list(span.get("Links"))
        if isinstance(link, dict) and isinstance(link.get("SpanContext"), dict)
    ]
    events = [
        {
            "timeUnixNano": iso_to_nanos(event.get("Time")),
            "name": as_text(event.get("Name")) or "",
            "attributes": _attributes(event.get("Attributes")),
        }
        for event in as_list(span.get("Events"))
        if isinstance(event, dict)
    ]
    return (
        as_text(context.get("TraceID")),
        as_text(context.get("SpanID")),
        as_text(parent.get("SpanID")) if isinstance(parent, dict) else None,
        as_text(context.get("TraceState")) or None,
        as_text(span.get("Name")),
        as_text(span.get("SpanKind")),
        iso_to_nanos(span.get("StartTime")),
        iso_to_nanos(span.get("EndTime")),
        _attributes(span.get("Attributes")),
        events or None,
        links or None,
        {
            "code": as_text(status.get("Code")) or "Unset",
            "message": as_text(status.get("Description")),
        },
        offset,
        scope_id,
        None,
        doc.source,
    )


def _attributes(value: Any) -> list[dict[str, Any]]:
    """Go's ``[{"Key": k, "Value": {"Type": t, "Value": v}}]`` as an OTLP/JSON attribute list."""
    pairs = []
    for item in as_list(value):
        if isinstance(item, dict) and isinstance(item.get("Key"), str):
            typed = item.get("Value")
            pairs.append((item["Key"], typed.get("Value") if isinstance(typed, dict) else typed))
    return key_values(pairs)
