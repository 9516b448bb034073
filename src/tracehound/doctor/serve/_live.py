"""What the checks found in the traces that went quiet since the last report.

The live runs check only the spans parsed since the run before (their traces
went quiet together: `_engine`); the report over the whole table comes later
and less often (while the server is behind, not at all).  Until it covers a
trace, the trace list and the trace view show the live run's findings for it,
and the overview adds the calls the live runs counted (`LiveEdges`) to the
report's.  Entries the report covers are dropped, so this holds at most what
the runs the report is behind by found (never more than `MAX_TRACES` traces
and `MAX_RUNS` runs' edges).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable
from dataclasses import replace

from tracehound.doctor._model import Edge
from tracehound.rules import Finding

__all__ = ["MAX_RUNS", "MAX_TRACES", "LiveEdges", "LiveFindings", "traces_of"]

MAX_TRACES = 200_000
"""Traces whose live findings are kept at most (the oldest go first)."""

MAX_RUNS = 10_000
"""Live runs whose edges are kept at most (the oldest go first): hours of runs."""


def traces_of(finding: Finding) -> tuple[str, ...]:
    """The traces a finding is about: its own, and for a broken call (C003) the trace
    the call continued in."""
    other = finding.details.get("callee_trace_id") if finding.code == "C003" else None
    return tuple(t for t in (finding.trace_id, other) if isinstance(t, str) and t)


class LiveFindings:
    """Findings by trace, from the live runs the report does not cover yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_trace: dict[str, tuple[int, list[Finding]]] = {}

    def add(self, run: int, traces: Iterable[str], findings: list[Finding]) -> None:
        """Record run ``run``: every trace it checked, with what was found in it."""
        found: dict[str, list[Finding]] = {t: [] for t in traces}
        for f in findings:
            for trace in traces_of(f):
                found.setdefault(trace, []).append(f)
        with self._lock:
            for trace, listed in found.items():
                self._by_trace.pop(trace, None)  # to the end: the newest last
                self._by_trace[trace] = (run, listed)
            excess = len(self._by_trace) - MAX_TRACES
            for trace in list(self._by_trace)[: max(0, excess)]:
                del self._by_trace[trace]

    def covered(self, run: int) -> None:
        """The report now covers every run up to ``run``: its entries are the report's."""
        with self._lock:
            self._by_trace = {t: e for t, e in self._by_trace.items() if e[0] > run}

    def counts(self, after: int = -1) -> dict[str, int]:
        """Findings by rule code, of the runs after ``after`` (a broken call, listed under
        both its traces, once; a finding about no trace, such as an input problem, is
        not kept here)."""
        with self._lock:
            entries = list(self._by_trace.values())
        found = {id(f): f for run, listed in entries if run > after for f in listed}
        return dict(collections.Counter(f.code for f in found.values()))

    def get(self, trace: str) -> list[Finding] | None:
        """The findings of ``trace``'s last live run, or ``None`` if the report covers it."""
        with self._lock:
            entry = self._by_trace.get(trace)
        return None if entry is None else entry[1]

    def __len__(self) -> int:
        return len(self._by_trace)


class LiveEdges:
    """Calls between services, from the live runs the report does not cover yet, kept
    added up (the overview asks every two seconds, the report may be hours behind).

    A live run sees the traces that went quiet together: the two halves of a broken
    call that went to different runs (their services export at different moments) are
    a call to a peer with no span in the caller's run, and no break, until the report
    pairs them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: collections.deque[tuple[int, list[Edge]]] = collections.deque()
        self._totals: dict[tuple[str, str, str], Edge] = {}  # over `_runs`

    def add(self, run: int, edges: list[Edge]) -> None:
        """Record what run ``run`` counted (the oldest run goes past `MAX_RUNS`)."""
        with self._lock:
            if len(self._runs) >= MAX_RUNS:
                self._drop(self._runs.popleft()[1])
            self._runs.append((run, edges))
            for e in edges:
                key = (e.caller, e.callee, e.kind)
                self._totals[key] = _added(self._totals.get(key), e)

    def covered(self, run: int) -> None:
        """The report now covers every run up to ``run``."""
        with self._lock:
            while self._runs and self._runs[0][0] <= run:
                self._drop(self._runs.popleft()[1])

    def merged(self, after: int = -1) -> list[Edge]:
        """The calls of the runs after ``after`` (the last one a report covers), added up
        by caller, callee and kind, the broken first; cause, fix and example from the
        latest run that gives one."""
        with self._lock:
            if self._runs and self._runs[0][0] <= after:  # a report not `covered` yet
                totals: dict[tuple[str, str, str], Edge] = {}
                for run, edges in self._runs:
                    for e in edges if run > after else ():
                        key = (e.caller, e.callee, e.kind)
                        totals[key] = _added(totals.get(key), e)
            else:
                totals = self._totals
            found = list(totals.values())
        return sorted(found, key=lambda e: (-e.broken, -e.calls, e.caller, e.callee, e.kind))

    def _drop(self, edges: list[Edge]) -> None:
        for e in edges:
            key = (e.caller, e.callee, e.kind)
            total = self._totals.get(key)
            if total is None:
                continue
            left = replace(
                total,
                calls=total.calls - e.calls,
                continued=total.continued - e.continued,
                broken=total.broken - e.broken,
            )
            if left.calls > 0:
                self._totals[key] = left
            else:
                del self._totals[key]


def _added(total: Edge | None, e: Edge) -> Edge:
    """``total`` with ``e``'s calls added; what ``e`` says of the cause replaces its."""
    if total is None:
        return e
    said = e.cause is not None
    return replace(
        e,
        calls=total.calls + e.calls,
        continued=total.continued + e.continued,
        broken=total.broken + e.broken,
        formats=tuple(sorted({*total.formats, *e.formats})),
        cause=e.cause if said else total.cause,
        fix=e.fix if said else total.fix,
        cause_kind=e.cause_kind if said else total.cause_kind,
        evidence=e.evidence if said else total.evidence,
        example_trace_id=e.example_trace_id or total.example_trace_id,
        callee_seen=total.callee_seen or e.callee_seen,
    )
