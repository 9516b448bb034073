"""OTLP protobuf: ``ExportTraceServiceRequest`` (or ``TracesData``), via ``opentelemetry-proto``.

A file holds one message (an OTLP/HTTP request body) or a stream of messages
each prefixed by its 4-byte big-endian length, as the Collector's file
exporter writes with ``format: proto``.  Spans are converted to the same row
as OTLP/JSON, attributes to the OTLP/JSON encoding.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import orjson

from tracehound.doctor.sources._rows import Document, RowSink, service_of

__all__ = ["ProtoError", "read_bytes"]


class ProtoError(ValueError):
    """Bytes that are not an OTLP trace export; the message says where parsing stopped."""


def _request_type() -> Any:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    return ExportTraceServiceRequest


def read_bytes(data: bytes, source: int, sink: RowSink, errors: list[tuple[str, str]]) -> int:
    """Emit every span of ``data``; returns how many spans it held.

    Raises `ProtoError` when ``data`` is neither one message nor a framed stream.
    """
    seen = 0
    for index, message in _messages(data):
        doc = Document(None, source, None, sink, errors)
        seen += _emit(message, index, doc)
    return seen


def _messages(data: bytes) -> Iterator[tuple[int | None, Any]]:
    request = _request_type()
    framed = _framed(data)
    if framed is not None:
        for index, (start, end) in enumerate(framed):
            try:
                yield index, request.FromString(data[start:end])
            except Exception as exc:
                raise ProtoError(f"byte {start}: message {index} does not decode ({exc})") from None
        return
    try:
        message = request.FromString(data)
    except Exception as exc:
        raise ProtoError(f"not an OTLP protobuf ExportTraceServiceRequest ({exc})") from None
    if not _plausible(message):
        raise ProtoError("not an OTLP protobuf ExportTraceServiceRequest (no spans with IDs)")
    yield None, message


def _framed(data: bytes) -> list[tuple[int, int]] | None:
    """Message boundaries when ``data`` is a 4-byte length-prefixed stream, else ``None``."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            return None
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size == 0 or pos + 4 + size > len(data):
            return None
        spans.append((pos + 4, pos + 4 + size))
        pos += 4 + size
    return spans or None


def _plausible(message: Any) -> bool:
    for rs in message.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                return len(span.trace_id) in (8, 16) or len(span.span_id) == 8
    return False


def _emit(message: Any, index: int | None, doc: Document) -> int:
    sink = doc.sink
    append = sink.rows.append
    dumps = orjson.dumps
    where = f"message[{index}]." if index is not None else ""
    seen = 0
    for ri, rs in enumerate(message.resource_spans):
        resource = _key_values(rs.resource.attributes)
        service = service_of(resource)
        for si, ss in enumerate(rs.scope_spans):
            scope_id = sink.scope(
                service, resource, ss.scope.name or None, ss.scope.version or None
            )
            prefix = f"{where}resourceSpans[{ri}].scopeSpans[{si}].spans["
            seen += len(ss.spans)
            for k, span in enumerate(ss.spans):
                status = None
                if span.HasField("status"):
                    status = {"code": span.status.code, "message": span.status.message}
                append(
                    dumps(
                        (
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            span.trace_state or None,
                            span.name,
                            span.kind,
                            span.start_time_unix_nano,
                            span.end_time_unix_nano,
                            _key_values(span.attributes),
                            [
                                {
                                    "timeUnixNano": e.time_unix_nano,
                                    "name": e.name,
                                    "attributes": _key_values(e.attributes),
                                }
                                for e in span.events
                            ]
                            or None,
                            [
                                {
                                    "traceId": link.trace_id.hex(),
                                    "spanId": link.span_id.hex(),
                                    "traceState": link.trace_state or None,
                                    "attributes": _key_values(link.attributes),
                                }
                                for link in span.links
                            ]
                            or None,
                            status,
                            f"{prefix}{k}]",
                            scope_id,
                            None,
                            doc.source,
                        )
                    )
                )
    return seen


def _key_values(attributes: Any) -> list[dict[str, Any]]:
    return [{"key": kv.key, "value": _any_value(kv.value)} for kv in attributes]


def _any_value(value: Any) -> dict[str, Any]:
    which = value.WhichOneof("value")
    if which is None:
        return {}
    if which == "string_value":
        return {"stringValue": value.string_value}
    if which == "int_value":
        return {"intValue": str(value.int_value)}
    if which == "bool_value":
        return {"boolValue": value.bool_value}
    if which == "double_value":
        return {"doubleValue": value.double_value}
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode()}
    if which == "array_value":
        return {"arrayValue": {"values": [_any_value(v) for v in value.array_value.values]}}
    if which == "kvlist_value":
        return {"kvlistValue": {"values": _key_values(value.kvlist_value.values)}}
    return {}
