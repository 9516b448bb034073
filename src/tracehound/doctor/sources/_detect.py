"""Which trace format an input is, from its content, and the envelopes query APIs add."""

from __future__ import annotations

import enum
from typing import Any

from tracehound.doctor.sources import (
    jaeger,
    otel_console,
    otel_go_stdout,
    otel_js_console,
    otlp_json,
    runtime_findings,
    zipkin,
)
from tracehound.doctor.sources._rows import Reader

__all__ = ["SourceFormat", "detect", "error_response", "reader_for", "sniff_json", "unwrap"]


class SourceFormat(str, enum.Enum):
    """A trace export format, as ``--format`` names it."""

    OTLP_JSON = "otlp-json"
    OTLP_PROTO = "otlp-proto"
    JAEGER = "jaeger"
    ZIPKIN = "zipkin"
    OTEL_CONSOLE = "otel-console"
    OTEL_GO_STDOUT = "otel-go-stdout"
    OTEL_JS_CONSOLE = "otel-js-console"
    TRACEHOUND_FINDINGS = "tracehound-findings"
    """Not spans: what a service's runtime reported (``TRACEHOUND_FINDINGS_FILE``)."""

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
    SourceFormat.OTEL_CONSOLE: otel_console.read,
    SourceFormat.OTEL_GO_STDOUT: otel_go_stdout.read,
    SourceFormat.OTEL_JS_CONSOLE: otel_js_console.read,
    SourceFormat.TRACEHOUND_FINDINGS: runtime_findings.read,
}

EXPECTED = (
    'expected OTLP/JSON ({"resourceSpans": ...}, also as Jaeger API v3 {"result": ...} or '
    'Tempo {"batches": [...]}/{"trace": ...}), OTLP protobuf, Jaeger JSON '
    '({"data": [{"spans": ...}]} or a span array), Zipkin v2 JSON (a span array), or the '
    "span objects of the OpenTelemetry Python SDK's console exporter, Go's stdouttrace or "
    "OpenTelemetry JS's console exporter; or a tracehound runtime findings file"
)


def detect(value: Any) -> SourceFormat | None:
    """The format of one parsed JSON value, or ``None`` when it is none of them."""
    if otlp_json.looks_like(value):
        return SourceFormat.OTLP_JSON
    if jaeger.looks_like(value):
        return SourceFormat.JAEGER
    if otel_js_console.looks_like(value):  # before Zipkin: it has traceId and id too
        return SourceFormat.OTEL_JS_CONSOLE
    if zipkin.looks_like(value):
        return SourceFormat.ZIPKIN
    if otel_console.looks_like(value):
        return SourceFormat.OTEL_CONSOLE
    if otel_go_stdout.looks_like(value):
        return SourceFormat.OTEL_GO_STDOUT
    if runtime_findings.looks_like(value):
        return SourceFormat.TRACEHOUND_FINDINGS
    return None


def unwrap(value: Any) -> tuple[Any, str | None]:
    """The export inside a query API's envelope, and which envelope; ``(value, None)`` if none.

    Jaeger's API v3 answers ``{"result": <OTLP TracesData>}`` (one such object
    per message when it streams); Tempo's trace-by-ID API answers
    ``{"batches": [<ResourceSpans>...]}`` (v1) or ``{"trace": <TracesData>}`` (v2).
    """
    if not isinstance(value, dict):
        return value, None
    result = value.get("result")
    if isinstance(result, dict) and otlp_json.looks_like(result):
        return result, "jaeger-api-v3"
    batches = value.get("batches")
    if isinstance(batches, list) and "resourceSpans" not in value:
        return {"resourceSpans": batches}, "tempo"
    trace = value.get("trace")
    if isinstance(trace, dict) and otlp_json.looks_like(trace):
        return trace, "tempo-v2"
    return value, None


def error_response(value: Any) -> str | None:
    """The message of a query API's error answer (grpc-gateway ``{"error": {...}}``)."""
    if isinstance(value, dict) and isinstance(value.get("error"), dict):
        message = value["error"].get("message")
        return str(message) if message is not None else "no message"
    return None


def reader_for(fmt: SourceFormat) -> Reader:
    """The reader of a JSON format."""
    return _READERS[fmt]


def sniff_json(head: bytes) -> bool:
    """Whether the first bytes of an input look like JSON (else: try protobuf)."""
    stripped = head.lstrip(b" \t\r\n")
    return stripped[:1] in (b"{", b"[")
