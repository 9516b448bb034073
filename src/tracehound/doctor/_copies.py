"""Spans read twice from overlapping inputs: analysed once, the copies reported.

Two inputs may hold the same spans without being the same file (an export and
a later export that includes it, a file and its copy).  A span is a copy when
another input already gave one with the same trace and span ID, parent, kind,
service, name and times; the copies are left out of the table (counted as
rejected, naming the input they repeat), so they are not taken for L006
duplicate IDs.  Two spans sharing an ID within one input are not touched:
that is what L006 is about.
"""

from __future__ import annotations

from tracehound.doctor._model import DuplicateInput
from tracehound.doctor.store import Store

__all__ = ["drop_copies"]

_COPIES = """
CREATE OR REPLACE TEMP TABLE th_copies AS
WITH twice AS (
    SELECT hash(TraceId, SpanId) AS h FROM otel_traces
    GROUP BY h HAVING count(DISTINCT Source) > 1
), candidates AS (
    SELECT rowid AS rid, Source, "Offset", TraceId, SpanId,
        first_value(Source) OVER (
            PARTITION BY TraceId, SpanId, ParentSpanId, SpanKind, ServiceName, SpanName,
                "Timestamp", Duration
            ORDER BY rowid) AS first_source
    FROM otel_traces WHERE hash(TraceId, SpanId) IN (SELECT h FROM twice)
)
SELECT * FROM candidates WHERE Source <> first_source
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
