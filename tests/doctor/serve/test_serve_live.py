"""The live runs' findings by trace: kept until the report covers them, and capped."""

from __future__ import annotations

import pytest

from tracehound.doctor.serve import _live
from tracehound.doctor.serve._live import LiveFindings
from tracehound.rules import Finding, get_rule


def orphan(trace: str) -> Finding:
    return Finding(get_rule("C001"), "orphan", trace_id=trace, span_id="ab" * 8)


def broken_call(caller: str, callee: str) -> Finding:
    return Finding(get_rule("C003"), "broken", trace_id=caller, details={"callee_trace_id": callee})


def test_a_trace_checked_clean_is_known_and_a_broken_call_belongs_to_both_halves() -> None:
    live = LiveFindings()
    live.add(0, ["t1", "t2", "t3"], [orphan("t1"), broken_call("t2", "t3")])
    assert [f.code for f in live.get("t1") or []] == ["C001"]
    assert [f.code for f in live.get("t2") or []] == ["C003"]
    assert [f.code for f in live.get("t3") or []] == ["C003"]
    assert live.get("t4") is None  # never checked live: the report's


def test_the_report_covering_a_run_drops_its_traces_and_keeps_later_runs() -> None:
    live = LiveFindings()
    live.add(0, ["t1"], [orphan("t1")])
    live.add(1, ["t2"], [])
    live.covered(0)
    assert live.get("t1") is None
    assert live.get("t2") == []
    live.add(2, ["t2"], [orphan("t2")])  # the trace got more spans: the newest run counts
    live.covered(1)
    assert [f.code for f in live.get("t2") or []] == ["C001"]


def test_at_most_max_traces_are_kept_the_oldest_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_live, "MAX_TRACES", 3)
    live = LiveFindings()
    live.add(0, ["t1", "t2"], [])
    live.add(1, ["t3", "t4"], [])
    assert len(live) == 3
    assert live.get("t1") is None and live.get("t4") == []
