"""One service of the log test bed: orders → payments → shipping, each logging its own way.

An ordinary Flask service on the stock OpenTelemetry SDK (Flask and requests
instrumentation, spans to a file through tracehound's file exporter; the
propagators are ``OTEL_PROPAGATORS``, read by the SDK as always), whose log lines
name the order they handle:

- ``orders``: stdlib logging with python-json-logger; the trace IDs come from
  opentelemetry-instrumentation-logging (``otelTraceID``/``otelSpanID``);
- ``payments``: structlog, with the processor structlog's users add to log the
  current span's ``trace_id``/``span_id``; ``PAYMENTS_WORKER=1`` makes the call to
  shipping from a worker thread that does not carry the context (the fault);
- ``shipping``: stdlib logging with a hand-written JSON formatter over the logging
  instrumentation's record fields; ``SHIPPING_TRACE_IDS=0`` leaves them out.

Environment: ``SERVICE``, ``PORT``, ``NEXT_URL`` (the next hop), ``LOG_FILE``,
``SPANS_FILE``, ``TESTBED_PARENT_PID``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading

import requests
from _common import exit_with_the_test_bed  # realworld/apps, on PYTHONPATH or beside
from flask import Flask, request
from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.logging import LoggingInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tracehound.runtime.export import OtlpJsonFileExporter

SERVICE = os.environ["SERVICE"]
NEXT_URL = os.environ.get("NEXT_URL")

provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
provider.add_span_processor(SimpleSpanProcessor(OtlpJsonFileExporter(os.environ["SPANS_FILE"])))
trace.set_tracer_provider(provider)
# with OTEL_PYTHON_LOG_CORRELATION=true: otelTraceID, otelSpanID, otelServiceName on records
LoggingInstrumentor().instrument()
RequestsInstrumentor().instrument()

app = Flask(SERVICE)
FlaskInstrumentor().instrument_app(app)
logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _stdlib_logger(formatter: logging.Formatter) -> logging.Logger:
    handler = logging.FileHandler(os.environ["LOG_FILE"])
    handler.setFormatter(formatter)
    logger = logging.getLogger(SERVICE)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


class ShippingFormatter(logging.Formatter):
    """A JSON formatter as teams write them: the fields they chose, one object a line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "order_id": getattr(record, "order_id", None),
        }
        if os.environ.get("SHIPPING_TRACE_IDS", "1") == "1":
            line["trace_id"] = record.otelTraceID
            line["span_id"] = record.otelSpanID
        return json.dumps(line)


def _add_otel_ids(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
    """structlog processor: the current span's IDs, when there is one."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event["trace_id"] = format(ctx.trace_id, "032x")
        event["span_id"] = format(ctx.span_id, "016x")
    return event


if SERVICE == "orders":
    from pythonjsonlogger.json import JsonFormatter

    log = _stdlib_logger(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(otelTraceID)s "
                      "%(otelSpanID)s %(otelServiceName)s")
    )  # fmt: skip

    def info(message: str, order: str) -> None:
        log.info(message, extra={"order_id": order})

elif SERVICE == "payments":
    import structlog

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            _add_otel_ids,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(open(os.environ["LOG_FILE"], "a")),  # noqa: SIM115
        cache_logger_on_first_use=True,
    )
    slog = structlog.get_logger()

    def info(message: str, order: str) -> None:
        slog.info(message, order_id=order)

else:
    log = _stdlib_logger(ShippingFormatter())

    def info(message: str, order: str) -> None:
        log.info(message, extra={"order_id": order})


def _call_next(order: str) -> None:
    info("calling the next service", order)
    requests.get(f"{NEXT_URL}?order={order}", timeout=5).raise_for_status()


@app.get("/work")
def work() -> dict[str, str]:
    order = request.args["order"]
    info("handling order", order)
    if NEXT_URL:
        if os.environ.get("PAYMENTS_WORKER") == "1":
            # the fault: a plain thread, started without the request's context
            worker = threading.Thread(target=_call_next, args=(order,))
            worker.start()
            worker.join()
        else:
            _call_next(order)
    info("order done", order)
    return {"order": order}


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    exit_with_the_test_bed()
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]), use_reloader=False, threaded=True)
