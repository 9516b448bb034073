"""The live diagnosis: journaled requests in, spans checked once their trace is quiet.

One thread takes the requests the journal made durable and holds each,
as its body, until every trace in it has been idle for `Settings.idle`
seconds (a trace checked half-arrived would show breaks that are not there);
then it parses it with the doctor's own readers (`otlp_proto`, `otlp_json`)
into the `Store`.  When new spans were loaded, another thread runs every
check (`tracehound.doctor.diagnose`, the same as ``tracehound check``) and
publishes a `Snapshot`, while the first goes on parsing (the table is held
still meanwhile).  A run waits `CHECK_SPACING` times as long as the last one
took, and at least `Settings.check_every` seconds; when nothing is left to parse
it runs as soon as `Settings.check_every` allows.

Memory stays bounded: request bytes accepted and not yet parsed
(`Settings.max_backlog`; the receivers answer "retry later" over it), spans
waiting for their traces to go quiet (`Settings.max_pending`; the oldest
requests are checked early over it), DuckDB's memory (`MEMORY_LIMIT`, past
which it spills to disk) and spans in the table (`Settings.max_spans`; the
oldest traces are dropped over it, and counted).
"""

from __future__ import annotations

import collections
import contextlib
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracehound.doctor import diagnose, tally
from tracehound.doctor._model import InputError, InputSummary, Report
from tracehound.doctor.report.json import to_dict
from tracehound.doctor.serve._journal import PROTOBUF
from tracehound.doctor.serve._waiting import Held, trace_ids
from tracehound.doctor.sources import otlp_json
from tracehound.doctor.sources._rows import Document
from tracehound.doctor.sources.otlp_proto import ProtoError, read_bytes
from tracehound.doctor.store import CHUNK_ROWS, Store

__all__ = ["Engine", "Settings", "Snapshot"]

CHECK_SPACING = 3
"""While requests wait to be parsed, a run of the checks waits this many times as long as
the last one took: on a large table the checks take a third of a core, the parsing the rest."""

MEMORY_LIMIT = "1GB"
"""DuckDB's memory for the table and the checks' queries; past it, it spills to disk."""

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


