"""Spans read twice from overlapping inputs: analysed once, the copies reported.

Two inputs may hold the same spans without being the same file (an export and
a later export that includes it, a file and its copy, the OTLP export and the
console exporter's output of one service).  A span is a copy when another input
already gave one with the same trace and span ID, parent, kind, service and
name, starting and ending within a microsecond of it (Zipkin, Jaeger and the
Python console exporter write microseconds, the last from a float); the copies
are left out of the table (counted as rejected, naming the input they repeat),
so they are not taken for L006 duplicate IDs.  Two spans sharing an ID within
one input are not touched: that is what L006 is about.
"""

from __future__ import annotations

from tracehound.doctor._model import DuplicateInput
from tracehound.doctor.store import Store

__all__ = ["TIME_TOLERANCE_NS", "drop_copies"]

TIME_TOLERANCE_NS = 1000
"""How far apart (1 µs) two inputs' times of one span may be and still be the same."""

# Spans of one identity (IDs, parent, kind, service, name) in time order: a span starts a
# new group unless it starts and ends within the tolerance of the one before (linear: a
# self join was quadratic in spans sharing an ID).  A group's first span (input order)
# stays; the others of its group from another input are copies; two of one input stay
# (L006).  Times as HUGEINT: an end past 2262 must not overflow.
_COPIES = f"""
CREATE OR REPLACE TEMP TABLE th_copies AS
WITH twice AS (
    SELECT hash(TraceId, SpanId) AS h FROM otel_traces
    GROUP BY h HAVING count(DISTINCT Source) > 1
), c AS (
    SELECT rowid AS rid, Source, "Offset", TraceId, SpanId, ParentSpanId, SpanKind,
           ServiceName, SpanName, epoch_ns("Timestamp")::HUGEINT AS s,
           epoch_ns("Timestamp")::HUGEINT + Duration AS e
    FROM otel_traces WHERE hash(TraceId, SpanId) IN (SELECT h FROM twice)
), ordered AS (
    SELECT *, lag(s) OVER w AS ps, lag(e) OVER w AS pe, row_number() OVER w AS k
    FROM c
    WINDOW w AS (PARTITION BY TraceId, SpanId, ParentSpanId, SpanKind, ServiceName, SpanName
                 ORDER BY s NULLS FIRST, e NULLS FIRST, rid)
), grouped AS (
    SELECT *, sum(CASE WHEN k > 1
                        AND (s IS NOT DISTINCT FROM ps OR abs(s - ps) <= {TIME_TOLERANCE_NS})
                        AND (e IS NOT DISTINCT FROM pe OR abs(e - pe) <= {TIME_TOLERANCE_NS})
                       THEN 0 ELSE 1 END) OVER (
        PARTITION BY TraceId, SpanId, ParentSpanId, SpanKind, ServiceName, SpanName
        ORDER BY s NULLS FIRST, e NULLS FIRST, rid ROWS UNBOUNDED PRECEDING) AS grp
    FROM ordered
), firsts AS (
    SELECT *, arg_min(Source, rid) OVER (
        PARTITION BY TraceId, SpanId, ParentSpanId, SpanKind, ServiceName, SpanName, grp
    ) AS first_source
    FROM grouped
)
SELECT rid, Source, "Offset", TraceId, SpanId, first_source FROM firsts
WHERE Source <> first_source
"""

_REJECT = """
INSERT INTO rejected
SELECT Source, "Offset",
    'the same span as read from ' || first_source || ' (duplicated input): analysed once',
    TraceId, SpanId
FROM th_copies
"""


def drop_copies(store: Store) -> list[DuplicateInput]:
    """Leave out the spans an earlier input already gave; the inputs that repeated one."""
    store.con.execute(_COPIES)
    pairs = store.query(
        "SELECT Source, first_source, count(*) FROM th_copies GROUP BY ALL ORDER BY min(rid)"
    )
    if pairs:
        store.con.execute(_REJECT)
        store.con.execute("DELETE FROM otel_traces WHERE rowid IN (SELECT rid FROM th_copies)")
    store.con.execute("DROP TABLE th_copies")
    return [DuplicateInput(source, same_as, int(spans)) for source, same_as, spans in pairs]
