"""OtlpJsonFileExporter: OTLP/JSON lines with hex IDs, read back by the doctor."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import Link, SpanKind, StatusCode

from tracehound.cli import main
from tracehound.doctor import load
from tracehound.runtime.export import OtlpJsonFileExporter, export_path


def _provider(path: Path, service: str = "orders") -> tuple[TracerProvider, OtlpJsonFileExporter]:
    exporter = OtlpJsonFileExporter(path)
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_writes_one_otlp_json_request_per_line_with_hex_ids(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    provider, _ = _provider(path)
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("POST /orders", kind=SpanKind.SERVER) as parent,
        tracer.start_as_current_span(
            "publish", kind=SpanKind.PRODUCER, links=[Link(parent.get_span_context())]
        ) as child,
    ):
        child.set_attribute("order.amount", 42)
    provider.shutdown()

    lines = path.read_text().splitlines()
    assert len(lines) == 2
    requests = [json.loads(line) for line in lines]
    spans = [r["resourceSpans"][0]["scopeSpans"][0]["spans"][0] for r in requests]
    published, server = spans
    pctx, cctx = parent.get_span_context(), child.get_span_context()
    assert server["traceId"] == f"{pctx.trace_id:032x}"
    assert server["spanId"] == f"{pctx.span_id:016x}"
    assert "parentSpanId" not in server
    assert published["parentSpanId"] == f"{pctx.span_id:016x}"
    assert published["spanId"] == f"{cctx.span_id:016x}"
    assert published["links"][0]["spanId"] == f"{pctx.span_id:016x}"
    assert published["kind"] == 4  # enums as numbers
    assert published["attributes"] == [{"key": "order.amount", "value": {"intValue": "42"}}]


def test_the_doctor_reads_the_file_back(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    provider, _ = _provider(path, service="payments")
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("POST /payments", kind=SpanKind.SERVER) as root,
        tracer.start_as_current_span("charge card", kind=SpanKind.CLIENT) as charge,
    ):
        charge.set_status(StatusCode.ERROR, "timeout")
        charge.set_attribute("retry.count", 2)
    provider.shutdown()

    store, report = load([str(path)])
    try:
        rows = store.query(
            "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, StatusCode,"
            " StatusMessage, Duration > 0 FROM otel_traces ORDER BY SpanName"
        )
    finally:
        store.close()
    assert report.spans_read == report.spans_analysed == 2
    assert not report.errors
    assert [i.format for i in report.inputs] == ["otlp-json"]
    tid = f"{root.get_span_context().trace_id:032x}"
    rid = f"{root.get_span_context().span_id:016x}"
    cid = f"{charge.get_span_context().span_id:016x}"
    assert rows == [
        (tid, rid, "", "POST /payments", "Server", "payments", "Unset", "", True),
        (tid, cid, rid, "charge card", "Client", "payments", "Error", "timeout", True),
    ]


def test_concurrent_exports_keep_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    provider, _ = _provider(path)
    tracer = provider.get_tracer("test")

    def work() -> None:
        for _ in range(50):
            with tracer.start_as_current_span("x"):
                pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    provider.shutdown()
    lines = path.read_text().splitlines()
    assert len(lines) == 200
    assert all(json.loads(line)["resourceSpans"] for line in lines)


def test_export_after_shutdown_fails_quietly(tmp_path: Path) -> None:
    exporter = OtlpJsonFileExporter(tmp_path / "spans.jsonl")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("a"):
        pass
    exporter.shutdown()
    span = provider.get_tracer("t").start_span("b")
    span.end()
    assert exporter.export([span]) is SpanExportResult.FAILURE  # type: ignore[list-item]
    assert len((tmp_path / "spans.jsonl").read_text().splitlines()) == 1


INSTRUMENTED = """
import sys
from opentelemetry import trace
if sys.argv[1] == "configure":
    import tracehound
    tracehound.configure()
tracer = trace.get_tracer("orders")
with tracer.start_as_current_span("GET /orders/{id}", kind=trace.SpanKind.SERVER):
    with tracer.start_as_current_span("SELECT orders") as span:
        span.set_attribute("api_token", "tok-4c9e1a7f3b2d8e60")
"""


@pytest.mark.parametrize("configure", ["plain", "configure"])
def test_selected_by_otel_traces_exporter_under_opentelemetry_instrument(
    tmp_path: Path, configure: str
) -> None:
    """``OTEL_TRACES_EXPORTER=tracehound_file``: the distro writes a file the doctor reads."""
    bin_dir = Path(sys.executable).parent
    env = {
        "PATH": str(bin_dir),
        "OTEL_SERVICE_NAME": "orders",
        "OTEL_TRACES_EXPORTER": "tracehound_file",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "TRACEHOUND_EXPORT_FILE": str(tmp_path / "spans-{pid}.jsonl"),
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "*",  # the distro's SDK setup is what matters
    }
    run = subprocess.run(
        [str(bin_dir / "opentelemetry-instrument"), sys.executable, "-c", INSTRUMENTED, configure],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )
    assert run.returncode == 0, run.stderr
    (written,) = tmp_path.glob("spans-*.jsonl")
    assert written.name != "spans-{pid}.jsonl"
    out = io.StringIO()
    assert main(["check", str(written), "--json"], out=out) in (0, 1)  # `tracehound check`
    report = json.loads(out.getvalue())
    assert report["inputs"][0]["format"] == "otlp-json"
    assert report["spans"]["read"] == report["spans"]["analysed"] == 2
    assert report["services"] == ["orders"]
    if configure == "configure":  # behind the attribute policy, like every exporter
        assert "tok-4c9e1a7f3b2d8e60" not in written.read_text()


def test_the_path_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEHOUND_EXPORT_FILE", str(tmp_path))
    assert export_path() == str(tmp_path / f"spans-{os.getpid()}.jsonl")
    monkeypatch.delenv("TRACEHOUND_EXPORT_FILE")
    monkeypatch.chdir(tmp_path)
    exporter = OtlpJsonFileExporter()
    assert exporter.path == f"tracehound-spans-{os.getpid()}.jsonl"
    exporter.shutdown()
    monkeypatch.setenv("TRACEHOUND_EXPORT_FILE", str(tmp_path / "missing" / "spans.jsonl"))
    with pytest.raises(OSError, match="TRACEHOUND_EXPORT_FILE: cannot write spans to "):
        OtlpJsonFileExporter()
