"""A program as a user runs it under ``opentelemetry-instrument``, for test_setup_deployment.

    opentelemetry-instrument python deployment_app.py BEFORE_FILE AFTER_FILE [configure args]

It adds a console exporter writing to BEFORE_FILE to the distro's provider,
calls ``tracehound.configure()``, adds one writing to AFTER_FILE, and records
one span carrying an ``api_token`` and a Bearer value.  ``-`` skips a file;
``--twice`` calls configure() twice; ``--mode strict`` and
``--on-start-exporter`` (a processor that exports in ``on_start``, added
before configure) test what tracehound cannot guard.
"""

from __future__ import annotations

import json
import logging
import sys

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import tracehound

TOKEN = "tok-4c9e1a7f3b2d8e60"
BEARER = "Bearer eyJzdWIiOiJ0ZXN0LXVzZXIifQ.c2lnbmF0dXJlLXZhbHVlLTEyMzQ1Ng"


class OnStartExporter(SpanProcessor):
    """Exports a copy of each span as it starts (a 'span started' feed): unguardable."""

    def __init__(self, path: str) -> None:
        self.exporter = ConsoleSpanExporter(out=open(path, "w"))  # noqa: SIM115

    def on_start(self, span, parent_context=None):  # type: ignore[no-untyped-def]
        self.exporter.export([span])


def _console(path: str) -> SimpleSpanProcessor:
    return SimpleSpanProcessor(
        ConsoleSpanExporter(
            out=open(path, "w"),
            formatter=lambda span: span.to_json(indent=None) + "\n",
        )
    )


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    before, after, *rest = argv
    mode = rest[rest.index("--mode") + 1] if "--mode" in rest else None
    provider = trace.get_tracer_provider()
    if before != "-":
        provider.add_span_processor(_console(before))  # type: ignore[attr-defined]
    if "--on-start-exporter" in rest:
        provider.add_span_processor(OnStartExporter(rest[-1]))  # type: ignore[attr-defined]
    try:
        runtime = tracehound.configure(service_name="deployment-app", mode=mode)
        if "--twice" in rest:  # configure() again reconfigures in place
            runtime = tracehound.configure(service_name="deployment-app", mode=mode)
    except tracehound.ConfigurationError as exc:
        print(f"ConfigurationError: {exc}", file=sys.stderr)
        return 3
    if after != "-":
        provider.add_span_processor(_console(after))  # type: ignore[attr-defined]
    with trace.get_tracer("deployment-app").start_as_current_span("login") as span:
        span.set_attribute("api_token", TOKEN)
        span.set_attribute("retry.reason", f"upstream refused {BEARER}")
    tracehound.shutdown()
    print(json.dumps({"unguarded": runtime.unguarded}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
