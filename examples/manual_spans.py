"""The manual-span story end to end: inbound HTTP without middleware, a Kafka-style
consumer, a worker thread, and the trace ID in every log line.

    OTEL_TRACES_EXPORTER=console python examples/manual_spans.py
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from wsgiref.util import setup_testing_defaults

from opentelemetry.trace import SpanKind

import tracehound

logging.basicConfig(
    level=logging.INFO,
    format="%(levelname)s trace_id=%(trace_id)s span_id=%(span_id)s %(message)s",
)
log = logging.getLogger("orders")
pool = tracehound.ContextExecutor(ThreadPoolExecutor(4))  # carries the context into workers


def reserve_stock(order_id: str) -> None:
    with tracehound.span("reserve stock", attributes={"order.id": order_id}):
        log.info("stock reserved")  # same trace_id as the request


def handle_request(environ: dict) -> list[bytes]:
    """A WSGI app with no tracing middleware: the parent comes from the environ."""
    with tracehound.continue_trace(environ, "POST /orders"):
        log.info("order received")
        pool.submit(reserve_stock, "o-42").result()
        outbound: list[tuple[str, bytes]] = []  # Kafka producer headers
        with tracehound.span("publish order.created", kind=SpanKind.PRODUCER):
            tracehound.inject(outbound)
        consume({"headers": outbound, "value": b"o-42"})
    return [b"ok"]


def consume(message: dict) -> None:
    """A Kafka-style consumer: the parent comes from the message headers."""
    with tracehound.continue_trace(
        message["headers"], "process order.created", kind=SpanKind.CONSUMER
    ):
        log.info("order processed")


if __name__ == "__main__":
    tracehound.configure(service_name="orders")
    environ: dict = {"HTTP_TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    setup_testing_defaults(environ)
    handle_request(environ)
    pool.shutdown()
    summary = tracehound.shutdown()
    log.info("findings: %s", summary.by_code or "none")
