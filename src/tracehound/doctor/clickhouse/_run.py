"""``--clickhouse``: the checks run inside ClickHouse, over the window's spans.

Every family that reads spans runs inside ClickHouse: its DuckDB SQL,
transpiled (`_engine`); only findings, the edges and the waterfalls' spans
come back.  The structural families (C001-C004 C007 with the edge view,
L004-L006, the causes of C001 and C002) read the window table; the attribute
and propagation families read the whole attributes from the exporter's table
where they are (`_window.Window.whole_rows`: the window's rows by their
MergeTree part and offset).  A table that is not a MergeTree has no such row
IDs: its window is pulled into DuckDB for those two families
(`_load.pull_window`; ``local=False`` skips them instead, and says so), and
the recorded headers reach the edges by span (`_evidence`).  With the
exporter's JSON attribute variant the window reads C003's attributes as paths
of the JSON columns; the attribute and propagation families do not run there.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection
from typing import TYPE_CHECKING

from tracehound.doctor._model import InputSummary, Rejection, Report, SkippedCheck
from tracehound.doctor._waterfall import waterfalls
from tracehound.doctor.checks import _sql, attributes, causes, context, lifecycle, propagation
from tracehound.doctor.checks._hops import Hops, match_hops
from tracehound.doctor.checks.propagation import HeaderEvidence
from tracehound.doctor.clickhouse._connect import (
    INSTALL_HINT,
    ClickHouseError,
    Connection,
    connect,
    parse_target,
)
from tracehound.doctor.clickhouse._evidence import empty_headers, headers_by_window_rid
from tracehound.doctor.clickhouse._load import pull_window
from tracehound.doctor.clickhouse._window import Window, build_window
from tracehound.doctor.edges import build_edges
from tracehound.doctor.store import Store
from tracehound.rules import Finding

if TYPE_CHECKING:
    from tracehound.doctor.clickhouse._engine import ClickHouseStore

__all__ = ["IN_CLICKHOUSE", "STRINGIFIED", "check_clickhouse"]

IN_CLICKHOUSE = "C001 C002 C003 C004 C007 L004 L005 L006, the causes of C001 and C002, the edges"
"""What runs inside ClickHouse on every table (the attribute and propagation families too,
on a MergeTree with Map(String, String) attributes)."""

STRINGIFIED = {
    "A002": "reserved attributes need their types (an `error` that must be a bool), and the "
    "exporter's Map(String, String) keeps every value as a string",
    "A003": "a number sent as a string cannot be told from a number the exporter stringified",
}
"""Attribute rules that cannot run on the exporter's stringified values, and why."""

_NOT_HERE = [
    SkippedCheck(
        "L011 implausible times", "it reads the file loader's notes; ClickHouse rows have none"
    ),
    SkippedCheck(
        "runtime findings (L001-L003, C005)",
        "they are read from tracehound's findings files, not from ClickHouse",
    ),
]


def check_clickhouse(
    target: str,
    *,
    table: str = "otel_traces",
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
    ignore: Collection[str] = (),
    local: bool = True,
) -> Report:
    """Check the spans of ``table`` on ``target`` (``chdb:PATH`` or a ``clickhouse://`` URL)
    between ``start`` and ``end``; raises `ClickHouseError` when the target cannot be used."""
    parsed = parse_target(target)
    try:
        from tracehound.doctor.clickhouse._engine import ClickHouseStore, EngineError
    except ImportError as exc:
        raise ClickHouseError(f"--clickhouse needs {exc.name}: {INSTALL_HINT}") from None
    conn = connect(parsed)
    try:
        try:
            window = build_window(conn, table, start, end)
        except LookupError as exc:
            raise ClickHouseError(f"{conn.target.describe()}: {exc}") from None
        report = _summary(conn, window)
        engine = ClickHouseStore(conn)
        _empty_load_tables(conn)
        skipped = list(_NOT_HERE)
        whole_rows = window.whole_rows()
        try:
            _sql.install(engine)  # type: ignore[arg-type]
            pulled = (
                pull_window(conn, window)
                if whole_rows is None and local and window.map_attributes
                else None
            )
        except EngineError as exc:
            raise ClickHouseError(f"{conn.target.describe()}: the checks' setup: {exc}") from None
        try:
            findings, hops, remote = _in_clickhouse(engine, skipped)
            found, evidence, note = _attribute_families(engine, window, whole_rows, pulled, skipped)
            findings += found
            report.notes.append(note)
            try:
                empty_headers(conn)
                report.edges = build_edges(engine, hops, evidence)  # type: ignore[arg-type]
            except engine.Error as exc:
                skipped.append(SkippedCheck("the edges", str(exc)))
            findings.sort(key=lambda f: (-f.severity, f.code, f.location or "", f.span_id or ""))
            report.findings = findings
            report.ignore(ignore)
            try:
                report.waterfalls = waterfalls(engine, report.findings)  # type: ignore[arg-type]
            except engine.Error as exc:
                skipped.append(SkippedCheck("the waterfalls", str(exc)))
        finally:
            if pulled is not None:
                pulled.close()
        report.skipped = skipped
        report.remote_entries = remote
        return report
    finally:
        conn.close()


