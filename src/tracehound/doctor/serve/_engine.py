"""The live diagnosis: journaled requests in, spans checked once their trace is quiet.

One thread owns the span table.  It parses each request the journal made
durable with the doctor's own readers (`otlp_proto`, `otlp_json`), holds the
spans of each trace until the trace has been idle for `Settings.idle`
seconds (a trace checked half-arrived would show breaks that are not
there), then loads them into the `Store`.  When new spans were loaded it runs
every check (`tracehound.doctor.diagnose`, the same as ``tracehound check``)
and publishes a `Snapshot`; checks run at most every `Settings.check_every`
seconds, and never take more than about a third of the time (the next run waits
twice as long as the last one took).

Memory stays bounded: request bytes accepted and not yet parsed
(`Settings.max_backlog`; the receivers answer "retry later" over it), spans
waiting for their trace to go quiet (`Settings.max_pending`; the oldest traces
are checked early over it) and spans in the table (`Settings.max_spans`; the
oldest traces are dropped over it, and counted).
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracehound.doctor import diagnose, tally
from tracehound.doctor._model import InputError, InputSummary, Report
from tracehound.doctor.report.json import to_dict
from tracehound.doctor.serve._journal import PROTOBUF
from tracehound.doctor.sources import otlp_json
from tracehound.doctor.sources._rows import Document
from tracehound.doctor.sources.otlp_proto import ProtoError, read_bytes
from tracehound.doctor.store import Store

__all__ = ["Engine", "Settings", "Snapshot"]

MAX_ERRORS = 20
"""Input errors kept for the report (the most recent); the rest are counted."""


@dataclass(frozen=True)
class Settings:
    """How the live diagnosis trades freshness, CPU and memory."""

    idle: float = 2.0
    """Seconds a trace receives no span before it is checked."""
    check_every: float = 1.0
    """Least seconds between two runs of the checks."""
    max_backlog: int = 32 << 20
    """Request bytes accepted and not yet parsed; over it, requests are refused (retry later)."""
    max_pending: int = 100_000
    """Spans waiting for their trace to go quiet; over it, the oldest traces are checked early."""
    max_spans: int = 2_000_000
    """Spans kept in the table; over it, the oldest traces are dropped (and counted)."""


@dataclass(frozen=True)
class Snapshot:
    """The result of one run of the checks: what the API and the UI show."""

    version: int
    report: Report
    json: bytes
    """``report`` in the ``tracehound check --json`` schema."""
    checked_at: float
    """Unix time the run finished."""
    seconds: float
    """How long the run took (loading the last spans, and the checks)."""
    codes_by_trace: dict[str, list[str]] = field(default_factory=dict)
    """Rule codes found in each trace (for the trace list)."""


@dataclass
class _Trace:
    rows: list[bytes]
    last: float


class _Sink:
    """Where the readers put one request's rows (the store keeps scopes and rejections)."""

    def __init__(self, store: Store) -> None:
        self.rows: list[bytes] = []
        self.scope = store.scope
        self.reject = store.reject


