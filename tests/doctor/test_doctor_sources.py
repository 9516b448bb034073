"""Reading every format, as real tools write it, into one normalised span table."""

from __future__ import annotations

import gzip
import io
import shutil
import sys
from pathlib import Path

import pytest
from doctor_data import DATA, SAMPLES, corpus

from tracehound.doctor import load
from tracehound.doctor._synthetic_writers import (
    to_jaeger,
    to_otlp_json_lines,
    to_otlp_proto,
    to_zipkin,
)
from tracehound.doctor.synthetic import NONE, generate

COLUMNS = "TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Duration"


def rows(paths: list[str], **kwargs: object) -> tuple[list[tuple], object]:
    store, report = load(paths, **kwargs)  # type: ignore[arg-type]
    try:
        return store.query(f"SELECT {COLUMNS} FROM otel_traces ORDER BY SpanId, SpanKind"), report
    finally:
        store.close()


@pytest.mark.parametrize(
    ("name", "fmt", "spans"),
    [
        ("opentelemetry-proto/trace.json", "otlp-json", 1),
        ("jaeger/otel_traces_01.json", "otlp-json", 1),
        ("jaeger/trace_success.json", "jaeger", 2),
        ("jaeger-ui/otlp2jaeger-in.json", "otlp-json", 2),
        ("jaeger-ui/otlp2jaeger-out.json", "jaeger", 2),
        ("zipkin/ascend.json", "zipkin", 8),
        ("zipkin/messaging2.json", "zipkin", 11),
        ("zipkin/skew.json", "zipkin", 4),
    ],
)
def test_corpora_are_detected_and_read(name: str, fmt: str, spans: int) -> None:
    _, report = rows([corpus(name)])
    assert report.inputs[0].format == fmt
    assert (report.spans_read, report.spans_analysed, report.spans_rejected) == (spans, spans, 0)
    assert report.errors == []


def test_ids_are_lowercase_hex_and_padded() -> None:
    (row,), _ = rows([corpus("opentelemetry-proto/trace.json")])
    assert row[:3] == ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7ec3c1b173")
    jaeger, _ = rows([corpus("jaeger/trace_success.json")])
    assert {r[0] for r in jaeger} == {"00000000000000002be38093ead7a083"}


def test_otlp_and_its_jaeger_conversion_give_the_same_spans() -> None:
    otlp, _ = rows([corpus("jaeger-ui/otlp2jaeger-in.json")])
    jaeger, _ = rows([corpus("jaeger-ui/otlp2jaeger-out.json")])
    assert otlp == jaeger


def test_every_writer_format_gives_the_same_table(tmp_path: Path) -> None:
    spans = generate(20, seed=3, faults=NONE).spans
    files = {
        "a.jsonl": b"".join(to_otlp_json_lines(spans, per_line=50)),
        "b.jsonl": b"".join(to_otlp_json_lines(spans, per_line=50, base64_ids=True)),
        "c.pb": to_otlp_proto(spans),
        "d.json": to_jaeger(spans),
        "e.json": to_zipkin(spans, shared=False),
    }
    tables = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        table, report = rows([str(tmp_path / name)])
        assert report.errors == [], name
        tables.append([(*r[:6], r[6] // 1000) for r in table])  # Jaeger/Zipkin keep µs
    assert all(t == tables[0] for t in tables[1:])
    assert len(tables[0]) == len(spans)


def test_gzip_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = Path(corpus("zipkin/ascend.json")).read_bytes()
    (tmp_path / "ascend.json.gz").write_bytes(gzip.compress(data))
    plain, _ = rows([corpus("zipkin/ascend.json")])
    zipped, _ = rows([str(tmp_path / "ascend.json.gz")])
    assert zipped == plain
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(data))))
    piped, report = rows(["-"])
    assert piped == plain
    assert report.inputs[0].source == "<stdin>"


def test_directories_globs_and_forced_format(tmp_path: Path) -> None:
    for sample in SAMPLES:
        shutil.copy(sample, tmp_path)
    _, report = rows([str(tmp_path)])
    assert {i.format for i in report.inputs} == {"jaeger", "otlp-json", "zipkin"}
    _, globbed = rows([str(DATA / "*.json")])
    assert len(globbed.inputs) == 2
    _, forced = rows([corpus("zipkin/skew.json")], source_format="zipkin")
    assert forced.spans_analysed == 4
    _, wrong = rows([corpus("zipkin/skew.json")], source_format="otlp-json")
    assert wrong.spans_read == 0
    assert "expected an OTLP" in str(wrong.errors[0])


def test_provenance_points_into_the_input() -> None:
    store, _ = load([str(DATA / "collector.otlp.jsonl")])
    try:
        offsets = [r[0] for r in store.query('SELECT "Offset" FROM otel_traces ORDER BY 1')]
    finally:
        store.close()
    assert offsets[0] == "1:resourceSpans[0].scopeSpans[0].spans[0]"
    assert offsets[-1] == "2:resourceSpans[0].scopeSpans[0].spans[1]"


def test_missing_end_is_kept_missing_and_db_file_is_kept(tmp_path: Path) -> None:
    db = tmp_path / "spans.duckdb"
    store, _ = load([str(DATA / "collector.otlp.jsonl")], db=db)
    store.close()
    import duckdb

    con = duckdb.connect(str(db))
    try:
        found = con.execute(
            "SELECT Duration FROM otel_traces WHERE SpanName = 'cache lookup'"
        ).fetchone()
    finally:
        con.close()
    assert found == (None,)


@pytest.mark.parametrize(
    "data",
    [b"", b"a\nb\n", b"abc\ndefghijklmnopqrstuv\nq", b"0123456789\n", b"\n\n\nx", b"x" * 50],
)
def test_line_blocks_hold_whole_lines_and_lose_nothing(data: bytes) -> None:
    """Blocks end at a newline (a line longer than a block makes the block grow)."""
    from tracehound.doctor.sources._lines import line_blocks

    stream = io.BytesIO(data)
    blocks = [bytes(buffer[:size]) for buffer, size in line_blocks(stream, b"", 8, 1 << 20)]
    assert b"".join(blocks) == data
    assert all(block.endswith(b"\n") for block in blocks[:-1])
    assert all(block for block in blocks)


def test_the_last_line_without_a_newline_is_read(tmp_path: Path) -> None:
    spans = generate(40, seed=2).spans
    lines = list(to_otlp_json_lines(spans, per_line=10))
    path = tmp_path / "input.otlp.jsonl"
    path.write_bytes(b"".join(lines).rstrip(b"\n"))
    store, report = load([str(path)])
    try:
        last = store.scalar("""SELECT max(split_part("Offset", ':', 1)::INT) FROM otel_traces""")
    finally:
        store.close()
    assert report.spans_read == report.spans_analysed == len(spans)
    assert last == len(lines)
