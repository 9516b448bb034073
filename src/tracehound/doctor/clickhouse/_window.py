"""The window of spans the checks read, built inside ClickHouse from the exporter's table.

The exporter's table is ordered by service and time, not by trace, and keeps
growing: every check is bounded by a time window, and a trace is checked only
when all of it is inside the window.  The exporter's lookup table
(``<table>_trace_id_ts``: each trace's first and last span start, to the
second) says which traces cross the window's edge; they are left out and
counted, never reported as orphans or broken.  Without the lookup table the
same is worked out from the span table (slower: a second pass).  The window
is widened to whole seconds, the lookup table's resolution.

The window table (``th_window``, a temporary table of the session) has the
columns of the doctor's span table, normalised as the file loader does:
both spellings of kinds and statuses (``SPAN_KIND_SERVER`` and ``Server``),
a missing end time (the exporter stores ``end - start`` as UInt64, so a span
exported before it ended has ``-start`` there) as NULL, IDs as they are.
Attributes stay in the exporter's table; the window keeps only what the
checks read of them, as JSON text: the attributes C003 and C004 read (with a
hash of the whole resource: `_accessors`), the events' names and the links'
span IDs, from the exporter's Map(String, String) columns or, with its JSON
attribute variant, from the same keys read as paths of the JSON columns.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass

from tracehound.doctor.clickhouse._accessors import RESOURCE_ID, RESOURCE_KEYS, SPAN_KEYS
from tracehound.doctor.clickhouse._connect import Connection

__all__ = ["Window", "build_window", "parse_since"]


@dataclass(frozen=True)
class Window:
    """Where the checked spans come from, and what was left out."""

    table: str  # db.table, quoted
    start: datetime.datetime | None
    end: datetime.datetime | None
    spans: int = 0
    rejected: tuple[tuple[str, int, str], ...] = ()
    crossing: int = 0
    """Traces with spans inside the window and outside it: left out."""
    lookup: bool = True
    """Whether the exporter's trace-ID lookup table told the traces' extents."""
    where: str = "true"
    parts: tuple[str, ...] | None = None
    """The MergeTree parts the window reads (a row's ID is its part's place here and its
    offset in the part); None for another engine (the rows are sorted and numbered)."""
    map_attributes: bool = True
    """Attributes as the exporter's Map(String, String) (else its JSON variant)."""

    def select(self, *, whole: bool, numbered: bool = False) -> str:
        """The window's rows in the doctor's layout (each with its ``rid`` when the table
        is a MergeTree); ``whole``: with the attributes, events and links as OTLP/JSON
        (string values), for a local store, sorted by time and IDs, or, ``numbered``, as
        they are, each with its ``rid`` (the MergeTree's)."""
        if whole:
            parts = {
                "resource": _otlp_attributes("ResourceAttributes"),
                "span": _otlp_attributes("SpanAttributes"),
                "events": _EVENTS,
                "links": _LINKS,
            }
        elif self.map_attributes:
            parts = {
                "resource": _RESOURCE_WANTED,
                "span": _wanted("SpanAttributes", SPAN_KEYS),
                "events": "toJSONString(`Events.Name`)",
                "links": "toJSONString(arrayMap(x -> map('spanId', x), `Links.SpanId`))",
            }
        else:  # the JSON variant: the same keys, read as paths of the JSON column
            parts = {
                "resource": _resource_wanted_json(),
                "span": f"toJSONString({_json_wanted('SpanAttributes', SPAN_KEYS)})",
                "events": "toJSONString(`Events.Name`)",
                "links": "toJSONString(arrayMap(x -> map('spanId', x), `Links.SpanId`))",
            }
        shared = "SpanAttributes['zipkin.shared'] = 'true'" if self.map_attributes else "false"
        rid = part = ""
        if (numbered or not whole) and self.parts is not None:
            names = ", ".join(_str(p) for p in self.parts)
            rid = (
                ",\n    bitOr(bitShiftLeft(toUInt64(indexOf(["
                + names
                + "], th_part)), 40), th_offset) AS rid"
            )
            part = "_part AS th_part, _part_offset AS th_offset,"
        body = _SELECT.format(
            rid=rid,
            part=part,
            shared=shared,
            kind=_KIND,
            source=_str(self.table.replace("`", "")),
            table=self.table,
            where=f"{self.where} AND {_BAD_IDS} IS NULL",
            **parts,
        )
        if (whole and not numbered) or self.parts is None:
            return f"{body} ORDER BY Timestamp, TraceId, SpanId, ServiceName, SpanName"
        return body

    def whole_rows(self) -> str | None:
        """The window's rows with their whole attributes as OTLP/JSON and the window
        table's ``rid``, read from the exporter's table where they are (not copied), for
        the families that read attributes whole; None when the rows have no stable ID
        there (not a MergeTree, or the JSON attribute variant)."""
        if self.parts is None or not self.map_attributes:
            return None
        return self.select(whole=True, numbered=True)

    def rows(self) -> str:
        """The window table's rows, each with its ID (``rid``), deterministic for the same
        parts: its part's place in `parts` and its offset there.  Numbering sorted rows
        instead cost 5 of 9 s of a 1M-span check (a sort by time and IDs)."""
        if self.parts is None:
            return f"SELECT rowNumberInAllBlocks() AS rid, * FROM ({self.select(whole=False)})"
        return self.select(whole=False)


