"""Context checks: C001 orphan spans, C002 multiple roots, C003 broken edges, C004 suspicious roots.

C001 tells an entry span whose parent is remote (a SERVER or CONSUMER span
whose caller is simply not in the data: normal) from an orphan inside a
service (any other span whose parent is missing: a hole in the trace).  An
entry span is an orphan too when its missing parent is also the parent of
a non-entry span, because then the parent was a local span that is missing.
C003 lives in `tracehound.doctor.checks._hops`.
"""

from __future__ import annotations

from tracehound.doctor.checks._hops import Hops, match_hops
from tracehound.doctor.checks._sql import finding
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["ContextResult", "check"]

_ORPHANS = """
WITH missing AS (
    SELECT c.* FROM th_spans c
    WHERE c.ParentSpanId <> '' AND c.rid NOT IN (SELECT child FROM th_parent)
), holes AS (
    SELECT TraceId, ParentSpanId, count(*) AS children,
           bool_or(SpanKind NOT IN ('Server', 'Consumer')) AS local_parent
    FROM missing GROUP BY ALL
)
SELECT m.TraceId, m.SpanId, m.ParentSpanId, m.SpanName, m.SpanKind, m.ServiceName, m.loc,
       h.children, h.local_parent, r.Reason, r.Source || ':' || r."Offset"
FROM missing m JOIN holes h USING (TraceId, ParentSpanId)
LEFT JOIN (SELECT * FROM rejected WHERE SpanId IS NOT NULL
           QUALIFY row_number() OVER (PARTITION BY TraceId, SpanId) = 1) r
  ON r.TraceId = m.TraceId AND r.SpanId = m.ParentSpanId
ORDER BY m.loc
"""

_ROOTS = """
WITH roots AS (
    SELECT t.*, contains(o.SpanAttributes::VARCHAR, '"tracehound.new_trace"') AS deliberate
    FROM th_spans t JOIN otel_traces o ON o.rowid = t.rid
    WHERE t.ParentSpanId = ''
    QUALIFY row_number() OVER (PARTITION BY t.TraceId, t.SpanId ORDER BY t.Shared, t.rid) = 1
), ranked AS (
    SELECT *, count(*) OVER (PARTITION BY TraceId) AS n,
           row_number() OVER (PARTITION BY TraceId ORDER BY s, rid) AS k,
           first_value(SpanId) OVER (PARTITION BY TraceId ORDER BY s, rid) AS first_id,
           first_value(SpanName) OVER (PARTITION BY TraceId ORDER BY s, rid) AS first_name,
           first_value(ServiceName) OVER (PARTITION BY TraceId ORDER BY s, rid) AS first_service
    FROM roots
)
SELECT TraceId, SpanId, SpanName, SpanKind, ServiceName, loc, n, k,
       first_id, first_name, first_service, deliberate
FROM ranked WHERE n > 1 OR SpanKind NOT IN ('Server', 'Consumer')
ORDER BY loc
"""


class ContextResult:
    """The context findings and what C003 learned about the hops between services."""

    def __init__(self, findings: list[Finding], hops: Hops, remote_entries: int) -> None:
        self.findings = findings
        self.hops = hops
        self.remote_entries = remote_entries
        """Entry spans whose parent is remote (not reported)."""


def check(store: Store) -> ContextResult:
    """Run C001-C004 over the span table (after `_sql.install`)."""
    findings: list[Finding] = []
    remote_entries = 0
    for (
        trace_id,
        span_id,
        parent_id,
        name,
        kind,
        service,
        loc,
        children,
        local_parent,
        reason,
        rejected_at,
    ) in store.query(_ORPHANS):
        if kind in ("Server", "Consumer") and not local_parent:
            remote_entries += 1
            continue
        message = f"{kind} span '{name}' of {service} names parent {parent_id}, which is not in"
        message += " the trace"
        if reason:
            message += f" (the parent was rejected at {rejected_at}: {reason})"
        elif children > 1:
            message += f" (it is the missing parent of {children} spans)"
        findings.append(
            finding(
                "C001",
                message,
                trace_id=trace_id,
                span_id=span_id,
                service=service,
                loc=loc,
                details={"parent_span_id": parent_id, "siblings": children},
            )
        )
    for (
        trace_id,
        span_id,
        name,
        kind,
        service,
        loc,
        n,
        k,
        first_id,
        first_name,
        first_service,
        deliberate,
    ) in store.query(_ROOTS):
        if n > 1 and k > 1:
            findings.append(
                finding(
                    "C002",
                    f"'{name}' ({kind}, {service}) is root {k} of {n} in this trace; the first "
                    f"root is '{first_name}' ({first_service}, span {first_id})",
                    trace_id=trace_id,
                    span_id=span_id,
                    service=service,
                    loc=loc,
                    details={"roots": n, "first_root_span_id": first_id},
                )
            )
        # A root tracehound.new_trace made on purpose (the runtime marks it) is no C004.
        if kind not in ("Server", "Consumer") and not deliberate:
            findings.append(
                finding(
                    "C004",
                    f"the trace starts at {kind} span '{name}' of {service}: whatever called it "
                    "did not hand over its context",
                    trace_id=trace_id,
                    span_id=span_id,
                    service=service,
                    loc=loc,
                    details={"kind": kind},
                )
            )
    hops = match_hops(store)
    findings.extend(hops.findings)
    return ContextResult(findings, hops, remote_entries)
