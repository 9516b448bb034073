"""Spans between the doctor's DuckDB store and the exporter's ClickHouse table.

`write_store` writes a loaded store into the exporter's schema as the
exporter would have written the same spans: kinds and statuses spelled the
newer way (``Server``, ``Error``) or, ``old_spelling``, the older one
(``SPAN_KIND_SERVER``, ``STATUS_CODE_ERROR``); attribute values as strings
(what ``Map(String, String)`` keeps: an int ``8080`` becomes ``"8080"``);
``Duration`` as ``end - start`` in UInt64, so a span without an end time
has ``-start`` there.  Zipkin's ``shared`` flag has no column: it becomes the
``zipkin.shared = "true"`` attribute, the convention of OTLP converters
(Fluent Bit's Zipkin input), which the window reads back.

`pull_window` copies the window's rows, with their attributes, into a new
local store, for the families that do not run inside ClickHouse.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from tracehound.doctor._model import Report
from tracehound.doctor.clickhouse._connect import Connection, connect, parse_target
from tracehound.doctor.clickhouse._schema import create_statements
from tracehound.doctor.clickhouse._window import Window
from tracehound.doctor.store import Store

__all__ = ["load_clickhouse", "pull_window", "write_store"]

_COLUMNS = [
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
    "ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes",
    "Duration", "StatusCode", "StatusMessage", "Events.Timestamp", "Events.Name",
    "Events.Attributes", "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
]  # fmt: skip

# the attribute list's entries with a string key, their values as the exporter's
# AsString() writes them (first entry of a repeated key)
_MACROS = """
CREATE OR REPLACE TEMP MACRO th_ch_list(a) AS list_filter(
    from_json(CASE WHEN json_type(a) = 'ARRAY' THEN a END, '[{"key":"VARCHAR","value":"JSON"}]'),
    lambda x: x.key IS NOT NULL AND json_type(x.value) = 'OBJECT');
CREATE OR REPLACE TEMP MACRO th_ch_scalar(v) AS coalesce(
    v ->> 'stringValue', v ->> 'intValue', v ->> 'boolValue', v ->> 'doubleValue',
    v ->> 'bytesValue');
