"""The OpenTelemetry Python SDK's console exporter: ``ReadableSpan.to_json()`` objects.

``OTEL_TRACES_EXPORTER=console`` (and ``ConsoleSpanExporter``) print one
indented JSON object per span, one after the other: IDs as ``0x``-prefixed
hex in ``context``, ``parent_id``, ``kind`` as ``SpanKind.SERVER``, times as
ISO 8601 UTC strings (microseconds), attributes and resource attributes as
plain JSON objects.  Each object is one span.
"""

from __future__ import annotations

from typing import Any

import orjson

from tracehound.doctor.sources._rows import (
    Document,
    as_list,
    as_text,
    iso_to_nanos,
    key_values,
    object_items,
    read_span_objects,
    service_of,
)

__all__ = ["looks_like", "read"]


def looks_like(value: Any) -> bool:
    """Whether a parsed JSON value is one span printed by the console exporter."""
    if not isinstance(value, dict):
        return False
    context = value.get("context")
    return isinstance(context, dict) and "span_id" in context and "trace_id" in context


def read(doc: Document) -> int:
    """Emit the span of ``doc`` (a list of them is read too); returns how many it held."""
    return read_span_objects(
        doc, looks_like, _row, "not a console exporter span (no context with trace_id and span_id)"
    )


def _row(doc: Document, span: dict[str, Any], offset: str) -> tuple[Any, ...]:
    context = span["context"]
    resource = span.get("resource")
    resource_attributes = resource.get("attributes") if isinstance(resource, dict) else None
    resource_list = key_values(object_items(resource_attributes))
    scope = span.get("instrumentation_scope") or span.get("instrumentation_info")
    scope = scope if isinstance(scope, dict) else {}
    name, version = as_text(scope.get("name")), as_text(scope.get("version"))
    scope_id = doc.sink.scope(service_of(resource_list), resource_list, name, version)
    status = span.get("status")
    status = status if isinstance(status, dict) else {}
    code = str(status.get("status_code") or "UNSET").upper()
    kind = span.get("kind")
    if isinstance(kind, str) and kind.startswith("SpanKind."):
        kind = kind[len("SpanKind.") :]
    links = [
        {
            "traceId": _hex(link["context"].get("trace_id")),
            "spanId": _hex(link["context"].get("span_id")),
            "attributes": key_values(object_items(link.get("attributes"))),
        }
        for link in as_list(span.get("links"))
        if isinstance(link, dict) and isinstance(link.get("context"), dict)
    ]
    events = [
        {
            "timeUnixNano": iso_to_nanos(event.get("timestamp")),
            "name": as_text(event.get("name")) or "",
            "attributes": key_values(object_items(event.get("attributes"))),
        }
        for event in as_list(span.get("events"))
        if isinstance(event, dict)
    ]
    return (
        _hex(context.get("trace_id")),
        _hex(context.get("span_id")),
        _hex(span.get("parent_id")),
        None,
        as_text(span.get("name")),
        as_text(kind),
        iso_to_nanos(span.get("start_time")),
        iso_to_nanos(span.get("end_time")),
        key_values(object_items(span.get("attributes"))),
        events or None,
        links or None,
        {"code": code, "message": as_text(status.get("description"))},
        offset,
        scope_id,
        None,
        doc.source,
    )


def _hex(value: Any) -> str | None:
    """``0xabc...`` as ``abc...``; anything else as text for the store to judge."""
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[2:] if text[:2].lower() == "0x" else text
