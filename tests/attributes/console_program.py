"""A traced program that records secrets as attributes; run by test_attr_console.py.

    OTEL_TRACES_EXPORTER=console python console_program.py TOKEN BEARER CARD

The exporters come from ``OTEL_TRACES_EXPORTER`` (entry points, as the SDK's
auto-configuration resolves them); the attribute policy is installed with
its public API as the provider's active span processor.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tracehound.attributes import AttributePolicy


def main(token: str, bearer: str, card: str) -> None:
    policy = AttributePolicy.from_config()
    provider = TracerProvider(active_span_processor=policy.processor())
    for name in os.environ["OTEL_TRACES_EXPORTER"].split(","):
        (entry_point,) = entry_points(group="opentelemetry_traces_exporter", name=name.strip())
        provider.add_span_processor(BatchSpanProcessor(entry_point.load()()))
    tracer = provider.get_tracer("checkout")
    with tracer.start_as_current_span("POST /checkout") as span:
        span.set_attribute("user.token", token)
        span.set_attribute("http.request.header.authorization", [f"Bearer {bearer}"])
        span.set_attribute(
            "debug.headers", f"Host: shop.example.com\nAuthorization: Bearer {bearer}"
        )
        span.set_attribute("payment.card", card)
        span.set_attribute("order.note", f"customer paid with {card}, thanks")
        span.set_attribute("order.id", 8412)
    provider.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:4])
