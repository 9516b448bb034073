"""The live diagnosis: journaled requests in, spans checked once their trace is quiet.

One thread takes the requests the journal made durable and holds each,
as its body, until every trace in it has been idle for `Settings.idle`
seconds (a trace checked half-arrived would show breaks that are not there);
then it has it parsed with the doctor's own readers (`otlp_proto` in a worker
process, `_parsing`; `otlp_json` here) into a store of its own, `Engine.live`.
At most every `Settings.check_every` seconds (and no sooner than the last run
took), when spans were loaded there, a second thread runs every check
(`tracehound.doctor.diagnose`, the same as ``tracehound check``) over those
spans only: a *live run*, whose cost follows the spans that arrived, not the
table.  It keeps what it found by trace and the calls it counted (`_live`: the
trace list, the trace view and the overview show them) and moves the spans to
the table, `Engine.store` (`_table`).  A third thread adds them there and runs
the checks over the whole table: the *report*, exactly ``tracehound check``'s,
published as a `Snapshot` (``/api/report``).  Its cost grows with the table, so
while spans arrive it runs only within its share of a core, on CPU the host
leaves idle, and never while the server is behind (`_reporting`); once they
stop, it runs as soon as `Settings.check_every` allows.  The parsing goes on
during both kinds of run; a live run holds only the spans it checks still.

Memory stays bounded: request bytes accepted and not yet parsed
(`Settings.max_backlog`; the receivers answer "retry later" over it), spans
waiting for their traces to go quiet (`Settings.max_pending`; the oldest
requests are checked early over it), DuckDB's memory (`MEMORY_LIMIT` and
`LIVE_MEMORY_LIMIT`, past which it spills to disk), the live findings and calls
(`_live.MAX_TRACES`, `_live.MAX_RUNS`) and spans in the table (`Settings.max_spans`; the oldest
traces are dropped over it, and counted).
"""

from __future__ import annotations

import collections
import contextlib
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from tracehound.doctor._model import InputError
from tracehound.doctor.serve._journal import PROTOBUF
from tracehound.doctor.serve._live import LiveEdges, LiveFindings
from tracehound.doctor.serve._parsing import Parsed, Parser, load_request
from tracehound.doctor.serve._reporting import Reporting, Snapshot
from tracehound.doctor.serve._table import Table, take
from tracehound.doctor.serve._threads import HostIdle, thread_cpu
from tracehound.doctor.serve._waiting import Held, Waiting, trace_ids
from tracehound.doctor.store import CHUNK_ROWS, Store

__all__ = ["Engine", "Settings", "Snapshot"]

MEMORY_LIMIT = "1GB"
"""DuckDB's memory for the table and the report's queries; past it, it spills to disk."""

LIVE_MEMORY_LIMIT = "512MB"
"""DuckDB's memory for the spans parsed since the last live run, and the live checks."""

_TRACES = "SELECT DISTINCT TraceId FROM otel_traces"

IN_FLIGHT = 8
"""Requests handed to the parsing process ahead of the one being added to the live store."""

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
    parse_worker: bool = True
    """Parse protobuf requests in a worker process (`_parsing`), not the engine's thread."""


