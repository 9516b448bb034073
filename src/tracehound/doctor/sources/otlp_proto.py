"""OTLP protobuf: ``ExportTraceServiceRequest`` (or ``TracesData``), via ``opentelemetry-proto``.

A file holds one message (an OTLP/HTTP request body, or Tempo's trace-by-ID
answer with ``Accept: application/protobuf``, which has the same wire form) or
a stream of messages each prefixed by its 4-byte big-endian length, as the
Collector's file exporter writes with ``format: proto``.  Spans are converted
to the same row as OTLP/JSON, attributes to the OTLP/JSON encoding.

A message that does not decode (cut off, or corrupt part-way) is taken apart
along the wire format: every resource, scope and span that decodes is kept,
each span that does not is rejected, and the place is named; a stream cut in
a frame keeps the frames before it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import orjson

from tracehound.doctor.sources._proto_salvage import salvage_request
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
    """Emit every span of ``data``; returns how many spans it held (read or rejected).

    Raises `ProtoError` when ``data`` is neither one message nor a framed stream.
    """
    seen = 0
    for index, message, lost in _messages(data, errors):
        doc = Document(None, source, None, sink, errors)
        seen += _emit(message, index, doc)
        where = f"message[{index}]." if index is not None else ""
        for offset, reason in lost:
            sink.reject(reason, where + offset)
        seen += len(lost)
    return seen


def _messages(
    data: bytes, errors: list[tuple[str, str]]
) -> Iterator[tuple[int | None, Any, list[tuple[str, str]]]]:
    """``(index, message, lost spans)`` for each message: a framed stream's, or the one."""
    request = _request_type()
    frames, cut = _framed(data)
    if frames:
        for index, (start, end) in enumerate(frames):
            try:
                yield index, request.FromString(data[start:end]), []
            except Exception:
                message, lost, where = salvage_request(data[start:end], request)
                problem = f"message {index} is corrupt; kept what decodes"
                errors.append((f"byte {start + where}", problem))
                yield index, message, lost
        if cut is not None:
            errors.append((f"byte {cut}", f"the stream is cut off in message {len(frames)}"))
        return
    if data[:1] == b"\0" and data[4:5] == b"\x0a":
        # a framed stream cut off in its first frame (a message never starts with a 0 byte)
        message, lost, _ = salvage_request(data[4:], request)
        errors.append(("byte 0", "the stream is cut off in message 0; kept what decodes"))
        yield 0, message, lost
        return
    try:
        message = request.FromString(data)
        lost: list[tuple[str, str]] = []
    except Exception:
        message, lost, where = salvage_request(data, request)
        if not _plausible(message) and not lost:
            raise ProtoError(
                "not an OTLP protobuf ExportTraceServiceRequest (it does not decode)"
            ) from None
        problem = "the message is cut off or corrupt there; kept what decodes"
        errors.append((f"byte {where}", problem))
        yield None, message, lost
        return
    if not _plausible(message):
        raise ProtoError("not an OTLP protobuf ExportTraceServiceRequest (no spans with IDs)")
    yield None, message, lost


def _framed(data: bytes) -> tuple[list[tuple[int, int]], int | None]:
    """Message boundaries when ``data`` is a 4-byte length-prefixed stream (else none),
    and the byte where the stream is cut off inside a frame, if it is."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            return (spans, pos) if spans else ([], None)
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size == 0:
            return [], None
        if pos + 4 + size > len(data):
            # cut off in a frame; a single message reads as an absurd first length
            return (spans, pos) if spans else ([], None)
        spans.append((pos + 4, pos + 4 + size))
        pos += 4 + size
    return spans, None


def _plausible(message: Any) -> bool:
    for rs in message.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                return len(span.trace_id) in (8, 16) or len(span.span_id) == 8
    return False


def _emit(message: Any, index: int | None, doc: Document) -> int:
    # the hot loop of `tracehound serve` and of protobuf files: locals, and the
    # common cases (no events, no links, string attributes) without a call
    sink = doc.sink
    append = sink.rows.append
    dumps = orjson.dumps
    key_values = _key_values
    source = doc.source
    where = f"message[{index}]." if index is not None else ""
    seen = 0
    for ri, rs in enumerate(message.resource_spans):
        resource = key_values(rs.resource.attributes)
        service = service_of(resource)
        for si, ss in enumerate(rs.scope_spans):
            scope_id = sink.scope(
                service, resource, ss.scope.name or None, ss.scope.version or None
            )
            prefix = f"{where}resourceSpans[{ri}].scopeSpans[{si}].spans["
            spans = ss.spans
            seen += len(spans)
            for k, span in enumerate(spans):
                # an absent status and an empty one read the same (UNSET, no message)
                code = span.status
                status = (
                    {"code": code.code, "message": code.message}
                    if code.code or code.message
                    else None
                )
                events = span.events
                links = span.links
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
                            key_values(span.attributes),
                            _events(events) if events else None,
                            _links(links) if links else None,
                            status,
                            f"{prefix}{k}]",
                            scope_id,
                            None,
                            source,
                        )
                    )
                )
    return seen


def _events(events: Any) -> list[dict[str, Any]]:
    return [
        {
            "timeUnixNano": e.time_unix_nano,
            "name": e.name,
            "attributes": _key_values(e.attributes),
        }
        for e in events
    ]


def _links(links: Any) -> list[dict[str, Any]]:
    return [
        {
            "traceId": link.trace_id.hex(),
            "spanId": link.span_id.hex(),
            "traceState": link.trace_state or None,
            "attributes": _key_values(link.attributes),
        }
        for link in links
    ]


def _key_values(attributes: Any) -> list[dict[str, Any]]:
    out = []
    for kv in attributes:
        value = kv.value
        text = value.string_value  # most values: one look-up, not two
        if text or value.WhichOneof("value") == "string_value":
            out.append({"key": kv.key, "value": {"stringValue": text}})
        else:
            out.append({"key": kv.key, "value": _any_value(value)})
    return out


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
