"""The span table: every source normalised into DuckDB, in the ``otel_traces`` layout.

Columns follow the OpenTelemetry Collector ClickHouse exporter's ``otel_traces``
table (see ``docs/doctor-json.md``), plus ``Shared`` (Zipkin's shared
client/server span), ``Source`` and ``Offset`` (where the span was read).
Attributes are kept as OTLP/JSON attribute lists so their types survive.

Three ways in, all through DuckDB from chunk files in a temporary directory:
OTLP/JSON lines unparsed, in blocks (`Store.add_lines`, see `_otlp_lines`);
a whole OTLP/JSON request the Python reader parsed and found regular
(`Store.add_request`); everything else (other formats, irregular requests)
as serialised rows, about ``CHUNK_ROWS`` per chunk.  ``LOADERS`` background
threads load chunks (`_chunks`) while the next is read, and commit them in
the input's order.  IDs, kinds, statuses and times are normalised, and
invalid spans rejected with a reason, in SQL, the same for every way
(`_load_sql`).  The table is compressed as it grows (`CHECKPOINT_EVERY`) and
when the load is done.
"""

from __future__ import annotations

import contextlib
import copy
import os
import queue
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import orjson

from tracehound.doctor import _chunks, _load_sql
from tracehound.doctor.evidence import k8s as k8s_evidence
from tracehound.doctor.evidence import logs as _logs
from tracehound.doctor.evidence.http import _table as http_table
from tracehound.doctor.sources import runtime_findings

__all__ = ["CHUNK_ROWS", "LOADERS", "LoadError", "Store", "scope_key"]

CHUNK_ROWS = 50_000


CHECKPOINT_EVERY = 64 << 20
"""Bytes of input loaded between checkpoints, which compress the table as it grows.

Uncompressed, the table took 1.4 times the input; DuckDB then spilled it to disk
and, at its memory limit, gave freed memory back to the system and faulted it in
again (1M spans: ~780k page faults, a quarter of the CPU time in the kernel).
A checkpoint runs beside the other loader's work; the ones DuckDB starts itself
(every 16 MB) ran inside commits, one after the other (2.2 s against 1 s)."""

LOADERS = 2
"""Threads loading chunks at once (their commits go one after the other, in order)."""


class LoadError(RuntimeError):
    """The span table could not be built: DuckDB or the temporary directory failed."""


