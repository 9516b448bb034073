"""Which logging library wrote a line, from the fields it holds, and how to make it log
the trace ID (the fix of rule G002)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

__all__ = ["FIXES", "GENERIC_FIX", "fix_for", "writer_of"]

FIXES: dict[str, str] = {
    "python-logging": (
        "install opentelemetry-instrumentation-logging and set "
        "OTEL_PYTHON_LOG_CORRELATION=true (or call LoggingInstrumentor().instrument()): "
        "every record then carries otelTraceID and otelSpanID; add them to the JSON "
        "formatter's fields (python-json-logger: '%(otelTraceID)s %(otelSpanID)s')"
    ),
    "structlog": (
        "add a processor that copies the current span's IDs into the event dict: "
        "ctx = opentelemetry.trace.get_current_span().get_span_context(); "
        "event_dict['trace_id'] = format(ctx.trace_id, '032x'); "
        "event_dict['span_id'] = format(ctx.span_id, '016x') (when ctx.is_valid)"
    ),
    "zap": (
        "log with the request's context through the otelzap bridge "
        "(go.opentelemetry.io/contrib/bridges/otelzap), or add "
        'zap.String("trace_id", trace.SpanContextFromContext(ctx).TraceID().String())'
    ),
    "logrus": (
        "log with logger.WithContext(ctx) and a hook that adds "
        "trace.SpanContextFromContext(ctx).TraceID() as trace_id "
        "(or the otellogrus bridge, go.opentelemetry.io/contrib/bridges/otellogrus)"
    ),
    "slog": (
        "log with the *Context methods (logger.InfoContext(ctx, ...)) through a handler "
        "that adds trace_id from trace.SpanContextFromContext(ctx) (or the otelslog "
        "bridge, go.opentelemetry.io/contrib/bridges/otelslog)"
    ),
    "pino": (
        "enable @opentelemetry/instrumentation-pino (part of "
        "@opentelemetry/auto-instrumentations-node): it adds trace_id and span_id to "
        "every line logged inside a span"
    ),
    "bunyan": (
        "enable @opentelemetry/instrumentation-bunyan (part of "
        "@opentelemetry/auto-instrumentations-node): it adds trace_id and span_id to "
        "every record logged inside a span"
    ),
}
"""How to make each library log the current trace ID, by `writer_of`'s name."""

GENERIC_FIX = (
    "add the active span's trace ID (32 lowercase hex, as trace_id) and span ID to every "
    "log line; OpenTelemetry's logging bridge for your language does it"
)


def writer_of(keys: Collection[str], level: Any) -> str:
    """The library that writes lines with the fields ``keys`` and this ``level`` value:
    a key of `FIXES`, or ``"json"`` when the fields do not tell."""
    if "v" in keys and "hostname" in keys and "name" in keys and isinstance(level, int):
        return "bunyan"
    if isinstance(level, int) and "pid" in keys and "hostname" in keys:
        return "pino"
    if "levelname" in keys or "asctime" in keys or "otelTraceID" in keys:
        return "python-logging"
    if "event" in keys and "msg" not in keys and "message" not in keys:
        return "structlog"
    if "ts" in keys and "msg" in keys:
        return "zap"
    if "time" in keys and "msg" in keys and isinstance(level, str):
        return "slog" if level.isupper() else "logrus"
    if "message" in keys and ("name" in keys or "taskName" in keys):
        return "python-logging"
    return "json"


def fix_for(writer: str) -> str:
    """What to change so that ``writer``'s lines carry the trace ID."""
    return FIXES.get(writer, GENERIC_FIX)
