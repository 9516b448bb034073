"""`tracehound serve` fed by a Node.js service under OpenTelemetry JS's zero-code
instrumentation: its OTLP/HTTP exporter sends protobuf bodies chunked (no Content-Length)."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest
from _servers import serving

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "realworld"))

from _processes import Fleet, free_port, node_command, node_ready, otel_env

NODE_MISSING = node_ready()
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.slow
@pytest.mark.skipif(NODE_MISSING is not None, reason=NODE_MISSING or "")
def test_a_node_services_chunked_export_is_received_and_checked(tmp_path: Path) -> None:
    with serving(tmp_path / "spans.journal") as served:
        port = free_port()
        fleet = Fleet(tmp_path / "logs")
        env = otel_env("ledger", "tracecontext", served.traces_url, PORT=str(port))
        fleet.start("ledger", node_command("callee.js"), env, port, instrumented=False)
        try:
            fleet.wait_listening(60)
            answers = []
            for _ in range(3):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/ledger", headers={"traceparent": TRACEPARENT}
                )
                with urllib.request.urlopen(request, timeout=10) as answer:
                    answers.append(json.loads(answer.read()))
            report = served.report_when(lambda r: r["spans"]["read"] == 3)
        finally:
            fleet.stop()
    assert report["spans"]["analysed"] == 3 and report["spans"]["rejected"] == 0
    assert report["services"] == ["ledger"]
    assert report["remote_entries"] == 3  # their parent is the caller's: no orphan
    assert {a["trace_id"] for a in answers} == {TRACEPARENT.split("-")[1]}
