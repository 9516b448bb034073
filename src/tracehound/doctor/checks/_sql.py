"""What every check shares: SQL helpers over the span table and the `Finding` builder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracehound.doctor.store import Store
from tracehound.rules import Finding, get_rule

__all__ = ["finding", "install", "location", "ms"]

_SETUP = """
CREATE OR REPLACE MACRO th_attrs(a) AS from_json(a, '[{"key":"VARCHAR","value":"JSON"}]');
CREATE OR REPLACE MACRO th_str(al, k) AS
    (list_filter(al, lambda x: x.key = k)[1].value) ->> 'stringValue';
CREATE OR REPLACE VIEW th_spans AS
SELECT rowid AS rid, TraceId, SpanId, ParentSpanId, SpanKind, ServiceName, SpanName, Shared,
       epoch_ns("Timestamp") AS s, epoch_ns("Timestamp") + Duration AS e, Duration,
       Source || ':' || "Offset" AS loc
FROM otel_traces;
CREATE OR REPLACE TEMP TABLE th_parent AS
SELECT c.rid AS child, p.rid AS parent
FROM th_spans c JOIN th_spans p
  ON p.TraceId = c.TraceId AND p.SpanId = c.ParentSpanId AND p.rid <> c.rid
WHERE c.ParentSpanId <> ''
QUALIFY row_number() OVER (
    PARTITION BY c.rid ORDER BY (p.ServiceName = c.ServiceName) DESC, p.Shared, p.rid) = 1;
"""


def install(store: Store) -> None:
    """Create the helpers the checks query (idempotent)."""
    store.con.execute(_SETUP)


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
        get_rule(code),
        message,
        trace_id=trace_id,
        span_id=span_id,
        service=service,
        location=loc,
        details=dict(details or {}),
    )
