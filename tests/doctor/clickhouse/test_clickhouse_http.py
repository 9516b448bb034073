"""The ``clickhouse://`` path (clickhouse-connect over HTTP) runs the same SQL as
``chdb:``: loaded and checked through a ClickHouse HTTP interface on loopback, the
spans give the file run's structural findings and edges."""

from __future__ import annotations

from pathlib import Path

from tracehound.doctor import check_paths
from tracehound.doctor.clickhouse import check_clickhouse, load_clickhouse

DATA = Path(__file__).resolve().parents[1] / "data"


def test_load_and_check_over_http(chdb_http: tuple[str, Path]) -> None:
    url, _ = chdb_http
    paths = [str(DATA / "checkout-broken.jaeger.json"), str(DATA / "collector.otlp.jsonl")]
    loaded = load_clickhouse(paths, url)
    assert loaded.spans_analysed == 8
    found = check_clickhouse(url)
    from_files = check_paths(paths)
    assert found.spans_analysed == from_files.spans_analysed
    assert found.inputs[0].source.startswith("clickhouse http://127.0.0.1:")

    def key(report):
        return sorted((f.code, f.trace_id, f.span_id) for f in report.findings if f.code[0] in "CL")

    assert key(found) == key(from_files)
    assert key(found)
    assert [e.to_dict() for e in found.edges] == [e.to_dict() for e in from_files.edges]
