"""Pick the traces worth drawing and fetch their spans, with each span's findings."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from tracehound.doctor.store import Store
from tracehound.rules import Finding, Severity

__all__ = ["MAX_SPANS_PER_TRACE", "MAX_TRACES", "waterfalls"]

MAX_TRACES = 12
MAX_SPANS_PER_TRACE = 200

_SPANS = """
SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
       epoch_ns("Timestamp"), Duration, Source || ':' || "Offset"
FROM otel_traces WHERE TraceId IN (SELECT unnest($1::VARCHAR[]))
QUALIFY row_number() OVER (PARTITION BY TraceId ORDER BY "Timestamp", rowid) <= $2
ORDER BY TraceId, "Timestamp", rowid
"""


def waterfalls(store: Store, findings: Sequence[Finding]) -> dict[str, list[dict[str, Any]]]:
    """Spans of the traces with the most serious findings (a broken call's callee trace too)."""
    weight: Counter[str] = Counter()
    marks: dict[tuple[str, str], list[str]] = defaultdict(list)
    related: dict[str, str] = {}
    for f in findings:
        if f.trace_id is None or f.code.startswith("A"):
            continue
        weight[f.trace_id] += 3 if f.severity >= Severity.ERROR else 1
        if f.span_id:
            marks[(f.trace_id, f.span_id)].append(f.code)
        callee_trace = f.details.get("callee_trace_id") if f.code == "C003" else None
        if callee_trace:
            related.setdefault(f.trace_id, callee_trace)
            callee_span = f.details.get("callee_span_id")
            if callee_span:
                marks[(callee_trace, callee_span)].append("C003")
    chosen: list[str] = []
    for trace_id, _ in weight.most_common():
        for candidate in (trace_id, related.get(trace_id)):
            if candidate and candidate not in chosen:
                chosen.append(candidate)
        if len(chosen) >= MAX_TRACES:
            break
    chosen = chosen[:MAX_TRACES]
    if not chosen:
        return {}
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in chosen}
    for row in store.query(_SPANS, [chosen, MAX_SPANS_PER_TRACE]):
        trace_id, span_id, parent, name, kind, service, start, duration, loc = row
        out[trace_id].append(
            {
                "span_id": span_id,
                "parent_span_id": parent,
                "name": name,
                "kind": kind,
                "service": service,
                "start_ns": start,
                "duration_ns": duration,
                "location": loc,
                "codes": sorted(set(marks.get((trace_id, span_id), []))),
            }
        )
    return out
