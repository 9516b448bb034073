"""OTLP/JSON lines read by DuckDB as they are: no parsing in Python.

The Collector's file exporter writes one ``ExportTraceServiceRequest`` per
line.  The store copies blocks of such lines, unparsed, into chunk files, and
SQL unnests them.  `SPANS` reads a chunk with DuckDB's JSON reader straight
into a skeleton of structs (attributes, events and links as JSON text), the
cheapest way in; it fails on the first line that is not regular, and numbers
lines by rows, so it is only tried on chunks without blank lines.
`SPANS_BY_LINE` reads every line on its own (slower: the line is copied and
parsed apart), so that an odd line costs only itself: it comes back whole as
a *leftover*, for the Python readers, which name the problem precisely.
Line numbers are row numbers, so a chunk is read by one thread (the store
loads two chunks at once).

Odd: invalid JSON, another format, snake_case field names, a resource or
scope entry that is not an object or has no ``scopeSpans``/``spans``, a span
with none of its main fields -- whatever DuckDB's lenient reading could hide.
"""

from __future__ import annotations

__all__ = ["SPANS", "SPANS_BY_LINE"]

_SPAN = (
    '{"traceId":"VARCHAR","spanId":"VARCHAR","parentSpanId":"VARCHAR","traceState":"VARCHAR",'
    '"name":"VARCHAR","kind":"VARCHAR","startTimeUnixNano":"VARCHAR","endTimeUnixNano":"VARCHAR",'
    '"attributes":"JSON","events":"JSON","links":"JSON","status":{"code":"VARCHAR","message":"VARCHAR"}}'
)
_REQUEST = (
    '{"resourceSpans":[{"resource":{"attributes":"JSON"},"scopeSpans":[{'
    '"scope":{"name":"VARCHAR","version":"VARCHAR"},'
    '"instrumentationLibrary":{"name":"VARCHAR","version":"VARCHAR"},'
    f'"spans":[{_SPAN}]}}]}}]}}'
)
# the same skeleton as a column type for read_json, which also reads a
# snake_case trace_id (a span only the Python reader reads)
_RESOURCE_SPANS_TYPE = (
    "STRUCT(resource STRUCT(attributes JSON), scopeSpans STRUCT("
    "scope STRUCT(name VARCHAR, version VARCHAR), "
    "instrumentationLibrary STRUCT(name VARCHAR, version VARCHAR), "
    "spans STRUCT(traceId VARCHAR, spanId VARCHAR, parentSpanId VARCHAR, traceState VARCHAR, "
    "name VARCHAR, kind VARCHAR, startTimeUnixNano VARCHAR, endTimeUnixNano VARCHAR, "
    "attributes JSON, events JSON, links JSON, status STRUCT(code VARCHAR, message VARCHAR), "
    "trace_id JSON)[])[])[]"
)
_SERVICE = '[{"key":"VARCHAR","value":{"stringValue":"JSON"}}]'


def _odd(resource_spans: str, span_odd: str) -> str:
    """Whether a request is odd: DuckDB's lenient reading could hide a problem.

    An entry that is not an object reads as all NULL, like a resource without
    scopeSpans, a scope without spans or a span with none of its main fields;
    snake_case names read as missing.
    """
    return f"""({resource_spans} IS NULL
        OR coalesce(list_bool_or(list_transform({resource_spans},
            lambda r: r.scopeSpans IS NULL
                OR coalesce(list_bool_or(list_transform(r.scopeSpans,
                    lambda s: s.spans IS NULL
                        OR coalesce(list_bool_or(list_transform(s.spans,
                            lambda sp: sp.traceId IS NULL AND sp.spanId IS NULL
                                AND sp.name IS NULL AND sp.startTimeUnixNano IS NULL
                                {span_odd})),
                            false))), false))), false))"""


