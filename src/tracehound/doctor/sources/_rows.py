"""The row every source emits, and the helpers sources share to build it.

Sources do as little per span as they can: they copy the span's fields into
one tuple, as the input wrote them, and the store normalises IDs, kinds and
times in SQL, for every format at once.  A row is::

    (trace_id, span_id, parent_span_id, trace_state, name, kind, start_ns,
     end_ns, attributes, events, links, status, offset, scope, shared, source)

``attributes`` (and event/link attributes) use the OTLP/JSON encoding, a list
of ``{"key": ..., "value": {"stringValue": ...}}``, so types survive.  IDs are
hex or base64 strings, ``kind`` and ``status.code`` OTLP numbers or enum names,
times nanoseconds (numbers or decimal strings).
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from tracehound.doctor.sources._salvage import TRUNCATED

__all__ = [
    "KIND_BY_NAME",
    "Document",
    "RowSink",
    "any_value",
    "as_list",
    "as_text",
    "end_of",
    "iso_to_nanos",
    "key_values",
    "micros_to_nanos",
    "object_items",
    "service_of",
    "why_not_a_span",
]

KIND_BY_NAME = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
"""OTLP span kind numbers, by the names Jaeger and Zipkin use (upper case)."""


class RowSink(Protocol):
    """Where a source puts what it read (the store implements it)."""

    rows: list[bytes]
    """Rows serialised with ``orjson.dumps``; the sink empties it when it flushes."""

    def scope(self, service: str, resource: Any, name: str | None, version: str | None) -> int:
        """The ID of a (resource, instrumentation scope) pair, for the rows' ``scope`` field."""
        ...

    def reject(self, reason: str, offset: str) -> None:
        """Count a span that cannot be a row at all (not an object, say)."""
        ...

    def merge(self, reason: str, offset: str) -> None:
        """Count a record that is part of another span's row (a Zipkin fragment): read
        and analysed as part of that span, neither a row of its own nor rejected."""
        ...


@dataclass
class Document:
    """One parsed JSON value and where it came from, handed to a format reader."""

    value: Any
    source: int
    """The source's index in the store."""
    line: int | None
    """1-based line of a line-delimited input, ``None`` for a whole document."""
    sink: RowSink
    errors: list[tuple[str, str]] = field(default_factory=list)
    """``(position, message)`` for parts of the document that were skipped."""
    raw: bytes | None = None
    """The line ``value`` was parsed from, when it came from one line as it is (not salvaged)."""

    def where(self, path: str) -> str:
        """The offset of ``path`` in this document: ``12:data[0].spans[3]`` or the path alone."""
        return f"{self.line}:{path}" if self.line is not None else path


MAX_VALUE_DEPTH = 32
"""Arrays and maps nested deeper than this are kept as a placeholder string."""

_INT64 = range(-(2**63), 2**63)


