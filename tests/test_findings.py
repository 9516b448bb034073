"""The findings sink: counts everything, logs the first of each kind, bounded."""

from __future__ import annotations

import logging

import pytest

from tracehound.findings import FindingsSink
from tracehound.rules import Finding, get_rule


def make(code: str, location: str) -> Finding:
    return Finding(get_rule(code), "m", location=location)


def test_dedup_per_code_and_location(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tracehound")
    sink = FindingsSink()
    for _ in range(3):
        sink.report(make("L001", "a.py:1"))
    sink.report(make("L001", "a.py:2"))
    sink.report(make("C005", "a.py:1"))
    summary = sink.summary()
    assert summary.by_code == {"L001": 4, "C005": 1}
    assert (summary.logged, summary.suppressed, summary.total) == (3, 2, 5)
    assert len([r for r in caplog.records if r.name == "tracehound"]) == 3
    assert summary.examples["L001"].location == "a.py:1"


def test_rate_limit_bounds_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tracehound")
    sink = FindingsSink(max_logs_per_minute=5)
    for i in range(100):
        sink.report(make("A003", f"k{i}"))
    assert sink.summary().logged == 5
    assert sink.summary().by_code["A003"] == 100


def test_listeners_see_every_finding_and_can_be_removed() -> None:
    sink = FindingsSink()
    seen: list[str] = []
    listener = seen.append
    sink.add_listener(lambda f: listener(f.code))
    sink.report(make("P001", "x"))
    sink.report(make("P001", "x"))
    assert seen == ["P001", "P001"]
    sink.reset()
    assert sink.summary().total == 0


def test_severity_maps_to_log_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tracehound")
    sink = FindingsSink()
    sink.report(make("L001", "e"))
    sink.report(make("L002", "w"))
    sink.report(make("A003", "i"))
    levels = [r.levelno for r in caplog.records if r.name == "tracehound"]
    assert levels == [logging.ERROR, logging.WARNING, logging.INFO]