class Engine(Reporting):
    """Parses, holds, loads and checks; `start` runs it on its threads."""

    def __init__(self, name: str, settings: Settings | None = None) -> None:
        self.name = name
        """The input name the report gives (the journal's path)."""
        self.settings = settings or Settings()
        self.table = Table(MEMORY_LIMIT)
        self.store = self.table.store
        """The table: every span moved from `live`, what the report and the UI read."""
        self.live = Store(None)
        """The spans parsed since the last live run (a DuckDB database of its own)."""
        self.live.con.execute(f"SET memory_limit = '{LIVE_MEMORY_LIMIT}'")
        # its spans move to the table as Arrow (`_table.take`), the JSON columns as
        # Arrow's JSON type, not strings: the table takes them without parsing every
        # value again (~0.25 µs a span of the ~1.3 the move in costs)
        self.live.con.execute("SET arrow_lossless_conversion = true")
        self.live_findings = LiveFindings()
        self.live_edges = LiveEdges()
        self._host_idle = HostIdle()
        self._live_runs = 0
        self._arrived = 0.0  # when the last request came in
        self._eligible: float | None = None  # when the first request of the next run was due
        self._run_eligible: float | None = None  # the same, of the run under way
        self._run_sources = 0  # the live store's inputs (requests) before the run's: all in it
        self._inbox: collections.deque[tuple[int, bytes, bytes]] = collections.deque()
        self._wake = threading.Condition()
        self._stop = False
        self._lock = threading.Lock()
        self._backlog = 0
        self._waiting = Waiting(self.settings.idle)
        self.requests = 0
        self.spans_received = 0
        self.refused = 0
        """Requests refused because the backlog was full."""
        self.released_early = 0
        """Spans checked before their traces went quiet (too many waiting)."""
        self.parse_cpu = 0.0
        """CPU seconds the engine's thread spent parsing requests."""
        self.check_cpu = 0.0
        """CPU seconds the live runs' thread spent (DuckDB's own threads not counted)."""
        self.report_cpu = 0.0
        """CPU seconds the report's thread spent on reports."""
        self.table_cpu = 0.0
        """CPU seconds the report's thread spent adding spans to the table."""
        self.checks = 0
        """Reports over the whole table published."""
        self.spans_checked_live = 0
        """Spans the live runs checked."""
        self.live_seconds = 0.0
        """How long the last live run took (the checks, and moving its spans)."""
        self.lag = 0.0
        """Seconds from the moment the first request of the last live run was due (its
        traces quiet) to the end of that run."""
        self.lag_max = 0.0
        self.failed = False
        """The engine's thread stopped on an error: requests are refused."""
        self.last_error: str | None = None
        self._kinds: set[bytes] = set()
        self._errors: collections.deque[InputError] = collections.deque(maxlen=MAX_ERRORS)
        self._more_errors = 0
        self._loaded = 0  # requests handed to the live store since the last live run
        self._unflushed = 0  # rows in the live store's buffer (`Store.rows` holds blocks)
        self._parser: Parser | None = None
        self._next_check = 0.0  # the next live run
        self.snapshot = self._publish(0.0, time.monotonic())
        self._checking = threading.Event()  # a live run: the live store must not change
        self._due = threading.Event()
        self._moved = threading.Event()  # spans moved for the table
        self._thread = threading.Thread(target=self._run, name="tracehound-engine", daemon=True)
        self._checker = threading.Thread(
            target=self._check_loop, name="tracehound-checks", daemon=True
        )
        self._reporter = threading.Thread(
            target=self._report_loop, name="tracehound-report", daemon=True
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
        self._arrived = time.monotonic()

    # -- the thread ----------------------------------------------------------------
    def start(self) -> None:
        if self.settings.parse_worker:
            self._parser = Parser()
        self._thread.start()
        self._checker.start()
        self._reporter.start()

    def stop(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._due.set()
        self._moved.set()
        for thread in (self._thread, self._checker, self._reporter):
            if thread.is_alive():
                thread.join()
        if self._parser is not None:
            self._parser.close()
        self.live.close()
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
                # while the checks run, parse only as far as the pending limit: past it the
                # backlog fills and the receivers ask the exporters to retry later (and
                # this thread waits for the run's end: it spun, a core's worth of CPU
                # taken from the checks exactly when the server was behind)
                full = self._full()
                if (full or not self._inbox) and not self._stop:
                    self._wake.wait(0.1)
                    full = self._full()
                if self._stop:
                    return
                if full:
                    work = []
                else:
                    work = list(self._inbox)
                    self._inbox.clear()
            for number, kind, body in work:
                self._hold(number, kind, body)
            now = time.monotonic()
            checking = self._checking.is_set()
            cpu = time.thread_time()
            # while a live run checks the live store, it stays as the run sees it: requests
            # are parsed (a chunk's worth of rows at most) and loaded after
            self._release(now, load=not checking)
            self.parse_cpu += time.thread_time() - cpu
            if checking:
                continue
            if self._loaded and now >= self._next_check:
                self.live.settle()
                self._loaded = self._unflushed = 0
                self._run_eligible, self._eligible = self._eligible, None
                self._run_sources = self.live.next_source
                self._checking.set()
                self._due.set()

    def _full(self) -> bool:
        """Whether a live run is under way and as many spans wait as allowed."""
        return self._checking.is_set() and self.pending_spans >= self.settings.max_pending

    def _check_loop(self) -> None:
        """A live run when `_run` has settled the live store: the checks over its spans,
        then the spans moved for the table; beside the parsing."""
        while True:
            self._due.wait()
            self._due.clear()
            if self._stop:
                return
            started = time.perf_counter()
            cpu = time.thread_time()
            eligible = self._run_eligible
            run = self._live_runs
            try:
                try:
                    report = self.build_report(self.live)
                except Exception as exc:  # the spans go to the table all the same
                    self._fail("running the checks", exc)
                else:
                    traces = [t for (t,) in self.live.query(_TRACES)]
                    self.live_findings.add(run, traces, report.findings)
                    self.live_edges.add(run, report.edges)
                    self.spans_checked_live += report.spans_read
                self.table.parts.append(take(self.live, run))
                # their rows carry their names now: one request's name is not kept forever
                self.live.forget_sources(self._run_sources)
                self._live_runs += 1
                self._moved.set()
            except Exception as exc:  # the live store failed: nothing more can be checked
                self._fail("moving spans to the table", exc)
                self.failed = True
            finally:
                self.check_cpu += time.thread_time() - cpu
                self.live_seconds = time.perf_counter() - started
                if eligible is not None:
                    self.lag = time.monotonic() - eligible
                    self.lag_max = max(self.lag_max, self.lag)
                # its fixed cost (~0.2 s, most of it C003) is spread over more spans when
                # the runs take long: a live run waits at least as long as the last took
                wait = max(self.settings.check_every, self.live_seconds)
                self._next_check = time.monotonic() + wait
                self._checking.clear()
                with self._wake:  # the parsing may go on
                    self._wake.notify()

    def _hold(self, number: int, kind: bytes, body: bytes) -> None:
        """Keep a request until its traces are quiet (its body: far smaller than its rows)."""
        traces, spans = trace_ids(kind, body)
        self._waiting.hold(Held(number, kind, body, traces, spans), time.monotonic())

    @property
    def pending_spans(self) -> int:
        """Spans waiting for their traces to go quiet."""
        return self._waiting.spans

    def replay(self, number: int, kind: bytes, body: bytes) -> None:
        """A request read back from the journal at start (before `start`): loaded at
        once, its traces went quiet long ago."""
        self._ingest(number, kind, body, self.live.begin_source(f"{self.name}#{number}"))

    def _release(self, now: float, *, load: bool = True) -> None:
        """Parse (and ``load``) the requests whose traces are all quiet (and the oldest
        ones, over `max_pending`), in the order they arrived.  Without ``load`` nothing
        reaches DuckDB: about `CHUNK_ROWS` rows of protobuf requests (one request past
        it) wait in memory."""
        # while a live run checks, a JSON request may go to DuckDB whole (`Store.add_request`)
        room = None if load else CHUNK_ROWS - self._unflushed
        released = self._waiting.release(now, self.settings.max_pending, room)
        for held, quiet in released:
            if quiet > now:
                self.released_early += held.spans
            due = min(quiet, now)
            if self._eligible is None or due < self._eligible:
                self._eligible = due
        self._ingest_all([held for held, _ in released], load=load)

    def _ingest_all(self, released: list[Held], *, load: bool) -> None:
        """Parse ``released`` in order: protobuf requests in the worker process, a few
        ahead of the one being added to the live store."""
        parser = self._parser
        window: collections.deque[tuple[Held, int, Future[Parsed] | None]] = collections.deque()
        waiting = iter(released)
        while True:
            while len(window) < IN_FLIGHT and (held := next(waiting, None)) is not None:
                source = self.live.begin_source(f"{self.name}#{held.number}")
                future = None
                if parser is not None and held.kind == PROTOBUF:
                    future = parser.submit(held.body, source)
                window.append((held, source, future))
            if not window:
                return
            held, source, future = window.popleft()
            parsed = parser.result(future) if parser is not None and future is not None else None
            self._ingest(held.number, held.kind, held.body, source, parsed, load=load)
            with self._lock:
                self._backlog -= len(held.body)

    def _ingest(
        self,
        number: int,
        kind: bytes,
        body: bytes,
        source: int,
        parsed: Parsed | None = None,
        *,
        load: bool = True,
    ) -> None:
        """Add one request to the live store: ``parsed`` by the worker, or parsed here
        (the doctor's readers)."""
        store = self.live
        store.use_source(source)
        errors: list[tuple[str, str]] = []
        self.requests += 1
        self._kinds.add(kind)
        seen, added = load_request(store, kind, body, source, parsed, errors)
        self._unflushed += added
        self.spans_received += seen
        self._loaded += 1
        with self._lock:  # `build_report` reads them from other threads
            for position, message in errors:
                if len(self._errors) == MAX_ERRORS:
                    self._more_errors += 1
                self._errors.append(InputError(f"{self.name}#{number}", position, message))
        if load and self._unflushed >= CHUNK_ROWS:
            store.flush()
            self._unflushed = 0
        elif load:
            store.flush_if_full()  # whole JSON requests count there

    @property
    def pending_traces(self) -> int:
        return len(self._waiting.last_seen)

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
            "traces_pending": len(self._waiting.last_seen),
            "backlog_bytes": self._backlog,
            "refused": self.refused,
            "released_early": self.released_early,
            "evicted": self.table.evicted,
            "idle_seconds": self.settings.idle,
            "checks": self.checks,
            "last_error": self.last_error,
            "parse_cpu_seconds": round(self.parse_cpu, 3),
            "check_cpu_seconds": round(self.check_cpu, 3),
            "report_cpu_seconds": round(self.report_cpu, 3),
            "table_cpu_seconds": round(self.table_cpu, 3),
            "live_checks": self._live_runs,
            "live_check_seconds": round(self.live_seconds, 4),
            "spans_checked_live": self.spans_checked_live,
            "report_covers_live": self._caught_up(),
            "spans_reported": snap.spans_reported,
            "report_share": round(self.report_share(), 3),
            "check_lag_seconds": round(self.lag, 4),
            "check_lag_max_seconds": round(self.lag_max, 4),
            "threads_cpu_seconds": thread_cpu(),
        }
