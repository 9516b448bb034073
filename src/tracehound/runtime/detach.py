"""A context detached in another context than it was attached in (L009).

OpenTelemetry logs "Failed to detach context" with a traceback into its own
code when a span's ``with`` block is left in another task or thread than it
was entered in: an async generator that yields inside a span and is closed
from another task, a streaming response finished by the server, a cancelled
task.  `DetachedElsewhereFilter` sits on that logger and turns the record into
an L009 finding naming the span and the user's line that left it.  It costs
nothing until a detach fails: the logger is only called then.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from opentelemetry import trace

from tracehound.rules import Finding, get_rule
from tracehound.runtime._location import caller_location

__all__ = ["FAILED_TO_DETACH", "OTEL_CONTEXT_LOGGER", "DetachedElsewhereFilter"]

FAILED_TO_DETACH = "Failed to detach context"
OTEL_CONTEXT_LOGGER = "opentelemetry.context"


def _span_being_left(frame: FrameType | None) -> trace.Span | None:
    """The span a frame on the stack was leaving (``use_span``'s or a tracehound scope's)."""
    while frame is not None:
        candidate: Any = frame.f_locals.get("span")
        if isinstance(candidate, trace.Span):
            return candidate
        frame = frame.f_back
    return None


def _where_now() -> str:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        task = None
    if task is not None:
        return f"task {task.get_name()!r}"
    return f"thread {threading.current_thread().name!r}"


class DetachedElsewhereFilter(logging.Filter):
    """Turns OpenTelemetry's "Failed to detach context" into L009 with the user's line."""

    def __init__(self, report: Callable[[Finding], None]) -> None:
        super().__init__()
        self._report = report

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != FAILED_TO_DETACH:
            return True
        frame = sys._getframe(1)
        span = _span_being_left(frame)
        name = getattr(span, "name", None) or "?"
        span_context = span.get_span_context() if span is not None else None
        location = caller_location(frame=frame)
        self._report(
            Finding(
                get_rule("L009"),
                f"span {name!r} was left at {location} in another context ({_where_now()}) "
                "than the one it was entered in: its context stays attached where it began, so "
                "later spans there get the wrong parent. Do not hold a span across a yield; "
                "close async generators in the task that iterates them",
                trace_id=f"{span_context.trace_id:032x}" if span_context else None,
                span_id=f"{span_context.span_id:016x}" if span_context else None,
                location=location,
                details={"span": name, "where": _where_now()},
            )
        )
        return False  # reported as L009 instead of OpenTelemetry's traceback
