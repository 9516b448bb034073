"""OTLP/JSON: ``ExportTraceServiceRequest`` in the protobuf JSON mapping.

One request per line (the OpenTelemetry Collector's file exporter) or one
document.  Field names in camelCase or the proto's snake_case are accepted;
IDs are kept as written (hex, or base64 as some writers emit) and normalised
by the store.  A regular request goes to a sink that offers ``add_request``
whole, for DuckDB to unnest; anything else goes span by span as rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from tracehound.doctor.sources._rows import Document, service_of, why_not_a_span
from tracehound.doctor.sources._salvage import TRUNCATED

__all__ = ["looks_like", "read", "request_rows"]

_SNAKE = {
    "trace_id": "traceId",
    "span_id": "spanId",
    "parent_span_id": "parentSpanId",
    "trace_state": "traceState",
    "start_time_unix_nano": "startTimeUnixNano",
    "end_time_unix_nano": "endTimeUnixNano",
}


_DICT = {dict}


def looks_like(value: Any) -> bool:
    """Whether a parsed JSON value is an OTLP trace export."""
    return isinstance(value, dict) and ("resourceSpans" in value or "resource_spans" in value)


def read(doc: Document) -> int:
    """Emit every span of the request in ``doc``; returns how many spans it held."""
    value = doc.value
    if not isinstance(value, dict):
        doc.errors.append((doc.where("$"), "expected an OTLP ExportTraceServiceRequest object"))
        return 0
    sink = doc.sink
    if hasattr(sink, "add_request"):
        seen = _read_whole(doc, value)
        if seen is not None:
            return seen
    resource_spans = _list(value, "resourceSpans", "resource_spans")
    line = f"{doc.line}:" if doc.line is not None else ""
    seen = 0
    scopes: list[list[int]] = []
    for ri, rs in enumerate(resource_spans):
        scopes.append([])
        if not isinstance(rs, dict):
            doc.errors.append((f"{line}resourceSpans[{ri}]", "not an object; skipped"))
            continue
        resource = rs.get("resource")
        attributes = resource.get("attributes") if isinstance(resource, dict) else None
        service = service_of(attributes)
        for si, ss in enumerate(_scope_spans(rs)):
            scopes[ri].append(-1)
            if not isinstance(ss, dict):
                doc.errors.append((f"{line}resourceSpans[{ri}].scopeSpans[{si}]", "not an object"))
                continue
            scope = ss.get("scope") or ss.get("instrumentationLibrary")
            if not isinstance(scope, dict):
                scope = {}
            scopes[ri][si] = sink.scope(
                service, attributes, scope.get("name"), scope.get("version")
            )
            spans = ss.get("spans")
            if isinstance(spans, list):
                seen += len(spans)
    sink.rows.extend(request_rows(value, doc.line, doc.source, scopes, sink.reject))
    return seen


def _read_whole(doc: Document, value: dict[str, Any]) -> int | None:
    """Hand the request to the store whole when it is regular; ``None`` when it is not.

    Regular: camelCase names, and every resource, scope and span entry an
    object (not cut off).  DuckDB then unnests it, far cheaper than rows.
    """
    resource_spans = value.get("resourceSpans")
    if type(resource_spans) is not list:
        return None
    raw = doc.raw if doc.raw is not None else orjson.dumps(value)
    if b'"[' in raw or b"\\u005" in raw or b'"trace_id"' in raw or b"\\u0000truncated" in raw:
        # a string starting with "[" (the store tells arrays by their first byte), a
        # snake_case span, or a span cut off: row by row
        return None
    sink = doc.sink
    scopes: list[list[int]] = []
    seen = 0
    for rs in resource_spans:
        if type(rs) is not dict:
            return None
        scope_spans = rs.get("scopeSpans")
        if type(scope_spans) is not list or not scope_spans:
            return None
        resource = rs.get("resource")
        attributes = resource.get("attributes") if isinstance(resource, dict) else None
        service = service_of(attributes)
        ids = []
        for ss in scope_spans:
            if type(ss) is not dict:
                return None
            spans = ss.get("spans")
            if spans is not None:
                if type(spans) is not list:
                    return None
                if spans and set(map(type, spans)) != _DICT:
                    return None
                seen += len(spans)
            scope = ss.get("scope") or ss.get("instrumentationLibrary")
            if not isinstance(scope, dict):
                scope = {}
            ids.append(sink.scope(service, attributes, scope.get("name"), scope.get("version")))
        scopes.append(ids)
    sink.add_request(doc.line, scopes, raw, seen)
    return seen


def request_rows(
    value: dict[str, Any],
    line_number: int | None,
    source: int,
    scopes: list[list[int]],
    reject: Callable[[str, str], None] | None = None,
) -> list[bytes]:
    """The serialised rows of a request's spans; ``scopes[ri][si]`` < 0 skips a scope entry."""
    rows: list[bytes] = []
    append = rows.append
    dumps = orjson.dumps
    line = f"{line_number}:" if line_number is not None else ""
    for ri, rs in enumerate(_list(value, "resourceSpans", "resource_spans")):
        if not isinstance(rs, dict):
            continue
        for si, ss in enumerate(_scope_spans(rs)):
            scope_id = scopes[ri][si]
            spans = ss.get("spans") if scope_id >= 0 else None
            if not isinstance(spans, list):
                continue
            prefix = f"{line}resourceSpans[{ri}].scopeSpans[{si}].spans["
            for k, span in enumerate(spans):
                if type(span) is not dict or TRUNCATED in span:
                    if reject is not None:
                        reject(why_not_a_span(span), f"{prefix}{k}]")
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
    return rows


def _scope_spans(rs: dict[str, Any]) -> list[Any]:
    return _list(rs, "scopeSpans", "scope_spans") or _list(
        rs, "instrumentationLibrarySpans", "instrumentation_library_spans"
    )


def _list(obj: dict[str, Any], camel: str, snake: str) -> list[Any]:
    found = obj.get(camel)
    if found is None:
        found = obj.get(snake)
    return found if isinstance(found, list) else []