class Engine:
    """Parses, holds, loads and checks; `start` runs it on its own thread."""

    def __init__(self, name: str, settings: Settings | None = None) -> None:
        self.name = name
        """The input name the report gives (the journal's path)."""
        self.settings = settings or Settings()
        self.store = Store(None)
        self.store.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self._inbox: collections.deque[tuple[int, bytes, bytes]] = collections.deque()
        self._wake = threading.Condition()
        self._stop = False
        self._lock = threading.Lock()
        self._backlog = 0
        self._held: collections.deque[Held] = collections.deque()
        self._last_seen: dict[Any, float] = {}  # by trace: when its last span arrived
        self._holding: collections.Counter[Any] = collections.Counter()  # held requests, by trace
        self.pending_spans = 0
        self.requests = 0
        self.spans_received = 0
        self.refused = 0
        """Requests refused because the backlog was full."""
        self.released_early = 0
        """Spans checked before their traces went quiet (too many waiting)."""
        self.evicted = 0
        """Spans dropped from the table to keep it under `Settings.max_spans`."""
        self.parse_cpu = 0.0
        """CPU seconds the engine's thread spent parsing requests."""
        self.check_cpu = 0.0
        """CPU seconds the checks' thread spent (DuckDB's own threads not counted)."""
        self.checks = 0
        self.failed = False
        """The engine's thread stopped on an error: requests are refused."""
        self.last_error: str | None = None
        self._kinds: set[bytes] = set()
        self._errors: collections.deque[InputError] = collections.deque(maxlen=MAX_ERRORS)
        self._more_errors = 0
        self._loaded = 0  # spans handed to the store since the last check
        self._next_check = self._next_idle_check = 0.0  # the next run: requests wait, or none
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
        if self.failed:
            return False
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
        try:
            self._loop()
        except Exception as exc:  # the store failed (DuckDB, the temporary directory)
            self._fail("loading spans", exc)
            self.failed = True  # the receivers refuse from now on: nothing would be read

    def _fail(self, stage: str, exc: Exception) -> None:
        text = " ".join(str(exc).split())[:300]
        self.last_error = f"{stage} failed: {type(exc).__name__}: {text}"
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"tracehound serve: {self.last_error}\n")

    def _loop(self) -> None:
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
                self._hold(number, kind, body)
            now = time.monotonic()
            checking = self._checking.is_set()
            cpu = time.thread_time()
            # while the checks run, the table stays as they see it: requests are parsed
            # (a chunk's worth of rows at most) and loaded after
            self._release(now, load=not checking)
            self.parse_cpu += time.thread_time() - cpu
            if checking:
                continue
            idle = not self._held and not self._inbox
            due = now >= (self._next_idle_check if idle else self._next_check)
            if self._loaded and due:
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
            cpu = time.thread_time()
            try:
                self.snapshot = self._publish(started, time.monotonic())
            except Exception as exc:  # the last report stays; the next run tries again
                self._fail("running the checks", exc)
            finally:
                self.check_cpu += time.thread_time() - cpu
                self.checks += 1
                took = time.perf_counter() - started
                wait = max(self.settings.check_every, CHECK_SPACING * took)
                self._next_check = time.monotonic() + wait
                self._next_idle_check = time.monotonic() + self.settings.check_every
                self._checking.clear()

    def _hold(self, number: int, kind: bytes, body: bytes) -> None:
        """Keep a request until its traces are quiet (its body: far smaller than its rows)."""
        traces, spans = trace_ids(kind, body)
        held = Held(number, kind, body, traces, spans)
        now = time.monotonic()
        for trace in traces:
            self._last_seen[trace] = now
        self._holding.update(traces)
        self._held.append(held)
        self.pending_spans += held.spans

    def replay(self, number: int, kind: bytes, body: bytes) -> None:
        """A request read back from the journal at start (before `start`): loaded at
        once, its traces went quiet long ago."""
        self._ingest(number, kind, body)

    def _release(self, now: float, *, load: bool = True) -> None:
        """Parse (and ``load``) the requests whose traces are all quiet (and the oldest
        ones, over `max_pending`), in the order they arrived.  Without ``load`` nothing
        reaches DuckDB: at most `CHUNK_ROWS` rows of protobuf requests wait in memory."""
        quiet = now - self.settings.idle
        last_seen = self._last_seen
        kept: collections.deque[Held] = collections.deque()
        full = False
        for held in self._held:
            if not load and not full:
                # a JSON request may go to DuckDB whole (`Store.add_request`)
                full = held.kind != PROTOBUF or len(self.store.rows) >= CHUNK_ROWS
            over = self.pending_spans > self.settings.max_pending
            if full or (not over and any(last_seen[t] > quiet for t in held.traces)):
                kept.append(held)
                continue
            if any(last_seen[t] > quiet for t in held.traces):
                self.released_early += held.spans
            self.pending_spans -= held.spans
            for trace in held.traces:
                self._holding[trace] -= 1
                if not self._holding[trace]:
                    del self._holding[trace]
                    del last_seen[trace]
            self._ingest(held.number, held.kind, held.body, load=load)
            with self._lock:
                self._backlog -= len(held.body)
        self._held = kept

    def _ingest(self, number: int, kind: bytes, body: bytes, *, load: bool = True) -> None:
        """Parse one request into the store (the doctor's readers)."""
        store = self.store
        source = store.begin_source(f"{self.name}#{number}")
        errors: list[tuple[str, str]] = []
        self.requests += 1
        self._kinds.add(kind)
        if kind == PROTOBUF:
            try:
                seen = read_bytes(body, source, store, errors)
            except ProtoError as exc:
                seen = 0
                errors.append(("byte 0", str(exc)))
        else:
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError as exc:  # the receiver checked it; a journal edited?
                seen = 0
                errors.append(("byte 0", f"invalid JSON ({exc})"))
            else:
                doc = Document(value, source, None, store)
                seen = otlp_json.read(doc)
                errors.extend(doc.errors)
        self.spans_received += seen
        self._loaded += 1
        with self._lock:  # `build_report` reads them from other threads
            for position, message in errors:
                if len(self._errors) == MAX_ERRORS:
                    self._more_errors += 1
                self._errors.append(InputError(f"{self.name}#{number}", position, message))
        if load:
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
        with self._lock:
            report = Report(errors=list(self._errors))
        if self._more_errors:
            report.errors.append(
                InputError(self.name, None, f"{self._more_errors} more errors not shown")
            )
        # one thread (the store's loading setting): the checks run beside the parsing
        tally(store, report)
        diagnose(store, report)
        kinds = {"otlp-proto" if k == PROTOBUF else "otlp-json" for k in self._kinds}
        fmt = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)
        report.inputs = [InputSummary(self.name, fmt, report.spans_read, len(report.errors))]
        return report

    @property
    def pending_traces(self) -> int:
        return len(self._last_seen)

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
            "traces_pending": len(self._last_seen),
            "backlog_bytes": self._backlog,
            "refused": self.refused,
            "released_early": self.released_early,
            "evicted": self.evicted,
            "idle_seconds": self.settings.idle,
            "checks": self.checks,
            "last_error": self.last_error,
            "parse_cpu_seconds": round(self.parse_cpu, 3),
            "check_cpu_seconds": round(self.check_cpu, 3),
        }
