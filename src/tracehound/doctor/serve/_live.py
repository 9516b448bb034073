"""What the checks found in the traces that went quiet since the last report.

The live runs check only the spans parsed since the run before (their traces
went quiet together: `_engine`); the report over the whole table comes later
and less often.  Until it covers a trace, the trace list and the trace view
show the live run's findings for it.  Entries the report covers are dropped,
so this holds at most the traces of the runs the report is behind by (and
never more than `MAX_TRACES`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from tracehound.rules import Finding

__all__ = ["MAX_TRACES", "LiveFindings", "traces_of"]

MAX_TRACES = 200_000
"""Traces whose live findings are kept at most (the oldest go first)."""


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

    def get(self, trace: str) -> list[Finding] | None:
        """The findings of ``trace``'s last live run, or ``None`` if the report covers it."""
        with self._lock:
            entry = self._by_trace.get(trace)
        return None if entry is None else entry[1]

    def __len__(self) -> int:
        return len(self._by_trace)
