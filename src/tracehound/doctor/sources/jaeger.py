"""Jaeger JSON: the UI's download and the query API (``data[].spans[]``), or a span array.

Times are microseconds.  The parent is the first ``CHILD_OF`` reference in the
span's own trace (else the first ``FOLLOWS_FROM``, else ``parentSpanID``); the
other references, and a ``FOLLOWS_FROM`` parent, become links, as the
OpenTelemetry Jaeger translator does.
``span.kind``, ``otel.status_code`` and ``otel.library.name``/``otel.scope.name``
tags become the span's kind, status and scope.
"""

from __future__ import annotations

from typing import Any

import orjson

from tracehound.doctor.sources._rows import (
    KIND_BY_NAME,
    Document,
    end_of,
    key_values,
    micros_to_nanos,
    why_not_a_span,
)
from tracehound.doctor.sources._salvage import TRUNCATED

__all__ = ["looks_like", "read"]

_STRUCTURAL = frozenset(
    {
        "otel.status_code",
        "otel.status_description",
        "otel.library.name",
        "otel.library.version",
        "otel.scope.name",
        "otel.scope.version",
    }
)


def looks_like(value: Any) -> bool:
    """Whether a parsed JSON value is a Jaeger export (query API, UI download or span array)."""
    if isinstance(value, dict):
        data = value.get("data")
        if isinstance(data, list):
            return not data or (isinstance(data[0], dict) and "spans" in data[0])
        return "spans" in value and ("traceID" in value or "processes" in value)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "spanID" in value[0] or "operationName" in value[0]
    return False


def read(doc: Document) -> int:
    """Emit every span of a Jaeger document; returns how many spans it held."""
    value = doc.value
    if isinstance(value, list):
        return _read_spans(doc, value, {}, "")
    if not isinstance(value, dict):
        doc.errors.append((doc.where("$"), "expected a Jaeger JSON object or span array"))
        return 0
    traces = value.get("data")
    if not isinstance(traces, list):
        return _read_trace(doc, value, "")
    seen = 0
    for ti, trace in enumerate(traces):
        if isinstance(trace, dict):
            seen += _read_trace(doc, trace, f"data[{ti}].")
        else:
            doc.errors.append((doc.where(f"data[{ti}]"), "not a trace object; skipped"))
    return seen


def _read_trace(doc: Document, trace: dict[str, Any], prefix: str) -> int:
    processes = trace.get("processes")
    spans = trace.get("spans")
    if not isinstance(spans, list):
        doc.errors.append((doc.where(f"{prefix}spans"), "missing span list; trace skipped"))
        return 0
    return _read_spans(doc, spans, processes if isinstance(processes, dict) else {}, prefix)


def _read_spans(doc: Document, spans: list[Any], processes: dict[str, Any], prefix: str) -> int:
    sink = doc.sink
    scopes: dict[tuple[str, str, str], int] = {}
    append = sink.rows.append
    dumps = orjson.dumps
    for k, span in enumerate(spans):
        offset = doc.where(f"{prefix}spans[{k}]" if prefix else f"[{k}]")
        if not isinstance(span, dict) or TRUNCATED in span:
            sink.reject(why_not_a_span(span), offset)
            continue
        try:
            append(dumps(_row(doc, span, processes, scopes, offset)))
        except (TypeError, ValueError, RecursionError) as exc:  # nested too deeply
            sink.reject(f"span cannot be read ({exc})", offset)
    return len(spans)


