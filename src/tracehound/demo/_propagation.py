"""``tracehound demo``: the propagator at work on real HTTP requests over loopback.

Two copies of a small "payments" service listen on 127.0.0.1: one extracts
with OpenTelemetry's default propagators (``tracecontext,baggage``), the other
with tracehound's.  A "checkout" client sends the header mixes that real
clusters produce (Jaeger-era clients, B3 from Zipkin/Envoy, a proxy that
rewrites one format, a hand-built header) and the demo shows which requests
each service continued and what tracehound said about the rest.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tracehound.runtime.propagation import TracehoundPropagator, get_extraction

__all__ = ["SCENARIOS", "run"]

_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
_SPAN = "00f067aa0ba902b7"

SCENARIOS: tuple[tuple[str, dict[str, str]], ...] = (
    ("W3C traceparent (modern OTel client)", {"traceparent": f"00-{_TRACE}-{_SPAN}-01"}),
    ("Jaeger client: uber-trace-id only", {"uber-trace-id": f"{_TRACE}:{_SPAN}:0:1"}),
    ("old Jaeger client: %3A-encoded", {"uber-trace-id": f"{_TRACE}%3A{_SPAN}%3A0%3A1"}),
    ("Zipkin/Envoy: b3 single header", {"b3": f"{_TRACE}-{_SPAN}-1"}),
    (
        "Zipkin: B3 multi headers",
        {"X-B3-TraceId": _TRACE, "X-B3-SpanId": _SPAN, "X-B3-Sampled": "1"},
    ),
    (
        "proxy rewrote traceparent, kept b3",
        {"traceparent": f"00-{'a' * 32}-{_SPAN}-01", "b3": f"{_TRACE}-{_SPAN}-1"},
    ),
    ("hand-built traceparent, upper-case", {"traceparent": f"00-{_TRACE.upper()}-{_SPAN}-01"}),
    ("traceparent sent twice", {"traceparent": f"00-{_TRACE}-{_SPAN}-01,00-{_TRACE}-{_SPAN}-01"}),
)


class _Handler(BaseHTTPRequestHandler):
    server: _Service

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        context = self.server.propagator.extract(headers)
        tracer = self.server.provider.get_tracer("payments")
        with tracer.start_as_current_span("POST /pay", context=context, kind=trace.SpanKind.SERVER):
            span_context = trace.get_current_span().get_span_context()
            parent = trace.get_current_span(context).get_span_context()
        extraction = get_extraction(context)
        body = json.dumps(
            {
                "trace_id": f"{span_context.trace_id:032x}",
                "continued": parent.is_valid,
                "findings": [f"{f.code} {f.message}" for f in extraction.findings]
                if extraction
                else [],
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Service(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, propagator: TextMapPropagator) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.propagator = propagator
        self.provider = TracerProvider()


@contextmanager
def _serving(propagator: TextMapPropagator) -> Iterator[_Service]:
    service = _Service(propagator)
    thread = threading.Thread(target=service.serve_forever, name="demo-payments", daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.shutdown()
        service.server_close()
        thread.join(timeout=5)


def _call(service: _Service, headers: Mapping[str, str]) -> dict[str, Any]:
    host, port = service.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=5)
    try:
        connection.request("GET", "/pay", headers=dict(headers))
        return dict(json.loads(connection.getresponse().read()))
    finally:
        connection.close()


def run(out: TextIO, *, as_json: bool = False) -> int:
    """Send every scenario to both services; print what happened. Returns 0."""
    plain = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    results = []
    with _serving(plain) as otel, _serving(TracehoundPropagator(report=False)) as hound:
        for title, headers in SCENARIOS:
            results.append(
                {
                    "scenario": title,
                    "headers": headers,
                    "otel_default": _call(otel, headers),
                    "tracehound": _call(hound, headers),
                }
            )
    if as_json:
        json.dump(results, out, indent=2)
        out.write("\n")
        return 0
    out.write(f"checkout -> payments over HTTP on 127.0.0.1, caller's trace {_TRACE}\n\n")
    out.write(f"{'request from checkout':40} {'OTel default':14} {'tracehound':14}\n")
    out.write(f"{'-' * 40} {'-' * 14} {'-' * 14}\n")
    for result in results:
        marks = [
            "continued"
            if r["continued"] and r["trace_id"] == _TRACE
            else "other trace"
            if r["continued"]
            else "NEW TRACE"
            for r in (result["otel_default"], result["tracehound"])
        ]
        out.write(f"{result['scenario']:40} {marks[0]:14} {marks[1]:14}\n")
        for finding in result["tracehound"]["findings"]:
            out.write(f"{'':42}{finding}\n")
    out.write(
        "\nNEW TRACE means the service's spans are cut off from the caller's trace.\n"
        "Use it: OTEL_PROPAGATORS=tracehound (reads W3C, Jaeger, B3; writes W3C).\n"
        "Explain one request: tracehound headers -H 'uber-trace-id: ...'\n"
        "The catalogue: tracehound rules\n"
    )
    return 0