# From requests (``src``, ``n``, ``rss``) to the columns of the other sources
# (see _load_sql.STAGE), plus the service, resource and scope (the other
# sources refer to th_scopes instead), the line number and, for a leftover,
# the line itself.  Per-resource and per-scope values are worked out before
# the next unnest, so that they are computed once and not once per span.
_UNNESTED = f"""
r AS (
    SELECT src, n, unnest(rss) AS rs, generate_subscripts(rss, 1) - 1 AS ri
    FROM requests
), r2 AS (
    SELECT src, n, ri, rs.scopeSpans AS sss,
        CASE WHEN json_type(rs.resource.attributes) = 'ARRAY'
             THEN rs.resource.attributes ELSE '[]' END AS resource,
        coalesce(list_filter(
            TRY(json_transform(rs.resource.attributes, '{_SERVICE}')),
            lambda a: a.key = 'service.name' AND json_type(a.value.stringValue) = 'VARCHAR'
                 AND a.value.stringValue <> '""'
        )[1].value.stringValue ->> '$', 'unknown_service') AS service
    FROM r
), s AS (
    SELECT src, n, ri, resource, service, unnest(sss) AS ss, generate_subscripts(sss, 1) - 1 AS si
    FROM r2
), s2 AS (
    SELECT src, n, resource, service, ss.spans AS sps,
        n || ':resourceSpans[' || ri || '].scopeSpans[' || si || '].spans[' AS span_at,
        CASE WHEN ss.scope IS NOT NULL THEN ss.scope.name ELSE ss.instrumentationLibrary.name END
            AS scope_name,
        CASE WHEN ss.scope IS NOT NULL THEN ss.scope.version
             ELSE ss.instrumentationLibrary.version END AS scope_version
    FROM s
), p AS (
    SELECT src, n, span_at, resource, service, scope_name, scope_version,
        unnest(sps) AS sp, generate_subscripts(sps, 1) - 1 AS k
    FROM s2
)
SELECT sp.traceId AS tid_raw, sp.spanId AS sid_raw, sp.parentSpanId AS pid_raw,
    sp.traceState AS state, sp.name AS name, sp.kind AS kind,
    sp.startTimeUnixNano AS start_raw, sp.endTimeUnixNano AS end_raw,
    sp.attributes AS attrs, sp.events AS events, sp.links AS links,
    sp.status.code AS code, sp.status.message AS message,
    span_at || k || ']' AS "offset",
    NULL::INTEGER AS scope, NULL::VARCHAR AS shared, src AS source,
    service, resource, scope_name, scope_version, NULL::VARCHAR AS bad,
    n AS line_no, NULL::VARCHAR AS leftover
FROM p
"""

SPANS = f"""
WITH requests AS (
    SELECT $source AS src, $first + ordinality - 1 AS n, resourceSpans AS rss
    FROM read_json($path, format = 'newline_delimited', records = true,
        columns = {{'resourceSpans': '{_RESOURCE_SPANS_TYPE}'}}, maximum_object_size = $size)
        WITH ORDINALITY
    WHERE CASE WHEN {_odd("resourceSpans", "OR sp.trace_id IS NOT NULL")}
               THEN error('an odd line') ELSE true END
), {_UNNESTED}
"""

SPANS_BY_LINE = f"""
WITH l AS MATERIALIZED (
    SELECT $source AS src, $first + ordinality - 1 AS n, line,
        TRY(json_transform(line, '{_REQUEST}')) AS doc
    -- one VARCHAR column: \x01 cannot occur raw in JSON (a line holding one makes
    -- DuckDB refuse the chunk, which then goes to Python whole)
    FROM read_csv($path, columns = {{'line': 'VARCHAR'}}, delim = '\x01', quote = '',
        escape = '', header = false, auto_detect = false, max_line_size = $size,
        buffer_size = $size) WITH ORDINALITY
), c AS MATERIALIZED (
    SELECT src, n, line, doc.resourceSpans AS rss,
        {_odd("doc.resourceSpans", "")} OR contains(line, '"trace_id"')
            OR contains(line, '_value"') AS odd
    FROM l
    WHERE line IS NOT NULL AND (doc IS NOT NULL OR trim(line) <> '')  -- blank lines
), requests AS (
    SELECT src, n, rss FROM c WHERE NOT odd
), {_UNNESTED}
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, src, NULL, NULL, NULL, NULL, NULL, n, line
FROM c WHERE odd
"""
