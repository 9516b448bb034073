"""The OpenTelemetry Collector ClickHouse exporter's trace tables, as its SQL creates them.

Taken from open-telemetry/opentelemetry-collector-contrib,
``exporter/clickhouseexporter/internal/sqltemplates/`` (Apache-2.0):

- ``traces_table.sql`` at commit 2bf6b9e1f8c8716ab54eaac1635e56b4d0649900
  (the Map(String, String) attributes; the template's ``HasFullTextSearch``
  off: bloom-filter indexes, the exporter's default),
- ``traces_json_table.sql`` at 39f94831a58596011d18c28e6532fe5f31d03472
  (the JSON attribute variant),
- ``traces_id_ts_lookup_table.sql`` at 1b08503058e58c68b9175b4d0663d0aaf16b5398,
- ``traces_id_ts_lookup_mv.sql`` at 57b29d74154d72320747c8dd2a0b4a1629a39187.

The Go template's placeholders are filled as the exporter fills them by
default: database and table names, no cluster, ``MergeTree()``, no TTL.
"""

from __future__ import annotations

__all__ = ["create_statements"]

_TRACES = """
CREATE TABLE IF NOT EXISTS {db}.{table} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ResourceAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(ResourceAttributes, 'Array(Tuple(String, String))')),
    SpanAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(SpanAttributes, 'Array(Tuple(String, String))')),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""  # noqa: E501 (the exporter's text, unchanged)

_TRACES_JSON = """
CREATE TABLE IF NOT EXISTS {db}.{table} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes JSON CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes JSON CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes JSON
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes JSON
    ) CODEC(ZSTD(1)),
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity=8192, ttl_only_drop_parts = 1
"""

_LOOKUP = """
CREATE TABLE IF NOT EXISTS {db}.{lookup} (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = MergeTree()
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""

_LOOKUP_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{mv}
TO {db}.{lookup}
AS SELECT
              TraceId,
              min(Timestamp) as Start,
              max(Timestamp) as End
   FROM {db}.{table}
   WHERE TraceId != ''
   GROUP BY TraceId
"""


def create_statements(db: str, table: str, *, json: bool = False) -> list[str]:
    """The exporter's statements creating ``db.table``, its trace-ID lookup table and
    the view that fills it (``json``: the JSON attribute variant)."""
    names = {
        "db": _ident(db),
        "table": _ident(table),
        "lookup": _ident(f"{table}_trace_id_ts"),
        "mv": _ident(f"{table}_trace_id_ts_mv"),
    }
    return [
        "CREATE DATABASE IF NOT EXISTS {db}".format(**names),
        (_TRACES_JSON if json else _TRACES).format(**names),
        _LOOKUP.format(**names),
        _LOOKUP_MV.format(**names),
    ]


def _ident(name: str) -> str:
    """``name`` quoted as a ClickHouse identifier (what the exporter's ``ident`` does)."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
