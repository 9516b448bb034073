"""OTLP/JSON: ``ExportTraceServiceRequest`` in the protobuf JSON mapping.

One request per line (the OpenTelemetry Collector's file exporter) or one
document.  Field names in camelCase or the proto's snake_case (as Tempo and
Grafana wrote them: ``scope_spans``, ``trace_id``, ``string_value``) are
accepted; IDs are kept as written (hex, or base64 as some writers emit) and
normalised by the store.  A regular request goes to a sink that offers
``add_request`` whole, for DuckDB to unnest; anything else goes span by span
as rows.  A container of the wrong type (``"spans": {}``) is named and skipped.
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

_CAMEL = {
    snake: "".join(w if i == 0 else w.title() for i, w in enumerate(snake.split("_")))
    for snake in (
        "resource_spans scope_spans instrumentation_library_spans instrumentation_library "
        "trace_id span_id parent_span_id trace_state start_time_unix_nano end_time_unix_nano "
        "time_unix_nano string_value bool_value int_value double_value array_value "
        "kvlist_value bytes_value dropped_attributes_count dropped_events_count "
        "dropped_links_count schema_url"
    ).split()
}
"""The proto's snake_case field names, by their camelCase JSON names' spelling."""

_MAX_DEPTH = 64


def looks_like(value: Any) -> bool:
    """Whether a parsed JSON value is an OTLP trace export."""
    return isinstance(value, dict) and ("resourceSpans" in value or "resource_spans" in value)


def read(doc: Document) -> int:
    """Emit every span of the request in ``doc``; returns how many spans it held."""
    value = doc.value
    if not isinstance(value, dict):
        doc.errors.append((doc.where("$"), "expected an OTLP ExportTraceServiceRequest object"))
        return 0
    if _snake_case(value):
        value = _camel(value, 0)
        doc.raw = None
    sink = doc.sink
    if hasattr(sink, "add_request"):
        seen = _read_whole(doc, value)
        if seen is not None:
            return seen
    line = f"{doc.line}:" if doc.line is not None else ""
    resource_spans = _list(value, "resourceSpans", "resource_spans")
    if _wrong_type(value, "resourceSpans", "resource_spans"):
        doc.errors.append((f"{line}resourceSpans", "not a list; no spans read from it"))
    seen = 0
    scopes: list[list[int]] = []
    for ri, rs in enumerate(resource_spans):
        scopes.append([])
        where = f"{line}resourceSpans[{ri}]"
        if not isinstance(rs, dict):
            doc.errors.append((where, "not an object; skipped"))
            continue
        resource = rs.get("resource")
        attributes = resource.get("attributes") if isinstance(resource, dict) else None
        service = service_of(attributes)
        scope_spans = _scope_spans(rs)
        if _wrong_type(rs, "scopeSpans", "scope_spans") or _wrong_type(
            rs, "instrumentationLibrarySpans", "instrumentation_library_spans"
        ):
            doc.errors.append((f"{where}.scopeSpans", "not a list; no spans read from it"))
        for si, ss in enumerate(scope_spans):
            scopes[ri].append(-1)
            if not isinstance(ss, dict):
                doc.errors.append((f"{where}.scopeSpans[{si}]", "not an object; skipped"))
                continue
            scope = ss.get("scope") or ss.get("instrumentationLibrary")
            if not isinstance(scope, dict):
                scope = {}
            scopes[ri][si] = sink.scope(
                service, attributes, _text(scope.get("name")), _text(scope.get("version"))
            )
            spans = ss.get("spans")
            if isinstance(spans, list):
                seen += len(spans)
            elif spans is not None:
                doc.errors.append(
                    (f"{where}.scopeSpans[{si}].spans", "not a list; no spans read from it")
                )
    sink.rows.extend(request_rows(value, doc.line, doc.source, scopes, sink.reject))
    return seen


def _snake_case(value: dict[str, Any]) -> bool:
    """Whether a request uses the proto's snake_case names (looked for at the first
    resource, scope, span and attribute: writers use one spelling throughout)."""
    if "resource_spans" in value:
        return True
    rs = _first(value.get("resourceSpans"))
    resource = rs.get("resource") if isinstance(rs, dict) else None
    if isinstance(resource, dict) and _snake_value(_first(resource.get("attributes"))):
        return True
    if not isinstance(rs, dict):
        return False
    if "scope_spans" in rs or "instrumentation_library_spans" in rs:
        return True
    span = _first(_first(rs.get("scopeSpans"), {}).get("spans"))
    if not isinstance(span, dict):
        return False
    return "trace_id" in span or _snake_value(_first(span.get("attributes")))


def _snake_value(attribute: Any) -> bool:
    value = attribute.get("value") if isinstance(attribute, dict) else None
    return isinstance(value, dict) and any(key.endswith("_value") for key in value)


def _first(items: Any, default: Any = None) -> Any:
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return default


def _camel(value: Any, depth: int) -> Any:
    """``value`` with the proto's snake_case field names in their camelCase spelling."""
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {_CAMEL.get(k, k): _camel(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v, depth + 1) for v in value]
    return value


def _text(value: Any) -> str | None:
    """A scope's name or version as text (whatever JSON the writer put there)."""
    if value is None or isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return "(nested too deeply)"


def _read_whole(doc: Document, value: dict[str, Any]) -> int | None:
    """Hand the request to the store whole when it is regular; ``None`` when it is not.

    Regular: camelCase names, and every resource, scope and span entry an
    object (not cut off).  DuckDB then unnests it, far cheaper than rows.
    """
    resource_spans = value.get("resourceSpans")
    if type(resource_spans) is not list:
        return None
    try:
        raw = doc.raw if doc.raw is not None else orjson.dumps(value)
    except TypeError:  # nested deeper than orjson writes: row by row, each span judged
        return None
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
            name, version = _text(scope.get("name")), _text(scope.get("version"))
            ids.append(sink.scope(service, attributes, name, version))
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
                try:
                    row = dumps(
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
                except TypeError as exc:  # nested deeper than orjson writes
                    if reject is not None:
                        reject(f"span cannot be read ({exc})", f"{prefix}{k}]")
                    continue
                append(row)
    return rows


def _wrong_type(obj: dict[str, Any], camel: str, snake: str) -> bool:
    """Whether ``obj`` has the list ``camel`` (or ``snake``) as something else than a list."""
    found = obj.get(camel)
    if found is None:
        found = obj.get(snake)
    return found is not None and not isinstance(found, list)


def _scope_spans(rs: dict[str, Any]) -> list[Any]:
    return _list(rs, "scopeSpans", "scope_spans") or _list(
        rs, "instrumentationLibrarySpans", "instrumentation_library_spans"
    )


def _list(obj: dict[str, Any], camel: str, snake: str) -> list[Any]:
    found = obj.get(camel)
    if found is None:
        found = obj.get(snake)
    return found if isinstance(found, list) else []
