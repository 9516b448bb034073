"""Trace IDs in logs, so one request can be followed hop by hop.

`install_log_correlation` adds ``trace_id`` (32 hex), ``span_id`` (16 hex)
and ``trace_flags`` (2 hex) to every stdlib `logging` record, in the W3C hex
that tracing backends show, and empty strings outside a span, so a format
string such as ``"%(trace_id)s %(message)s"`` never fails.  `add_trace_ids`
is the same for structlog.

Why a record factory and not a filter: a logger's filters see only records
logged on that very logger (not its children, not third-party libraries'),
and a handler's filters only the handlers they were added to.  The record
factory is the one hook every record passes through, and it runs in the
thread that logs, where the span is current.  Records produced by the factory
still accept ``extra={"trace_id": ...}``: the caller's value wins instead of
`logging.Logger.makeRecord` raising ``KeyError`` (see `_RecordFields`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

from opentelemetry.trace import INVALID_SPAN_CONTEXT, SpanContext, get_current_span

__all__ = [
    "LOG_FIELDS",
    "TraceIdsFilter",
    "add_trace_ids",
    "current_trace_ids",
    "install_log_correlation",
    "uninstall_log_correlation",
]

LOG_FIELDS = ("trace_id", "span_id", "trace_flags")
"""The attributes added to log records and structlog events."""

_FIELD_SET = frozenset(LOG_FIELDS)
_EMPTY = ("", "", "")
_MISSING: Any = object()

TraceIds = tuple[str, str, str]

# The last span's hex, reused while it logs.  The pair is replaced whole, so threads can share it.
_last: list[tuple[SpanContext, TraceIds]] = [(INVALID_SPAN_CONTEXT, _EMPTY)]


def current_trace_ids() -> TraceIds:
    """``(trace_id, span_id, trace_flags)`` of the current span in hex, empty outside a span."""
    span_context = get_current_span().get_span_context()
    last = _last[0]
    if span_context is last[0]:
        return last[1]
    if not span_context.is_valid:
        return _EMPTY
    ids = (
        format(span_context.trace_id, "032x"),
        format(span_context.span_id, "016x"),
        format(span_context.trace_flags, "02x"),
    )
    _last[0] = (span_context, ids)
    return ids


# -- stdlib logging ------------------------------------------------------------


class _RecordFields(dict):  # type: ignore[type-arg]
    """A record's ``__dict__`` that lets ``extra`` replace the trace fields.

    `logging.Logger.makeRecord` refuses an ``extra`` key that is already
    ``in`` the record's ``__dict__``; code that passed its own ``trace_id``
    before correlation was installed would start raising.  Only that
    membership test is changed: lookups, formatting and copies see a dict.
    """

    __slots__ = ()

    def __contains__(self, key: object) -> bool:
        return key not in _FIELD_SET and dict.__contains__(self, key)


class _StampingFactory:
    """Wraps the previous record factory; stamps the trace fields on each record."""

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous
        self.active = True

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        if self.active:
            trace_id, span_id, trace_flags = current_trace_ids()
            fields = _RecordFields(record.__dict__)
            fields["trace_id"] = trace_id
            fields["span_id"] = span_id
            fields["trace_flags"] = trace_flags
            try:
                record.__dict__ = fields
            except (AttributeError, TypeError):  # pragma: no cover - an exotic record class
                record.trace_id = trace_id  # type: ignore[attr-defined]
                record.span_id = span_id  # type: ignore[attr-defined]
                record.trace_flags = trace_flags  # type: ignore[attr-defined]
        return record


class TraceIdsFilter(logging.Filter):
    """Adds the trace fields to records that lack them; always lets the record pass.

    For scoped setups (``dictConfig`` on one handler, or one logger) where the
    process-wide record factory should not change.  Values already on the
    record (``extra``, the factory) are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        if any(dict.get(fields, name, _MISSING) is _MISSING for name in LOG_FIELDS):
            for name, value in zip(LOG_FIELDS, current_trace_ids(), strict=True):
                dict.setdefault(fields, name, value)
        return True


class _Installation:
    """What `install_log_correlation` changed, so that it is done once and can be undone."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.factory: _StampingFactory | None = None
        self.filter = TraceIdsFilter()


_installation = _Installation()


def install_log_correlation(*, logger: logging.Logger | None = None) -> None:
    """Put ``trace_id``, ``span_id`` and ``trace_flags`` on log records; idempotent.

    By default on every record of every logger (a record factory wrapping the
    current one).  With ``logger``, only on records logged on that logger (a
    filter; records of its child loggers are not covered).
    """
    state = _installation
    with state.lock:
        if logger is not None:
            if state.filter not in logger.filters:
                logger.addFilter(state.filter)
            return
        if state.factory is not None:
            return
        state.factory = _StampingFactory(logging.getLogRecordFactory())
        logging.setLogRecordFactory(state.factory)


def uninstall_log_correlation(*, logger: logging.Logger | None = None) -> None:
    """Undo `install_log_correlation` (with the same ``logger``); a no-op when not installed.

    When another library has wrapped the factory since, it stays in place and
    ours stops stamping, rather than unwinding the other library's wrapper.
    """
    state = _installation
    with state.lock:
        if logger is not None:
            logger.removeFilter(state.filter)
            return
        factory, state.factory = state.factory, None
        if factory is None:
            return
        factory.active = False
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(factory.previous)


# -- structlog -------------------------------------------------------------------


def add_trace_ids(
    logger: object, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``trace_id``, ``span_id``, ``trace_flags`` (keys already set win)."""
    trace_id, span_id, trace_flags = current_trace_ids()
    event_dict.setdefault("trace_id", trace_id)
    event_dict.setdefault("span_id", span_id)
    event_dict.setdefault("trace_flags", trace_flags)
    return event_dict
