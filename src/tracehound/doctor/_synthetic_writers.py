"""Write `tracehound.doctor.synthetic` spans the way real tools export them."""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson

from tracehound.doctor.sources._rows import key_values
from tracehound.doctor.synthetic import Span

__all__ = ["to_jaeger", "to_otlp_json_lines", "to_otlp_proto", "to_zipkin"]

_KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}


def _kvs(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return key_values(attributes.items())


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def _otlp_span(span: Span, b64: bool) -> dict[str, Any]:
    enc = _b64 if b64 else str
    out: dict[str, Any] = {
        "traceId": enc(span.trace_id),
        "spanId": enc(span.span_id),
        "name": span.name,
        "kind": _KIND[span.kind],
        "startTimeUnixNano": str(span.start_ns),
        "attributes": _kvs(span.attributes),
        "status": {},
    }
    if span.parent_id:
        out["parentSpanId"] = enc(span.parent_id)
    if span.end_ns is not None:
        out["endTimeUnixNano"] = str(span.end_ns)
    return out


def _resource(service: str) -> dict[str, Any]:
    return {"attributes": _kvs({"service.name": service, "telemetry.sdk.language": "python"})}


def to_otlp_json_lines(
    spans: Iterable[Span], *, per_line: int = 500, base64_ids: bool = False
) -> Iterable[bytes]:
    """One ``ExportTraceServiceRequest`` per line, as the Collector's file exporter writes."""
    batch: list[Span] = []
    for span in spans:
        batch.append(span)
        if len(batch) >= per_line:
            yield _otlp_line(batch, base64_ids)
            batch = []
    if batch:
        yield _otlp_line(batch, base64_ids)


def _otlp_line(batch: list[Span], b64: bool) -> bytes:
    by_service: dict[str, list[Span]] = defaultdict(list)
    for span in batch:
        by_service[span.service].append(span)
    request = {
        "resourceSpans": [
            {
                "resource": _resource(service),
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry.instrumentation.synthetic"},
                        "spans": [_otlp_span(s, b64) for s in items],
                    }
                ],
            }
            for service, items in by_service.items()
        ]
    }
    return orjson.dumps(request) + b"\n"


def to_otlp_proto(spans: Iterable[Span]) -> bytes:
    """One protobuf ``ExportTraceServiceRequest`` (an OTLP/HTTP request body)."""
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    lines = to_otlp_json_lines(spans, per_line=10**9, base64_ids=True)  # the proto JSON mapping
    document = orjson.loads(b"".join(lines))
    return ParseDict(document, ExportTraceServiceRequest()).SerializeToString()


def _jaeger_tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return {"key": key, "type": "string", "value": text}


def to_jaeger(spans: Iterable[Span]) -> bytes:
    """The Jaeger query API / UI download: ``{"data": [trace, ...]}``, microsecond times."""
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    data = []
    for trace_id, items in traces.items():
        processes: dict[str, str] = {}
        out = []
        for span in items:
            pid = processes.setdefault(span.service, f"p{len(processes) + 1}")
            tags = [_jaeger_tag(k, v) for k, v in span.attributes.items()]
            tags.append({"key": "span.kind", "type": "string", "value": span.kind.lower()})
            end = span.end_ns if span.end_ns is not None else span.start_ns
            out.append(
                {
                    "traceID": trace_id,
                    "spanID": span.span_id,
                    "operationName": span.name,
                    "references": [
                        {"refType": "CHILD_OF", "traceID": trace_id, "spanID": span.parent_id}
                    ]
                    if span.parent_id
                    else [],
                    "startTime": span.start_ns // 1000,
                    "duration": (end - span.start_ns) // 1000,
                    "tags": tags,
                    "logs": [],
                    "processID": pid,
                    "warnings": None,
                }
            )
        data.append(
            {
                "traceID": trace_id,
                "spans": out,
                "processes": {p: {"serviceName": s, "tags": []} for s, p in processes.items()},
                "warnings": None,
            }
        )
    return orjson.dumps({"data": data, "total": 0, "limit": 0, "offset": 0, "errors": None})


def to_zipkin(spans: Iterable[Span], *, shared: bool = True) -> bytes:
    """A Zipkin v2 span array; with ``shared``, in-trace RPCs share one span ID (B3 style)."""
    items = list(spans)
    rename: dict[tuple[str, str], str] = {}
    parent_of: dict[tuple[str, str], str | None] = {}
    if shared:
        by_id = {(s.trace_id, s.span_id): s for s in items}
        for s in items:
            parent = by_id.get((s.trace_id, s.parent_id or ""))
            if s.kind == "SERVER" and parent is not None and parent.kind == "CLIENT":
                rename[(s.trace_id, s.span_id)] = parent.span_id
                parent_of[(s.trace_id, s.span_id)] = parent.parent_id
    out = []
    for s in items:
        key = (s.trace_id, s.span_id)
        parent = parent_of.get(key, s.parent_id)
        if parent and (s.trace_id, parent) in rename:
            parent = rename[(s.trace_id, parent)]
        span: dict[str, Any] = {
            "traceId": s.trace_id,
            "id": rename.get(key, s.span_id),
            "name": s.name,
            "timestamp": s.start_ns // 1000,
            "localEndpoint": {"serviceName": s.service},
            "tags": {
                k: str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in s.attributes.items()
            },
        }
        if s.kind != "INTERNAL":
            span["kind"] = s.kind
        if parent:
            span["parentId"] = parent
        if s.end_ns is not None:
            span["duration"] = max(s.end_ns - s.start_ns, 0) // 1000
        if key in rename:
            span["shared"] = True
        out.append(span)
    return orjson.dumps(out)
