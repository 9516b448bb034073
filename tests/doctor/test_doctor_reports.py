"""The reports: JSON schema stability, SARIF structure, self-contained HTML, the terminal."""

from __future__ import annotations

import io
import re

import orjson
from doctor_data import DATA, SAMPLES

from tracehound.doctor import Report, check_paths
from tracehound.doctor.report import html, json, sarif, terminal


def sample() -> Report:
    return check_paths(SAMPLES)


def test_json_report_keeps_its_documented_shape() -> None:
    data = orjson.loads(json.dumps(sample()))
    assert data["schema"] == "tracehound.doctor/1"
    assert set(data) == {
        "schema", "tool", "inputs", "spans", "traces", "services", "remote_entries", "errors",
        "counts", "findings", "edges", "skipped", "ignored", "duplicate_inputs", "notes",
        "logs",
    }  # fmt: skip
    assert data["logs"] == {"analysed": 0, "rejected": 0, "rejections": []}
    assert data["ignored"] == {}
    assert data["notes"] == []  # a file run ran every family here
    assert set(data["spans"]) == {
        "read", "analysed", "merged", "merges", "rejected", "rejections", "normalised"
    }
    assert data["spans"]["read"] == (
        data["spans"]["analysed"] + data["spans"]["merged"] + data["spans"]["rejected"]
    )
    for finding in data["findings"]:
        assert {"code", "name", "severity", "trace_id", "span_id", "service", "message",
                "location", "details"} <= set(finding)  # fmt: skip
        assert finding["severity"] in ("error", "warning", "info")
    edge = data["edges"][0]
    assert {"caller", "callee", "calls", "continued", "broken", "break_rate", "formats",
            "cause", "fix", "kind"} <= set(edge)  # fmt: skip
    assert set(data["counts"]) == {"by_code", "by_severity"}


def test_sarif_is_2_1_0_with_rules_and_located_results() -> None:
    report = sample()
    log = orjson.loads(sarif.dumps(report))
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(
        {f.code for f in report.findings}, key=[f.code for f in report.findings].index
    )
    assert len(run["results"]) == len(report.findings)
    levels = {"error", "warning", "note"}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in levels
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].startswith(str(DATA))
        assert location["region"]["startLine"] >= 1
    lines = {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in run["results"]
             if r["ruleId"] == "L004"}  # fmt: skip
    assert lines == {1, 2}  # collector.otlp.jsonl lines


def test_html_is_one_self_contained_file() -> None:
    page = html.render(check_paths([*SAMPLES, str(DATA / "checkout-broken.jaeger.json")]))
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page and "<script" not in page
    assert "<svg" in page and "C003" in page and "Edges" in page
    assert "checkout → payments" in page


def test_terminal_report_has_summary_edges_and_fixes() -> None:
    out = io.StringIO()
    terminal.render(check_paths([str(DATA / "checkout-broken.jaeger.json")]), out, color=False)
    text = out.getvalue()
    assert "4 read = 4 analysed + 0 rejected" in text
    assert "checkout → payments" in text
    assert "checkout sends only uber-trace-id; payments reads only W3C" in text
    assert "C003 broken-edge (error) × 1" in text
    assert "fix:" in text


def test_html_waterfalls_have_axis_durations_legend_and_links_between_halves() -> None:
    report = check_paths([str(DATA / "checkout-broken.jaeger.json")])
    (broken,) = [f for f in report.findings if f.code == "C003"]
    caller, callee = broken.trace_id, broken.details["callee_trace_id"]
    page = html.render(report)
    assert f"<h3 id=trace-{caller}>" in page and f"<h3 id=trace-{callee}>" in page
    # the broken call leads to the trace that answered it, and back
    call_row = re.search(rf'<a href="#trace-{callee}">(.*?)</a>', page, re.S)
    assert call_row and f"{broken.span_id} 80.0 ms C003" in call_row.group(1)
    answer_row = re.search(rf'<a href="#trace-{caller}">(.*?)</a>', page, re.S)
    assert answer_row and broken.details["callee_span_id"] in answer_row.group(1)
    assert f"answered in: <a href=#trace-{callee}>" in page
    assert "<g class=axis>" in page and ">0</text>" in page and ">120 ms</text>" in page
    assert "80.0 ms ◀ C003" in page  # the duration after each bar
    assert "class=legend" in page and "payments</span>" in page
    assert "a span with a finding" in page


def test_html_draws_spans_without_times_and_parent_cycles() -> None:
    from tracehound.doctor import Report

    spans = [
        {"span_id": "a", "parent_span_id": "b", "name": "x", "kind": "Server", "service": "s",
         "start_ns": None, "duration_ns": None, "location": None, "codes": []},
        {"span_id": "b", "parent_span_id": "a", "name": "<y>", "kind": "Client", "service": "s",
         "start_ns": 5, "duration_ns": None, "location": "f:1", "codes": ["L004"]},
    ]  # fmt: skip
    page = html.render(Report(services=("s",), waterfalls={"t1": spans}))
    assert "no start time" in page and "no end ◀ L004" in page
    assert "&lt;y&gt;" in page and "<y>" not in page


def test_durations_and_axis_steps_read_well() -> None:
    from tracehound.doctor.report._waterfall_svg import duration_text, tick_step

    assert duration_text(850) == "850 ns"
    assert duration_text(12_345) == "12.3 µs"
    assert duration_text(4_560_000) == "4.56 ms"
    assert duration_text(1_200_000_000) == "1.20 s"
    assert tick_step(120_000_000) == 20_000_000
    assert tick_step(7) == 2


def test_sarif_locations_from_odd_source_names() -> None:
    from tracehound.doctor import InputSummary, Report
    from tracehound.rules import Finding, get_rule

    report = Report(
        inputs=[InputSummary("a²", "zipkin", 1, 0), InputSummary("b", "zipkin", 1, 0)],
        findings=[
            Finding(get_rule("C001"), "m", location="a²:²:[0]"),
            Finding(get_rule("C001"), "m", location="b:0:[1]"),
        ],
    )
    results = orjson.loads(sarif.dumps(report))["runs"][0]["results"]
    lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results]
    assert lines == [1, 1]
