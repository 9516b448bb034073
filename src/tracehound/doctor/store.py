"""The span table: every source normalised into DuckDB, in the ``otel_traces`` layout.

Columns follow the OpenTelemetry Collector ClickHouse exporter's ``otel_traces``
table (see ``docs/doctor-json.md``), plus ``Shared`` (Zipkin's shared
client/server span), ``Source`` and ``Offset`` (where the span was read).
Attributes are kept as OTLP/JSON attribute lists so their types survive.

Two ways in, both through DuckDB's JSON reader from chunk files of about
``CHUNK_ROWS`` spans in a temporary directory: regular OTLP/JSON requests are
written whole, as read, and unnested in SQL (`Store.add_request`); everything
else (other formats, irregular requests) arrives as serialised rows, one per
span.  ``LOADERS`` background threads parse chunks while the next is read and
insert them in the input's order.  IDs, kinds, statuses and times are
normalised, and invalid spans rejected with a reason, in SQL, the same for
both ways.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import orjson

__all__ = ["CHUNK_ROWS", "LOADERS", "Store"]

CHUNK_ROWS = 50_000

LOADERS = 2
"""Threads parsing chunks at once (their inserts still go one after the other, in order)."""

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
    WHEN length(x) = width AND regexp_full_match(x, '[0-9a-f]+') THEN x
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
    tid_raw, sid_raw, pid_raw,
    th_id(tid_raw, 32) AS TraceId, th_id(sid_raw, 16) AS SpanId,
    th_id(pid_raw, 16) AS pid,
    th_ns(start_raw) AS start_ns, th_ns(end_raw) AS end_ns,
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
    state, name, kind, attrs, events, links, status ->> 'code' AS code,
    status ->> 'message' AS message, "offset", scope, shared, source
FROM ($rows)
"""

# rows as the sources serialise them (see ``sources/_rows.py``)
_ROWS = """
SELECT j[1] ->> '$' AS tid_raw, j[2] ->> '$' AS sid_raw, j[3] ->> '$' AS pid_raw,
    j[4] ->> '$' AS state, j[5] ->> '$' AS name, j[6] ->> '$' AS kind,
    j[7] ->> '$' AS start_raw, j[8] ->> '$' AS end_raw, j[9] AS attrs, j[10] AS events,
    j[11] AS links, j[12] AS status, j[13] ->> '$' AS "offset", (j[14] ->> '$')::INTEGER AS scope,
    j[15] ->> '$' AS shared, (j[16] ->> '$')::INTEGER AS source
FROM read_json($path, format = 'newline_delimited', records = false,
               columns = {'j': 'JSON[]'}, maximum_object_size = $size)
"""

# whole OTLP/JSON requests, wrapped as {"n": line, "src": source, "sc": scope IDs, "d": request}
_SPAN_TYPE = (
    "STRUCT(traceId VARCHAR, spanId VARCHAR, parentSpanId VARCHAR, traceState VARCHAR, "
    "name VARCHAR, kind VARCHAR, startTimeUnixNano VARCHAR, endTimeUnixNano VARCHAR, "
    "attributes VARCHAR, events VARCHAR, links VARCHAR, status JSON)"
)
_DOCS = f"""
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
    sp.links AS links, sp.status AS status,
    coalesce(n || ':', '') || 'resourceSpans[' || (ri - 1) || '].scopeSpans[' || (si - 1)
        || '].spans[' || (k - 1) || ']' AS "offset",
    scope, NULL::VARCHAR AS shared, src AS source
FROM p
"""

