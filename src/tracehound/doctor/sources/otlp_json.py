"""OTLP/JSON: ``ExportTraceServiceRequest`` in the protobuf JSON mapping.

One request per line (the OpenTelemetry Collector's file exporter) or one
document.  Field names in camelCase or the proto's snake_case are accepted;
IDs are kept as written (hex, or base64 as some writers emit) and normalised
by the store.
"""

from __future__ import annotations

from typing import Any

import orjson

from tracehound.doctor.sources._rows import Document, service_of, why_not_a_span
from tracehound.doctor.sources._salvage import TRUNCATED

__all__ = ["looks_like", "read"]

_SNAKE = {
    "trace_id": "traceId",
    "span_id": "spanId",
    "parent_span_id": "parentSpanId",
    "trace_state": "traceState",
    "start_time_unix_nano": "startTimeUnixNano",
    "end_time_unix_nano": "endTimeUnixNano",
}


def looks_like(value: Any) -> bool:
    """Whether a parsed JSON value is an OTLP trace export."""
    return isinstance(value, dict) and ("resourceSpans" in value or "resource_spans" in value)


def read(doc: Document) -> int:
    """Emit every span of the request in ``doc``; returns how many spans it held."""
    value = doc.value
    if not isinstance(value, dict):
        doc.errors.append((doc.where("$"), "expected an OTLP ExportTraceServiceRequest object"))
        return 0
    resource_spans = _list(value, "resourceSpans", "resource_spans")
    sink = doc.sink
    rows = sink.rows
    append = rows.append
    dumps = orjson.dumps
    source = doc.source
    line = f"{doc.line}:" if doc.line is not None else ""
    seen = 0
    for ri, rs in enumerate(resource_spans):
        if not isinstance(rs, dict):
            doc.errors.append((f"{line}resourceSpans[{ri}]", "not an object; skipped"))
            continue
        resource = rs.get("resource")
        attributes = resource.get("attributes") if isinstance(resource, dict) else None
        service = service_of(attributes)
        scope_spans = _list(rs, "scopeSpans", "scope_spans") or _list(
            rs, "instrumentationLibrarySpans", "instrumentation_library_spans"
        )
        for si, ss in enumerate(scope_spans):
            if not isinstance(ss, dict):
                doc.errors.append((f"{line}resourceSpans[{ri}].scopeSpans[{si}]", "not an object"))
                continue
            scope = ss.get("scope") or ss.get("instrumentationLibrary")
            if not isinstance(scope, dict):
                scope = {}
            scope_id = sink.scope(service, attributes, scope.get("name"), scope.get("version"))
            prefix = f"{line}resourceSpans[{ri}].scopeSpans[{si}].spans["
            spans = ss.get("spans")
            if not isinstance(spans, list):
                continue
            seen += len(spans)
            for k, span in enumerate(spans):
                if type(span) is not dict or TRUNCATED in span:
                    sink.reject(why_not_a_span(span), f"{prefix}{k}]")
                    continue
                get = span.get
                if "traceId" not in span and "trace_id" in span:
                    get = {_SNAKE.get(key, key): v for key, v in span.items()}.get
                append(
                    dumps(
                        (
                            get("traceId"),
                            get("spanId"),
                            get("parentSpanId"),
                            get("traceState"),
                            get("name"),
                            get("kind"),
                            get("startTimeUnixNano"),
                            get("endTimeUnixNano"),
                            get("attributes"),
                            get("events"),
                            get("links"),
                            get("status"),
                            f"{prefix}{k}]",
                            scope_id,
                            None,
                            source,
                        )
                    )
                )
    return seen


def _list(obj: dict[str, Any], camel: str, snake: str) -> list[Any]:
    found = obj.get(camel)
    if found is None:
        found = obj.get(snake)
    return found if isinstance(found, list) else []
