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


def broken_checkouts(checkouts: int) -> bytes:
    """orders → payments, the context dropped on every call (payments starts a new
    trace): one request holding both services' spans (as a Collector forwards them)."""
    import time

    ms = 1_000_000
    providers = {
        s: TracerProvider(resource=Resource.create({"service.name": s}))
        for s in ("orders", "payments")
    }
    orders = providers["orders"].get_tracer("tests.serve")
    payments = providers["payments"].get_tracer("tests.serve")
    spans: dict[str, list[ReadableSpan]] = {"orders": [], "payments": []}
    for n in range(checkouts):
        t0 = time.time_ns() + n * 50 * ms
        entry = orders.start_span("POST /orders", kind=trace.SpanKind.SERVER, start_time=t0)
        call = orders.start_span(
            "POST",
            context=trace.set_span_in_context(entry),
            kind=trace.SpanKind.CLIENT,
            start_time=t0 + ms,
            attributes={"http.request.method": "POST", "server.address": "payments",
                        "server.port": 8082, "url.full": "http://payments:8082/pay"},
        )  # fmt: skip
        lost = payments.start_span(
            "POST /pay",
            context=None,
            kind=trace.SpanKind.SERVER,
            start_time=t0 + 2 * ms,
            attributes={"http.request.method": "POST", "url.path": "/pay",
                        "server.address": "payments", "server.port": 8082},
        )  # fmt: skip
        lost.end(end_time=t0 + 5 * ms)
        call.end(end_time=t0 + 6 * ms)
        entry.end(end_time=t0 + 7 * ms)
        spans["orders"] += [call, entry]  # type: ignore[list-item]
        spans["payments"].append(lost)  # type: ignore[arg-type]
    return body([*spans["orders"], *spans["payments"]])
