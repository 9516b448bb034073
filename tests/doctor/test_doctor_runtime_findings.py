"""Runtime findings files as doctor input: recognised by content, bad lines named, never spans."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracehound.cli import main
from tracehound.doctor import check_paths, load
from tracehound.doctor.checks import runtime

HEADER = {"kind": "tracehound.findings", "version": 1, "service": "orders", "pid": 7}
FINDING = {
    "kind": "tracehound.finding", "version": 1, "service": "orders", "pid": 7,
    "code": "L001", "name": "span-never-ended", "severity": "error",
    "message": "span 'reserve stock' was never ended",
    "trace_id": "4BF92F3577B34DA6A3CE929D0E0E4736",
    "span_id": "00f067aa0ba902b7", "location": "app/orders.py:42", "details": {"span": "x"},
    "time": "2026-12-05T10:00:00.000000Z",
}


def write(path: Path, *records: Any) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_recognised_by_content_whatever_the_name(tmp_path: Path) -> None:
    path = write(tmp_path / "whatever.json", HEADER, FINDING)
    report = check_paths([str(path)])
    (finding,) = report.findings
    assert (finding.code, finding.service) == ("L001", "orders")
    assert finding.location == "app/orders.py:42"
    assert finding.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"  # IDs lowercased as spans' are
    assert finding.details["reported_by"] == "runtime"
    assert finding.details["span"] == "x"
    assert (report.inputs[0].format, report.inputs[0].findings) == ("tracehound-findings", 1)
    assert report.spans_read == 0 and not report.errors


def test_bad_lines_are_named_with_the_reason_and_good_ones_kept(tmp_path: Path) -> None:
    bad = {
        "unknown kind": {**FINDING, "kind": "tracehound.findingz"},
        "unknown rule code 'Z999'": {**FINDING, "code": "Z999"},
        "trace_id 'xyz' is not 32 hex digits": {**FINDING, "trace_id": "xyz"},
        "version 2 is newer than this tracehound reads (1)": {**FINDING, "version": 2},
        "details is not an object": {**FINDING, "details": [1]},
        "no service name": {**FINDING, "service": None},
        "no message": {**FINDING, "message": 5},
        "counts[0].count is not a non-negative integer": {
            "kind": "tracehound.findings.summary", "version": 1, "service": "orders",
            "counts": [{"code": "L001", "location": None, "count": -1}],
        },
        "pid True is not a process ID": {**FINDING, "pid": True},
    }
    path = write(tmp_path / "f.jsonl", HEADER, FINDING, *bad.values(), '{"kind": "tracehound.fi')
    code, report = _check(path)
    assert code == 1
    errors = {e["position"]: e["message"] for e in report["errors"]}
    for number, reason in enumerate(bad, 3):
        assert reason in errors[str(number)], (number, errors)
        assert errors[str(number)].startswith("runtime finding not read: ")
    last = str(3 + len(bad))
    assert any(position.startswith(last) for position in errors)  # cut-off JSON, named by line
    assert report["inputs"][0]["findings"] == 1
    assert report["inputs"][0]["errors"] == len(bad) + 1
    assert [f["code"] for f in report["findings"]] == ["L001"]


def test_a_findings_file_alone_with_nothing_readable_is_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path / "f.jsonl", {**FINDING, "code": "Z999"})
    code, report = _check(path)
    assert code == 2 and report["errors"]


def test_only_a_header_analyses_cleanly(tmp_path: Path) -> None:
    code, report = _check(write(tmp_path / "f.jsonl", HEADER))  # a process that found nothing
    assert (code, report["findings"], report["errors"]) == (0, [], [])


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    records=st.lists(
        st.dictionaries(
            st.sampled_from([*sorted(FINDING), "counts", "other", "suppressed"]),
            st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=40)
            | st.lists(st.dictionaries(st.sampled_from(["code", "location", "count"]),
                                       st.integers(-2, 2**70) | st.text(max_size=5)), max_size=2)
            | st.dictionaries(st.text(max_size=4), st.integers(-3, 2**70), max_size=2),
            max_size=12,
        ),
        min_size=1,
        max_size=30,
    ),
    kind=st.sampled_from(
        ["tracehound.finding", "tracehound.findings.summary", "tracehound.findings"]
    ),
)
def test_any_record_is_read_or_named_as_an_error_never_raises(
    records: list[dict[str, Any]], kind: str, tmp_path_factory: Any
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.jsonl"
    write(path, *({**FINDING, **record, "kind": kind} for record in records))
    store, report = load([str(path)])
    try:
        stored = store.scalar("SELECT count(*) FROM runtime_findings")
        runtime.check(store)  # the findings are built from whatever was read
    finally:
        store.close()
    assert stored == report.inputs[0].findings
    written = len(records)
    named = sum(_errors_counted(error.message) for error in report.errors)
    assert report.inputs[0].findings + named <= written
    if kind == "tracehound.finding":  # every finding line is either read or named
        assert report.inputs[0].findings + named == written


def _errors_counted(message: str) -> int:
    """Bad records an error stands for: past the 20 shown, one line counts the rest."""
    more = re.fullmatch(r"(\d+) more errors in this input not shown", message)
    return int(more.group(1)) if more else 1


def _check(path: Path) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = main(["check", str(path), "--json"], out=out)
    return code, json.loads(out.getvalue())


def test_details_any_json_can_hold_are_kept(tmp_path: Path) -> None:
    details = {"big": 2**70 + 1, "nested": {"list": [1, "a", None]}}
    report = check_paths([str(write(tmp_path / "f.jsonl", {**FINDING, "details": details}))])
    (finding,) = report.findings
    # an integer over 64 bits is read as the doctor's JSON parser reads numbers (a double)
    assert finding.details["big"] == float(2**70 + 1)
    assert finding.details["nested"] == details["nested"]


def test_sarif_points_at_the_program_line_the_runtime_reported(tmp_path: Path) -> None:
    from tracehound.doctor.report.sarif import to_sarif

    attribute = {**FINDING, "code": "A005", "location": "span 'charge' attribute 'token'"}
    report = check_paths([str(write(tmp_path / "f.jsonl", FINDING, attribute))])
    results = {r["ruleId"]: r for r in to_sarif(report)["runs"][0]["results"]}
    (where,) = results["L001"]["locations"]
    assert where["physicalLocation"] == {
        "artifactLocation": {"uri": "app/orders.py"}, "region": {"startLine": 42}
    }
    assert "locations" not in results["A005"]  # not a place in a file


def test_a_finding_only_counted_is_reported_and_counts_merge_across_processes(
    tmp_path: Path,
) -> None:
    summary = {
        "kind": "tracehound.findings.summary", "version": 1, "service": "orders",
        "counts": [
            {"code": "L001", "location": "app/orders.py:42", "count": 5},
            {"code": "C005", "location": "app/orders.py:9", "count": 70},  # never written
        ],
        "other": {"L003": 2},
    }
    one = write(tmp_path / "a.jsonl", HEADER, FINDING, {**summary, "pid": 7})
    # a second process only counted the leak (the first wrote it): 5 + 3
    counts = [{"code": "L001", "location": "app/orders.py:42", "count": 3}]
    two = write(tmp_path / "b.jsonl", {**summary, "pid": 8, "counts": counts, "other": {}})
    report = check_paths([str(one), str(two)])
    found = {f.code: f for f in report.findings}
    assert found["L001"].details["occurrences"] == 8
    assert (found["L001"].details["processes"], found["L001"].details["counted"]) == (2, True)
    assert found["C005"].details["occurrences"] == 70
    assert found["C005"].details["written"] is False and found["C005"].location == "app/orders.py:9"
    assert "not written" in found["C005"].message
    assert found["L003"].location is None and found["L003"].details["occurrences"] == 2
    bad = write(tmp_path / "c.jsonl", {**summary, "counts": [{"code": "Z1", "count": 1}]})
    (error,) = check_paths([str(bad)]).errors
    assert error.message == "runtime finding not read: counts[0]: unknown rule code 'Z1'"
