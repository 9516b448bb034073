"""The reports: JSON schema stability, SARIF structure, self-contained HTML, the terminal."""

from __future__ import annotations

import io
import re

import orjson

from conftest import DATA, SAMPLES
from tracehound.doctor import Report, check_paths
from tracehound.doctor.report import html, json, sarif, terminal


def sample() -> Report:
    return check_paths(SAMPLES)


def test_json_report_keeps_its_documented_shape() -> None:
    data = orjson.loads(json.dumps(sample()))
    assert data["schema"] == "tracehound.doctor/1"
    assert set(data) == {
        "schema", "tool", "inputs", "spans", "traces", "services", "remote_entries", "errors",
        "counts", "findings", "edges", "skipped", "duplicate_inputs",
    }  # fmt: skip
    assert set(data["spans"]) == {"read", "analysed", "rejected", "rejections", "normalised"}
    assert data["spans"]["read"] == data["spans"]["analysed"] + data["spans"]["rejected"]
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