class Store:
    """The span table in DuckDB (in memory, or the file ``path``); the sources' sink."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is not None and Path(path).exists():
            Path(path).unlink()
        self._tmp = Path(tempfile.mkdtemp(prefix="tracehound-"))
        # the directory holds the span table now: remove it even if close() is never called
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        # In memory unless --db, compressed as a database file is (at each
        # checkpoint, see CHECKPOINT_EVERY); uncompressed, the table took 1.4 times
        # the input and spilled to disk.
        if path is not None:
            self.con = duckdb.connect(str(path))
            self._catalog: str | None = None
        else:
            self.con = duckdb.connect(":memory:")
            self.con.execute("ATTACH ':memory:' AS th_spans (COMPRESS)")
            self.con.execute("USE th_spans")
            self._catalog = "th_spans"
        # Rows keep the input's order all the same where it matters: chunks are
        # committed in turn, and one thread inserts a chunk.
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")
        # DuckDB spills what does not fit in its memory limit (by default 80 % of
        # the machine's memory) to its temporary directory
        self.con.execute(f"SET temp_directory = '{self._tmp / 'spill'}'")
        # While loading, each loader's query runs on its own thread and DuckDB's
        # worker threads only wait for work (one chunk of lines is one pipeline):
        # without them the load took a fifth less time and CPU (1M spans).
        # `finish` gives the checks their threads back.
        self.con.execute("SET threads = 1")
        # no automatic checkpoints: the loaders checkpoint (see CHECKPOINT_EVERY), then `finish`
        self.con.execute("SET checkpoint_threshold = '1TB'")
        self.con.execute(_load_sql.SCHEMA)
        self.con.execute(runtime_findings.SCHEMA)
        self.con.execute(k8s_evidence.SCHEMA)
        self.con.execute(http_table.SCHEMA)
        self.con.execute(_logs.SCHEMA)
        for number in range(LOADERS):
            # each loader stages its chunks in a database of its own: temporary
            # tables of one database are created one at a time, these in parallel
            self.con.execute(f"ATTACH ':memory:' AS th_stage{number}")
        # the checks' tables that more than one connection reads (temporary tables are
        # each connection's own)
        self.con.execute("ATTACH ':memory:' AS th_work")
        self.rows: list[bytes] = []
        self._evidence: dict[str, list[tuple[Any, ...]]] = {}
        self._docs: BinaryIO | None = None  # the chunk file requests are written to
        self._doc_spans = 0
        self._doc_size = 0
        self._leftovers: dict[int, list[tuple[int, bytes]]] = {}
        self._line_spans: dict[int, int] = {}
        self._scopes: dict[tuple[Any, ...], int] = {}
        self._new_scopes: list[tuple[Any, ...]] = []
        self._rejects: list[tuple[str, str, str, None, None]] = []
        self._merges: list[tuple[str, str, str]] = []
        self._sources: dict[int, str] = {}  # by ID; `forget_sources` drops the oldest
        self._next_source = 0
        self._forgotten = 0  # IDs below this were forgotten
        self._new_sources: list[tuple[int, str]] = []  # not yet in th_sources
        self._source = 0
        self._chunks = 0  # chunks queued so far: the next one's turn
        self._files = 0
        self._queue: queue.Queue[tuple[int, Path, str, Any, int] | None] = queue.Queue(maxsize=2)
        self._loading: dict[int, int] = {}  # chunks of lines queued, not yet loaded, by input
        self._uncompressed = 0  # bytes of input committed since the last checkpoint
        self._checkpointing = threading.Lock()
        self.logs = _logs.LogLoader(self.cursor, self._tmp, self._checkpointing)
        """Where service logs go (the ``otel_logs`` table), loaded beside the spans."""
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
        self._source = self._next_source
        self._next_source += 1
        self._sources[self._source] = name
        # inserted with the next chunk (`flush`): one statement for many small inputs
        self._new_sources.append((self._source, name))
        return self._source

    @property
    def next_source(self) -> int:
        """The ID the next `begin_source` will give."""
        return self._next_source

    def forget_sources(self, below: int) -> None:
        """Forget the inputs registered before ID ``below``, whose rows have all been
        loaded (and their names copied into them): a long-running sink (``tracehound
        serve``, an input per request) would otherwise keep every name it was given."""
        for source in range(self._forgotten, below):
            self._sources.pop(source, None)
        if below > self._forgotten:
            self.con.execute("DELETE FROM th_sources WHERE SourceId < ?", [below])
            self._forgotten = below

    def use_source(self, source: int) -> int:
        """Make an input registered before (`begin_source`) the current one again;
        returns the one it replaces."""
        previous, self._source = self._source, source
        return previous

    def scope(self, service: str, resource: Any, name: str | None, version: str | None) -> int:
        key = scope_key(service, resource, name, version)
        found = self._scopes.get(key)
        if found is None:
            found = len(self._scopes)
            self._scopes[key] = found
            self._new_scopes.append((found, *key))
        return found

    def add_scope(self, ref: int, key: tuple[Any, ...]) -> None:
        """Register a scope whose ID another process's sink gave its rows (from a range
        `scope` never reaches); ``key`` as `scope_key` makes it."""
        self._new_scopes.append((ref, *key))

    def reject(self, reason: str, offset: str) -> None:
        self._rejects.append((self._sources[self._source], offset, reason, None, None))

    def merge(self, reason: str, offset: str) -> None:
        self._merges.append((self._sources[self._source], offset, reason))

    def add_evidence(self, table: str, row: tuple[Any, ...]) -> None:
        """Add ``row`` (after the current input's name) to ``table``, a table of evidence
        other than spans (runtime findings): few rows, inserted by `finish`."""
        self._evidence.setdefault(table, []).append((self._sources[self._source], *row))

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
        try:
            if self._docs is None:
                self._docs = open(self._chunk_path(), "wb")  # noqa: SIM115 (closed by flush)
            self._docs.writelines((head, raw, b"}\n"))
        except OSError as exc:
            raise LoadError(f"cannot write {self._tmp} (the temporary directory): {exc}") from exc
        self._doc_spans += spans
        self._doc_size = max(self._doc_size, len(raw) + len(head) + 1)

    def add_lines(
        self, source: int, first: int, data: bytes | bytearray, size: int | None = None
    ) -> int:
        """Queue whole OTLP/JSON lines, unparsed, for DuckDB (see `_otlp_lines`).

        The lines are ``data[:size]`` (all of ``data`` by default), the first
        numbered ``first``.  Lines DuckDB finds irregular come back from
        `drain`, for the Python readers.  Returns the number of lines.
        """
        self.flush()  # keep the input's order
        size = len(data) if size is None else size
        path = self._chunk_path()
        with _writing(path) as chunk, memoryview(data) as view:
            chunk.write(view[:size])
        lines, blank = _count_lines(data, size)
        with self._turns:
            self._loading[source] = self._loading.get(source, 0) + 1
        self._enqueue(path, "lines", (source, first, size + 1, not blank), size)
        return lines

    def drain(self, source: int) -> tuple[int, list[tuple[int, bytes]]]:
        """Wait for ``source``'s lines to be loaded (not for later inputs'); the spans
        DuckDB read from them, and the lines it left to Python as ``(line number,
        line)``, in input order."""
        self.flush()
        with self._turns:
            self._turns.wait_for(lambda: not self._loading.get(source) or self._failure is not None)
        self._raise_failure()
        leftovers = sorted(self._leftovers.pop(source, []))
        return self._line_spans.pop(source, 0), leftovers

    def flush(self) -> None:
        """Hand the buffered rows or requests to the loader thread."""
        self._raise_failure()
        if self._new_scopes:
            self.con.executemany("INSERT INTO th_scopes VALUES (?, ?, ?, ?, ?)", self._new_scopes)
            self._new_scopes = []
        if self._new_sources:
            ids, names = zip(*self._new_sources, strict=True)
            self.con.execute(
                "INSERT INTO th_sources SELECT unnest($1::INTEGER[]), unnest($2::VARCHAR[])",
                [list(ids), list(names)],
            )
            self._new_sources = []
        if self._docs is not None:
            try:
                written = self._docs.tell()
                self._docs.close()
            except OSError as exc:
                message = f"cannot write {self._tmp} (the temporary directory): {exc}"
                raise LoadError(message) from exc
            size = max(self._doc_size, 1 << 20)
            self._enqueue(Path(self._docs.name), "docs", size, written)
            self._docs = None
        if self.rows:
            path = self._chunk_path()
            with _writing(path) as out:
                written = out.write(b"\n".join(self.rows))
            self._enqueue(path, "rows", 1 << 25, written)
        self.rows = []
        self._doc_spans = 0
        self._doc_size = 0

    def _enqueue(self, path: Path, kind: str, size: Any, nbytes: int) -> None:
        # a chunk's turn is taken only now: a chunk that never reaches the queue
        # must not leave a gap the loaders would wait on forever
        self._queue.put((self._chunks, path, kind, size, nbytes))
        self._chunks += 1

    def _chunk_path(self) -> Path:
        self._files += 1
        return self._tmp / f"chunk{self._files}.jsonl"

    def finish(self) -> None:
        """Load what is left and wait for the loader; the table is complete afterwards."""
        self.flush()
        self._stop_workers()
        self.logs.finish()
        self.con.execute("RESET threads")
        self._raise_failure()
        self._insert_accounting()
        for table, rows in self._evidence.items():
            # one list per column, unnested: executemany took 1.7 ms a row (a cluster's
            # manifests give tens of thousands of configuration facts)
            types = [
                t
                for (t,) in self.con.execute(
                    f"SELECT column_type FROM (DESCRIBE {table})"
                ).fetchall()
            ]
            columns = ", ".join(f"unnest(?::{t}[])" for t in types)
            self.con.execute(
                f"INSERT INTO {table} SELECT {columns}", [list(c) for c in zip(*rows, strict=True)]
            )
        self._evidence = {}
        self.con.execute("CHECKPOINT")  # compresses the table, on every thread
        self.con.execute("RESET checkpoint_threshold")

    def settle(self) -> None:
        """Load what was handed over so far and wait for it; the loaders keep running
        for more (a table that grows between checks, as under ``tracehound serve``)."""
        self.flush()
        with self._turns:
            self._turns.wait_for(lambda: self._turn >= self._chunks or self._failure is not None)
        self._raise_failure()
        self._insert_accounting()

    def _insert_accounting(self) -> None:
        """The records counted rejected or merged so far, into their tables."""
        if self._rejects:
            self.con.executemany("INSERT INTO rejected VALUES (?, ?, ?, ?, ?)", self._rejects)
            self._rejects = []
        if self._merges:
            self.con.executemany("INSERT INTO merged VALUES (?, ?, ?)", self._merges)
            self._merges = []

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
        """Load chunks in parallel, each in a transaction; commit them in the input's order.

        Rows get their place in the table when their transaction commits, so
        committing in the input's order keeps the table's order the same on
        every run (checks pick examples by rowid).
        """
        cursor = self.cursor()
        table = f"th_stage{number}.chunk"
        while True:
            item = self._queue.get()
            if item is None:
                break
            seq, path, kind, size, nbytes = item
            due = False
            loaded: tuple[list[tuple[int, int, bytes]], int] | None = None
            try:
                if self._failure is None:
                    loaded = _chunks.load_chunk(cursor, table, path, kind, size, first_try=True)
            except duckdb.OutOfMemoryException:
                pass  # tried again in its turn, when no commit runs beside it
            except BaseException as exc:
                self._failure = exc
            with self._turns:
                self._turns.wait_for(lambda seq=seq: self._turn == seq)  # type: ignore[misc]
                try:
                    if loaded is None and self._failure is None:
                        loaded = _chunks.load_chunk(cursor, table, path, kind, size)
                    path.unlink(missing_ok=True)
                    if loaded is not None:
                        if self._failure is not None:
                            cursor.rollback()  # another chunk failed: so has the load
                        else:
                            cursor.commit()
                            self._count(kind, size, *loaded)
                            due = self._checkpoint_due(nbytes)
                        cursor.execute(f"DROP TABLE IF EXISTS {table}")
                except BaseException as exc:
                    self._failure = exc
                finally:
                    if kind == "lines":
                        self._loading[size[0]] -= 1
                    self._turn += 1
                    self._turns.notify_all()
            if due and self._failure is None:
                self._checkpoint(cursor)
        cursor.close()

    def _checkpoint_due(self, committed: int) -> bool:
        """Count ``committed`` bytes of input; whether the table should be compressed now
        (called in turn, so that one loader sees the threshold crossed)."""
        self._uncompressed += committed
        if self._uncompressed < CHECKPOINT_EVERY:
            return False
        self._uncompressed = 0
        return True

    def _checkpoint(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """Compress what was committed, beside the other loader's chunk (out of turn)."""
        try:
            with self._checkpointing:
                cursor.execute("CHECKPOINT")
        except BaseException as exc:
            failure = LoadError(f"compressing the span table (a checkpoint) failed: {exc}")
            failure.__cause__ = exc
            self._failure = failure

    def _count(
        self, kind: str, size: Any, leftovers: list[tuple[int, int, bytes]], spans: int
    ) -> None:
        """Keep what a committed chunk of lines gives `drain`."""
        if kind == "lines":
            self._line_spans[size[0]] = self._line_spans.get(size[0], 0) + spans
        for source, line_no, line in leftovers:
            self._leftovers.setdefault(source, []).append((line_no, line))

    def _raise_failure(self) -> None:
        # kept set: the loaders stop taking chunks once one failed
        if isinstance(self._failure, LoadError):
            raise self._failure
        if self._failure is not None:
            raise LoadError(f"loading spans into DuckDB failed: {self._failure}") from self._failure

    @contextlib.contextmanager
    def on_own_connection(self) -> Iterator[Store]:
        """This store on a connection of its own, for queries from another thread.

        Only for `query` and `scalar`: it shares everything else with this store.
        It sees the tables and macros, not the temporary tables of ``con``.
        """
        other = copy.copy(self)
        other.con = self.cursor()
        try:
            yield other
        finally:
            other.con.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own to the span table (for another thread)."""
        cursor = self.con.cursor()
        if self._catalog is not None:
            cursor.execute(f"USE {self._catalog}")
        return cursor

    # -- reading ------------------------------------------------------------------

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (for checks and reports)."""
        return self.con.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Any = None) -> Any:
        row = self.con.execute(sql, params).fetchone()
        return row[0] if row else None


