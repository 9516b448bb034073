"""The report over the whole table: ``tracehound check``'s, on a thread of its own.

The live runs (`_engine`) check the spans that went quiet since the run
before; the report checks every span in the table, so that ``/api/report`` is
exactly what ``tracehound check --json`` says of what has arrived.  Its cost
grows with the table: while spans arrive, reports take at most `REPORT_SHARE`
of one core's time, start only while the host had `IDLE_FOR_REPORT` of its
CPU idle lately (where that is known: other tenants count), never while the
server is behind (requests it has not parsed filling half the backlog), and
`CHECK_SPACING` times as long as the last one took after it; once spans stop
coming, the report runs as soon as `Settings.check_every` allows.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from tracehound.doctor import diagnose, tally
from tracehound.doctor._model import InputError, InputSummary, Report
from tracehound.doctor.report.json import to_dict
from tracehound.doctor.serve._journal import PROTOBUF
from tracehound.doctor.serve._live import LiveEdges, LiveFindings
from tracehound.doctor.serve._table import Table
from tracehound.doctor.store import Store

if TYPE_CHECKING:
    from tracehound.doctor.serve._engine import Settings
    from tracehound.doctor.serve._waiting import Waiting

__all__ = ["CHECK_SPACING", "IDLE_FOR_REPORT", "REPORT_SHARE", "Reporting", "Snapshot"]

CHECK_SPACING = 3
"""While spans arrive, a report over the whole table waits at least this many times as long
as the last one took."""

IDLE_FOR_REPORT = 0.25
"""While spans arrive, a report over the whole table starts only while at least this share
of the host's CPU time was idle over the last seconds (`_threads.HostIdle`; not checked
where unknown): at 50,000 spans/s on a shared 2-core host, reports within their
`REPORT_SHARE` pushed the live runs behind."""

REPORT_SHARE = 0.15
"""While spans arrive, a report over the whole table starts only while the reports have
taken at most this share of one core's time since the server started (the next one
counted at the last one's cost); the share falls to none as the requests the server is
behind on fill half the backlog (`Reporting.report_share`).  Of the wall clock, not of the
CPU the process used: at a few spans a second, a share of that little CPU let a report
run every few minutes."""


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
    """How long the run took (adding the last spans to the table, and the checks)."""
    codes_by_trace: dict[str, list[str]] = field(default_factory=dict)
    """Rule codes found in each trace (for the trace list)."""
    covers: int = -1
    """The last live run whose spans the report covers."""
    spans_reported: int = 0
    """Spans that went through this report: the live runs up to ``covers`` moved them to
    the table (some may have been dropped from it, over `Settings.max_spans`, before)."""


class Reporting:
    """The report's side of `Engine` (its thread, and what it shares with the API)."""

    name: str
    settings: Settings
    store: Store
    table: Table
    live_findings: LiveFindings
    live_edges: LiveEdges
    snapshot: Snapshot
    checks: int
    report_cpu: float
    table_cpu: float
    _stop: bool
    _moved: threading.Event
    _checking: threading.Event
    _lock: threading.Lock
    _errors: collections.deque[InputError]
    _more_errors: int
    _kinds: set[bytes]
    _waiting: Waiting
    _inbox: collections.deque[Any]
    _loaded: int
    _live_runs: int
    _arrived: float
    _backlog: int

    _fail: Callable[[str, Exception], None]
    _host_idle: Callable[[], float | None]

    def _report_loop(self) -> None:
        """Add the moved spans to the table as they come, and run the report over it when
        due (`CHECK_SPACING`; `Settings.check_every` once nothing is left to parse)."""
        next_report = last_report = 0.0
        began = time.monotonic()
        cost = 0.0  # CPU seconds the last report took
        size = 1  # spans in the table it covered
        covers = -1
        while True:
            self._moved.wait(0.1)
            self._moved.clear()
            if self._stop:
                return
            idle = self._host_idle()  # read often: its window is the last seconds
            cpu = time.thread_time()
            try:
                if self.table.parts:
                    covers = self.table.add_parts(self.settings.max_spans)
                    # adding spans to the table is the ingest's work, not the report's:
                    # counted in its share, it left reports none at 50,000 spans/s
                    added = time.thread_time()
                    self.table_cpu += added - cpu
                    cpu = added
                if covers <= self.snapshot.covers:
                    continue  # the report has every span of the table
                if self._busy():
                    # the next report counted at the last one's cost, up to twice that
                    # as the table grows (a report has a fixed cost, ~0.2 s: counted per
                    # span, one over 2,000 spans priced one over a million at 100 s)
                    growth = min(2.0, max(1.0, self.table.spans / size))
                    spent = self.report_cpu + time.thread_time() - cpu
                    budget = self.report_share() * (time.monotonic() - began)
                    due = (
                        time.monotonic() >= next_report
                        and budget > 0  # none while the server is behind
                        and spent + cost * growth <= budget
                        and (idle is None or idle >= IDLE_FOR_REPORT)
                    )
                else:  # the last spans: the report as soon as `check_every` allows
                    due = time.monotonic() >= last_report + self.settings.check_every
                if not due:
                    continue
                started = time.perf_counter()
                before = time.thread_time()
                self.snapshot = self._publish(started, time.monotonic(), covers)
                self.live_findings.covered(covers)
                self.live_edges.covered(covers)
                self.checks += 1
                took = time.perf_counter() - started
                cost = time.thread_time() - before
                size = max(1, self.table.spans)
            except Exception as exc:  # the last report stays; the next run tries again
                self._fail("running the checks", exc)
                took = self.settings.check_every
            finally:
                self.report_cpu += time.thread_time() - cpu
            last_report = time.monotonic()
            next_report = last_report + max(self.settings.check_every, CHECK_SPACING * took)

    def report_share(self) -> float:
        """The share of one core's time the reports may take while spans arrive:
        `REPORT_SHARE` while the server keeps up, none once the requests it is behind on
        (the backlog but for those waiting, by design, for their traces to go quiet)
        fill half the backlog.  Of its work (at 50,000 spans/s, ~26 µs of CPU a span), the report's
        4-6 µs are the part that can wait without a span going unchecked: the live
        runs check every span once, the report catches up when the load drops."""
        behind = self._backlog - self._waiting.bytes
        fill = behind / max(1, self.settings.max_backlog)
        return REPORT_SHARE * min(1.0, max(0.0, 1.0 - 2.0 * fill))

    def _caught_up(self) -> bool:
        """Whether every request parsed so far was checked live and is in the report."""
        return (
            not self._loaded
            and not self._checking.is_set()
            and not self.table.parts
            and self.snapshot.covers == self._live_runs - 1
        )

    def _busy(self) -> bool:
        """Whether spans are on their way to the table (or were sent a moment ago)."""
        pipeline = self._waiting or self._inbox or self._loaded or self.table.parts
        recent = self._arrived + self.settings.idle + 2 * self.settings.check_every
        return bool(pipeline) or self._checking.is_set() or time.monotonic() < recent

    def _publish(self, started: float, now: float, covers: int = -1) -> Snapshot:
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
            covers=covers,
            spans_reported=self.table.added,
        )

    def build_report(self, store: Store | None = None) -> Report:
        """The report over ``store`` (the table by default), as ``tracehound check``
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
