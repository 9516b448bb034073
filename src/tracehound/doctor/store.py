"""The span table: every source normalised into DuckDB, in the ``otel_traces`` layout.

Columns follow the OpenTelemetry Collector ClickHouse exporter's ``otel_traces``
table (see ``docs/doctor-json.md``), plus ``Shared`` (Zipkin's shared
client/server span), ``Source`` and ``Offset`` (where the span was read).
Attributes are kept as OTLP/JSON attribute lists so their types survive.

Sources append serialised rows; every ``CHUNK_ROWS`` rows go to a temporary
file that a background thread loads with DuckDB's JSON reader while the next
chunk is parsed.  IDs, kinds, statuses and times are normalised, and invalid
spans rejected with a reason, in SQL.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import duckdb
import orjson

__all__ = ["CHUNK_ROWS", "Store"]

CHUNK_ROWS = 50_000

_MIN_NS = 631_152_000 * 10**9  # 1990-01-01
_MAX_NS = 7_258_118_400 * 10**9  # 2200-01-01

_SCHEMA = """
CREATE OR REPLACE TABLE otel_traces (
    "Timestamp" TIMESTAMP_NS, TraceId VARCHAR, SpanId VARCHAR, ParentSpanId VARCHAR,
    TraceState VARCHAR, SpanName VARCHAR, SpanKind VARCHAR, ServiceName VARCHAR,
    ResourceAttributes JSON, ScopeName VARCHAR, ScopeVersion VARCHAR, SpanAttributes JSON,
    Duration BIGINT, StatusCode VARCHAR, StatusMessage VARCHAR, Events JSON, Links JSON,
    Shared BOOLEAN, Source VARCHAR, "Offset" VARCHAR
);
CREATE OR REPLACE TABLE rejected (
    Source VARCHAR, "Offset" VARCHAR, Reason VARCHAR, TraceId VARCHAR, SpanId VARCHAR
);
CREATE OR REPLACE TABLE th_scopes (
    ScopeRef INTEGER, ServiceName VARCHAR, ResourceAttributes JSON,
    ScopeName VARCHAR, ScopeVersion VARCHAR
);
CREATE OR REPLACE TABLE th_sources (SourceId INTEGER, Source VARCHAR);
CREATE OR REPLACE MACRO th_b64(x) AS
    rpad(translate(x, '-_', '+/'), (((length(x) + 3) // 4) * 4)::INTEGER, '=');
CREATE OR REPLACE MACRO th_id(x, width) AS CASE
    WHEN x IS NULL OR x = '' THEN NULL
    WHEN length(x) <= width AND regexp_full_match(x, '[0-9a-fA-F]+') THEN lpad(lower(x), width, '0')
    WHEN octet_length(try(from_base64(th_b64(x)))) IN (8, width // 2)
    THEN lpad(lower(hex(from_base64(th_b64(x)))), width, '0')
END;
CREATE OR REPLACE MACRO th_ns(x) AS coalesce(
    try_cast(x AS HUGEINT), try_cast(try_cast(x AS DOUBLE) AS HUGEINT));
"""

_STAGE = f"""
CREATE OR REPLACE TEMP TABLE th_chunk AS
SELECT
    j[1] ->> '$' AS tid_raw, j[2] ->> '$' AS sid_raw, j[3] ->> '$' AS pid_raw,
    th_id(tid_raw, 32) AS TraceId, th_id(sid_raw, 16) AS SpanId,
    th_id(pid_raw, 16) AS pid,
    th_ns(j[7] ->> '$') AS start_ns, th_ns(j[8] ->> '$') AS end_ns,
    CASE
        WHEN tid_raw IS NULL OR tid_raw = '' THEN 'missing trace ID'
        WHEN TraceId IS NULL THEN 'trace ID is neither hex nor base64 of 8 or 16 bytes'
        WHEN TraceId = repeat('0', 32) THEN 'all-zero trace ID'
        WHEN sid_raw IS NULL OR sid_raw = '' THEN 'missing span ID'
        WHEN SpanId IS NULL THEN 'span ID is neither hex nor base64 of 8 bytes'
        WHEN SpanId = repeat('0', 16) THEN 'all-zero span ID'
        WHEN pid_raw IS NOT NULL AND pid_raw <> '' AND pid IS NULL
            THEN 'parent span ID is neither hex nor base64 of 8 bytes'
        WHEN start_ns IS NULL OR start_ns = 0 THEN 'missing start time'
        WHEN start_ns NOT BETWEEN {_MIN_NS} AND {_MAX_NS}
            THEN 'implausible start time (outside 1990-2200; a unit mix-up?)'
        WHEN end_ns IS NOT NULL AND end_ns <> 0 AND end_ns NOT BETWEEN {_MIN_NS} AND {_MAX_NS}
            THEN 'implausible end time (outside 1990-2200; a unit mix-up?)'
    END AS Reason,
    j[4] ->> '$' AS state, j[5] ->> '$' AS name, j[6] ->> '$' AS kind, j[9] AS attrs,
    j[10] AS events, j[11] AS links, j[12] ->> 'code' AS code, j[12] ->> 'message' AS message,
    j[13] ->> '$' AS "offset", (j[14] ->> '$')::INTEGER AS scope, j[15] ->> '$' AS shared,
    (j[16] ->> '$')::INTEGER AS source
FROM read_json($path, format = 'newline_delimited', records = false,
               columns = {{'j': 'JSON[]'}}, maximum_object_size = 33554432)
"""

_INSERT = """
INSERT INTO otel_traces
SELECT
    make_timestamp_ns(c.start_ns::BIGINT), c.TraceId, c.SpanId,
    CASE WHEN c.pid IS NULL OR c.pid = repeat('0', 16) THEN '' ELSE c.pid END,
    c.state, coalesce(c.name, ''),
    CASE upper(replace(c.kind, 'SPAN_KIND_', ''))
        WHEN '1' THEN 'Internal' WHEN 'INTERNAL' THEN 'Internal'
        WHEN '2' THEN 'Server' WHEN 'SERVER' THEN 'Server'
        WHEN '3' THEN 'Client' WHEN 'CLIENT' THEN 'Client'
        WHEN '4' THEN 'Producer' WHEN 'PRODUCER' THEN 'Producer'
        WHEN '5' THEN 'Consumer' WHEN 'CONSUMER' THEN 'Consumer'
        ELSE 'Unspecified' END,
    s.ServiceName, s.ResourceAttributes, s.ScopeName, s.ScopeVersion,
    CASE WHEN json_type(c.attrs) = 'ARRAY' THEN c.attrs ELSE '[]' END,
    CASE WHEN c.end_ns IS NULL OR c.end_ns = 0 THEN NULL
         ELSE (c.end_ns - c.start_ns)::BIGINT END,
    CASE upper(replace(coalesce(c.code, '0'), 'STATUS_CODE_', ''))
        WHEN '1' THEN 'Ok' WHEN 'OK' THEN 'Ok' WHEN '2' THEN 'Error' WHEN 'ERROR' THEN 'Error'
        ELSE 'Unset' END,
    coalesce(c.message, ''),
    CASE WHEN json_type(c.events) = 'ARRAY' THEN c.events END,
    CASE WHEN json_type(c.links) = 'ARRAY' THEN c.links END,
    coalesce(try_cast(c.shared AS BOOLEAN), false),
    src.Source, c."offset"
FROM th_chunk c
JOIN th_scopes s ON s.ScopeRef = c.scope
JOIN th_sources src ON src.SourceId = c.source
WHERE c.Reason IS NULL
"""

_REJECT = """
INSERT INTO rejected
SELECT src.Source, c."offset", c.Reason, c.TraceId, c.SpanId
FROM th_chunk c JOIN th_sources src ON src.SourceId = c.source
WHERE c.Reason IS NOT NULL
"""


class Store:
    """The span table in DuckDB, in memory or in ``path`` (``--db``), and the sink sources fill."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, memory_limit: int | None = None
    ) -> None:
        if path is not None and Path(path).exists():
            Path(path).unlink()
        self._tmp = Path(tempfile.mkdtemp(prefix="tracehound-"))
        self.con = duckdb.connect(str(path) if path is not None else ":memory:")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")
        if memory_limit is not None:
            # DuckDB spills what does not fit to its temporary directory
            self.con.execute(f"SET memory_limit = '{max(memory_limit, 256 << 20) >> 20}MB'")
            self.con.execute(f"SET temp_directory = '{self._tmp / 'spill'}'")
        self.con.execute(_SCHEMA)
        self.rows: list[bytes] = []
        self._scopes: dict[tuple[Any, ...], int] = {}
        self._new_scopes: list[tuple[Any, ...]] = []
        self._rejects: list[tuple[str, str, str, None, None]] = []
        self._sources: list[str] = []
        self._source = 0
        self._chunks = 0
        self._queue: queue.Queue[Path | None] = queue.Queue(maxsize=2)
        self._failure: BaseException | None = None
        self._worker = threading.Thread(target=self._ingest_loop, daemon=True)
        self._worker.start()
        self._closed = False

    # -- the sink the sources fill -------------------------------------------------
    def begin_source(self, name: str) -> int:
        """Register an input; its rows carry the returned ID."""
        self._sources.append(name)
        self._source = len(self._sources) - 1
        self.con.execute("INSERT INTO th_sources VALUES (?, ?)", [self._source, name])
        return self._source

    def scope(self, service: str, resource: Any, name: str | None, version: str | None) -> int:
        resource_json = orjson.dumps(resource if isinstance(resource, list) else []).decode()
        key = (service, resource_json, name, version)
        found = self._scopes.get(key)
        if found is None:
            found = len(self._scopes)
            self._scopes[key] = found
            self._new_scopes.append((found, *key))
        return found

    def reject(self, reason: str, offset: str) -> None:
        self._rejects.append((self._sources[self._source], offset, reason, None, None))

    def flush_if_full(self) -> None:
        if len(self.rows) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered rows to the loader thread."""
        self._raise_failure()
        if self._new_scopes:
            self.con.executemany("INSERT INTO th_scopes VALUES (?, ?, ?, ?, ?)", self._new_scopes)
            self._new_scopes = []
        if not self.rows:
            return
        path = self._tmp / f"chunk{self._chunks}.jsonl"
        self._chunks += 1
        with open(path, "wb") as out:
            out.write(b"\n".join(self.rows))
        self.rows = []
        self._queue.put(path)

    def finish(self) -> None:
        """Load what is left and wait for the loader; the table is complete afterwards."""
        self.flush()
        self._queue.put(None)
        self._worker.join()
        self._raise_failure()
        if self._rejects:
            self.con.executemany("INSERT INTO rejected VALUES (?, ?, ?, ?, ?)", self._rejects)
            self._rejects = []

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._worker.is_alive():
            self._queue.put(None)
            self._worker.join()
        shutil.rmtree(self._tmp, ignore_errors=True)
        self.con.close()

    # -- loading ------------------------------------------------------------------
    def _ingest_loop(self) -> None:
        cursor = self.con.cursor()
        while True:
            path = self._queue.get()
            if path is None:
                break
            if self._failure is not None:
                path.unlink(missing_ok=True)
                continue
            try:
                cursor.execute(_STAGE.replace("$path", "'" + str(path).replace("'", "''") + "'"))
                cursor.execute(_INSERT)
                cursor.execute(_REJECT)
                cursor.execute("DROP TABLE th_chunk")
            except BaseException as exc:
                self._failure = exc
            finally:
                path.unlink(missing_ok=True)
        cursor.close()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise RuntimeError(f"loading spans into DuckDB failed: {failure}") from failure

    # -- reading ------------------------------------------------------------------
    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (for checks and reports)."""
        return self.con.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Any = None) -> Any:
        row = self.con.execute(sql, params).fetchone()
        return row[0] if row else None