def _row(
    doc: Document,
    span: dict[str, Any],
    processes: dict[str, Any],
    scopes: dict[tuple[str, str, str], int],
    offset: str,
) -> tuple[Any, ...]:
    """One span as a row (see ``_rows.py``)."""
    sink = doc.sink
    process = span.get("process")
    if not isinstance(process, dict):
        process_id = span.get("processID")
        process = processes.get(process_id) if isinstance(process_id, str) else None
    if not isinstance(process, dict):
        process = {}
    tags = _tags(span.get("tags"))
    kind_name = tags.pop("span.kind", None)
    kind = KIND_BY_NAME.get(str(kind_name).upper()) if kind_name is not None else None
    if kind_name is not None and kind is None:
        tags["span.kind"] = kind_name  # not a kind: kept for the attribute policy, and
        kind = str(kind_name)  # named by the store as an invalid kind
    scope_name = tags.get("otel.scope.name", tags.get("otel.library.name"))
    scope_version = tags.get("otel.scope.version", tags.get("otel.library.version"))
    service = str(process.get("serviceName") or "unknown_service")
    key = (str(span.get("processID") or ""), service, str(scope_name or ""))
    scope_id = scopes.get(key)
    if scope_id is None:
        resource = key_values([("service.name", service), *_tags(process.get("tags")).items()])
        scope_id = sink.scope(
            service,
            resource,
            None if scope_name is None else str(scope_name),
            None if scope_version is None else str(scope_version),
        )
        scopes[key] = scope_id
    trace_id = span.get("traceID")
    parent, links = _parent_and_links(span, trace_id)
    start = micros_to_nanos(span.get("startTime"))
    return (
        trace_id,
        span.get("spanID"),
        parent,
        None,
        span.get("operationName"),
        kind,
        start,
        end_of(start, micros_to_nanos(span.get("duration"))),
        key_values((k2, v) for k2, v in tags.items() if k2 not in _STRUCTURAL),
        _events(span.get("logs")),
        links,
        _status(tags),
        offset,
        scope_id,
        None,
        doc.source,
    )


def _tags(tags: Any) -> dict[str, Any]:
    """Jaeger ``[{key, type, value}]`` as a dict of typed Python values."""
    out: dict[str, Any] = {}
    if not isinstance(tags, list):
        return out
    for tag in tags:
        if isinstance(tag, dict) and isinstance(tag.get("key"), str):
            out[tag["key"]] = _typed(tag.get("type"), tag.get("value"))
    return out


def _typed(kind: Any, value: Any) -> Any:
    kind = str(kind or "").lower()
    if kind == "bool" and isinstance(value, str):
        return {"true": True, "false": False}.get(value.lower(), value)
    if kind == "int64" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "float64" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _parent_and_links(span: dict[str, Any], trace_id: Any) -> tuple[Any, list[Any] | None]:
    refs = span.get("references")
    refs = [r for r in refs if isinstance(r, dict)] if isinstance(refs, list) else []
    parent_ref = next(
        (
            r
            for kind in ("CHILD_OF", "FOLLOWS_FROM")
            for r in refs
            if str(r.get("refType", "")).upper() == kind and r.get("traceID") == trace_id
        ),
        None,
    )
    parent = parent_ref.get("spanID") if parent_ref else span.get("parentSpanID")
    links = [
        {
            "traceId": r.get("traceID"),
            "spanId": r.get("spanID"),
            "attributes": key_values([("opentracing.ref_type", str(r.get("refType", "")).lower())]),
        }
        for r in refs
        # a FOLLOWS_FROM parent stays a link too, as in OpenTelemetry's translator: the
        # child says it outlives its parent by design
        if r is not parent_ref or str(r.get("refType", "")).upper() == "FOLLOWS_FROM"
    ]
    return parent, links or None


def _events(logs: Any) -> list[dict[str, Any]] | None:
    if not isinstance(logs, list) or not logs:
        return None
    events = []
    for log in logs:
        if not isinstance(log, dict):
            continue
        fields = _tags(log.get("fields"))
        name = fields.pop("event", None) or fields.pop("message", None) or "log"
        events.append(
            {
                "timeUnixNano": micros_to_nanos(log.get("timestamp")),
                "name": str(name),
                "attributes": key_values(fields.items()),
            }
        )
    return events


def _status(tags: dict[str, Any]) -> dict[str, Any] | None:
    code = str(tags.get("otel.status_code", "")).upper()
    message = tags.get("otel.status_description")
    if code in ("ERROR", "OK"):
        return {"code": 2 if code == "ERROR" else 1, "message": message}
    if tags.get("error") is True:
        return {"code": 2, "message": message}
    return None
