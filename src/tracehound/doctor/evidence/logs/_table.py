"""The ``otel_logs`` table and its loader: rows written to chunk files, read by DuckDB.

Columns follow the OpenTelemetry Collector ClickHouse exporter's ``otel_logs``
(attributes as JSON objects rather than maps: ``LogAttributes`` is the record as
written, every field of a JSON line or a logfmt line, or a pattern's groups), plus
``Source`` and ``Offset``
(the input and line). ``ScopeName`` is the logger; ``ResourceAttributes`` holds
``service.name`` and ``log.writer``, the library the line's fields say wrote it.
Lines that are no log record are counted in ``log_rejected``: per input and reason,
the count and the first line.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson

__all__ = ["CHECKPOINT_EVERY", "CHUNK_ROWS", "SCHEMA", "LogLoader"]

SCHEMA = """
CREATE OR REPLACE TABLE otel_logs (
    "Timestamp" TIMESTAMP_NS, TraceId VARCHAR, SpanId VARCHAR, TraceFlags INTEGER,
    SeverityText VARCHAR, SeverityNumber INTEGER, ServiceName VARCHAR, Body VARCHAR,
    ResourceAttributes JSON, ScopeName VARCHAR, LogAttributes JSON,
    Source VARCHAR, "Offset" VARCHAR
);
CREATE OR REPLACE TABLE log_rejected (
    Source VARCHAR, "Offset" VARCHAR, Reason VARCHAR, "Count" BIGINT
);
"""

CHUNK_ROWS = 50_000
"""Rows per chunk file: memory holds about two chunks, whatever the input's size."""

CHECKPOINT_EVERY = 64 << 20
"""Bytes of rows loaded between checkpoints (as the span table, see `doctor.store`)."""

_COLUMNS = {
    "t": "BIGINT", "tr": "VARCHAR", "sp": "VARCHAR", "fl": "INTEGER", "lv": "VARCHAR",
    "ln": "INTEGER", "sv": "VARCHAR", "b": "VARCHAR", "w": "VARCHAR", "lg": "VARCHAR",
    "a": "JSON", "src": "VARCHAR", "o": "BIGINT",
}  # fmt: skip


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


_INSERT = """
INSERT INTO otel_logs SELECT
    make_timestamp_ns(t), tr, sp, fl, lv, ln, sv, b,
    json_object('service.name', sv, 'log.writer', w), lg, a, src, o::VARCHAR
FROM read_json(?, format = 'newline_delimited', columns = {columns},
               maximum_object_size = 1073741824)
""".format(columns="{" + ", ".join(f"'{k}': '{v}'" for k, v in _COLUMNS.items()) + "}")


class LogLoader:
    """Takes rows from the readers; one thread loads each full chunk while the next fills."""

    def __init__(
        self,
        cursor: Callable[[], duckdb.DuckDBPyConnection],
        tmp: Path,
        checkpointing: threading.Lock | None = None,
    ) -> None:
        self._cursor = cursor
        self._checkpointing = checkpointing or threading.Lock()
        self._uncompressed = 0
        self._tmp = tmp
        self._rows: list[bytes] = []
        self._files = 0
        self._queue: queue.Queue[Path | None] = queue.Queue(maxsize=1)
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None

    def add(self, row: tuple[Any, ...], source: str, line: int, attrs: bytes) -> None:
        """One row (see `_record.Row`) read from line ``line`` of ``source``; ``attrs`` is
        the record's fields as a JSON object (a JSON line as written)."""
        when, trace, span, flags, level, number, service, body, writer, logger = row
        head = _dumps(
            {
                "t": when,
                "tr": trace,
                "sp": span,
                "fl": flags,
                "lv": level,
                "ln": number,
                "sv": service,
                "b": body,
                "w": writer,
                "lg": logger,
                "src": source,
                "o": line,
            }
        )
        self._rows.append(b'%s,"a":%s}' % (head[:-1], attrs))
        if len(self._rows) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        """Hand the rows so far to the loading thread."""
        if self._failure is not None:
            raise self._failure
        if not self._rows:
            return
        self._files += 1
        path = self._tmp / f"logs{self._files}.jsonl"
        with open(path, "wb") as out:
            out.write(b"\n".join(self._rows))
        self._rows = []
        if self._thread is None:
            self._thread = threading.Thread(target=self._load_loop, daemon=True)
            self._thread.start()
        self._queue.put(path)

    def finish(self) -> None:
        """Load what is left and wait: the table is complete afterwards."""
        self.flush()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._failure is not None:
            raise self._failure

    def _load_loop(self) -> None:
        cursor = self._cursor()
        try:
            while (path := self._queue.get()) is not None:
                try:
                    if self._failure is None:
                        size = path.stat().st_size
                        cursor.execute(_INSERT, [str(path)])
                        self._compress_if_due(cursor, size)
                except BaseException as exc:
                    self._failure = exc
                finally:
                    path.unlink(missing_ok=True)
        finally:
            cursor.close()

    def _compress_if_due(self, cursor: duckdb.DuckDBPyConnection, loaded: int) -> None:
        """Compress the table every `CHECKPOINT_EVERY` bytes of rows: uncompressed, a 1 GB
        log directory held 4.3 GB of memory (the record as written is kept per row)."""
        self._uncompressed += loaded
        if self._uncompressed >= CHECKPOINT_EVERY:
            self._uncompressed = 0
            with self._checkpointing:
                cursor.execute("CHECKPOINT")