def _summary(conn: Connection, window: Window) -> Report:
    table = window.table.replace("`", "")
    name = f"{conn.target.describe()} {table}"
    report = Report(inputs=[InputSummary(name, "clickhouse", window.spans, 0)])
    report.rejections = [
        Rejection(reason, n, f"{table}:{example}") for reason, n, example in window.rejected
    ]
    report.spans_analysed = window.spans
    report.spans_read = window.spans + report.spans_rejected
    traces, services = conn.rows(
        "SELECT uniqExact(TraceId), arraySort(groupUniqArray(ServiceName)) FROM th_window"
    )[0]
    report.traces = int(traces)
    report.services = tuple(services)
    if window.start is not None or window.end is not None:
        report.notes.append(
            f"window {window.start or '…'} to {window.end or '…'} (whole seconds): "
            f"{window.crossing} traces crossing its edge were left out"
            + ("" if window.lookup else " (no trace-ID lookup table: worked out from the spans)")
        )
    return report


def _empty_load_tables(conn: Connection) -> None:
    """The file loader's ``rejected`` and ``normalised`` tables, empty: the checks join them."""
    for name in ("rejected", "normalised"):
        conn.execute(f"DROP TEMPORARY TABLE IF EXISTS {name}")
        conn.execute(
            f"CREATE TEMPORARY TABLE {name} (Source String, Offset String, Reason String, "
            "TraceId Nullable(String), SpanId Nullable(String), rid UInt64) ENGINE = Memory"
        )


def _in_clickhouse(
    engine: ClickHouseStore, skipped: list[SkippedCheck]
) -> tuple[list[Finding], Hops, int]:
    found: list[Finding] = []
    result, remote = Hops(), 0
    try:
        ctx = context.check(engine, match_hops)  # type: ignore[arg-type]
        found += ctx.findings
        result, remote = ctx.hops, ctx.remote_entries
    except engine.Error as exc:
        skipped.append(SkippedCheck("context (C001-C004, C007)", str(exc)))
    try:
        found += lifecycle.check(engine, {})  # type: ignore[arg-type]
    except engine.Error as exc:
        skipped.append(SkippedCheck("lifecycle (L004-L006)", str(exc)))
    try:
        found = causes.name_causes(engine, found)  # type: ignore[arg-type]
    except engine.Error as exc:
        skipped.append(SkippedCheck("the causes of C001 and C002", str(exc)))
    return found, result, remote


def _attribute_families(
    engine: ClickHouseStore,
    window: Window,
    whole_rows: str | None,
    pulled: Store | None,
    skipped: list[SkippedCheck],
) -> tuple[list[Finding], dict[int, HeaderEvidence], str]:
    """The attribute and propagation families: inside ClickHouse on the whole rows, or on
    the pulled window; their findings, the headers' evidence by window row ID, the note."""
    ran = IN_CLICKHOUSE
    if whole_rows is not None:
        try:
            found, evidence = _attributes_and_headers(
                engine.reading_whole(whole_rows),  # type: ignore[arg-type]
                skipped,
            )
        except engine.Error as exc:
            skipped += _families_skipped(str(exc))
            return [], {}, f"ran inside ClickHouse: {ran}."
        return (
            found,
            evidence,
            f"ran inside ClickHouse: {ran}, the attribute and propagation families (on the "
            "exporter's attributes where they are).",
        )
    if pulled is not None:
        _sql.install(pulled)
        found, pulled_evidence = _attributes_and_headers(pulled, skipped)
        return (
            found,
            headers_by_window_rid(engine.conn, pulled, pulled_evidence),
            f"ran inside ClickHouse: {ran}. Ran here on the window's {window.spans} spans "
            "pulled from ClickHouse (the table is not a MergeTree: its rows have no ID to "
            "read them by in place): the attribute and propagation families (the headers' "
            "evidence on the edges).",
        )
    skipped += _families_skipped(
        "not asked to pull the window's rows (--in-clickhouse-only), and the table is not "
        "a MergeTree (its rows cannot be read in place)"
        if window.map_attributes
        else "the JSON attribute variant: attributes are not read from it yet"
    )
    return [], {}, f"ran inside ClickHouse: {ran}; nothing else."


def _attributes_and_headers(
    store: Store, skipped: list[SkippedCheck]
) -> tuple[list[Finding], dict[int, HeaderEvidence]]:
    found, attribute_skips = attributes.check(store, {})
    skipped += attribute_skips
    for code, why in STRINGIFIED.items():
        skipped.append(SkippedCheck(f"{code} (attributes)", f"not run on ClickHouse: {why}"))
    found = [f for f in found if f.code not in STRINGIFIED]
    header_findings, evidence = propagation.check(store)
    return found + header_findings, evidence


def _families_skipped(why: str) -> list[SkippedCheck]:
    return [
        SkippedCheck(attributes.FAMILY, why),
        SkippedCheck("propagation (P001-P006, the headers on the edges)", why),
    ]
