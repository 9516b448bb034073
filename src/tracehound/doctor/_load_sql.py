"""The SQL that turns chunks of input into the span table.

`SCHEMA` creates the tables; each chunk is read by its source query (`ROWS`
for serialised rows, `DOCS` for whole OTLP/JSON requests, or
``_otlp_lines.SPANS_BY_LINE`` for unparsed lines), normalised into a staging
table by `STAGE` (IDs, times, the rejection reason), then copied by `INSERT`
and `REJECT`.  A chunk of regular lines skips the staging table
(`insert_lines`).  Every source gives the same columns, so normalisation and
rejection are the same for every format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tracehound.doctor import _otlp_lines

__all__ = [
    "IMPLAUSIBLE_END",
    "IMPLAUSIBLE_START",
    "INSERT",
    "NOTE",
    "REJECT",
    "SCHEMA",
    "insert_lines",
    "nothing_stage",
    "stage",
]

_MIN_NS = 631_152_000 * 10**9  # 1990-01-01
_MAX_NS = 7_258_118_400 * 10**9  # 2200-01-01

IMPLAUSIBLE_START = "implausible start time (outside 1990-2200; kept as written)"
"""The note on a span whose start time is not a plausible Unix time (see rule L011)."""
IMPLAUSIBLE_END = "implausible end time (outside 1990-2200; kept as written)"

# Span IDs, parent IDs and offsets are mostly distinct: compressing them (FSST) was
# a third of the checkpoints' work (11 % of the load's instructions, 50K spans) and
# saved ~50 MB of 210 MB; the parent join that reads them was no slower uncompressed.
SCHEMA = """
CREATE OR REPLACE TABLE otel_traces (
    "Timestamp" TIMESTAMP_NS, TraceId VARCHAR, SpanId VARCHAR USING COMPRESSION uncompressed,
    ParentSpanId VARCHAR USING COMPRESSION uncompressed,
    TraceState VARCHAR, SpanName VARCHAR, SpanKind VARCHAR, ServiceName VARCHAR,
    ResourceAttributes JSON, ScopeName VARCHAR, ScopeVersion VARCHAR, SpanAttributes JSON,
    Duration BIGINT, StatusCode VARCHAR, StatusMessage VARCHAR, Events JSON, Links JSON,
    Shared BOOLEAN, Source VARCHAR, "Offset" VARCHAR USING COMPRESSION uncompressed
);
CREATE OR REPLACE TABLE rejected (
    Source VARCHAR, "Offset" VARCHAR, Reason VARCHAR, TraceId VARCHAR, SpanId VARCHAR
);
CREATE OR REPLACE TABLE normalised (
    Source VARCHAR, "Offset" VARCHAR, Reason VARCHAR, TraceId VARCHAR, SpanId VARCHAR
);
CREATE OR REPLACE TABLE merged (Source VARCHAR, "Offset" VARCHAR, Reason VARCHAR);
CREATE OR REPLACE TABLE th_scopes (
    ScopeRef INTEGER, ServiceName VARCHAR, ResourceAttributes JSON,
    ScopeName VARCHAR, ScopeVersion VARCHAR
);
CREATE OR REPLACE TABLE th_sources (SourceId INTEGER, Source VARCHAR);
CREATE OR REPLACE MACRO th_b64(x) AS
    rpad(translate(x, '-_', '+/'), (((length(x) + 3) // 4) * 4)::INTEGER, '=');
CREATE OR REPLACE MACRO th_id(x, width) AS CASE
    WHEN x IS NULL OR x = '' THEN NULL
    WHEN length(x) = width AND regexp_full_match(x, '[0-9a-f]+') THEN x
    WHEN length(x) <= width AND regexp_full_match(x, '[0-9a-fA-F]+') THEN lpad(lower(x), width, '0')
    WHEN octet_length(try(from_base64(th_b64(x)))) IN (8, width // 2)
    THEN lpad(lower(hex(from_base64(th_b64(x)))), width, '0')
END;
CREATE OR REPLACE MACRO th_ns(x) AS coalesce(
    try_cast(x AS HUGEINT), try_cast(try_cast(x AS DOUBLE) AS HUGEINT));
CREATE OR REPLACE MACRO th_kind(x) AS CASE
    WHEN x IS NULL OR x = '' THEN 'Unspecified'
    -- the numbers OTLP/JSON writes, first: the general case below costs ~3 % of the load
    WHEN x = '2' THEN 'Server' WHEN x = '3' THEN 'Client' WHEN x = '1' THEN 'Internal'
    WHEN x = '4' THEN 'Producer' WHEN x = '5' THEN 'Consumer' WHEN x = '0' THEN 'Unspecified'
    ELSE CASE upper(replace(replace(x, 'SPAN_KIND_', ''), 'span_kind_', ''))
        WHEN '0' THEN 'Unspecified' WHEN 'UNSPECIFIED' THEN 'Unspecified'
        WHEN '1' THEN 'Internal' WHEN 'INTERNAL' THEN 'Internal'
        WHEN '2' THEN 'Server' WHEN 'SERVER' THEN 'Server'
        WHEN '3' THEN 'Client' WHEN 'CLIENT' THEN 'Client'
        WHEN '4' THEN 'Producer' WHEN 'PRODUCER' THEN 'Producer'
        WHEN '5' THEN 'Consumer' WHEN 'CONSUMER' THEN 'Consumer'
    END
END;
-- a time as TIMESTAMP_NS when it fits one (nanoseconds after 1970, before 2262)
CREATE OR REPLACE MACRO th_ts(ns) AS CASE
    WHEN ns > 0 AND ns < 9223372036854775807 THEN make_timestamp_ns(ns::BIGINT) END;
"""

# the notes a kept span may get, each NULL when it does not apply (see _NOTES)
_START_NOTE = f"""CASE
            WHEN start_ns IS NULL AND try_cast(start_raw AS DOUBLE) IS NOT NULL
                THEN '{IMPLAUSIBLE_START}'
            WHEN start_ns IS NULL AND coalesce(start_raw, '') NOT IN ('', '0')
                THEN 'start time is not a number (kept; its times are unknown)'
            WHEN start_ns IS NULL OR start_ns = 0
                THEN 'missing start time (kept; its times are unknown)'
            WHEN start_ns NOT BETWEEN {_MIN_NS} AND {_MAX_NS}
                THEN '{IMPLAUSIBLE_START}'
        END"""
_END_NOTE = f"""CASE
            WHEN end_ns IS NOT NULL AND end_ns <> 0 AND end_ns NOT BETWEEN {_MIN_NS} AND {_MAX_NS}
                 AND (start_ns IS NULL OR start_ns BETWEEN {_MIN_NS} AND {_MAX_NS})
                THEN '{IMPLAUSIBLE_END}'
        END"""
_KIND_NOTE = "CASE WHEN SpanKind IS NULL THEN 'invalid span kind (read as UNSPECIFIED)' END"

# normalised in an inner query: the Reason refers to each value several times,
# and a select-list alias would be worked out again for every reference.
# A span is rejected only when it cannot be placed in a trace (its IDs); a time
# or kind that is missing or wrong keeps the span, with a note saying so.
_NORMALISED = """
SELECT *,
    CASE
        WHEN leftover IS NOT NULL THEN NULL
        WHEN bad IS NOT NULL THEN bad
        WHEN tid_raw IS NULL OR tid_raw = '' THEN 'missing trace ID'
        WHEN TraceId IS NULL THEN 'trace ID is neither hex nor base64 of 8 or 16 bytes'
        WHEN TraceId = repeat('0', 32) THEN 'all-zero trace ID'
        WHEN sid_raw IS NULL OR sid_raw = '' THEN 'missing span ID'
        WHEN SpanId IS NULL THEN 'span ID is neither hex nor base64 of 8 bytes'
        WHEN SpanId = repeat('0', 16) THEN 'all-zero span ID'
        WHEN pid_raw IS NOT NULL AND pid_raw <> '' AND pid IS NULL
            THEN 'parent span ID is neither hex nor base64 of 8 bytes'
    END AS Reason,
    $notes
FROM (
    SELECT
        tid_raw, sid_raw, pid_raw, start_raw,
        th_id(tid_raw, 32) AS TraceId, th_id(sid_raw, 16) AS SpanId,
        th_id(pid_raw, 16) AS pid,
        th_ns(start_raw) AS start_ns, th_ns(end_raw) AS end_ns, th_kind(kind) AS SpanKind,
        state, name, kind, attrs, events, links, code, message, "offset", scope, shared, source,
        service, resource, scope_name, scope_version, bad, line_no, leftover
    FROM ($rows)
)
"""
_NOTES = f"""CASE WHEN leftover IS NULL AND bad IS NULL THEN list_filter([
        {_START_NOTE},
        {_END_NOTE},
        {_KIND_NOTE}
    ], lambda x: x IS NOT NULL) END AS Notes"""
# whether one of _NOTES' applies: a chunk inserted straight only tests it (a list of
# notes for every span cost ~1 % of the load)
_NOTED = f"""(start_ns IS NULL OR start_ns NOT BETWEEN {_MIN_NS} AND {_MAX_NS}
        OR {_END_NOTE} IS NOT NULL OR SpanKind IS NULL) AS noted"""
STAGE = "CREATE OR REPLACE TABLE th_chunk AS " + _NORMALISED.replace("$notes", _NOTES)

# the columns only OTLP/JSON lines read by DuckDB have (see _otlp_lines.py)
NO_LINES = """NULL::VARCHAR AS service, NULL::VARCHAR AS resource, NULL::VARCHAR AS scope_name,
    NULL::VARCHAR AS scope_version, NULL::VARCHAR AS bad, NULL::BIGINT AS line_no,
    NULL::VARCHAR AS leftover"""

# rows as the sources serialise them (see ``sources/_rows.py``)
ROWS = """
SELECT j[1] ->> '$' AS tid_raw, j[2] ->> '$' AS sid_raw, j[3] ->> '$' AS pid_raw,
    j[4] ->> '$' AS state, j[5] ->> '$' AS name, j[6] ->> '$' AS kind,
    j[7] ->> '$' AS start_raw, j[8] ->> '$' AS end_raw, j[9] AS attrs, j[10] AS events,
    j[11] AS links, j[12] ->> 'code' AS code, j[12] ->> 'message' AS message,
    j[13] ->> '$' AS "offset", (j[14] ->> '$')::INTEGER AS scope,
    j[15] ->> '$' AS shared, (j[16] ->> '$')::INTEGER AS source, $no_lines
FROM read_json($path, format = 'newline_delimited', records = false,
               columns = {'j': 'JSON[]'}, maximum_object_size = $size)
"""

# whole OTLP/JSON requests, wrapped as {"n": line, "src": source, "sc": scope IDs, "d": request}
_SPAN_TYPE = (
    "STRUCT(traceId VARCHAR, spanId VARCHAR, parentSpanId VARCHAR, traceState VARCHAR, "
    "name VARCHAR, kind VARCHAR, startTimeUnixNano VARCHAR, endTimeUnixNano VARCHAR, "
    "attributes VARCHAR, events VARCHAR, links VARCHAR, status JSON)"
)
DOCS = f"""
WITH r AS (
    SELECT n, src, sc, unnest(d.resourceSpans) AS rs, generate_subscripts(d.resourceSpans, 1) AS ri
    FROM read_json($path, format = 'newline_delimited', maximum_object_size = $size, columns = {{
        'n': 'BIGINT', 'src': 'INTEGER', 'sc': 'INTEGER[][]',
        'd': 'STRUCT(resourceSpans STRUCT(scopeSpans STRUCT(spans {_SPAN_TYPE}[])[])[])'}})
), s AS (
    SELECT n, src, sc[ri] AS scopes, ri, unnest(rs.scopeSpans) AS ss,
           generate_subscripts(rs.scopeSpans, 1) AS si
    FROM r
), p AS (
    SELECT n, src, scopes[si] AS scope, ri, si, unnest(ss.spans) AS sp,
           generate_subscripts(ss.spans, 1) AS k
    FROM s
)
SELECT sp.traceId AS tid_raw, sp.spanId AS sid_raw, sp.parentSpanId AS pid_raw,
    sp.traceState AS state, sp.name AS name, sp.kind AS kind, sp.startTimeUnixNano AS start_raw,
    sp.endTimeUnixNano AS end_raw, sp.attributes AS attrs, sp.events AS events,
    sp.links AS links, sp.status ->> 'code' AS code, sp.status ->> 'message' AS message,
    coalesce(n || ':', '') || 'resourceSpans[' || (ri - 1) || '].scopeSpans[' || (si - 1)
        || '].spans[' || (k - 1) || ']' AS "offset",
    scope, NULL::VARCHAR AS shared, src AS source, $no_lines
FROM p
"""

# no rows, for a chunk of lines DuckDB could not read at all
NOTHING = """
SELECT NULL::VARCHAR AS tid_raw, NULL::VARCHAR AS sid_raw, NULL::VARCHAR AS pid_raw,
    NULL::VARCHAR AS state, NULL::VARCHAR AS name, NULL::VARCHAR AS kind,
    NULL::VARCHAR AS start_raw, NULL::VARCHAR AS end_raw, NULL::VARCHAR AS attrs,
    NULL::VARCHAR AS events, NULL::VARCHAR AS links, NULL::VARCHAR AS code,
    NULL::VARCHAR AS message, NULL::VARCHAR AS "offset", NULL::INTEGER AS scope,
    NULL::VARCHAR AS shared, NULL::INTEGER AS source, $no_lines
WHERE false
"""

_INSERT = """
INSERT INTO otel_traces
SELECT
    th_ts(c.start_ns), c.TraceId, c.SpanId,
    CASE WHEN c.pid IS NULL OR c.pid = repeat('0', 16) THEN '' ELSE c.pid END,
    c.state, coalesce(c.name, ''), coalesce(c.SpanKind, 'Unspecified'),
    $scoped
    CASE WHEN starts_with(c.attrs, '[') THEN c.attrs ELSE '[]' END,
    -- an end no TIMESTAMP_NS holds (past 2262) after a start one does: no duration (the
    -- start and it would overflow; the note says why); both past it, the duration is kept
    CASE WHEN c.end_ns IS NULL OR c.end_ns = 0 OR c.start_ns IS NULL OR c.start_ns = 0
              OR c.end_ns >= 9223372036854775807 AND c.start_ns < 9223372036854775807
         THEN NULL
         ELSE try_cast(c.end_ns - c.start_ns AS BIGINT) END,
    CASE upper(replace(coalesce(c.code, '0'), 'STATUS_CODE_', ''))
        WHEN '1' THEN 'Ok' WHEN 'OK' THEN 'Ok' WHEN '2' THEN 'Error' WHEN 'ERROR' THEN 'Error'
        ELSE 'Unset' END,
    coalesce(c.message, ''),
    CASE WHEN starts_with(c.events, '[') THEN c.events END,
    CASE WHEN starts_with(c.links, '[') THEN c.links END,
    $rest
WHERE $where
"""
INSERT = (
    _INSERT.replace(
        "$scoped",
        """coalesce(c.service, s.ServiceName), coalesce(c.resource, s.ResourceAttributes),
    CASE WHEN c.scope IS NULL THEN c.scope_name ELSE s.ScopeName END,
    CASE WHEN c.scope IS NULL THEN c.scope_version ELSE s.ScopeVersion END,""",
    )
    .replace(
        "$rest",
        """coalesce(try_cast(c.shared AS BOOLEAN), false),
    src.Source, c."offset"
FROM th_chunk c
LEFT JOIN th_scopes s ON s.ScopeRef = c.scope
JOIN th_sources src ON src.SourceId = c.source""",
    )
    .replace("$where", "c.Reason IS NULL AND c.leftover IS NULL")
)
# Straight from the chunk file into the table, for a chunk of regular lines: any
# span to reject (or odd line, see _otlp_lines.SPANS) fails the statement, and the
# chunk is staged line by line instead.  Lines carry their service, resource and scope
# and come from one input: no join per span for what is the same for the whole chunk.
_INSERT_LINES = (
    _INSERT.replace("$scoped", "c.service, c.resource, c.scope_name, c.scope_version,")
    .replace(
        "$rest",
        f"""false, (SELECT Source FROM th_sources WHERE SourceId = $source), c."offset"
FROM ({_NORMALISED.replace("$notes", _NOTED)}) c""",
    )
    .replace(
        "$where",
        "CASE WHEN c.Reason IS NULL AND NOT c.noted THEN true "
        "ELSE error('a span to reject or to note') END",
    )
)

REJECT = """
INSERT INTO rejected
SELECT src.Source, c."offset", c.Reason, c.TraceId, c.SpanId
FROM th_chunk c JOIN th_sources src ON src.SourceId = c.source
WHERE c.Reason IS NOT NULL
"""

NOTE = """
INSERT INTO normalised
SELECT Source, "offset", unnest(Notes), TraceId, SpanId FROM (
    SELECT src.Source, c."offset", c.Notes, c.TraceId, c.SpanId
    FROM th_chunk c JOIN th_sources src ON src.SourceId = c.source
    WHERE c.Reason IS NULL AND c.leftover IS NULL AND len(c.Notes) > 0
)
"""


def stage(table: str, path: Path, kind: str, size: Any) -> str:
    """The statement staging the chunk at ``path`` into ``table``.

    ``kind`` is ``rows``, ``docs`` or ``lines``; ``size`` the largest record's
    size, or ``(source, first line number, size)`` for lines.
    """
    if kind == "lines":
        source = _lines(_otlp_lines.SPANS_BY_LINE, path, *size)
    else:
        source = (DOCS if kind == "docs" else ROWS).replace("$no_lines", NO_LINES)
        source = source.replace("$size", str(size)).replace("$path", _quoted(path))
    return STAGE.replace("$rows", source).replace("th_chunk", table)


def insert_lines(path: Path, source: int, first: int, size: int) -> str:
    """The statement inserting a chunk of regular OTLP/JSON lines straight into the table.

    It fails on the first odd line or span to reject; its one row is the number
    of spans inserted.
    """
    insert = _INSERT_LINES.replace("$source", str(source))
    return insert.replace("$rows", _lines(_otlp_lines.SPANS, path, source, first, size))


def _lines(query: str, path: Path, source: int, first: int, size: int) -> str:
    return (
        query.replace("$source", str(source))
        .replace("$first", str(first))
        .replace("$size", str(size))
        .replace("$path", _quoted(path))
    )


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def nothing_stage(table: str) -> str:
    """A statement staging no rows into ``table`` (for a chunk DuckDB could not read)."""
    return STAGE.replace("$rows", NOTHING.replace("$no_lines", NO_LINES)).replace("th_chunk", table)
