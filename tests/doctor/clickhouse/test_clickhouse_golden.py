"""The same spans, checked from files and inside ClickHouse (chDB, the exporter's own
tables), give the same structural findings (C001-C004, L004-L006) with the same causes
and C003 details, and the same edges."""

from __future__ import annotations

from pathlib import Path

import pytest
from doctor_data import SECOND, T0, minute_of_traffic, otlp_span, write_otlp

from tracehound.doctor import Report, check_paths
from tracehound.doctor.clickhouse import check_clickhouse, load_clickhouse
from tracehound.doctor.clickhouse._connect import connect, parse_target

TESTS = Path(__file__).resolve().parents[1]
REAL = TESTS / "real"
DATA = TESTS / "data"
STRUCTURAL = {"C001", "C002", "C003", "C004", "L004", "L005", "L006"}


# what C001/C002 name as their cause and C003 as its callee, match and confidence (the
# callee's location is its file and position there, or its table and time)
COMPARED = ("cause", "cause_evidence", "callee", "callee_span_id", "confidence", "matched_by",
            "gap_ns")  # fmt: skip


def structural(report: Report) -> set[tuple[object, ...]]:
    return {
        (
            f.code,
            f.trace_id,
            f.span_id,
            f.details.get("callee_trace_id"),
            *(f.details.get(k) for k in COMPARED),
        )
        for f in report.findings
        if f.code in STRUCTURAL
    }


def edges(report: Report) -> list[dict[str, object]]:
    return [e.to_dict() for e in report.edges]


def in_chdb(paths: list[str], where: Path, *, old_spelling: bool = False) -> Report:
    target = f"chdb:{where / 'chdb'}"
    load_clickhouse(paths, target, old_spelling=old_spelling)
    return check_clickhouse(target)


def test_generated_traffic(traffic_file: Path, traffic_report: Report, tmp_path: Path) -> None:
    found = in_chdb([str(traffic_file)], tmp_path)
    expected = structural(traffic_report)
    assert {code for code, *_ in expected} == STRUCTURAL  # every fault is in the traffic
    assert structural(found) == expected
    assert edges(found) == edges(traffic_report)
    assert found.spans_analysed == traffic_report.spans_analysed
    assert found.traces == traffic_report.traces
    assert any("ran inside ClickHouse: C001 C002 C003" in note for note in found.notes)
    assert not [s for s in found.skipped if "C003" in s.family or "edges" in s.family]


REAL_SETS = {
    # stock OpenTelemetry instrumentation, every propagator pairing (OTLP protobuf)
    "realworld": sorted(str(p) for p in (DATA / "realworld").glob("*/traces")),
    # Jaeger's own exports, the OpenTelemetry SDKs' console exporters, the sample files
    "other exporters": [
        str(REAL / "jaeger"),
        str(REAL / "opentelemetry-go" / "stdouttrace-expected.out"),
        str(REAL / "opentelemetry-python" / "console-exporter.out"),
        str(REAL / "opentelemetry-python" / "django-example-console.out"),
        str(DATA / "checkout-broken.jaeger.json"),
        str(DATA / "collector.otlp.jsonl"),
    ],
}


@pytest.mark.parametrize("name", sorted(REAL_SETS))
def test_real_files(name: str, tmp_path: Path) -> None:
    paths = REAL_SETS[name]
    from_files = check_paths(paths)
    assert from_files.spans_analysed > 0
    # the older exporter's spelling (SPAN_KIND_SERVER, STATUS_CODE_ERROR) for the real apps
    found = in_chdb(paths, tmp_path, old_spelling=name == "realworld")
    assert found.spans_analysed == from_files.spans_analysed
    assert structural(found) == structural(from_files)
    assert edges(found) == edges(from_files)
    assert structural(from_files)
    assert any(e.broken for e in from_files.edges)


def test_a_table_that_is_not_a_merge_tree_is_pulled_for_the_attributes(tmp_path: Path) -> None:
    """A table whose rows have no part and offset (a Log copy here; a view, a
    Distributed table) cannot be read in place by row ID: the attribute and propagation
    families run on its window pulled into DuckDB, and the recorded headers reach the
    edges by span; the answers are those of the exporter's table.  Without pulling,
    those families are skipped, and say so."""
    paths = REAL_SETS["realworld"]
    target = f"chdb:{tmp_path / 'chdb'}"
    load_clickhouse(paths, target)
    conn = connect(parse_target(target))
    try:
        conn.execute("CREATE TABLE copy ENGINE = Log AS SELECT * FROM otel_traces")
    finally:
        conn.close()
    in_place = check_clickhouse(target)
    pulled = check_clickhouse(target, table="copy")
    assert any("pulled from ClickHouse" in n for n in pulled.notes)

    def everything(report: Report) -> set[tuple[object, ...]]:
        return {(f.code, f.service, f.message, f.details.get("spans")) for f in report.findings}

    assert everything(pulled) == everything(in_place)
    assert {f.code for f in pulled.findings} >= {"C003", "A006"}
    assert edges(pulled) == edges(in_place)
    assert pulled.waterfalls.keys() == in_place.waterfalls.keys()
    nothing_pulled = check_clickhouse(target, table="copy", local=False)
    reasons = {s.family: s.reason for s in nothing_pulled.skipped}
    assert "not a MergeTree" in reasons["attributes (A001-A007)"]
    # the same edges, without the formats the recorded headers name
    assert [(e.caller, e.callee, e.broken) for e in nothing_pulled.edges] == [
        (e.caller, e.callee, e.broken) for e in in_place.edges
    ]
    assert any(e.formats for e in in_place.edges)
    assert not any(e.formats for e in nothing_pulled.edges)


