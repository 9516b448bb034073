"""Manifests among `tracehound check`'s inputs: read by content, their K findings reported
beside the span findings, and cited on the broken edge whose hop they configure."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

from tracehound.cli import main
from tracehound.doctor import check_paths
from tracehound.doctor._synthetic_writers import to_otlp_json_lines
from tracehound.doctor.synthetic import NONE, generate

DEPLOYMENTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
spec:
  template:
    metadata:
      labels:
        app: orders
    spec:
      containers:
        - name: orders
          image: orders:1
          env:
            - name: OTEL_SERVICE_NAME
              value: orders
            - name: OTEL_PROPAGATORS
              value: jaeger
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments
spec:
  template:
    metadata:
      labels:
        app: payments
    spec:
      containers:
        - name: payments
          image: payments:1
          env:
            - name: OTEL_SERVICE_NAME
              value: payments
            - name: OTEL_PROPAGATORS
              value: tracecontext,baggage
"""


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    traffic = generate(30, seed=7, faults=dataclasses.replace(NONE, broken_http=1.0))
    spans = tmp_path / "spans.jsonl"
    spans.write_bytes(b"".join(to_otlp_json_lines(traffic.spans)))
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "apps.yaml").write_text(DEPLOYMENTS, encoding="utf-8")
    (deploy / "compose.yaml").write_text("services:\n  web: {}\n", encoding="utf-8")
    return spans, deploy


def test_a_broken_edge_cites_the_setting_on_its_hop(tmp_path: Path) -> None:
    spans, deploy = _inputs(tmp_path)
    report = check_paths([str(spans), str(deploy)])
    assert report.errors == []  # compose.yaml is no manifest: not taken from the directory
    assert {i.format for i in report.inputs} == {"otlp-json", "kubernetes"}
    [k001] = [f for f in report.findings if f.code == "K001"]
    line = DEPLOYMENTS.splitlines().index("              value: tracecontext,baggage") + 1
    where = f"{deploy / 'apps.yaml'}:{line}"
    assert k001.location == where
    assert "orders sends Jaeger" in k001.message and "payments reads only W3C" in k001.message
    assert {f.code for f in report.findings} & {"C003", "C004"}  # the spans' own findings
    [edge] = [e for e in report.edges if (e.caller, e.callee) == ("orders", "payments")]
    assert edge.broken == edge.calls
    [cited] = [e for e in edge.evidence if e.kind == "k8s"]
    assert cited.source == where and cited.cause == "propagator-mismatch"
    assert cited.summary.startswith("orders sends Jaeger")


def test_check_on_the_command_line_reports_both_and_json_carries_the_evidence(
    tmp_path: Path,
) -> None:
    spans, deploy = _inputs(tmp_path)
    out = io.StringIO()
    assert main(["check", "--json", str(spans), str(deploy / "apps.yaml")], out=out) == 1
    report = json.loads(out.getvalue())
    assert "K001" in {f["code"] for f in report["findings"]}
    [edge] = [e for e in report["edges"] if (e["caller"], e["callee"]) == ("orders", "payments")]
    assert [e["kind"] for e in edge["evidence"] if e["kind"] == "k8s"] == ["k8s"]
    out = io.StringIO()
    main(["check", "--no-progress", str(spans), str(deploy / "apps.yaml")], out=out)
    text = out.getvalue()
    assert "evidence (" in text and "value: tracecontext,baggage,jaeger" in text


def test_manifests_alone_are_analysed_by_check(tmp_path: Path) -> None:
    _, deploy = _inputs(tmp_path)
    report = check_paths([str(deploy / "apps.yaml")])
    assert report.analysed_anything and report.spans_analysed == 0
    assert [f.code for f in report.findings] == []  # no call between them is known


def test_sarif_places_a_cluster_finding_on_its_line() -> None:
    manifests = Path(__file__).parents[1] / "evidence" / "k8s" / "manifests"
    path = manifests / "istio-otel-tracing-telemetry.yaml"
    out = io.StringIO()
    assert main(["check", "--sarif", "-", str(path)], out=out) == 1
    [result] = json.loads(out.getvalue())["runs"][0]["results"]
    assert result["ruleId"] == "K002"
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == str(path)
    assert physical["region"]["startLine"] == 9