def _json_wanted(column: str, keys: tuple[str, ...]) -> str:
    """The keys of a JSON column the checks read, as a Map(String, String) of those
    present: the JSON type stores ``server.address`` as the path ``server`` →
    ``address``, and a path reads back as the key the exporter was given."""
    values = ", ".join(f"{_str(k)}, CAST({column}.`{k}`, 'Nullable(String)')" for k in keys)
    return f"mapFilter((k, v) -> v IS NOT NULL, map({values}))"


def _wanted(column: str, keys: tuple[str, ...]) -> str:
    """The keys of a Map(String, String) column the checks read, as the JSON text of an
    object (what the ClickHouse attribute accessors read: `_accessors`)."""
    names = ", ".join(_str(k) for k in keys)
    return f"toJSONString(mapFilter((k, v) -> k IN ({names}), {column}))"


# the keys the checks read and the whole resource's hash (its identity: C004 compares
# processes); resources are few: one dictionary entry each
_RESOURCE_WANTED = (
    "toLowCardinality(toJSONString(mapConcat(mapFilter((k, v) -> k IN ("
    + ", ".join(f"'{k}'" for k in RESOURCE_KEYS)
    + f"), ResourceAttributes), map('{RESOURCE_ID}', toString(cityHash64("
    "mapKeys(ResourceAttributes), mapValues(ResourceAttributes)))))))"
)


def _resource_wanted_json() -> str:
    """`_RESOURCE_WANTED` for the JSON attribute variant."""
    wanted = _json_wanted("ResourceAttributes", RESOURCE_KEYS)
    whole = "toString(cityHash64(toJSONString(ResourceAttributes)))"
    return f"toLowCardinality(toJSONString(mapConcat({wanted}, map('{RESOURCE_ID}', {whole}))))"


def _otlp_attributes(column: str) -> str:
    """A Map(String, String) column as an OTLP/JSON attribute list of string values.

    Recorded headers (``http.request.header.*``) are string arrays by the semantic
    conventions; the exporter wrote them as JSON text (``["00-…"]``): that text is
    read back as the array it was, so the propagation family sees each header value.
    """
    return _ATTRIBUTES.replace("$column", column)