-- an array as the JSON array of its values (the exporter's AsString(): ["a","b"])
CREATE OR REPLACE TEMP MACRO th_ch_value(v) AS coalesce(
    th_ch_scalar(v),
    '[' || array_to_string(list_transform(
        from_json(v -> 'arrayValue' -> 'values', '["JSON"]'),
        lambda e: CASE WHEN e ->> 'stringValue' IS NOT NULL THEN (e -> 'stringValue')::VARCHAR
                       ELSE coalesce(th_ch_scalar(e), 'null') END), ',') || ']',
    (v -> 'kvlistValue')::VARCHAR, '');
CREATE OR REPLACE TEMP MACRO th_ch_map(a) AS coalesce(map_from_entries(list_transform(
    list_filter(th_ch_list(a), lambda x, i: list_position(
        list_transform(th_ch_list(a), lambda y: y.key), x.key) = i),
    lambda x: {'k': x.key, 'v': th_ch_value(x.value)})), MAP {}::MAP(VARCHAR, VARCHAR));
CREATE OR REPLACE TEMP MACRO th_ch_items(j) AS coalesce(from_json(
    CASE WHEN json_type(j) = 'ARRAY' THEN j END,
    '[{"timeUnixNano":"VARCHAR","name":"VARCHAR","attributes":"JSON",
       "traceId":"VARCHAR","spanId":"VARCHAR","traceState":"VARCHAR"}]'), []);
"""

_EXPORT = """
COPY (
    SELECT coalesce("Timestamp", TIMESTAMP_NS '1970-01-01') AS "Timestamp",
        TraceId, SpanId, ParentSpanId, coalesce(TraceState, '') AS TraceState,
        SpanName, {kind} AS SpanKind, coalesce(ServiceName, '') AS ServiceName,
        th_ch_map(ResourceAttributes) AS ResourceAttributes,
        coalesce(ScopeName, '') AS ScopeName, coalesce(ScopeVersion, '') AS ScopeVersion,
        CASE WHEN Shared THEN map_concat(th_ch_map(SpanAttributes), MAP {{'zipkin.shared': 'true'}})
             ELSE th_ch_map(SpanAttributes) END AS SpanAttributes,
        -- end - start as the exporter computes it (an end of 0 when there is none), in UInt64
        (((CASE WHEN "Timestamp" IS NULL THEN 0
                WHEN Duration IS NULL THEN -epoch_ns("Timestamp")
                ELSE Duration END)::HUGEINT + 18446744073709551616::HUGEINT)
            % 18446744073709551616::HUGEINT)::UBIGINT AS Duration,
        {status} AS StatusCode, coalesce(StatusMessage, '') AS StatusMessage,
        list_transform(th_ch_items(Events), lambda e: make_timestamp_ns(
            coalesce(try_cast(e.timeUnixNano AS BIGINT), 0))) AS "Events.Timestamp",
        list_transform(th_ch_items(Events), lambda e: coalesce(e.name, '')) AS "Events.Name",
        list_transform(th_ch_items(Events), lambda e: th_ch_map(e.attributes))
            AS "Events.Attributes",
        list_transform(th_ch_items(Links), lambda e: coalesce(th_id(e.traceId, 32), ''))
            AS "Links.TraceId",
        list_transform(th_ch_items(Links), lambda e: coalesce(th_id(e.spanId, 16), ''))
            AS "Links.SpanId",
        list_transform(th_ch_items(Links), lambda e: coalesce(e.traceState, ''))
            AS "Links.TraceState",
        list_transform(th_ch_items(Links), lambda e: th_ch_map(e.attributes))
            AS "Links.Attributes"
    FROM otel_traces
) TO {path} (FORMAT parquet)
"""


def write_store(store: Store, conn: Connection, table: str, *, old_spelling: bool = False) -> int:
    """Insert every span of ``store`` into the exporter's ``table``; the number written."""
    if old_spelling:
        kind = "'SPAN_KIND_' || upper(SpanKind)"
        status = "'STATUS_CODE_' || upper(StatusCode)"
    else:
        kind, status = "SpanKind", "StatusCode"
    with tempfile.TemporaryDirectory(prefix="tracehound-ch-") as tmp:
        path = Path(tmp) / "spans.parquet"
        cursor = store.cursor()
        try:
            cursor.execute(_MACROS)
            quoted = "'" + str(path).replace("'", "''") + "'"
            cursor.execute(_EXPORT.format(kind=kind, status=status, path=quoted))
            count = int(cursor.execute("SELECT count(*) FROM otel_traces").fetchone()[0])
        finally:
            cursor.close()
        conn.insert_parquet(table, _COLUMNS, str(path))
    return count


def pull_window(conn: Connection, window: Window) -> Store:
    """A new local store holding the window's spans, in the window's ``rid`` order."""
    store = Store()
    try:
        with tempfile.TemporaryDirectory(prefix="tracehound-ch-") as tmp:
            path = Path(tmp) / "window.parquet"
            path.write_bytes(conn.parquet(window.select(whole=True)))
            quoted = "'" + str(path).replace("'", "''") + "'"
            store.con.execute(
                'INSERT INTO otel_traces SELECT "Timestamp", TraceId, SpanId, ParentSpanId, '
                "TraceState, SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, "
                "ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage, "
                "nullif(Events, '[]'), Links, Shared::BOOLEAN, Source, \"Offset\" "
                f"FROM read_parquet({quoted})"
            )
        store.finish()
    except BaseException:
        store.close()
        raise
    return store


def load_clickhouse(
    paths: Sequence[str],
    target: str,
    *,
    table: str = "otel_traces",
    json: bool = False,
    old_spelling: bool = False,
) -> Report:
    """Read ``paths`` as `tracehound.doctor.load` does and write their spans into the
    exporter's ``table`` on ``target`` (created with its lookup table if missing)."""
    from tracehound.doctor import load

    conn = connect(parse_target(target), create=True)
    try:
        database, _, name = table.rpartition(".")
        for statement in create_statements(database or conn.target.database, name, json=json):
            conn.execute(statement)
        store, report = load(list(paths))
        try:
            write_store(store, conn, _quoted(database, name), old_spelling=old_spelling)
        finally:
            store.close()
    finally:
        conn.close()
    return report


def _quoted(database: str, name: str) -> str:
    return ".".join("`" + p.replace("`", "\\`") + "`" for p in (database, name) if p)
