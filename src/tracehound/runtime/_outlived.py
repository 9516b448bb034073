"""Spans still open when the request or message they belong to finished (L010).

`LifecycleGuard` calls `outliving` when an entry span (SERVER or CONSUMER)
ends: the spans of the same trace that started after it and are still open
were started by its work and outlived it (a background task, a streaming
body, a fire-and-forget call).  Only entry spans pay for the look, and only
while the open-span table is small enough to scan quickly.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

from tracehound.rules import Finding, get_rule

__all__ = ["MAX_REPORTED", "MAX_SCANNED", "outlived_finding", "outliving"]

MAX_SCANNED = 1024
"""Open spans above which an entry span's end is not checked: the scan (~30 ns a
span) would cost a busy server more per request than the finding is worth."""
MAX_REPORTED = 10
"""Spans reported per entry span."""
_ENTRY_KINDS = (SpanKind.SERVER, SpanKind.CONSUMER)


def outliving(entry: tuple[Any, ...], open_rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The open rows that ``entry``'s work started (rows as `LifecycleGuard` keeps them).

    Same trace, started at or after the entry span, and not the work of another
    entry span of the trace still open in this process (a request to itself).
    """
    # SpanContext is a tuple whose first item is the trace ID: indexing it is
    # a fraction of the property's cost, and this runs once per open span.
    trace_id, started = entry[1][0], entry[4]
    mine = [row for row in open_rows if row[1][0] == trace_id and row[4] >= started]
    if not mine:
        return []
    by_id = {row[1].span_id: row for row in mine}
    own_id = entry[1].span_id
    found = []
    for row in mine:
        if not _under_another_entry(row, by_id, own_id):
            found.append(row)
            if len(found) >= MAX_REPORTED:
                break
    return found


def _under_another_entry(row: tuple[Any, ...], by_id: dict[int, tuple[Any, ...]], own: int) -> bool:
    """Whether ``row`` is, or descends from, an open entry span other than ``own``."""
    seen = 0
    while row is not None and seen < 64:
        span = row[6]() if row[6] is not None else None
        if span is None:
            return False
        if span.kind in _ENTRY_KINDS:
            return True
        parent = span.parent
        if parent is None or parent.span_id == own:
            return False
        row = by_id.get(parent.span_id)  # type: ignore[assignment]
        seen += 1
    return False


def outlived_finding(request: Any, child: Any) -> Finding:
    """L010 for ``child`` (an `OpenSpan`) still open when ``request`` (an `OpenSpan`) ended."""
    return Finding(
        get_rule("L010"),
        f"span {child.name!r} (started at {child.location}, thread {child.thread!r}) was still "
        f"open when {request.name!r} ended: the work outlived its request. Await it before "
        "the request ends, or give it its own trace linked to the request "
        "(tracehound.new_trace)",
        trace_id=f"{child.trace_id:032x}",
        span_id=f"{child.span_id:016x}",
        location=child.location,
        details={
            "span": child.name,
            "request": request.name,
            "request_span_id": f"{request.span_id:016x}",
            "request_location": request.location,
        },
    )
