"""The live runs' findings by trace and calls between services, until the report covers them."""

from __future__ import annotations

import pytest

from tracehound.doctor._model import Edge
from tracehound.doctor.serve import _live
from tracehound.doctor.serve._live import LiveEdges, LiveFindings
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


def edge(caller: str, callee: str, calls: int, broken: int, cause: str | None = None) -> Edge:
    return Edge(caller, callee, "request", calls, calls - broken, broken, cause=cause)


def test_a_broken_call_listed_under_both_its_traces_is_counted_once() -> None:
    live = LiveFindings()
    live.add(0, ["t1", "t2", "t3"], [orphan("t1"), broken_call("t2", "t3")])
    live.add(1, ["t4"], [orphan("t4")])
    assert live.counts() == {"C001": 2, "C003": 1}
    assert live.counts(after=0) == {"C001": 1}  # the runs a report does not cover


def test_the_live_runs_calls_add_up_until_the_report_covers_them() -> None:
    live = LiveEdges()
    live.add(0, [edge("orders", "payments", 3, 3, "headers dropped"), edge("gw", "orders", 3, 0)])
    live.add(1, [edge("orders", "payments", 2, 1)])
    live.add(2, [edge("orders", "payments", 1, 0)])
    merged = {(e.caller, e.callee): e for e in live.merged()}
    assert (merged["orders", "payments"].calls, merged["orders", "payments"].broken) == (6, 4)
    assert merged["orders", "payments"].cause == "headers dropped"  # the latest that says one
    assert merged["gw", "orders"].broken == 0
    assert [(e.calls, e.broken) for e in live.merged(after=1)] == [(1, 0)]
    live.covered(1)
    assert [(e.caller, e.calls) for e in live.merged()] == [("orders", 1)]


def test_the_live_calls_keep_at_most_max_runs_and_list_the_broken_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_live, "MAX_RUNS", 2)
    live = LiveEdges()
    live.add(0, [edge("a", "b", 5, 0)])
    live.add(1, [edge("a", "b", 1, 0), edge("c", "d", 1, 1)])
    live.add(2, [edge("a", "b", 2, 0)])  # run 0 goes
    assert [(e.caller, e.calls, e.broken) for e in live.merged()] == [("c", 1, 1), ("a", 3, 0)]
    live.covered(1)
    assert [(e.caller, e.calls) for e in live.merged()] == [("a", 2)]  # c → d: no call left