class Engine:
    """Parses, holds, loads and checks; `start` runs it on its own thread."""

    def __init__(self, name: str, settings: Settings | None = None) -> None:
        self.name = name
        """The input name the report gives (the journal's path)."""
        self.settings = settings or Settings()
        self.store = Store(None)
        self._inbox: collections.deque[tuple[int, bytes, bytes]] = collections.deque()
        self._wake = threading.Condition()
        self._stop = False
        self._lock = threading.Lock()
        self._backlog = 0
        self._pending: collections.OrderedDict[bytes, _Trace] = collections.OrderedDict()
        self.pending_spans = 0
        self.requests = 0
        self.spans_received = 0
        self.refused = 0
        """Requests refused because the backlog was full."""
        self.released_early = 0
        """Spans checked before their trace went quiet (too many waiting)."""
        self.evicted = 0
        """Spans dropped from the table to keep it under `Settings.max_spans`."""
        self._kinds: set[bytes] = set()
        self._errors: collections.deque[InputError] = collections.deque(maxlen=MAX_ERRORS)
        self._more_errors = 0
        self._loaded = 0  # spans handed to the store since the last check
        self._next_check = 0.0
        self.snapshot = self._publish(0.0, time.monotonic())
        self._checking = threading.Event()  # the checks run: the table must not change
        self._due = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tracehound-engine", daemon=True)
        self._checker = threading.Thread(
            target=self._check_loop, name="tracehound-checks", daemon=True
        )

    # -- the receivers' side -------------------------------------------------------
    def reserve(self, size: int) -> bool:
        """Count ``size`` request bytes as accepted; ``False`` (refused) when the backlog
        is full.  One request is always taken when nothing waits, whatever its size."""
        with self._lock:
            if self._backlog and self._backlog + size > self.settings.max_backlog:
                self.refused += 1
                return False
            self._backlog += size
            return True

    def unreserve(self, size: int) -> None:
        """Give back bytes `reserve` counted for a request that was not accepted after all."""
        with self._lock:
            self._backlog -= size

    @property
    def backlog(self) -> int:
        return self._backlog

    def submit(self, number: int, kind: bytes, body: bytes) -> None:
        """A request the journal made durable (called in the journal's order)."""
        with self._wake:
            self._inbox.append((number, kind, body))
            self._wake.notify()

    def replay(self, number: int, kind: bytes, body: bytes) -> None:
        """A request read back from the journal at start (before `start`)."""
        self._ingest(number, kind, body)

    # -- the thread ----------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._checker.start()

    def stop(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._due.set()
        for thread in (self._thread, self._checker):
            if thread.is_alive():
                thread.join()
        self.store.close()

    def _run(self) -> None:
        """Parse what the journal hands over; between checks, load quiet traces."""
        while True:
            with self._wake:
                if not self._inbox and not self._stop:
                    self._wake.wait(0.1)
                if self._stop:
                    return
                # while the checks run, parse only as far as the pending limit: past it the
                # backlog fills and the receivers ask the exporters to retry later
                room = self.settings.max_pending - self.pending_spans
                if self._checking.is_set() and room <= 0:
                    work = []
                else:
                    work = list(self._inbox)
                    self._inbox.clear()
            for number, kind, body in work:
                self._ingest(number, kind, body)
                with self._lock:
                    self._backlog -= len(body)
            if self._checking.is_set():
                continue  # the table stays as the checks see it
            now = time.monotonic()
            self._release(now)
            if self._loaded and now >= self._next_check:
                self.store.settle()
                self._evict()
                self._loaded = 0
                self._checking.set()
                self._due.set()

    def _check_loop(self) -> None:
        """Run the checks when `_run` has settled the table, beside the parsing."""
        while True:
            self._due.wait()
            self._due.clear()
            if self._stop:
                return
            started = time.perf_counter()
            try:
                self.snapshot = self._publish(started, time.monotonic())
            finally:
                took = time.perf_counter() - started
                self._next_check = time.monotonic() + max(self.settings.check_every, 2 * took)
                self._checking.clear()

    def _ingest(self, number: int, kind: bytes, body: bytes) -> None:
        """Parse one request; its rows wait with their trace."""
        store = self.store
        source = store.begin_source(f"{self.name}#{number}")
        sink = _Sink(store)
        errors: list[tuple[str, str]] = []
        self.requests += 1
        self._kinds.add(kind)
        if kind == PROTOBUF:
            try:
                self.spans_received += read_bytes(body, source, sink, errors)
            except ProtoError as exc:
                errors.append(("byte 0", str(exc)))
        else:
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError as exc:  # the receiver checked it; a journal edited?
                errors.append(("byte 0", f"invalid JSON ({exc})"))
            else:
                doc = Document(value, source, None, sink)
                self.spans_received += otlp_json.read(doc)
                errors.extend(doc.errors)
        for position, message in errors:
            if len(self._errors) == MAX_ERRORS:
                self._more_errors += 1
            self._errors.append(InputError(f"{self.name}#{number}", position, message))
        now = time.monotonic()
        pending = self._pending
        for row in sink.rows:
            key = row[2 : row.find(b'"', 2)] if row.startswith(b'["') else b""
            trace = pending.get(key)
            if trace is None:
                pending[key] = _Trace([row], now)
            else:
                trace.rows.append(row)
                trace.last = now
                pending.move_to_end(key)
        self.pending_spans += len(sink.rows)

    def _release(self, now: float) -> None:
        """Hand quiet traces to the store (and the oldest ones, over `max_pending`)."""
        pending = self._pending
        quiet = now - self.settings.idle
        store = self.store
        while pending:
            key, trace = next(iter(pending.items()))
            over = self.pending_spans > self.settings.max_pending
            if trace.last > quiet and not over:
                break
            del pending[key]
            if over and trace.last > quiet:
                self.released_early += len(trace.rows)
            self.pending_spans -= len(trace.rows)
            self._loaded += len(trace.rows)
            store.rows.extend(trace.rows)
            store.flush_if_full()

    def _evict(self) -> None:
        """Drop the traces that arrived first while the table holds over `max_spans`."""
        total = int(self.store.scalar("SELECT count(*) FROM otel_traces"))
        excess = total - self.settings.max_spans
        if excess <= 0:
            return
        excess += self.settings.max_spans // 10  # room, so that this is not done every run
        self.store.con.execute(
            """DELETE FROM otel_traces WHERE TraceId IN (
                SELECT TraceId FROM (
                    SELECT TraceId, count(*) AS n,
                           sum(count(*)) OVER (ORDER BY min(rowid)) AS upto
                    FROM otel_traces GROUP BY TraceId)
                WHERE upto - n < ?)""",
            [excess],
        )
        self.evicted += total - int(self.store.scalar("SELECT count(*) FROM otel_traces"))

    def _publish(self, started: float, now: float) -> Snapshot:
        report = self.build_report()
        previous = getattr(self, "snapshot", None)
        codes: dict[str, set[str]] = {}
        for f in report.findings:
            if f.trace_id:
                codes.setdefault(f.trace_id, set()).add(f.code)
        return Snapshot(
            version=previous.version + 1 if previous else 0,
            report=report,
            json=orjson.dumps(to_dict(report), option=orjson.OPT_NON_STR_KEYS),
            checked_at=time.time(),
            seconds=time.perf_counter() - started if started else 0.0,
            codes_by_trace={t: sorted(c) for t, c in codes.items()},
        )

    def build_report(self, store: Store | None = None) -> Report:
        """The report over ``store`` (the live table by default), as ``tracehound check``
        gives it; this engine's requests are its one input."""
        store = store or self.store
        report = Report(errors=list(self._errors))
        if self._more_errors:
            report.errors.append(
                InputError(self.name, None, f"{self._more_errors} more errors not shown")
            )
        store.con.execute("RESET threads")  # the checks use every core; loading, one
        try:
            tally(store, report)
            diagnose(store, report)
        finally:
            store.con.execute("SET threads = 1")
        kinds = {"otlp-proto" if k == PROTOBUF else "otlp-json" for k in self._kinds}
        fmt = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)
        report.inputs = [InputSummary(self.name, fmt, report.spans_read, len(report.errors))]
        return report

    def status(self) -> dict[str, Any]:
        snap = self.snapshot
        return {
            "version": snap.version,
            "checked_at": snap.checked_at,
            "check_seconds": round(snap.seconds, 4),
            "requests": self.requests,
            "spans_received": self.spans_received,
            "spans_checked": snap.report.spans_analysed,
            "spans_pending": self.pending_spans,
            "traces_pending": len(self._pending),
            "backlog_bytes": self._backlog,
            "refused": self.refused,
            "released_early": self.released_early,
            "evicted": self.evicted,
            "idle_seconds": self.settings.idle,
        }
