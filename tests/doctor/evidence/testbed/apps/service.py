"""One service of the chain: Flask, calling the next hop with ``requests``, logging JSON lines.

``GET /work?order_id=...`` logs that it received the order, calls ``NEXT_URL``
(when set) with the same order ID, logs the answer, and answers with the span
it ran in (read from the OpenTelemetry API), the trace headers that arrived and
the next hop's answer.  ``FAULT=worker-thread`` makes the outbound call from a
plain ``threading.Thread`` that is not given the context (the classic bug);
``FAULT=no-extract`` serves the request in a SERVER span the app starts itself
from an empty context (with Flask's instrumentation excluded for ``/work``):
the context arrives and is not used.

The log lines are the app's own JSON formatter over the records the stock
``opentelemetry-instrumentation-logging`` fills (``otelTraceID``, ``otelSpanID``,
``otelServiceName``, ``otelTraceSampled``; ``OTEL_PYTHON_LOG_CORRELATION=true``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

import requests
from _common import (
    current_span,
    exit_cleanly_on_sigterm,
    exit_with_the_test_bed,
    port,
    trace_headers,
)
from flask import Flask, request
from opentelemetry import trace
from opentelemetry.context import Context

app = Flask(__name__)
log = logging.getLogger("testbed.service")


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, message, the OTel fields, the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "otelTraceID": getattr(record, "otelTraceID", None),
            "otelSpanID": getattr(record, "otelSpanID", None),
            "otelTraceSampled": getattr(record, "otelTraceSampled", None),
            "otelServiceName": getattr(record, "otelServiceName", None),
        }
        line.update(getattr(record, "fields", {}))
        return json.dumps(line)


def _setup_logging() -> None:
    handler = logging.FileHandler(os.environ["LOG_FILE"])
    handler.setFormatter(JsonLines())
    handler.formatter.converter = __import__("time").gmtime  # type: ignore[union-attr]
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _call_next(url: str, order_id: str) -> Any:
    answer = requests.get(url, params={"order_id": order_id}, timeout=10)
    answer.raise_for_status()
    return answer.json()


@app.get("/work")
def work() -> dict[str, Any]:
    if os.environ.get("FAULT") == "no-extract":
        tracer = trace.get_tracer("testbed.service")
        # the bug: a fresh context instead of the one extracted from the request
        with tracer.start_as_current_span("GET /work", context=Context(),
                                          kind=trace.SpanKind.SERVER):  # fmt: skip
            return _work()
    return _work()


def _work() -> dict[str, Any]:
    order_id = request.args.get("order_id", "")
    log.info("order received", extra={"fields": {"order_id": order_id}})
    url = os.environ.get("NEXT_URL")
    nxt = None
    if url:
        if os.environ.get("FAULT") == "worker-thread":
            box: dict[str, Any] = {}
            worker = threading.Thread(target=lambda: box.update(answer=_call_next(url, order_id)))
            worker.start()
            worker.join(timeout=20)
            nxt = box.get("answer")
        else:
            nxt = _call_next(url, order_id)
        log.info("next hop answered", extra={"fields": {"order_id": order_id}})
    return {
        "span": current_span(),
        "address": f"127.0.0.1:{port()}",
        "headers": trace_headers(request.headers),
        "next": nxt,
    }


if __name__ == "__main__":
    exit_cleanly_on_sigterm()
    exit_with_the_test_bed()
    _setup_logging()
    app.run(host="127.0.0.1", port=port(), use_reloader=False, threaded=True)
