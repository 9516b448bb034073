"""Where runtime findings go: the ``tracehound`` logger, a summary, and listeners.

Every finding is counted.  The logger gets the first occurrence of each
(code, location) pair, within a rate limit, so a broken hop on a busy service
produces a handful of log lines and an exact count, not a flood.  Listeners
(strict mode, the pytest plugin, metrics) see every finding; recorders (the
findings file) see every finding too, with whether it was logged, before the
listeners (which may raise).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from tracehound.rules import Finding

__all__ = [
    "FindingsSink",
    "Summary",
    "add_listener",
    "get_sink",
    "remove_listener",
    "report",
    "reset",
    "summary",
]

logger = logging.getLogger("tracehound")

Listener = Callable[[Finding], None]
Recorder = Callable[[Finding, bool], None]
"""Called with each finding and whether it was logged (the first of its kind, within the
rate limit); must not raise."""


@dataclass(frozen=True)
class Summary:
    """Counts since start (or the last `reset`)."""

    by_code: dict[str, int] = field(default_factory=dict)
    logged: int = 0
    suppressed: int = 0
    """Findings counted but not logged (duplicates or over the rate limit)."""
    examples: dict[str, Finding] = field(default_factory=dict)
    """The first finding of each code."""

    @property
    def total(self) -> int:
        return sum(self.by_code.values())


class FindingsSink:
    """Counts findings, logs the first of each kind within a rate limit, notifies listeners."""

    def __init__(self, *, max_logs_per_minute: int = 60, max_keys: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._examples: dict[str, Finding] = {}
        self._logged_keys: set[tuple[str, str | None]] = set()
        self._max_keys = max_keys
        self._rate = max_logs_per_minute
        self._window_start = time.monotonic()
        self._window_count = 0
        self._logged = 0
        self._suppressed = 0
        self._listeners: list[Listener] = []
        self._recorders: list[Recorder] = []

    def report(self, finding: Finding) -> None:
        """Record ``finding``; listeners run in the caller's thread and may raise."""
        key = (finding.rule.code, finding.location)
        with self._lock:
            self._counts[finding.rule.code] += 1
            self._examples.setdefault(finding.rule.code, finding)
            should_log = key not in self._logged_keys and self._take_token()
            if should_log:
                if len(self._logged_keys) < self._max_keys:
                    self._logged_keys.add(key)
                self._logged += 1
            else:
                self._suppressed += 1
            listeners = tuple(self._listeners)
            recorders = tuple(self._recorders)
        for recorder in recorders:
            recorder(finding, should_log)
        if should_log:
            level = (
                logging.ERROR
                if finding.severity >= 30
                else (logging.WARNING if finding.severity >= 20 else logging.INFO)
            )
            logger.log(
                level,
                "%s (fix: %s)",
                finding,
                finding.rule.fix,
                extra={"tracehound_finding": finding},
            )
        for listener in listeners:
            listener(finding)

    def _take_token(self) -> bool:
        now = time.monotonic()
        if now - self._window_start >= 60.0:
            self._window_start, self._window_count = now, 0
        if self._window_count >= self._rate:
            return False
        self._window_count += 1
        return True

    def summary(self) -> Summary:
        with self._lock:
            return Summary(dict(self._counts), self._logged, self._suppressed, dict(self._examples))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._examples.clear()
            self._logged_keys.clear()
            self._logged = self._suppressed = self._window_count = 0

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def add_recorder(self, recorder: Recorder) -> None:
        with self._lock:
            self._recorders.append(recorder)

    def remove_recorder(self, recorder: Recorder) -> None:
        with self._lock:
            if recorder in self._recorders:
                self._recorders.remove(recorder)


_SINK = FindingsSink()


def get_sink() -> FindingsSink:
    """The process-wide sink."""
    return _SINK


def report(finding: Finding) -> None:
    """Report ``finding`` to the process-wide sink."""
    _SINK.report(finding)


def summary() -> Summary:
    """What the process has found so far."""
    return _SINK.summary()


def reset() -> None:
    """Forget counts and logged keys (tests, or after a deploy)."""
    _SINK.reset()


def add_listener(listener: Listener) -> None:
    _SINK.add_listener(listener)


def remove_listener(listener: Listener) -> None:
    _SINK.remove_listener(listener)
