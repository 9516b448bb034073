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

_COPIES = f"""
CREATE OR REPLACE TEMP TABLE th_copies AS
WITH twice AS (
    SELECT hash(TraceId, SpanId) AS h FROM otel_traces
    GROUP BY h HAVING count(DISTINCT Source) > 1
), c AS (
    SELECT rowid AS rid, Source, "Offset", TraceId, SpanId, ParentSpanId, SpanKind,
           ServiceName, SpanName, epoch_ns("Timestamp") AS s,
           epoch_ns("Timestamp") + Duration AS e
    FROM otel_traces WHERE hash(TraceId, SpanId) IN (SELECT h FROM twice)
)
SELECT c.rid, c.Source, c."Offset", c.TraceId, c.SpanId,
       arg_min(f.Source, f.rid) AS first_source
FROM c JOIN c f
  ON f.TraceId = c.TraceId AND f.SpanId = c.SpanId AND f.ParentSpanId = c.ParentSpanId
 AND f.SpanKind = c.SpanKind AND f.ServiceName = c.ServiceName AND f.SpanName = c.SpanName
 AND f.rid < c.rid AND f.Source <> c.Source
WHERE (f.s IS NOT DISTINCT FROM c.s OR abs(f.s - c.s) <= {TIME_TOLERANCE_NS})
  AND (f.e IS NOT DISTINCT FROM c.e OR abs(f.e - c.e) <= {TIME_TOLERANCE_NS})
GROUP BY ALL
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