_MAX_DEPTH = 64


def scope_key(
    service: str, resource: Any, name: str | None, version: str | None
) -> tuple[str, str, str | None, str | None]:
    """What identifies a (resource, instrumentation scope) pair: the resource as JSON."""
    resource = resource if isinstance(resource, list) else []
    try:
        resource_json = orjson.dumps(resource).decode()
    except TypeError:  # nested deeper than orjson writes: kept, the deep part as a note
        resource_json = orjson.dumps(_shallow(resource, _MAX_DEPTH)).decode()
    return (service, resource_json, name, version)


def _shallow(value: Any, depth: int) -> Any:
    """``value`` with what is nested deeper than ``depth`` levels replaced by a note, as
    the readers keep span attributes (see ``sources._rows.MAX_VALUE_DEPTH``)."""
    if isinstance(value, dict):
        if depth <= 0:
            return f"(nested more than {_MAX_DEPTH} levels)"
        return {k: _shallow(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth <= 0:
            return f"(nested more than {_MAX_DEPTH} levels)"
        return [_shallow(v, depth - 1) for v in value]
    return value


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[BinaryIO]:
    """``path`` open for writing; failing to write it fails the load, not the input."""
    try:
        with open(path, "wb") as out:
            yield out
    except OSError as exc:
        raise LoadError(f"cannot write {path.parent} (the temporary directory): {exc}") from exc


def _count_lines(data: bytes | bytearray, size: int) -> tuple[int, bool]:
    """The number of lines in ``data[:size]``, and whether one of them is blank."""
    lines = 0
    blank = False
    start = 0
    while start < size:
        stop = data.find(b"\n", start, size)
        if stop < 0:
            stop = size
        if stop == start or (data[start] in _BLANK and data[start:stop].isspace()):
            blank = True
        lines += 1
        start = stop + 1
    return lines, blank


_BLANK = frozenset(b" \t\r\n\x0b\x0c")
