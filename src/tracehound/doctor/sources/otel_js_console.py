"""OpenTelemetry JS's console exporter: one ``console.dir`` object per span.

``OTEL_TRACES_EXPORTER=console`` in Node.js (``ConsoleSpanExporter``) prints
each span as a JavaScript object literal (read as JSON by `_js_literals`):
``traceId`` and ``id`` in hex, the parent as ``parentSpanContext.spanId``
(SDK 2.x; ``parentId`` before), ``kind`` as the API's number (``0`` INTERNAL,
``1`` SERVER, ``2`` CLIENT, ``3`` PRODUCER, ``4`` CONSUMER: not OTLP's),
``timestamp`` in microseconds and ``duration`` in microseconds with a
fraction, events' ``time`` as ``[seconds, nanoseconds]``, attributes and the
resource's as plain objects, the scope as ``instrumentationScope`` (SDK 2.x;
``instrumentationLibrary`` before).
"""

from __future__ import annotations

from typing import Any

from tracehound.doctor.sources._rows import (
    Document,
    as_list,
    as_text,
    end_of,
    key_values,
    micros_to_nanos,
    object_items,
    read_span_objects,
    service_of,
)

__all__ = ["looks_like", "read"]

_KINDS = {0: "INTERNAL", 1: "SERVER", 2: "CLIENT", 3: "PRODUCER", 4: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def looks_like(value: Any) -> bool:
    """Whether a parsed value is one span printed by OpenTelemetry JS's console exporter
    (a Zipkin span also has ``traceId`` and ``id``, never a scope or a span context)."""
    return (
        isinstance(value, dict)
        and "traceId" in value
        and "id" in value
        and any(k in value for k in ("instrumentationScope", "instrumentationLibrary"))
    )


def read(doc: Document) -> int:
    """Emit the span of ``doc`` (a list of them is read too); returns how many it held."""
    return read_span_objects(
        doc, looks_like, _row, "not a JS console exporter span (no traceId, id and scope)"
    )


def _row(doc: Document, span: dict[str, Any], offset: str) -> tuple[Any, ...]:
    resource = span.get("resource")
    resource_attributes = resource.get("attributes") if isinstance(resource, dict) else None
    resource_list = key_values(object_items(resource_attributes))
    scope = span.get("instrumentationScope") or span.get("instrumentationLibrary")
    scope = scope if isinstance(scope, dict) else {}
    scope_id = doc.sink.scope(
        service_of(resource_list), resource_list, as_text(scope.get("name")),
        as_text(scope.get("version")),
    )  # fmt: skip
    parent = span.get("parentSpanContext")
    parent_id = parent.get("spanId") if isinstance(parent, dict) else span.get("parentId")
    status = span.get("status")
    status = status if isinstance(status, dict) else {}
    code = status.get("code", 0)
    kind = span.get("kind")
    start = micros_to_nanos(span.get("timestamp"))
    end = end_of(start, micros_to_nanos(span.get("duration")))
    links = [
        {
            "traceId": as_text(link["context"].get("traceId")),
            "spanId": as_text(link["context"].get("spanId")),
            "attributes": key_values(object_items(link.get("attributes"))),
        }
        for link in as_list(span.get("links"))
        if isinstance(link, dict) and isinstance(link.get("context"), dict)
    ]
    events = [
        {
            "timeUnixNano": _hr_time(event.get("time")),
            "name": as_text(event.get("name")) or "",
            "attributes": key_values(object_items(event.get("attributes"))),
        }
        for event in as_list(span.get("events"))
        if isinstance(event, dict)
    ]
    return (
        as_text(span.get("traceId")),
        as_text(span.get("id")),
        as_text(parent_id),
        _trace_state(span.get("traceState")),
        as_text(span.get("name")),
        _KINDS.get(kind, as_text(kind)) if isinstance(kind, int) else as_text(kind),
        start,
        end,
        key_values(object_items(span.get("attributes"))),
        events or None,
        links or None,
        {
            "code": _STATUS.get(code, as_text(code)) if isinstance(code, int) else as_text(code),
            "message": as_text(status.get("message")),
        },
        offset,
        scope_id,
        None,
        doc.source,
    )


def _trace_state(value: Any) -> str | None:
    """A ``TraceState`` instance (its ``_internalState`` Map, newest first) as the header."""
    if isinstance(value, dict) and isinstance(value.get("_internalState"), dict):
        items = reversed(list(value["_internalState"].items()))
        return ",".join(f"{k}={v}" for k, v in items)
    return as_text(value)


def _hr_time(value: Any) -> Any:
    """JavaScript's ``[seconds, nanoseconds]`` (an event's time) in nanoseconds."""
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return value[0] * 10**9 + value[1]
    return micros_to_nanos(value) if isinstance(value, (int, float)) else as_text(value)