def test_zipkin_files_differ_only_by_durations_zipkin_leaves_unknown(tmp_path: Path) -> None:
    """Zipkin's timestamp and duration are "if known": L004 leaves a Zipkin span without
    one alone.  ClickHouse's rows do not say which format they came from, so there such
    a span is reported (has no end time); nothing else differs."""
    paths = [str(REAL / "zipkin"), str(DATA / "zipkin-duplicates.json")]
    from_files = check_paths(paths)
    found = in_chdb(paths, tmp_path)
    assert structural(from_files) <= structural(found)
    differ = {k[:3] for k in structural(found) - structural(from_files)}
    extra = [f for f in found.findings if (f.code, f.trace_id, f.span_id) in differ]
    assert extra
    assert all(f.code == "L004" and "no end time" in f.message for f in extra)
    assert edges(found) == edges(from_files)


@pytest.mark.parametrize("name", sorted(REAL_SETS))
def test_the_json_attribute_variant(name: str, tmp_path: Path) -> None:
    """The exporter's JSON-attribute table: the structural checks, C003 and the edges give
    the file run's answers (C003 reads its attributes as paths of the JSON columns); the
    attribute and propagation families are skipped, and say so."""
    paths = REAL_SETS[name]
    from_files = check_paths(paths)
    target = f"chdb:{tmp_path / 'chdb'}"
    load_clickhouse(paths, target, json=True, old_spelling=name == "realworld")
    found = check_clickhouse(target)
    assert structural(found) == structural(from_files)

    def counted(report: Report) -> list[tuple[object, ...]]:  # without the headers' evidence
        return sorted((e.caller, e.callee, e.calls, e.continued, e.broken) for e in report.edges)

    assert counted(found) == counted(from_files)
    assert any(e.broken for e in found.edges)
    reasons = {s.family: s.reason for s in found.skipped}
    assert "JSON attribute variant" in reasons["attributes (A001-A007)"]


def test_rows_whose_ids_cannot_be_placed_are_counted_as_rejected(tmp_path: Path) -> None:
    target = f"chdb:{tmp_path / 'chdb'}"
    loaded = load_clickhouse([str(DATA / "checkout-broken.jaeger.json")], target)
    conn = connect(parse_target(target))
    try:
        conn.execute(
            "INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ServiceName) VALUES "
            "(now64(9), '', 'aaaaaaaaaaaaaaaa', 'x'), (now64(9), 'XYZ', 'aaaaaaaaaaaaaaaa', 'x')"
        )
    finally:
        conn.close()
    found = check_clickhouse(target)
    assert found.spans_analysed == loaded.spans_analysed
    assert found.spans_read == found.spans_analysed + 2
    assert {(r.reason, r.count) for r in found.rejections} == {
        ("missing trace ID", 1),
        ("trace ID is not 32 lower-case hex digits", 1),
    }


def test_the_causes_of_missing_parents_are_the_same(tmp_path: Path) -> None:
    """A minute of requests, an orphan in its first second (its parent may have started
    before the input: outside-window) and one in its middle (undecided): the causes are
    worked out inside ClickHouse as from the file."""
    spans = minute_of_traffic()
    spans.append(otlp_span(900, 901, T0 + 1000, parent="00000000000003e7", kind=1))
    spans.append(otlp_span(902, 903, T0 + 30 * SECOND, parent="00000000000003e8", kind=1))
    path = write_otlp(tmp_path / "minute.json", spans)
    from_files = check_paths([path])
    found = in_chdb([path], tmp_path)

    def causes(report: Report) -> dict[str | None, tuple[object, ...]]:
        return {
            f.span_id: (f.details["cause"], f.details["cause_evidence"], f.message)
            for f in report.findings
            if f.code == "C001"
        }

    assert causes(found) == causes(from_files)
    assert {c for c, *_ in causes(found).values()} == {"outside-window", "undecided"}
