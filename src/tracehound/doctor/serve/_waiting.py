"""A request waiting for its traces to go quiet: kept as its body, with its traces' IDs.

A body is about 150 bytes a span; the rows the readers make of it, about 4 KB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tracehound.doctor.serve._journal import PROTOBUF

__all__ = ["Held", "trace_ids"]


@dataclass
class Held:
    """A request waiting for its traces to go quiet: its body (compact), and its traces."""

    number: int
    kind: bytes
    body: bytes
    traces: frozenset[Any]
    spans: int


def trace_ids(kind: bytes, body: bytes) -> tuple[frozenset[Any], int]:
    """The trace IDs a request holds, as written (bytes, or JSON strings), and its spans."""
    spans = 0
    found: set[Any] = set()
    if kind == PROTOBUF:
        try:
            message = _request_type().FromString(body)
        except Exception:
            return frozenset({b""}), 1  # the reader names what is wrong with it
        for rs in message.resource_spans:
            for ss in rs.scope_spans:
                spans += len(ss.spans)
                found.update(span.trace_id for span in ss.spans)
        return frozenset(found), spans
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return frozenset({""}), 1
    for rs in _items(value, "resourceSpans", "resource_spans"):
        for ss in _items(rs, "scopeSpans", "scope_spans"):
            for span in _items(ss, "spans", "spans"):
                spans += 1
                trace = span.get("traceId", span.get("trace_id")) if type(span) is dict else None
                found.add(trace if isinstance(trace, str) else "")
    return frozenset(found), spans


def _items(value: Any, camel: str, snake: str) -> list[Any]:
    if not isinstance(value, dict):
        return []
    found = value.get(camel, value.get(snake))
    return found if isinstance(found, list) else []


def _request_type() -> Any:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    return ExportTraceServiceRequest