def any_value(value: Any, depth: int = 0) -> dict[str, Any]:
    """A Python value in the OTLP/JSON ``AnyValue`` encoding."""
    if depth > MAX_VALUE_DEPTH:
        return {"stringValue": f"(nested more than {MAX_VALUE_DEPTH} levels)"}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)} if value in _INT64 else {"stringValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value} if math.isfinite(value) else {"stringValue": str(value)}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v, depth + 1) for v in value]}}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value.items(), depth + 1)}}
    if value is None:
        return {}
    return {"stringValue": str(value)}


def key_values(items: Iterable[tuple[str, Any]], depth: int = 0) -> list[dict[str, Any]]:
    """``(key, python value)`` pairs as an OTLP/JSON attribute list."""
    return [{"key": str(k), "value": any_value(v, depth)} for k, v in items]


def service_of(attributes: Any) -> str:
    """``service.name`` from an OTLP/JSON attribute list; OTel's default when absent."""
    if isinstance(attributes, list):
        for item in attributes:
            if isinstance(item, dict) and item.get("key") == "service.name":
                value = item.get("value")
                if isinstance(value, dict):
                    name = value.get("stringValue")
                    if isinstance(name, str) and name:
                        return name
    return "unknown_service"


def micros_to_nanos(value: Any) -> int | str | None:
    """A microsecond time (Jaeger, Zipkin) in nanoseconds; ``None`` when absent.

    A value that is no number, or a number outside 64 bits, comes back as text:
    the store names what is wrong with it instead of the reader failing on it.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value * 1000):
            return str(value)
        value = round(value * 1000)
    elif isinstance(value, int):
        value *= 1000
    elif isinstance(value, str):
        text = value.strip()
        return text + "000" if text.isascii() and text.isdigit() else text[:64]
    else:
        return "not a number"
    return value if value in _INT64 else str(value)


def end_of(start: int | str | None, duration: int | str | None) -> int | str | None:
    """``start + duration`` in nanoseconds, when both are numbers (see `micros_to_nanos`)."""
    if not isinstance(start, int) or not isinstance(duration, int):
        return None
    end = start + duration
    return end if end in _INT64 else str(end)


_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9})\d*)?"
    r"(Z|z|[+-]\d\d:?\d\d)?"
)


def iso_to_nanos(value: Any) -> str | None:
    """An ISO 8601 / RFC 3339 time (``2024-03-19T20:24:18.215416139+01:00``, up to
    nanoseconds, UTC without a zone) as Unix nanoseconds in text; other text as it is
    (the store names it), ``None`` when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        return micros_to_nanos(value) if isinstance(value, bool) else str(value)[:64]
    found = _ISO.fullmatch(value.strip())
    if found is None:
        return value[:64]
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    try:
        seconds = calendar.timegm(
            (int(year), int(month), int(day), int(hour), int(minute), int(second), 0, 0, 0)
        )
    except (ValueError, OverflowError):
        return value[:64]
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return str(seconds * 10**9 + int((fraction or "0").ljust(9, "0")))


def as_text(value: Any) -> str | None:
    """A printed span's field as text: a string as it is, a list or object as JSON, other
    values as Python writes them (the store judges them); ``None`` when absent."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode() if isinstance(value, (list, dict)) else str(value)


def object_items(value: Any) -> list[tuple[str, Any]]:
    """An object's ``(key, value)`` pairs; none when it is no object."""
    return list(value.items()) if isinstance(value, dict) else []


def as_list(value: Any) -> list[Any]:
    """A list, or an empty one when ``value`` is none."""
    return value if isinstance(value, list) else []


Reader = Callable[[Document], int]
"""A format reader: emits the document's spans into its sink, returns how many it saw."""


def why_not_a_span(value: Any) -> str:
    """The rejection reason for a span entry that cannot be read."""
    if isinstance(value, dict):
        return "span cut off (the input ends or breaks inside it)"
    return "span is not a JSON object"


def read_span_objects(
    doc: Document,
    looks_like: Callable[[Any], bool],
    row: Callable[[Document, dict[str, Any], str], tuple[Any, ...]],
    not_a_span: str,
) -> int:
    """Emit the spans of ``doc``, one object each as SDK console exporters print them (a
    list of them is read too); returns how many it held.  ``not_a_span`` says why an
    object that is not truncated is no such span."""
    spans = doc.value if isinstance(doc.value, list) else [doc.value]
    for k, span in enumerate(spans):
        offset = doc.where(f"[{k}]" if isinstance(doc.value, list) else "$")
        if not looks_like(span):
            reason = why_not_a_span(span)
            if isinstance(span, dict) and TRUNCATED not in span:
                reason = not_a_span
            doc.sink.reject(reason, offset)
            continue
        try:
            doc.sink.rows.append(orjson.dumps(row(doc, span, offset)))
        except (TypeError, ValueError, RecursionError) as exc:  # nested too deeply
            doc.sink.reject(f"span cannot be read ({exc})", offset)
    return len(spans)