_ATTRIBUTES = """concat('[', arrayStringConcat(arrayMap((k, v) -> concat('{"key":', toJSONString(k),
    ',"value":', if(startsWith(k, 'http.request.header.') AND isValidJSON(v)
                    AND JSONType(v) = 'Array',
                    concat('{"arrayValue":{"values":[', arrayStringConcat(arrayMap(
                        x -> concat('{"stringValue":', toJSONString(x), '}'),
                        JSONExtract(v, 'Array(String)')), ','), ']}}'),
                    concat('{"stringValue":', toJSONString(v), '}')), '}'),
    mapKeys($column), mapValues($column)), ','), ']')"""

_EVENTS = """concat('[', arrayStringConcat(arrayMap((n, t) -> concat('{"name":', toJSONString(n),
    ',"timeUnixNano":"', toString(toUnixTimestamp64Nano(t)), '"}'), `Events.Name`,
    `Events.Timestamp`), ','), ']')"""
_LINKS = """concat('[', arrayStringConcat(arrayMap((t, x) -> concat('{"traceId":', toJSONString(t),
    ',"spanId":', toJSONString(x), '}'), `Links.TraceId`, `Links.SpanId`), ','), ']')"""


def parse_since(value: str) -> datetime.timedelta:
    """``90s``, ``15m``, ``1h``, ``2d`` → a duration; `ValueError` naming the value."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = value[:-1], value[-1:].lower()
    if unit not in units or not number.replace(".", "", 1).isdigit():
        raise ValueError(f"--since {value}: expected a number and s, m, h or d (1h, 30m)")
    return datetime.timedelta(seconds=float(number) * units[unit])


_KIND = """concat(upper(substring(k, 1, 1)), lower(substring(k, 2)))"""

_SELECT = """
SELECT
    if(toUnixTimestamp64Nano(Timestamp) > 0, Timestamp, NULL) AS Timestamp,
    TraceId, SpanId, ParentSpanId, TraceState, SpanName,
    if(k = '', 'Unspecified', {kind}) AS SpanKind,
    ServiceName,
    {resource} AS ResourceAttributes,
    ScopeName, ScopeVersion,
    {span} AS SpanAttributes,
    if(toUnixTimestamp64Nano(Timestamp) <= 0
       OR toUnixTimestamp64Nano(Timestamp) + toInt64(Duration) <= 0,
       NULL, toInt64(Duration)) AS Duration,
    multiIf(st IN ('Error', 'ERROR', '2'), 'Error', st IN ('Ok', 'OK', '1'), 'Ok', 'Unset')
        AS StatusCode,
    StatusMessage,
    {events} AS Events,
    if(empty(`Links.SpanId`), NULL, {links}) AS Links,
    {shared} AS Shared,
    {source} AS Source,
    toString(Timestamp) AS Offset{rid}
