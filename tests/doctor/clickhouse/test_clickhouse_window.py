"""--clickhouse with a time window: only traces entirely inside it are checked, the ones
crossing its edge are counted and never reported (the exporter's trace-ID lookup table
says a trace's extent; without it, the span table does)."""

from __future__ import annotations

import datetime
from collections import defaultdict

import pytest

from tracehound.doctor import Report, check_paths
from tracehound.doctor._synthetic_writers import to_otlp_json_lines
from tracehound.doctor.clickhouse import check_clickhouse, load_clickhouse
from tracehound.doctor.clickhouse._connect import connect, parse_target
from tracehound.doctor.synthetic import BASE_NS, generate

TRACE_LOCAL = {"C001", "C002", "L004", "L005", "L006"}
"""Rules whose findings depend on their own trace alone."""
START = datetime.datetime.fromtimestamp(BASE_NS // 10**9, datetime.timezone.utc)
END = START + datetime.timedelta(seconds=1)


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, Report, dict[str, tuple[bool, bool]]]:
    """Generated traffic (about 1.3 s of it, some spans before BASE_NS: clock skew) in
    chDB; the file run; and, per trace, whether all of it and whether any of it starts
    in [START, END)."""
    traffic = generate(300, seed=11)
    where = tmp_path_factory.mktemp("window")
    path = where / "traffic.otlp.jsonl"
    path.write_bytes(b"".join(to_otlp_json_lines(traffic.spans)))
    target = f"chdb:{where / 'chdb'}"
    load_clickhouse([str(path)], target)
    starts: dict[str, list[int]] = defaultdict(list)
    for span in traffic.spans:
        starts[span.trace_id].append(span.start_ns)
    lo, hi = BASE_NS, BASE_NS + 10**9
    inside = {
        t: (lo <= min(s) and max(s) < hi, any(lo <= x < hi for x in s)) for t, s in starts.items()
    }
    return target, check_paths([str(path)]), inside


def local_findings(report: Report, traces: set[str] | None = None) -> set[tuple[str, str, str]]:
    return {
        (f.code, f.trace_id or "", f.span_id or "")
        for f in report.findings
        if f.code in TRACE_LOCAL and (traces is None or f.trace_id in traces)
    }


def test_window_checks_the_traces_inside_and_counts_the_ones_crossing(loaded) -> None:
    target, from_files, inside = loaded
    found = check_clickhouse(target, start=START, end=END, local=False)
    kept = {t for t, (whole, _) in inside.items() if whole}
    crossing = sum(1 for whole, part in inside.values() if part and not whole)
    assert 0 < crossing < len(inside)  # the window does cut through the traffic
    assert found.traces == len(kept)
    expected = local_findings(from_files, kept)
    assert expected  # faults inside the window
    assert local_findings(found) == expected
    assert not {f.trace_id for f in found.findings} - kept  # nothing crossing is reported
    assert any(f"{crossing} traces crossing its edge were left out" in n for n in found.notes)


def test_without_the_lookup_table_the_spans_tell_each_trace_extent(loaded, tmp_path) -> None:
    target, from_files, inside = loaded
    conn = connect(parse_target(target))
    try:  # a copy of the span table alone, as a table created without the exporter's DDL
        conn.execute("CREATE TABLE bare AS otel_traces")
        conn.execute("INSERT INTO bare SELECT * FROM otel_traces")
    finally:
        conn.close()
    found = check_clickhouse(target, table="bare", start=START, end=END, local=False)
    kept = {t for t, (whole, _) in inside.items() if whole}
    assert local_findings(found) == local_findings(from_files, kept)
    assert any("no trace-ID lookup table" in n for n in found.notes)


def test_a_window_before_any_span_checks_nothing(loaded) -> None:
    target, _, _ = loaded
    found = check_clickhouse(
        target, start=START - datetime.timedelta(days=2), end=START - datetime.timedelta(days=1)
    )
    assert found.spans_analysed == 0
    assert not found.findings
    assert not found.analysed_anything
