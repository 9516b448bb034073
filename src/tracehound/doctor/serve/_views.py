"""What the web UI asks the span table: the trace list, one trace's spans, a filtered report.

Each runs on a connection of its own (`Store.on_own_connection`), beside the
engine's loading and checks, and reads only committed rows.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from tracehound.doctor.report.json import to_dict
from tracehound.doctor.serve._engine import Engine
from tracehound.doctor.serve._live import traces_of
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["FilterError", "filtered_report", "parse_time", "trace_detail", "trace_list"]

MAX_TRACES = 500
MAX_SPANS = 2000


class FilterError(ValueError):
    """A query parameter that cannot be read (the message names it)."""


def parse_time(name: str, text: str) -> int:
    """``text`` (RFC 3339, or Unix seconds) as Unix nanoseconds; `FilterError` naming ``name``."""
    try:
        return int(float(text) * 1e9)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(
            f"{name}={text!r}: not a time (use RFC 3339, 2026-12-05T12:00:00Z, or Unix seconds)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1e9)


_TRACES = """
SELECT TraceId, epoch_ns(min("Timestamp")) AS start_ns,
       max(epoch_ns("Timestamp") + coalesce(Duration, 0)) - epoch_ns(min("Timestamp")) AS dur,
       count(*) AS spans, list(DISTINCT ServiceName ORDER BY ServiceName) AS services,
       arg_min(ServiceName, "Timestamp") FILTER (WHERE ParentSpanId = '') AS root_service,
       arg_min(SpanName, "Timestamp") FILTER (WHERE ParentSpanId = '') AS root_name,
       count(*) FILTER (WHERE StatusCode = 'Error') AS errors
FROM otel_traces
WHERE ($service IS NULL
       OR TraceId IN (SELECT TraceId FROM otel_traces WHERE ServiceName = $service))
GROUP BY TraceId
ORDER BY start_ns DESC NULLS LAST, TraceId
LIMIT $limit
"""


def trace_list(engine: Engine, service: str | None, limit: int) -> list[dict[str, Any]]:
    """The latest traces checked, newest first, each with the rule codes found in it (by
    the last live run, until the report covers the trace)."""
    codes = engine.snapshot.codes_by_trace
    live = engine.live_findings
    with engine.store.on_own_connection() as own:
        rows = own.query(
            _TRACES,
            {"service": service, "limit": max(1, min(limit, MAX_TRACES))},
        )
    return [
        {
            "trace_id": trace_id,
            "start_ns": start,
            "duration_ns": dur,
            "spans": spans,
            "services": services,
            "root_service": root_service,
            "root_name": root_name,
            "errors": errors,
            "codes": _codes(live.get(trace_id), trace_id, codes),
        }
        for trace_id, start, dur, spans, services, root_service, root_name, errors in rows
    ]


def _codes(live: list[Finding] | None, trace_id: str, codes: dict[str, list[str]]) -> list[str]:
    if live is None:
        return codes.get(trace_id, [])
    return sorted({f.code for f in live if f.trace_id == trace_id})


_SPANS = """
SELECT SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, epoch_ns("Timestamp"), Duration,
       StatusCode, StatusMessage, SpanAttributes::VARCHAR, ResourceAttributes::VARCHAR,
       Events::VARCHAR, Links::VARCHAR
FROM otel_traces WHERE TraceId = $trace
ORDER BY "Timestamp" NULLS FIRST, rowid
LIMIT $limit
"""


def trace_detail(engine: Engine, trace_id: str) -> dict[str, Any] | None:
    """One trace's spans, the findings in it, and the traces it is broken from or into."""
    trace_id = trace_id.lower()
    with engine.store.on_own_connection() as own:
        rows = own.query(_SPANS, {"trace": trace_id, "limit": MAX_SPANS})
        total = int(own.scalar("SELECT count(*) FROM otel_traces WHERE TraceId = ?", [trace_id]))
    if not rows:
        return None
    live = engine.live_findings.get(trace_id)
    findings = [
        f.to_dict()
        for f in (engine.snapshot.report.findings if live is None else live)
        if trace_id in traces_of(f)
    ]
    linked: dict[str, str] = {}
    for f in findings:
        details = f["details"]
        if f["code"] != "C003":
            continue
        if f["trace_id"] == trace_id and details.get("callee_trace_id"):
            linked[details["callee_trace_id"]] = "callee"  # the call continued there
        elif details.get("callee_trace_id") == trace_id and f["trace_id"]:
            linked[f["trace_id"]] = "caller"  # the call that should have been this root's parent
    spans = []
    for row in rows:
        (span_id, parent, name, kind, service, start, duration, status, status_message,
         attributes, resource, events, links) = row  # fmt: skip
        spans.append(
            {
                "span_id": span_id,
                "parent_span_id": parent,
                "name": name,
                "kind": kind,
                "service": service,
                "start_ns": start,
                "duration_ns": duration,
                "status": status,
                "status_message": status_message,
                "attributes": _json(attributes),
                "resource": _json(resource),
                "events": _json(events),
                "links": _json(links),
            }
        )
    return {
        "trace_id": trace_id,
        "spans": spans,
        "spans_total": total,
        "findings": findings,
        "linked": [{"trace_id": t, "role": r} for t, r in linked.items()],
    }


def _json(text: str | None) -> Any:
    return orjson.loads(text) if text else None


_MATCHING = """
SELECT DISTINCT TraceId FROM otel_traces
WHERE ($service IS NULL OR ServiceName = $service)
  AND ($since IS NULL OR epoch_ns("Timestamp") >= $since)
  AND ($until IS NULL OR epoch_ns("Timestamp") < $until)
"""
_COPY = "COPY (SELECT * FROM {table} WHERE TraceId IN (SELECT unnest($ids::VARCHAR[]))) TO '{path}'"


def filtered_report(
    engine: Engine, service: str | None, since: int | None, until: int | None
) -> bytes:
    """The report over the traces with a span of ``service`` and a span starting in
    [``since``, ``until``) (Unix ns), with the traces their broken calls continued in
    (or came from), checked on their own: the same schema, its counts and edges those
    traces'."""
    work = Path(tempfile.mkdtemp(prefix="tracehound-window-"))
    params = {"service": service, "since": since, "until": until}
    try:
        with engine.store.on_own_connection() as own:
            ids = {trace_id for (trace_id,) in own.query(_MATCHING, params)}
            for f in engine.snapshot.report.findings:  # a broken call's two halves go together
                other = f.details.get("callee_trace_id") if f.code == "C003" else None
                if other and (f.trace_id in ids or other in ids):
                    ids.update((f.trace_id, other))
            for table in ("otel_traces", "normalised"):
                path = str(work / f"{table}.parquet").replace("'", "''")
                own.con.execute(
                    _COPY.format(table=table, path=path) + " (FORMAT parquet)",
                    {"ids": sorted(i for i in ids if i)},
                )
        window = Store(None)
        try:
            for table in ("otel_traces", "normalised"):
                path = str(work / f"{table}.parquet").replace("'", "''")
                window.con.execute(f"INSERT INTO {table} SELECT * FROM read_parquet('{path}')")
            window.finish()
            report = engine.build_report(window)
        finally:
            window.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return orjson.dumps(to_dict(report), option=orjson.OPT_NON_STR_KEYS)
