"""Lifecycle checks: L004 bad durations, L005 child outside parent, L006 duplicate span IDs.

L005 compares a span with its parent (a parent in the same service is
preferred when Zipkin shared spans make the ID ambiguous): across services it
is clock skew, within a service a parent that ended before its child.  A
CONSUMER may outlive its PRODUCER parent (the message waited in a queue).
L006 leaves alone a CLIENT and a SERVER sharing one ID in different services
or marked ``shared``: that is how Zipkin models one RPC.
"""

from __future__ import annotations

from collections import Counter

from tracehound.doctor.checks._sql import PARENTS, finding, ms, spans
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["check"]

_DURATIONS = """
SELECT TraceId, SpanId, SpanName, ServiceName, Source || ':' || "Offset" AS loc, Duration
FROM otel_traces WHERE Duration IS NULL OR Duration <= 0 ORDER BY loc
"""

_OUTSIDE = f"""
CREATE OR REPLACE TEMP TABLE th_outside AS
SELECT child, parent, ps - s AS early, e - pe AS late FROM ({PARENTS})
WHERE s < ps OR (e > pe AND NOT (kind = 'Consumer' AND pkind = 'Producer'))
"""

_DUPLICATES = """
SELECT TraceId, SpanId, count(*) AS n, list(SpanKind ORDER BY SpanKind) AS kinds,
       list(DISTINCT ServiceName ORDER BY ServiceName) AS services, bool_or(Shared) AS shared,
       list(loc ORDER BY loc) AS locs, min(SpanName) AS name
FROM th_dups GROUP BY TraceId, SpanId ORDER BY min(loc)
"""


MAX_LOCATIONS = 20
"""Places of the spans sharing an ID listed in an L006 finding (``count`` has them all)."""


def _some(names: list[str]) -> str:
    """``names`` for a message: each once with its count when repeated (``Client ×3``)."""
    counts = Counter(names)
    if len(counts) == len(names):
        return ", ".join(names)
    return ", ".join(f"{name} ×{k}" if k > 1 else name for name, k in counts.items())


def check(store: Store) -> list[Finding]:
    """Run L004-L006 over the span table (after `_sql.install`)."""
    findings: list[Finding] = []
    for trace_id, span_id, name, service, loc, duration in store.query(_DURATIONS):
        if duration is None:
            what = "has no end time: it was exported before it ended"
        elif duration == 0:
            what = "has a zero duration"
        else:
            what = f"ends {ms(-duration)} before it starts"
        findings.append(
            finding(
                "L004",
                f"span '{name}' of {service} {what}",
                trace_id=trace_id,
                span_id=span_id,
                service=service,
                loc=loc,
                details={"duration_ns": duration},
            )
        )
    store.con.execute(_OUTSIDE)
    known = spans(store, "SELECT child FROM th_outside UNION ALL SELECT parent FROM th_outside")
    for child, parent, early, late in store.query("SELECT * FROM th_outside"):
        trace_id, span_id, name, service, _, loc = known[child]
        parent_id, parent_name, parent_service = known[parent][1:4]
        if early is not None and early > 0:
            what = f"starts {ms(early)} before its parent '{parent_name}'"
        else:
            what = f"ends {ms(late)} after its parent '{parent_name}' ended"
        if parent_service != service:
            why = f"clock skew between {parent_service} and {service}?"
        else:
            why = "the parent ended before its child: work escaped the span"
        findings.append(
            finding(
                "L005",
                f"span '{name}' of {service} {what} ({why})",
                trace_id=trace_id,
                span_id=span_id,
                service=service,
                loc=loc,
                details={
                    "parent_span_id": parent_id,
                    "parent_service": parent_service,
                    "early_ns": max(int(early or 0), 0),
                    "late_ns": max(int(late or 0), 0),
                },
            )
        )
    for trace_id, span_id, n, kinds, services, shared, locs, name in store.query(_DUPLICATES):
        if n == 2 and kinds == ["Client", "Server"] and (shared or len(services) == 2):
            continue  # one RPC, Zipkin style
        findings.append(
            finding(
                "L006",
                f"{n} spans of this trace share span ID {span_id} ('{name}'; kinds "
                f"{_some(kinds)}; services {_some(services)})",
                trace_id=trace_id,
                span_id=span_id,
                service=services[0] if len(services) == 1 else None,
                loc=locs[0],
                # the first locations only: thousands of copies of an ID made megabytes
                details={"count": n, "locations": list(locs[:MAX_LOCATIONS])},
            )
        )
    return findings
