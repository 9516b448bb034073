"""Which trace format an input is, from its content."""

from __future__ import annotations

import enum
from typing import Any

from tracehound.doctor.sources import jaeger, otlp_json, zipkin
from tracehound.doctor.sources._rows import Reader

__all__ = ["SourceFormat", "detect", "reader_for", "sniff_json"]


class SourceFormat(str, enum.Enum):
    """A trace export format, as ``--format`` names it."""

    OTLP_JSON = "otlp-json"
    OTLP_PROTO = "otlp-proto"
    JAEGER = "jaeger"
    ZIPKIN = "zipkin"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: str) -> SourceFormat:
        """``"otlp-json"`` etc.; `ValueError` naming the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(f.value for f in cls)
            raise ValueError(f"unknown format {text!r}: choose one of {choices}") from None


_READERS: dict[SourceFormat, Reader] = {
    SourceFormat.OTLP_JSON: otlp_json.read,
    SourceFormat.JAEGER: jaeger.read,
    SourceFormat.ZIPKIN: zipkin.read,
}

EXPECTED = (
    'expected OTLP/JSON ({"resourceSpans": ...}), OTLP protobuf, Jaeger JSON '
    '({"data": [{"spans": ...}]} or a span array) or Zipkin v2 JSON (a span array)'
)


def detect(value: Any) -> SourceFormat | None:
    """The format of one parsed JSON value, or ``None`` when it is none of them."""
    if otlp_json.looks_like(value):
        return SourceFormat.OTLP_JSON
    if jaeger.looks_like(value):
        return SourceFormat.JAEGER
    if zipkin.looks_like(value):
        return SourceFormat.ZIPKIN
    return None


def reader_for(fmt: SourceFormat) -> Reader:
    """The reader of a JSON format."""
    return _READERS[fmt]


def sniff_json(head: bytes) -> bool:
    """Whether the first bytes of an input look like JSON (else: try protobuf)."""
    stripped = head.lstrip(b" \t\r\n\xef\xbb\xbf")
    return stripped[:1] in (b"{", b"[")
