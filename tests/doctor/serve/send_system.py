"""A small system with one broken edge, sent through the OpenTelemetry SDK's own OTLP exporter.

Run as a script (a process of its own, as a service would be)::

    python send_system.py EXPORTER ENDPOINT [--checkouts N] [--token T] [--gzip]

EXPORTER is ``http-proto`` (opentelemetry-exporter-otlp-proto-http),
``http-json`` (opentelemetry-exporter-otlp-json-http) or ``grpc``
(opentelemetry-exporter-otlp-proto-grpc).  Each checkout is
gateway → orders (the context carried: the edge holds) → payments (the
context dropped: payments starts a new trace, a C003 broken edge).  Span
names and attributes come from ``--name-prefix`` so a test can send hostile
strings.  Exits 0 once every span was exported, 1 when an export failed.
"""

from __future__ import annotations

import argparse
import sys
import time

from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

MS = 1_000_000


def exporter(kind: str, endpoint: str, headers: dict[str, str], gzip: bool) -> SpanExporter:
    if kind == "http-proto":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        compression = Compression.Gzip if gzip else Compression.NoCompression
        return OTLPSpanExporter(endpoint=endpoint, headers=headers, compression=compression)
    if kind == "http-json":
        from opentelemetry.exporter.otlp.json.http.trace_exporter import (
            OTLPSpanExporter as JsonSpanExporter,
        )

        return JsonSpanExporter(endpoint=endpoint, headers=headers)
    if kind == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(endpoint=endpoint, insecure=True, headers=headers)
    raise SystemExit(f"unknown exporter {kind!r}")


class Checked(SpanExporter):
    """The real exporter, remembering whether any export failed."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.failed = 0

    def export(self, spans):  # type: ignore[no-untyped-def]
        result = self.inner.export(spans)
        if result is not SpanExportResult.SUCCESS:
            self.failed += 1
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("exporter")
    parser.add_argument("endpoint")
    parser.add_argument("--checkouts", type=int, default=3)
    parser.add_argument("--token")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--name-prefix", default="")
    args = parser.parse_args()
    headers = {"authorization": f"Bearer {args.token}"} if args.token else {}
    exporters = []
    tracers = {}
    for service in ("gateway", "orders", "payments"):
        checked = Checked(exporter(args.exporter, args.endpoint, headers, args.gzip))
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(checked))
        exporters.append((provider, checked))
        tracers[service] = provider.get_tracer("send_system")
    prefix = args.name_prefix
    server, client = trace.SpanKind.SERVER, trace.SpanKind.CLIENT
    for n in range(args.checkouts):
        t0 = time.time_ns() + n * 50 * MS
        gw = tracers["gateway"]
        root = gw.start_span(
            f"{prefix}POST /checkout",
            kind=server,
            start_time=t0,
            attributes={"http.request.method": "POST", "url.path": "/checkout",
                        "server.port": 8080, "note": prefix or "checkout"},
        )  # fmt: skip
        ctx = trace.set_span_in_context(root)
        call = gw.start_span(
            "POST",
            context=ctx,
            kind=client,
            start_time=t0 + 1 * MS,
            attributes={"http.request.method": "POST", "server.address": "orders",
                        "server.port": 8081, "url.full": "http://orders:8081/orders"},
        )  # fmt: skip
        carrier: dict[str, str] = {}
        inject(carrier, context=trace.set_span_in_context(call))
        orders = tracers["orders"]
        entry = orders.start_span(
            "POST /orders",
            context=extract(carrier),  # the edge that holds
            kind=server,
            start_time=t0 + 2 * MS,
            attributes={"http.request.method": "POST", "url.path": "/orders",
                        "server.address": "orders", "server.port": 8081},
        )  # fmt: skip
        pay_call = orders.start_span(
            "POST",
            context=trace.set_span_in_context(entry),
            kind=client,
            start_time=t0 + 3 * MS,
            attributes={"http.request.method": "POST", "server.address": "payments",
                        "server.port": 8082, "url.full": "http://payments:8082/pay",
                        "peer.service": "payments"},
        )  # fmt: skip
        payments = tracers["payments"]
        lost = payments.start_span(
            "POST /pay",
            context=None,  # the edge that breaks: no context reached payments
            kind=server,
            start_time=t0 + 4 * MS,
            attributes={"http.request.method": "POST", "url.path": "/pay",
                        "server.address": "payments", "server.port": 8082},
        )  # fmt: skip
        lost.end(end_time=t0 + 8 * MS)
        pay_call.end(end_time=t0 + 9 * MS)
        entry.end(end_time=t0 + 10 * MS)
        call.end(end_time=t0 + 11 * MS)
        root.end(end_time=t0 + 12 * MS)
    failed = 0
    for provider, checked in exporters:
        provider.shutdown()
        failed += checked.failed
    print(f"sent {args.checkouts * 5} spans, {failed} failed exports", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
