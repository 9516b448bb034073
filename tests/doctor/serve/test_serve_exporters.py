"""`tracehound serve` fed by the OpenTelemetry SDK's own OTLP exporters, in processes of their own.

HTTP protobuf (gzip), HTTP JSON and gRPC each send the same small system,
gateway → orders → payments, whose orders → payments edge breaks; the report
must name that edge, and must be what ``tracehound check --json`` says of the
same spans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _servers import Served, send_system, serving

from tracehound.doctor import check_paths
from tracehound.doctor._model import Report
from tracehound.doctor.report.json import to_dict
from tracehound.doctor.serve._journal import PROTOBUF, Scan

pytest.importorskip("grpc")
CHECKOUTS = 3
SPANS_PER_CHECKOUT = 5


def edges(report: dict[str, Any]) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {
        (e["caller"], e["callee"]): (e["calls"], e["continued"], e["broken"])
        for e in report["edges"]
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db = tmp_path_factory.mktemp("serve") / "spans.journal"
    with serving(db, grpc=True) as served:
        send_system("http-proto", served.traces_url, "--checkouts", str(CHECKOUTS), "--gzip")
        send_system("http-json", served.traces_url, "--checkouts", str(CHECKOUTS))
        send_system("grpc", f"127.0.0.1:{served.grpc_port}", "--checkouts", str(CHECKOUTS))
        yield served, db


def test_every_exporter_is_received_and_the_broken_edge_named(served: tuple[Served, Path]) -> None:
    server, _ = served
    total = 3 * CHECKOUTS * SPANS_PER_CHECKOUT
    report = server.report_when(lambda r: r["spans"]["read"] == total)
    assert report["spans"] == {
        "read": total, "analysed": total, "merged": 0, "merges": [], "rejected": 0,
        "rejections": [], "normalised": [],
    }  # fmt: skip
    assert report["inputs"][0]["format"] == "mixed"  # protobuf and JSON
    assert report["services"] == ["gateway", "orders", "payments"]
    assert edges(report) == {
        ("gateway", "orders"): (3 * CHECKOUTS, 3 * CHECKOUTS, 0),
        ("orders", "payments"): (3 * CHECKOUTS, 0, 3 * CHECKOUTS),
    }
    broken = [f for f in report["findings"] if f["code"] == "C003"]
    assert len(broken) == 3 * CHECKOUTS
    assert {(f["details"]["caller"], f["details"]["callee"]) for f in broken} == {
        ("orders", "payments")
    }
    status = server.get("/api/status")
    assert status["spans_pending"] == 0
    assert status["journal"]["records"] == status["requests"]
    # every live run is the report's now: nothing of them is counted on top of it
    assert status["report_covers_live"]
    live = server.get("/api/live")
    assert live["edges"] == [] and live["by_code"] == {}


def test_the_report_is_tracehound_checks_over_the_same_spans(
    served: tuple[Served, Path], tmp_path: Path
) -> None:
    server, db = served
    total = 3 * CHECKOUTS * SPANS_PER_CHECKOUT
    live = server.report_when(lambda r: r["spans"]["read"] == total)
    assert list(live) == list(to_dict(Report()))  # the same keys, in the same order
    # the journal's requests as files `tracehound check` reads: a Collector-style
    # length-prefixed protobuf stream, and OTLP/JSON lines
    proto, lines = bytearray(), bytearray()
    for kind, body in Scan(db):
        if kind == PROTOBUF:
            proto += len(body).to_bytes(4, "big") + body
        else:
            lines += body.replace(b"\n", b" ") + b"\n"
    (tmp_path / "spans.pb").write_bytes(bytes(proto))
    (tmp_path / "spans.jsonl").write_bytes(bytes(lines))
    offline = to_dict(check_paths([str(tmp_path / "spans.pb"), str(tmp_path / "spans.jsonl")]))
    for key in ("traces", "services", "remote_entries", "counts", "skipped"):
        assert live[key] == offline[key], key
    assert live["spans"]["read"] == offline["spans"]["read"]
    assert edges(live) == edges(offline)
    assert sorted((f["code"], f["trace_id"], f["span_id"]) for f in live["findings"]) == sorted(
        (f["code"], f["trace_id"], f["span_id"]) for f in offline["findings"]
    )


def test_the_report_filters_by_service_and_time(served: tuple[Served, Path]) -> None:
    server, _ = served
    total = 3 * CHECKOUTS * SPANS_PER_CHECKOUT
    server.report_when(lambda r: r["spans"]["read"] == total)
    # payments: its lost halves, and the callers they were lost from
    payments = server.get("/api/report", service="payments")
    assert edges(payments)[("orders", "payments")] == (3 * CHECKOUTS, 0, 3 * CHECKOUTS)
    assert payments["spans"]["read"] == total
    orders = server.get("/api/report", service="orders")
    assert edges(orders)[("orders", "payments")] == (3 * CHECKOUTS, 0, 3 * CHECKOUTS)
    assert server.get("/api/report", service="nobody")["spans"]["read"] == 0
    assert server.get("/api/report", since="2000-01-01T00:00:00Z")["spans"]["read"] == total
    assert server.get("/api/report", until="2000-01-01T00:00:00Z")["spans"]["read"] == 0
    with server.client() as client:
        bad = client.get("/api/report", params={"since": "yesterday"})
    assert bad.status_code == 400
    assert "since='yesterday'" in bad.json()["error"]
