"""What every test-bed app shares: its port, the trace headers it reports, the span it runs in.

The apps are ordinary services: they know nothing of tracehound and are
instrumented only by ``opentelemetry-instrument`` (the test bed sets the
``OTEL_*`` variables).  Each answer names the trace the handler ran in, read
from the OpenTelemetry API, so the driver knows which calls continued the
caller's trace without asking the doctor.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

TRACE_HEADERS = (
    "traceparent",
    "tracestate",
    "uber-trace-id",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
)


def port() -> int:
    """The port to listen on (``PORT``), on 127.0.0.1 only."""
    return int(os.environ["PORT"])


def current_span() -> dict[str, Any]:
    """Trace ID, span ID and parent span ID of the span the caller runs in (hex)."""
    span = trace.get_current_span()
    ctx = span.get_span_context()
    parent = getattr(span, "parent", None)  # the SDK span's parent context
    return {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent is not None else None,
        "service": os.environ.get("OTEL_SERVICE_NAME"),
    }


def trace_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The propagation headers of an incoming request, names lower-cased."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return {name: lowered[name] for name in TRACE_HEADERS if name in lowered}


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM ends the process through ``sys.exit`` so the SDK's atexit flush runs."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def exit_with_the_test_bed() -> None:
    """End this process when the driver that started it is gone (``TESTBED_PARENT_PID``).

    The driver stops its apps itself; this covers a driver killed outright, so no
    server outlives it.
    """
    pid = int(os.environ.get("TESTBED_PARENT_PID") or 0)
    if pid <= 0:
        return

    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass  # alive, owned by someone else

    threading.Thread(target=watch, name="exit-with-the-test-bed", daemon=True).start()
