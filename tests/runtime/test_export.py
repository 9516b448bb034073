"""OtlpJsonFileExporter: OTLP/JSON lines with hex IDs, read back by the doctor."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import Link, SpanKind, StatusCode

from tracehound.doctor import load
from tracehound.runtime.export import OtlpJsonFileExporter


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
