"""What every check shares: SQL helpers over the span table and the `Finding` builder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from tracehound.doctor.store import Store
from tracehound.rules import CATALOGUE, Finding, get_rule

__all__ = ["ONE_RPC", "SpanInfo", "finding", "install", "location", "locations", "ms", "spans"]

MAX_SHARED_PARENTS = 16
"""Spans sharing one ID (per service and Shared) a child is joined to as its parent."""

_SETUP = """
-- an attribute list's well-formed entries (a string key, an object value): an exporter's
-- `5` or `{"key": "k", "value": 5}` is not an attribute, and no check may trip over it
-- (the cheap tests first: the stored JSON is valid, and from_json writes values minified,
-- so a text starting with '[' is an array and a value starting with '{' an object)
-- (th_attr_entries: every entry, well-formed or not, for a query that unnests them and keeps
-- the well-formed ones itself: a filter on the rows costs less than a lambda on every list)
CREATE OR REPLACE MACRO th_attr_entries(a) AS
    from_json(CASE WHEN starts_with(a, '[') OR json_type(a) = 'ARRAY' THEN a END,
              '[{"key":"VARCHAR","value":"JSON"}]');
CREATE OR REPLACE MACRO th_attrs(a) AS list_filter(th_attr_entries(a),
    lambda x: x.key IS NOT NULL AND starts_with(x.value, '{'));
CREATE OR REPLACE MACRO th_str(al, k) AS
    (list_filter(al, lambda x: x.key = k)[1].value) ->> 'stringValue';
CREATE OR REPLACE VIEW th_spans AS
SELECT rowid AS rid, TraceId, SpanId, ParentSpanId, SpanKind, ServiceName, SpanName, Shared,
       epoch_ns("Timestamp") AS s, epoch_ns("Timestamp") + Duration AS e, Duration
FROM otel_traces;
-- span IDs used more than once in a trace: a cheap pass over hashes, then exact
CREATE OR REPLACE TEMP TABLE th_dup_hash AS
SELECT hash(TraceId, SpanId) AS h FROM otel_traces GROUP BY h HAVING count(*) > 1;
CREATE OR REPLACE TEMP TABLE th_dups AS
SELECT rowid AS rid, TraceId, SpanId, ParentSpanId = '' AS root, SpanKind, ServiceName, SpanName,
       Shared, epoch_ns("Timestamp") AS s, epoch_ns("Timestamp") + Duration AS e,
       Source || ':' || "Offset" AS loc
FROM otel_traces WHERE hash(TraceId, SpanId) IN (SELECT h FROM th_dup_hash)
QUALIFY count(*) OVER (PARTITION BY TraceId, SpanId) > 1;
-- The one join of spans to their parents, kept only where a check looks: spans without
-- a parent, children outside their parent, children of calls, and children whose parent
-- ID is ambiguous (`amb`, a superset: hashes), for L005 to compare with each of them.
-- A parent ID used by many spans is joined to at most MAX_SHARED_PARENTS of them per
-- service and Shared (L005 compares a child with each of them), or n spans sharing an
-- ID, each naming it as parent, made n² rows (a 5 MB file: 10 GB).
CREATE OR REPLACE TEMP TABLE th_link AS
WITH p AS (
    SELECT rid, TraceId, SpanId, SpanKind, ServiceName, Shared, s, e FROM th_spans
    WHERE rid NOT IN (SELECT rid FROM th_dups)
    UNION ALL
    SELECT rid, TraceId, SpanId, SpanKind, ServiceName, Shared, s, e FROM th_dups
    QUALIFY row_number() OVER (PARTITION BY TraceId, SpanId, ServiceName, Shared ORDER BY rid)
        <= {max_parents}
)
SELECT c.rid AS child, c.SpanKind AS kind, c.ServiceName AS service, c.s, c.e,
       c.ParentSpanId = '' AS root, p.rid AS parent, p.SpanKind AS pkind,
       p.ServiceName AS pservice, p.Shared AS pshared, p.s AS ps, p.e AS pe,
       hash(c.TraceId, c.ParentSpanId) IN (SELECT h FROM th_dup_hash) AS amb