_INSERT = """
INSERT INTO otel_traces
SELECT
    make_timestamp_ns(c.start_ns::BIGINT), c.TraceId, c.SpanId,
    CASE WHEN c.pid IS NULL OR c.pid = repeat('0', 16) THEN '' ELSE c.pid END,
    c.state, coalesce(c.name, ''),
    CASE c.kind WHEN '2' THEN 'Server' WHEN '3' THEN 'Client' WHEN '1' THEN 'Internal'
        WHEN '4' THEN 'Producer' WHEN '5' THEN 'Consumer' ELSE
    CASE upper(replace(c.kind, 'SPAN_KIND_', ''))
        WHEN '1' THEN 'Internal' WHEN 'INTERNAL' THEN 'Internal'
        WHEN '2' THEN 'Server' WHEN 'SERVER' THEN 'Server'
        WHEN '3' THEN 'Client' WHEN 'CLIENT' THEN 'Client'
        WHEN '4' THEN 'Producer' WHEN 'PRODUCER' THEN 'Producer'
        WHEN '5' THEN 'Consumer' WHEN 'CONSUMER' THEN 'Consumer'
        ELSE 'Unspecified' END END,
    s.ServiceName, s.ResourceAttributes, s.ScopeName, s.ScopeVersion,
    CASE WHEN starts_with(c.attrs, '[') THEN c.attrs ELSE '[]' END,
    CASE WHEN c.end_ns IS NULL OR c.end_ns = 0 THEN NULL
         ELSE (c.end_ns - c.start_ns)::BIGINT END,
    CASE upper(replace(coalesce(c.code, '0'), 'STATUS_CODE_', ''))
        WHEN '1' THEN 'Ok' WHEN 'OK' THEN 'Ok' WHEN '2' THEN 'Error' WHEN 'ERROR' THEN 'Error'
        ELSE 'Unset' END,
    coalesce(c.message, ''),
    CASE WHEN starts_with(c.events, '[') THEN c.events END,
    CASE WHEN starts_with(c.links, '[') THEN c.links END,
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
    """The span table in DuckDB (a temporary file, or ``path`` for ``--db``); the sources' sink."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, memory_limit: int | None = None
    ) -> None:
        if path is not None and Path(path).exists():
            Path(path).unlink()
        self._tmp = Path(tempfile.mkdtemp(prefix="tracehound-"))
        # the directory holds the span table now: remove it even if close() is never called
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        # without --db the table goes to a file in the temporary directory all the same:
        # DuckDB compresses what it writes there, so far less spills (measured on 1M
        # spans: checks take a quarter less CPU, peak memory 1.8x the input, not 1.9x)
        self.con = duckdb.connect(str(path if path is not None else self._tmp / "spans.db"))
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")
        if memory_limit is not None:
            # DuckDB spills what does not fit to its temporary directory
            self.con.execute(f"SET memory_limit = '{max(memory_limit, 256 << 20) >> 20}MB'")
            self.con.execute(f"SET temp_directory = '{self._tmp / 'spill'}'")
        self.con.execute(_SCHEMA)
        self.rows: list[bytes] = []
        self._docs: BinaryIO | None = None  # the chunk file requests are written to
        self._docs_seq = 0
        self._doc_spans = 0
        self._doc_size = 0
        self._scopes: dict[tuple[Any, ...], int] = {}
        self._new_scopes: list[tuple[Any, ...]] = []
        self._rejects: list[tuple[str, str, str, None, None]] = []
        self._sources: list[str] = []
        self._source = 0
        self._chunks = 0
        self._queue: queue.Queue[tuple[int, Path, bool, int] | None] = queue.Queue(maxsize=2)
        self._failure: BaseException | None = None
        self._turn = 0  # the chunk whose rows go into the table next (the input's order)
        self._turns = threading.Condition()
        self._workers = [
            threading.Thread(target=self._ingest_loop, args=(n,), daemon=True)
            for n in range(LOADERS)
        ]
        for worker in self._workers:
            worker.start()
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
        if len(self.rows) + self._doc_spans >= CHUNK_ROWS:
            self.flush()

    def add_request(
        self, line: int | None, scopes: list[list[int]], raw: bytes, spans: int
    ) -> None:
        """Queue a whole OTLP/JSON request (``raw``, one line) for DuckDB to unnest.

        The caller has checked its structure: every resource, scope and span
        entry is an object, spans use camelCase names, and ``scopes[ri][si]``
        is the scope ID of each ``resourceSpans[ri].scopeSpans[si]``.
        """
        if self.rows:
            self.flush()  # keep the input's order
        head = b'{"n":%s,"src":%d,"sc":%s,"d":' % (
            b"null" if line is None else str(line).encode(),
            self._source,
            orjson.dumps(scopes),
        )
        if self._docs is None:
            self._docs_seq = self._chunks
            self._docs = open(self._chunk_path(), "wb")  # noqa: SIM115 (closed by flush)
        self._docs.writelines((head, raw, b"}\n"))
        self._doc_spans += spans
        self._doc_size = max(self._doc_size, len(raw) + len(head) + 1)

    def flush(self) -> None:
        """Hand the buffered rows or requests to the loader thread."""
        self._raise_failure()
        if self._new_scopes:
            self.con.executemany("INSERT INTO th_scopes VALUES (?, ?, ?, ?, ?)", self._new_scopes)
            self._new_scopes = []
        if self._docs is not None:
            self._docs.close()
            size = max(self._doc_size, 1 << 20)
            self._queue.put((self._docs_seq, Path(self._docs.name), True, size))
            self._docs = None
        if self.rows:
            path = self._chunk_path()
            with open(path, "wb") as out:
                out.write(b"\n".join(self.rows))
            self._queue.put((self._chunks - 1, path, False, 1 << 25))
        self.rows = []
        self._doc_spans = 0
        self._doc_size = 0

    def _chunk_path(self) -> Path:
        self._chunks += 1
        return self._tmp / f"chunk{self._chunks - 1}.jsonl"

    def finish(self) -> None:
        """Load what is left and wait for the loader; the table is complete afterwards."""
        self.flush()
        self._stop_workers()
        self._raise_failure()
        if self._rejects:
            self.con.executemany("INSERT INTO rejected VALUES (?, ?, ?, ?, ?)", self._rejects)
            self._rejects = []

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._docs is not None:
            self._docs.close()
        self._stop_workers()
        self.con.close()
        self._cleanup()

    # -- loading ------------------------------------------------------------------
    def _stop_workers(self) -> None:
        alive = [w for w in self._workers if w.is_alive()]
        for _ in alive:
            self._queue.put(None)
        for worker in alive:
            worker.join()

    def _ingest_loop(self, number: int) -> None:
        """Parse and normalise chunks in parallel; insert them one after the other, in order."""
        cursor = self.con.cursor()
        stage = f"th_chunk{number}"
        while True:
            item = self._queue.get()
            if item is None:
                break
            seq, path, docs, size = item
            try:
                if self._failure is None:
                    try:
                        _stage(cursor, stage, path, docs, size)
                    except duckdb.Error:
                        if not docs:
                            raise
                        # DuckDB's JSON reader refused what orjson accepted: go row by row
                        _requests_to_rows(path)
                        _stage(cursor, stage, path, False, 1 << 25)
            except BaseException as exc:
                self._failure = exc
            finally:
                path.unlink(missing_ok=True)
            with self._turns:
                self._turns.wait_for(lambda seq=seq: self._turn == seq)  # type: ignore[misc]
                try:
                    if self._failure is None:
                        cursor.execute(_INSERT.replace("th_chunk", stage))
                        cursor.execute(_REJECT.replace("th_chunk", stage))
                        cursor.execute(f"DROP TABLE {stage}")
                except BaseException as exc:
                    self._failure = exc
                finally:
                    self._turn += 1
                    self._turns.notify_all()
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


def _stage(
    cursor: duckdb.DuckDBPyConnection, table: str, path: Path, docs: bool, size: int
) -> None:
    source = (_DOCS if docs else _ROWS).replace("$size", str(size))
    source = source.replace("$path", "'" + str(path).replace("'", "''") + "'")
    cursor.execute(_STAGE.replace("$rows", source).replace("th_chunk", table))


def _requests_to_rows(path: Path) -> None:
    """Rewrite a chunk of wrapped requests (see `Store.add_request`) as serialised rows."""
    from tracehound.doctor.sources.otlp_json import request_rows

    rows: list[bytes] = []
    with open(path, "rb") as chunk:
        for line in chunk:
            wrapped = orjson.loads(line)
            rows.extend(request_rows(wrapped["d"], wrapped["n"], wrapped["src"], wrapped["sc"]))
    with open(path, "wb") as out:
        out.write(b"\n".join(rows))