FROM (
    SELECT *, {part} replaceOne(toString(SpanKind), 'SPAN_KIND_', '') AS k,
           replaceOne(toString(StatusCode), 'STATUS_CODE_', '') AS st
    FROM {table} WHERE {where}
)
"""

# a span whose IDs are not the exporter's hex cannot be placed in a trace: counted, left out
_BAD_IDS = """multiIf(
    TraceId = '', 'missing trace ID',
    NOT match(TraceId, '^[0-9a-f]{32}$'), 'trace ID is not 32 lower-case hex digits',
    SpanId = '', 'missing span ID',
    NOT match(SpanId, '^[0-9a-f]{16}$'), 'span ID is not 16 lower-case hex digits',
    ParentSpanId <> '' AND NOT match(ParentSpanId, '^[0-9a-f]{16}$'),
        'parent span ID is not 16 lower-case hex digits',
    NULL)"""


def build_window(
    conn: Connection,
    table: str,
    start: datetime.datetime | None,
    end: datetime.datetime | None,
) -> Window:
    """Create ``th_window`` on ``conn`` from ``table`` (``db.table`` or ``table``)."""
    database, _, name = table.rpartition(".")
    quoted = ".".join(_ident(p) for p in (database, name) if p)
    lookup_name = ".".join(_ident(p) for p in (database, f"{name}_trace_id_ts") if p)
    database_sql = _str(database) if database else "currentDatabase()"
    where_table = f"database = {database_sql} AND table = {_str(name)}"
    columns = dict(conn.rows(f"SELECT name, type FROM system.columns WHERE {where_table}"))
    if not columns:
        raise LookupError(f"no table {table} (expected the ClickHouse exporter's otel_traces)")
    where = "true"
    crossing = 0
    has_lookup = False
    if start is not None or end is not None:
        lo = _floor(start) if start else None
        hi = _ceil(end) if end else None
        bounds = " AND ".join(
            b
            for b in (
                f"Timestamp >= {_ts(lo)}" if lo else "",
                f"Timestamp < {_ts(hi)}" if hi else "",
            )
            if b
        )
        has_lookup = bool(
            conn.rows(
                f"SELECT 1 FROM system.tables WHERE database = {database_sql} "
                f"AND name = {_str(name + '_trace_id_ts')}"
            )
        )
        extents = (
            f"SELECT TraceId, min(Start) AS Start, max(End) AS End FROM {lookup_name} "
            f"WHERE TraceId IN (SELECT TraceId FROM {quoted} WHERE {bounds}) GROUP BY TraceId"
            if has_lookup
            else f"SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End FROM {quoted} "
            f"WHERE TraceId IN (SELECT TraceId FROM {quoted} WHERE {bounds}) GROUP BY TraceId"
        )
        conn.execute("DROP TEMPORARY TABLE IF EXISTS th_complete")
        conn.execute(
            "CREATE TEMPORARY TABLE th_complete ENGINE = Memory AS "
            f"SELECT TraceId, Start >= {_ts(lo) if lo else 'Start'} "
            f"AND End < {_ts(hi) if hi else 'End + 1'} AS inside "
            f"FROM ({extents})"
        )
        crossing = int(conn.rows("SELECT count() FROM th_complete WHERE NOT inside")[0][0])
        where = f"{bounds} AND TraceId IN (SELECT TraceId FROM th_complete WHERE inside)"
    bad = _BAD_IDS
    rejected = tuple(
        (reason, int(n), str(example))
        for reason, n, example in conn.rows(
            f"SELECT {bad} AS reason, count(), toString(min(Timestamp)) FROM {quoted} "
            f"WHERE {where} AND reason IS NOT NULL GROUP BY reason ORDER BY count() DESC"
        )
    )
    parts = None
    engine = conn.rows(
        f"SELECT engine FROM system.tables WHERE database = {database_sql} AND name = {_str(name)}"
    )
    if engine and str(engine[0][0]).endswith("MergeTree"):
        parts = tuple(
            str(p)
            for (p,) in conn.rows(
                f"SELECT DISTINCT _part FROM {quoted} WHERE {where} ORDER BY _part"
            )
        )
    window = Window(
        quoted,
        start,
        end,
        0,
        rejected,
        crossing,
        has_lookup,
        where,
        parts,
        columns.get("SpanAttributes", "").startswith("Map"),
    )
    conn.execute("DROP TEMPORARY TABLE IF EXISTS th_window")
    conn.execute("CREATE TEMPORARY TABLE th_window ENGINE = Memory AS " + window.rows())
    spans = int(conn.rows("SELECT count() FROM th_window")[0][0])
    return dataclasses.replace(window, spans=spans)


def _floor(t: datetime.datetime) -> datetime.datetime:
    return t.replace(microsecond=0)


def _ceil(t: datetime.datetime) -> datetime.datetime:
    return _floor(t) + datetime.timedelta(seconds=1) if t.microsecond else t


def _ts(t: datetime.datetime | None) -> str:
    assert t is not None
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return f"toDateTime64('{t.isoformat(sep=' ')}', 9, 'UTC')"


def _str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