FROM th_spans c LEFT JOIN p
  ON p.TraceId = c.TraceId AND p.SpanId = c.ParentSpanId AND p.rid <> c.rid
WHERE p.rid IS NULL OR amb OR c.s < p.s OR c.e > p.e
   OR p.SpanKind IN ('Client', 'Producer')
      AND (c.SpanKind IN ('Server', 'Consumer') OR c.ServiceName <> p.ServiceName);
"""

# Spans of one trace sharing an ID (rows of th_dups) that are one call as Zipkin models
# it: at most one CLIENT, and SERVER spans that joined it (retries, fan-out consumers,
# the servers of a client that reported nothing), each marked shared or, beside the
# CLIENT, in another service than the CLIENT's.  Not a duplicate (L006) and one root
# (C002).  A SERVER that is not shared and is in the CLIENT's own service (or has no
# CLIENT) reused an ID; so did any other kind.
# `{over}` is "" in a GROUP BY (TraceId, SpanId), or " OVER w" with that partition.
ONE_RPC = """(count_if(SpanKind = 'Client'){over} <= 1
    AND count_if(SpanKind IN ('Client', 'Server')){over} = count(*){over}
    AND (count_if(SpanKind = 'Server' AND NOT coalesce(Shared, false)){over} = 0
         OR count_if(SpanKind = 'Client'){over} = 1
            AND NOT list_contains(
                list(CASE WHEN SpanKind = 'Server' AND NOT coalesce(Shared, false)
                          THEN coalesce(ServiceName, '') END){over},
                max(CASE WHEN SpanKind = 'Client' THEN coalesce(ServiceName, '') END){over})))"""


def install(store: Store) -> None:
    """Create the helpers the checks query (idempotent)."""
    store.con.execute(_SETUP.replace("{max_parents}", str(MAX_SHARED_PARENTS)))


class SpanInfo(NamedTuple):
    """What a finding says about a span."""

    trace_id: str
    span_id: str
    name: str
    service: str
    kind: str
    loc: str | None


def spans(store: Store, rids: str) -> dict[int, SpanInfo]:
    """The spans whose row IDs the query ``rids`` selects, by row ID.

    A query of its own on purpose: joined into a larger query, the look-up by row ID in
    ``otel_traces`` can cost more than the rest of it; alone, it takes milliseconds.
    """
    sql = f"""
        SELECT rowid, TraceId, SpanId, SpanName, ServiceName, SpanKind, Source || ':' || "Offset"
        FROM otel_traces WHERE rowid IN ({rids})"""
    return {rid: SpanInfo(*rest) for rid, *rest in store.query(sql)}


def locations(store: Store, rids: str) -> dict[int, str | None]:
    """Where each span whose row ID the query ``rids`` selects was read (``file:position``),
    by row ID: `spans` for a caller that needs nothing else (the other columns cost more to
    read than the look-up itself)."""
    sql = f"""
        SELECT rowid, Source || ':' || "Offset" FROM otel_traces WHERE rowid IN ({rids})"""
    return dict(store.query(sql))


def location(source: str | None, offset: str | None) -> str | None:
    """``file:position`` for a span."""
    if source is None:
        return None
    return f"{source}:{offset}" if offset else source


def ms(nanos: float | None) -> str:
    """A duration in nanoseconds for people: ``1.2 ms``, ``65 ms``, ``3.4 s``."""
    if nanos is None:
        return "?"
    value = abs(nanos) / 1e6
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.2g} ms" if value >= 0.01 else f"{abs(nanos) / 1e3:.2g} µs"


def finding(
    code: str,
    message: str,
    *,
    trace_id: str | None = None,
    span_id: str | None = None,
    service: str | None = None,
    loc: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Finding:
    """A `Finding` of catalogue rule ``code``."""
    return Finding(
        CATALOGUE.get(code) or get_rule(code),  # (the look-up alone: tens of thousands of calls)
        message,
        trace_id=trace_id,
        span_id=span_id,
        service=service,
        location=loc,
        details=dict(details or {}),
    )
