"""Context checks: C001 orphan spans, C002 multiple roots, C003 broken edges, C004 suspicious
roots, C007 spans that are their own parent.

C001 tells an entry span whose parent is remote (a SERVER or CONSUMER span
whose caller is simply not in the data: normal) from an orphan inside a
service (any other span whose parent is missing: a hole in the trace).  An
entry span is an orphan too when its missing parent is also the parent of
a non-entry span, because then the parent was a local span that is missing.
C003 lives in `tracehound.doctor.checks._hops`.
"""

from __future__ import annotations

from collections.abc import Callable

from tracehound.doctor.checks._hops import Hops, match_hops
from tracehound.doctor.checks._sql import ONE_RPC, finding
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["ContextResult", "check", "suspicious_roots"]

# One read of the spans whose parent is missing: the orphans (C001), then, after them,
# the spans that name themselves as parent (C007: th_link found no other span with that ID).
_ORPHANS = """
WITH parentless AS (
    SELECT rowid AS rid, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
           Source || ':' || "Offset" AS loc, ParentSpanId = SpanId AS own
    FROM otel_traces WHERE rowid IN (SELECT child FROM th_link WHERE parent IS NULL AND NOT root)
), missing AS (
    SELECT * FROM parentless WHERE NOT own
), holes AS (
    SELECT TraceId, ParentSpanId, count(*) AS children,
           bool_or(SpanKind NOT IN ('Server', 'Consumer')) AS local_parent
    FROM missing GROUP BY ALL
)
SELECT false AS own, m.TraceId, m.SpanId, m.ParentSpanId, m.SpanName, m.SpanKind,
       m.ServiceName, m.loc, h.children, h.local_parent, r.Reason, r.Source || ':' || r."Offset"
FROM missing m JOIN holes h USING (TraceId, ParentSpanId)
LEFT JOIN (SELECT * FROM rejected WHERE SpanId IS NOT NULL
           QUALIFY row_number() OVER (PARTITION BY TraceId, SpanId) = 1) r
  ON r.TraceId = m.TraceId AND r.SpanId = m.ParentSpanId
UNION ALL
SELECT true, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, loc,
       NULL, NULL, NULL, NULL
FROM parentless WHERE own
ORDER BY own, loc
"""

# Windows over every root are slow (a partition per trace): count with an aggregate, rank
# only the roots that are reported, and deduplicate only the IDs th_dups names.
_ROOTS = """
WITH kept AS (  -- a root ID used by one Zipkin RPC (a CLIENT and its SERVERs) is one root;
                -- other roots sharing an ID are roots each (C002, and L006 for the ID)
    SELECT rowid AS rid, TraceId, SpanKind, epoch_ns("Timestamp") AS s FROM otel_traces
    WHERE ParentSpanId = '' AND rowid NOT IN (SELECT rid FROM th_dups)
    UNION ALL
    SELECT rid, TraceId, SpanKind, s FROM th_dups WHERE root
    WINDOW w AS (PARTITION BY TraceId, SpanId)
    QUALIFY row_number() OVER (w ORDER BY Shared, rid) = 1 OR NOT $one_rpc
), traces AS (
    SELECT TraceId, count(*) AS n FROM kept GROUP BY TraceId
), shown AS (
    SELECT k.rid, k.TraceId, k.s, t.n FROM kept k JOIN traces t USING (TraceId)
    WHERE t.n > 1
), details AS (
    SELECT rowid AS rid, SpanId, SpanName, SpanKind, ServiceName, Source || ':' || "Offset" AS loc
    FROM otel_traces WHERE rowid IN (SELECT rid FROM shown)
)
SELECT r.TraceId, d.SpanId, d.SpanName, d.SpanKind, d.ServiceName, d.loc, r.n,
       row_number() OVER w AS k, first_value(d.SpanId) OVER w, first_value(d.SpanName) OVER w,
       first_value(d.ServiceName) OVER w
FROM shown r JOIN details d USING (rid)
WINDOW w AS (PARTITION BY r.TraceId ORDER BY r.s, r.rid)
ORDER BY d.loc
""".replace("$one_rpc", ONE_RPC.format(over=" OVER w"))


