"""OTLP protobuf requests parsed into rows in a process of their own, off the server's GIL.

The server's threads (HTTP, the journal, the live checks' Python side) share
one interpreter; parsing a request into rows (the doctor's `otlp_proto`
reader) is the largest part of that, ~8 µs a span.  A `Parser` sends each
request's body to a worker process, which runs the same reader into a sink
of its own and sends back the rows (one block of JSON lines), the scopes it
met for the first time, the spans it rejected and the errors.  Scope IDs the
worker gives start at `WORKER_SCOPES`, a range the store never reaches, and
the server registers them with the store (`Store.add_scope`).

If the worker process dies, the requests it had are parsed in the server's
thread, and so is every request after.  `load_request` puts a request into the
live store either way (and parses the JSON ones, which are few).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import orjson

from tracehound.doctor.serve._journal import PROTOBUF
from tracehound.doctor.sources import otlp_json
from tracehound.doctor.sources._rows import Document
from tracehound.doctor.sources.otlp_proto import ProtoError, read_bytes
from tracehound.doctor.store import Store, scope_key

__all__ = ["WORKER_SCOPES", "Parsed", "Parser", "load_request", "parse"]

PARENT_CHECK = 0.5
"""Seconds between the worker's looks at whether the server is still there."""

START_TIMEOUT = 60.0
"""Seconds the worker may take to start (a busy machine)."""

WORKER_SCOPES = 1 << 30
"""The worker's first scope ID (the store's count from 0, one per distinct scope)."""


@dataclass(frozen=True)
class Parsed:
    """One request, parsed."""

    rows: bytes
    """The rows, one JSON line each (no newline after the last)."""
    count: int
    scopes: list[tuple[int, tuple[Any, ...]]]
    """``(ID, key)`` of each scope first met in this request."""
    rejects: list[tuple[str, str]]
    """``(reason, offset)`` of each span rejected."""
    errors: list[tuple[str, str]]
    seen: int


class _Sink:
    """The rows of one request, and the scopes of every request (a `RowSink`)."""

    def __init__(self) -> None:
        self.rows: list[bytes] = []
        self.rejects: list[tuple[str, str]] = []
        self.new_scopes: list[tuple[int, tuple[Any, ...]]] = []
        self._scopes: dict[tuple[Any, ...], int] = {}

    def scope(self, service: str, resource: Any, name: str | None, version: str | None) -> int:
        key = scope_key(service, resource, name, version)
        found = self._scopes.get(key)
        if found is None:
            found = WORKER_SCOPES + len(self._scopes)
            self._scopes[key] = found
            self.new_scopes.append((found, key))
        return found

    def reject(self, reason: str, offset: str) -> None:
        self.rejects.append((reason, offset))


def _watch_parent(parent: int) -> None:
    """In the worker: exit once the server is gone (killed: nothing else would stop it)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK)
        os._exit(0)

    threading.Thread(target=watch, name="tracehound-parent", daemon=True).start()


_SINK = _Sink()  # the worker's: its scope IDs hold for every request it parses


def parse(body: bytes, source: int) -> Parsed:
    """Parse one request body (in the worker); ``source`` is the store's ID for it."""
    sink = _SINK
    errors: list[tuple[str, str]] = []
    try:
        seen = read_bytes(body, source, sink, errors)
    except ProtoError as exc:
        seen = 0
        errors.append(("byte 0", str(exc)))
    parsed = Parsed(
        b"\n".join(sink.rows), len(sink.rows), sink.new_scopes, sink.rejects, errors, seen
    )
    sink.rows, sink.new_scopes, sink.rejects = [], [], []
    return parsed


class Parser:
    """One worker process parsing protobuf requests, in the order they are given."""

    def __init__(self) -> None:
        # spawned, not forked: the server has threads (DuckDB's, the journal's) by now
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_watch_parent,
            initargs=(os.getpid(),),
        )
        self._started = self._pool.submit(os.getpid)  # the worker starts now, not at a request

    @property
    def pid(self) -> int | None:
        """The worker's process ID (once it started; ``None`` if it never did)."""
        try:
            return self._started.result(START_TIMEOUT)
        except Exception:
            return None

    def submit(self, body: bytes, source: int) -> Future[Parsed] | None:
        """Queue a body; ``None`` once the worker is gone (parse it in this process)."""
        if self._pool is None:
            return None
        try:
            return self._pool.submit(parse, body, source)
        except (BrokenProcessPool, RuntimeError):
            self._pool = None
            return None

    def result(self, future: Future[Parsed]) -> Parsed | None:
        """The parsed request, or ``None`` if the worker died before it was done."""
        try:
            return future.result()
        except BrokenProcessPool:
            self._pool = None
            return None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def load_request(
    store: Store,
    kind: bytes,
    body: bytes,
    source: int,
    parsed: Parsed | None,
    errors: list[tuple[str, str]],
) -> tuple[int, int]:
    """Add one request to ``store`` (its input ``source``): ``parsed`` by the worker, or
    parsed here by the doctor's readers; its errors go to ``errors``.  Returns the spans
    it held (read or rejected) and the rows it added to the store's buffer."""
    rows = len(store.rows)
    if parsed is not None:
        for ref, key in parsed.scopes:
            store.add_scope(ref, key)
        if parsed.count:
            store.rows.append(parsed.rows)  # many rows, one line each
        for reason, offset in parsed.rejects:
            store.reject(reason, offset)
        errors.extend(parsed.errors)
        return parsed.seen, parsed.count
    if kind == PROTOBUF:
        try:
            seen = read_bytes(body, source, store, errors)
        except ProtoError as exc:
            seen = 0
            errors.append(("byte 0", str(exc)))
        return seen, len(store.rows) - rows
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:  # the receiver checked it; a journal edited?
        errors.append(("byte 0", f"invalid JSON ({exc})"))
        return 0, 0
    doc = Document(value, source, None, store)
    seen = otlp_json.read(doc)
    errors.extend(doc.errors)
    # a regular request goes to DuckDB whole (`Store.add_request`), not as rows
    return seen, max(0, len(store.rows) - rows)
