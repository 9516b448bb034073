"""OTLP protobuf and the same requests in OTLP/JSON give the same span table.

The protobuf reader (`sources.otlp_proto`, the hot path of ``tracehound serve``)
is checked against the OTLP/JSON reader, an independent path into the table,
over real exports: every request re-encoded with protobuf's own JSON mapping
(``google.protobuf.json_format``), one request a line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from doctor_data import DATA
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehound.doctor import load
from tracehound.doctor._synthetic_writers import to_otlp_proto
from tracehound.doctor.synthetic import generate

# every column but where a span was read (a message index, or a line)
COLUMNS = """
    "Timestamp", TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes::VARCHAR, ScopeName, ScopeVersion, SpanAttributes::VARCHAR, Duration,
    StatusCode, StatusMessage, Events::VARCHAR, Links::VARCHAR
"""


def _table(paths: list[Path]) -> list[tuple]:
    store, report = load([str(p) for p in paths])
    try:
        assert report.errors == []
        return store.query(f"SELECT {COLUMNS} FROM otel_traces ORDER BY ALL")
    finally:
        store.close()


def _messages(data: bytes) -> list[ExportTraceServiceRequest]:
    """The requests of a length-prefixed stream (the Collector's file exporter)."""
    found, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        found.append(ExportTraceServiceRequest.FromString(data[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return found


def _as_json(messages: list[ExportTraceServiceRequest], path: Path) -> Path:
    text = "".join(json_format.MessageToJson(m, indent=None) + "\n" for m in messages)
    path.write_text(text)
    return path


REAL = sorted((DATA / "realworld").rglob("*.otlp.pb"))


def test_real_exports_read_the_same_from_protobuf_and_json(tmp_path: Path) -> None:
    if not REAL:
        pytest.skip("no real protobuf exports in tests/doctor/data/realworld")
    lines = [
        _as_json(_messages(path.read_bytes()), tmp_path / f"{n}.jsonl")
        for n, path in enumerate(REAL)
    ]
    table = _table(REAL)
    assert table == _table(lines)
    assert len(table) > 500  # the snapshot's services together


def test_generated_traffic_with_every_fault_reads_the_same(tmp_path: Path) -> None:
    traffic = generate(300, seed=11).spans
    body = to_otlp_proto(traffic)
    proto = tmp_path / "generated.pb"
    proto.write_bytes(body)
    lines = _as_json([ExportTraceServiceRequest.FromString(body)], tmp_path / "generated.jsonl")
    table = _table([proto])
    assert table == _table([lines])
    assert len(table) == len(traffic)