# A root that is not an entry span is only suspicious with evidence that a parent existed:
# it started while the same process was serving a request (a thread, pool or task that did
# not get the context), or the same span of the same service has a parent in other traces.
# A script's main, a cron job, a load generator's first call: genuine roots, no finding.
_SUSPICIOUS = """
WITH cand AS (
    SELECT rowid AS rid, TraceId, SpanId, SpanName, SpanKind, ServiceName,
           hash(ResourceAttributes) AS res, epoch_ns("Timestamp") AS s,
           Source || ':' || "Offset" AS loc
    FROM otel_traces
    WHERE ParentSpanId = '' AND SpanKind NOT IN ('Server', 'Consumer')
      -- a root tracehound.new_trace made on purpose (the runtime marks it)
      AND NOT contains(SpanAttributes::VARCHAR, '"tracehound.new_trace"')
), entries AS (
    -- by the seconds they cover (up to ten minutes: longer requests are streams, not
    -- handlers), so that a root meets the few entries of its second, not all of them
    SELECT *, unnest(range(s // 1000000000, least(e // 1000000000, s // 1000000000 + 600) + 1))
              AS b
    FROM (
        SELECT TraceId, ServiceName, SpanName, hash(ResourceAttributes) AS res,
               epoch_ns("Timestamp") AS s, epoch_ns("Timestamp") + Duration AS e
        FROM otel_traces
        WHERE SpanKind IN ('Server', 'Consumer') AND Duration > 0
          AND ServiceName IN (SELECT ServiceName FROM cand)
    )
), during AS (
    SELECT c.rid, arg_min(e.SpanName, e.s) AS entry, arg_min(e.TraceId, e.s) AS entry_trace
    FROM cand c JOIN entries e
      ON e.ServiceName = c.ServiceName AND e.res = c.res AND e.b = c.s // 1000000000
     AND c.s > e.s AND c.s < e.e AND e.TraceId <> c.TraceId
    GROUP BY c.rid
), usual AS (  -- the candidates' names are few: filter by them before grouping
    SELECT ServiceName, SpanName, TraceId, count(*) AS n FROM otel_traces
    WHERE ParentSpanId <> '' AND SpanName IN (SELECT SpanName FROM cand)
    GROUP BY ALL
), totals AS (
    SELECT ServiceName, SpanName, sum(n) AS n FROM usual GROUP BY ALL
), elsewhere AS (  -- in other traces: a recursive or retried span under the root is no evidence
    SELECT c.rid, t.n - coalesce(o.n, 0) AS n
    FROM cand c JOIN totals t ON t.ServiceName = c.ServiceName AND t.SpanName = c.SpanName
    LEFT JOIN usual o
      ON o.ServiceName = c.ServiceName AND o.SpanName = c.SpanName AND o.TraceId = c.TraceId
)
SELECT c.TraceId, c.SpanId, c.SpanName, c.SpanKind, c.ServiceName, c.loc,
       d.entry, d.entry_trace, coalesce(x.n, 0)
FROM cand c LEFT JOIN during d USING (rid) LEFT JOIN elsewhere x USING (rid)
WHERE d.rid IS NOT NULL OR x.n > 0
ORDER BY c.loc
"""


class ContextResult:
    """The context findings and what C003 learned about the hops between services."""

    def __init__(self, findings: list[Finding], hops: Hops, remote_entries: int) -> None:
        self.findings = findings
        self.hops = hops
        self.remote_entries = remote_entries
        """Entry spans whose parent is remote (not reported)."""


def check(
    store: Store, hops: Callable[[Store], Hops] = match_hops, *, suspicious: bool = True
) -> ContextResult:
    """Run C001-C004 and C007 over the span table (after `_sql.install`); ``hops`` runs
    C003 (``--clickhouse`` runs it on a local copy of the window); without ``suspicious``,
    C004 is left to `suspicious_roots` (which needs the span table only, not `_sql.install`:
    another connection may run it)."""
    findings: list[Finding] = []
    remote_entries = 0
    own_parents: list[tuple[str, str, str, str, str, str | None]] = []
    for (
        own,
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
        if own:
            own_parents.append((trace_id, span_id, name, kind, service, loc))
            continue
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
    ) in store.query(_ROOTS):
        if k > 1:
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
    if suspicious:
        findings.extend(suspicious_roots(store))
    for trace_id, span_id, name, kind, service, loc in own_parents:
        findings.append(
            finding(
                "C007",
                f"{kind} span '{name}' of {service} names itself ({span_id}) as its parent",
                trace_id=trace_id,
                span_id=span_id,
                service=service,
                loc=loc,
                details={"parent_span_id": span_id},
            )
        )
    matched = hops(store)
    findings.extend(matched.findings)
    return ContextResult(findings, matched, remote_entries)


def suspicious_roots(store: Store) -> list[Finding]:
    """C004: the roots that are not entry spans where a parent should have existed."""
    findings: list[Finding] = []
    for trace_id, span_id, name, kind, service, loc, entry, entry_trace, usual in store.query(
        _SUSPICIOUS
    ):
        evidence = []
        if entry is not None:
            evidence.append(
                f"it started while {service} was serving '{entry}' (trace {entry_trace}) in "
                "the same process"
            )
        if usual:
            evidence.append(f"'{name}' of {service} has a parent in {usual} other spans")
        findings.append(
            finding(
                "C004",
                f"the trace starts at {kind} span '{name}' of {service}, but "
                + " and ".join(evidence)
                + ": whatever called it did not hand over its context",
                trace_id=trace_id,
                span_id=span_id,
                service=service,
                loc=loc,
                details={
                    "kind": kind,
                    "during_entry": entry,
                    "during_trace_id": entry_trace,
                    "with_parent_elsewhere": int(usual),
                },
            )
        )
    return findings
