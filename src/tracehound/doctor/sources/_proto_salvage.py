"""Keep what decodes of an OTLP protobuf message that is cut off or corrupt part-way.

The message is taken apart along the protobuf wire format, one level at a
time: each ``resource_spans`` entry that decodes is kept whole; one that does
not is taken apart into its resource and ``scope_spans``, and those into
their spans, each decoded on its own.  A span that does not decode is lost,
and named; the walk stops at the first field that is cut off or malformed.
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

__all__ = ["salvage_request"]

_LEN = 2


class _Field(NamedTuple):
    number: int
    payload: bytes
    start: int
    cut: bool = False
    """The input ends inside the payload: what decodes of it must not pass for whole."""


def salvage_request(data: bytes, request_type: Any) -> tuple[Any, list[tuple[str, str]], int]:
    """The message of what decodes in ``data``, the spans lost as ``(offset, reason)``, and
    the byte where the first problem was found."""
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans

    message = request_type()
    lost: list[tuple[str, str]] = []
    fields, problem = _fields(data)
    first_problem = problem if problem is not None else len(data)
    entries = [f for f in fields if f.number == 1]
    for ri, entry in enumerate(entries):
        try:
            if entry.cut:
                raise ValueError("cut off")
            rs = ResourceSpans.FromString(entry.payload)
        except Exception:
            first_problem = min(first_problem, entry.start)
            rs = _resource_spans(entry.payload, f"resourceSpans[{ri}]", lost)
        message.resource_spans.add().CopyFrom(rs)
    return message, lost, first_problem


def _resource_spans(data: bytes, where: str, lost: list[tuple[str, str]]) -> Any:
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

    rs = ResourceSpans()
    fields, _ = _fields(data)
    si = 0
    for field in fields:
        if field.number == 1:
            # spans without their resource's attributes are still spans
            with contextlib.suppress(Exception):
                rs.resource.CopyFrom(Resource.FromString(field.payload))
        elif field.number == 2:
            try:
                if field.cut:
                    raise ValueError("cut off")
                ss = ScopeSpans.FromString(field.payload)
            except Exception:
                ss = _scope_spans(field.payload, f"{where}.scopeSpans[{si}]", lost)
            rs.scope_spans.add().CopyFrom(ss)
            si += 1
    return rs


def _scope_spans(data: bytes, where: str, lost: list[tuple[str, str]]) -> Any:
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
    from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span

    ss = ScopeSpans()
    fields, _ = _fields(data)
    k = 0
    for field in fields:
        if field.number == 1:
            with contextlib.suppress(Exception):
                ss.scope.CopyFrom(InstrumentationScope.FromString(field.payload))
        elif field.number == 2:
            try:
                if field.cut:
                    raise ValueError("cut off")
                span = Span.FromString(field.payload)
            except Exception:
                lost.append((f"{where}.spans[{k}]", "span cut off or corrupt (protobuf)"))
            else:
                ss.spans.add().CopyFrom(span)
            k += 1
    return ss


def _fields(data: bytes) -> tuple[list[_Field], int | None]:
    """The length-delimited fields of one message level, in order, the last one possibly
    cut off; and the byte where the walk stopped on a problem (``None``: the end)."""
    fields: list[_Field] = []
    pos = 0
    size = len(data)
    while pos < size:
        start = pos
        key, pos = _varint(data, pos)
        if key is None or key >> 3 == 0:
            return fields, start
        wire = key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
            if _ is None:
                return fields, start
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == _LEN:
            length, pos = _varint(data, pos)
            if length is None:
                return fields, start
            if pos + length > size:  # cut off: what there is of it
                fields.append(_Field(key >> 3, data[pos:], start, cut=True))
                return fields, start
            fields.append(_Field(key >> 3, data[pos : pos + length], start))
            pos += length
        else:  # groups (3, 4) are not in OTLP; 6, 7 do not exist
            return fields, start
        if pos > size:
            return fields, start
    return fields, None


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            return None, pos
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
    return None, pos
