"""OTLP/HTTP protobuf request bodies as the SDK's exporter encodes them (its own encoder)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider


def sdk_spans(
    service: str, traces: int, spans_per_trace: int, name: str = "work"
) -> list[list[ReadableSpan]]:
    """``traces`` traces of ``spans_per_trace`` spans each (a root and its children),
    ended, as the SDK hands them to an exporter."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    tracer = provider.get_tracer("tests.serve")
    out: list[list[ReadableSpan]] = []
    for _ in range(traces):
        root = tracer.start_span(f"{name} root", kind=trace.SpanKind.SERVER)
        ctx = trace.set_span_in_context(root)
        children = [
            tracer.start_span(f"{name} {i}", context=ctx) for i in range(spans_per_trace - 1)
        ]
        for child in children:
            child.end()
        root.end()
        out.append([*children, root])  # type: ignore[list-item]
    return out


def body(spans: list[ReadableSpan]) -> bytes:
    return encode_spans(spans).SerializeToString()


def trace_id(spans: list[ReadableSpan]) -> str:
    return format(spans[0].context.trace_id, "032x")
