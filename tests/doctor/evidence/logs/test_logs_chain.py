"""A real three-service chain, one broken hop at a time, named from its logs.

orders (python-json-logger + opentelemetry-instrumentation-logging) → payments
(structlog) → shipping (a hand-written stdlib JSON formatter), real Flask and
requests instrumentation on 127.0.0.1 (see ``_log_chain.py``).  Which hop broke is
what the scenario broke, not what the doctor says.
"""

from __future__ import annotations

import html
import io
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tracehound.cli import main
from tracehound.doctor import check_paths
from tracehound.doctor.report import html as html_report
from tracehound.doctor.report import json as json_report

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _log_chain import SCENARIOS, Scenario, run


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("chains")
    with ThreadPoolExecutor(len(SCENARIOS)) as pool:
        done = pool.map(lambda s: run(s, root / s.name), SCENARIOS)
        return {s.name: out for s, out in zip(SCENARIOS, done, strict=True)}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_the_logs_alone_name_the_broken_hop(chains: dict[str, Path], scenario: Scenario) -> None:
    report = check_paths([str(chains[scenario.name] / "logs")])
    assert report.spans_analysed == 0
    assert report.log_lines > 0
    assert report.log_rejections == []
    assert report.analysed_anything
    broken = [f for f in report.findings if f.code == "G001"]
    assert [(f.details["caller"], f.details["callee"]) for f in broken] == [
        (scenario.caller, scenario.callee)
    ]
    finding = broken[0]
    assert finding.details["key"] == "order_id"  # chosen from the logs: no key was given
    assert finding.details["changed"] == finding.details["requests"] == 4
    assert finding.details["cause"] == scenario.logs_cause
    assert finding.location.startswith(str(chains[scenario.name] / "logs" / scenario.callee))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_spans_and_logs_together_cite_the_logs_on_the_edge(
    chains: dict[str, Path], scenario: Scenario
) -> None:
    out = chains[scenario.name]
    report = check_paths([str(out / "spans"), str(out / "logs")], log_key="order_id")
    edge = next(
        e for e in report.edges if (e.caller, e.callee) == (scenario.caller, scenario.callee)
    )
    logs = [e for e in edge.evidence if e.kind == "logs"]
    assert len(logs) == 1
    assert f"{scenario.callee} logged the new trace ID" in logs[0].summary
    assert "for order_id o-" in logs[0].summary
    # the same evidence in every report
    data = json.loads(json_report.dumps(report))
    (in_json,) = [
        e for d in data["edges"] if (d["caller"], d["callee"]) == (edge.caller, edge.callee)
        for e in d["evidence"] if e["kind"] == "logs"
    ]  # fmt: skip
    assert in_json["summary"] == logs[0].summary and in_json["source"] == logs[0].source
    if scenario.logs_cause is None:
        assert edge.broken == edge.calls == 4  # the spans show the break too
        assert html.escape(logs[0].summary) in html_report.render(report)
    else:
        # the worker's call made a new root client span, which shipping continued: the
        # spans see an unbroken edge (and C004 in payments); the logs say where it went
        assert logs[0].cause == scenario.logs_cause
        assert any(f.code == "C004" and f.service == "payments" for f in report.findings)


def test_tracehound_logs_names_the_hop_and_fails(chains: dict[str, Path]) -> None:
    out = io.StringIO()
    logs = chains["worker-thread"] / "logs"
    assert main(["logs", str(logs), "--by", "order_id"], out=out) == 1
    text = out.getvalue()
    assert "payments → shipping: 4 requests, 0 kept the trace ID, 4 changed it" in text
    assert "orders → payments: 4 requests, 4 kept the trace ID" in text
    assert "the context was lost inside it" in text
