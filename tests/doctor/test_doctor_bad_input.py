"""Bad input is data: an error naming file and position, the rest analysed, every span counted."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from doctor_data import corpus

from tracehound.cli import main
from tracehound.doctor import Report, check_paths
from tracehound.doctor._synthetic_writers import to_otlp_json_lines
from tracehound.doctor.synthetic import generate


def accounted(report: Report) -> None:
    assert report.spans_read == report.spans_analysed + report.spans_merged + report.spans_rejected


def otlp_lines(n: int = 3) -> list[bytes]:
    spans = generate(6, seed=5).spans
    return list(to_otlp_json_lines(spans, per_line=len(spans) // n + 1))


def test_truncated_last_line_keeps_its_complete_spans(tmp_path: Path) -> None:
    lines = otlp_lines()
    whole = check_paths([_write(tmp_path / "ok.jsonl", b"".join(lines))])
    cut = lines[-1][: len(lines[-1]) // 2]
    path = _write(tmp_path / "cut.jsonl", b"".join(lines[:-1]) + cut)
    report = check_paths([path])
    accounted(report)
    (error,) = report.errors
    assert error.source == path
    assert error.position is not None and error.position.startswith(f"{len(lines)}:")
    assert "invalid JSON" in error.message
    assert whole.spans_analysed > report.spans_analysed > 0
    assert any("cut off" in r.reason for r in report.rejections)


def test_truncated_document_keeps_the_spans_before_the_cut(tmp_path: Path) -> None:
    data = Path(corpus("zipkin/messaging2.json")).read_bytes()
    path = _write(tmp_path / "trunc.json", data[: len(data) * 2 // 3])
    report = check_paths([path])
    accounted(report)
    assert report.errors[0].source == path
    assert ":" in (report.errors[0].position or "")
    assert 0 < report.spans_analysed < 11


def test_malformed_line_in_the_middle(tmp_path: Path) -> None:
    lines = otlp_lines()
    path = _write(tmp_path / "mid.jsonl", lines[0] + b'{"resourceSpans": [}\n' + lines[1])
    report = check_paths([path])
    accounted(report)
    assert [e.position.split(":")[0] for e in report.errors if e.position] == ["2"]
    assert report.spans_analysed > 0


def test_wrong_format_and_mixed_directory(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "notes.json").write_text('{"hello": "world"}')
    (folder / "zipkin.json").write_bytes(Path(corpus("zipkin/skew.json")).read_bytes())
    (folder / "otlp.jsonl.gz").write_bytes(gzip.compress(b"".join(otlp_lines())))
    (folder / "binary.pb").write_bytes(b"\x00\x01garbage\xff" * 10)
    (folder / "README.md").write_text("not read: not a trace file name")
    report = check_paths([str(folder)])
    accounted(report)
    assert {Path(i.source).name for i in report.inputs} == {
        "notes.json",
        "zipkin.json",
        "otlp.jsonl.gz",
        "binary.pb",
    }
    bad = {Path(e.source).name: e.message for e in report.errors}
    assert set(bad) == {"notes.json", "binary.pb"}
    assert all("not a trace export" in m for m in bad.values())
    assert report.spans_analysed > 4


def test_missing_ids_are_rejected_and_absurd_timestamps_kept_with_reasons(tmp_path: Path) -> None:
    good = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "ok",
        "kind": 2,
        "startTimeUnixNano": "1767225600000000000",
        "endTimeUnixNano": "1767225600001000000",
    }
    spans = [
        good,
        {**good, "traceId": None, "spanId": "00000000000000a1"},
        {**good, "spanId": ""},
        {**good, "spanId": "not-an-id!", "name": "bad id"},
        {**good, "spanId": "00000000000000a2", "startTimeUnixNano": "1767225600000000"},
        {**good, "spanId": "00000000000000a3", "startTimeUnixNano": "99999999999999999999999"},
        {**good, "spanId": "00000000000000a4", "endTimeUnixNano": "5"},
        "not a span",
    ]
    doc = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}
    path = _write(tmp_path / "bad.json", orjson.dumps(doc))
    report = check_paths([path])
    accounted(report)
    # a span that cannot be placed in a trace is rejected; one whose times are wrong
    # is kept (its structure is sound) and noted
    assert (report.spans_read, report.spans_analysed, report.spans_rejected) == (8, 4, 4)
    reasons = {r.reason: r.example for r in report.rejections}
    assert "missing trace ID" in reasons
    assert "missing span ID" in reasons
    assert any(r.startswith("span ID is neither hex") for r in reasons)
    assert "span is not a JSON object" in reasons
    assert reasons["missing trace ID"] == f"{path}:1:resourceSpans[0].scopeSpans[0].spans[1]"
    notes = {r.reason: r.count for r in report.normalised}
    assert notes == {
        "implausible start time (outside 1990-2200; kept as written)": 2,
        "implausible end time (outside 1990-2200; kept as written)": 1,
    }
    assert len([f for f in report.findings if f.code == "L011"]) == 2


def test_unreadable_inputs_never_raise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = _write(tmp_path / "empty.json", b"")
    status = main(["check", empty, str(tmp_path / "nope.json"), str(tmp_path / "*.none")])
    out, err = capsys.readouterr()
    assert status == 2
    assert "empty input" in err and "no such file" in err and "no file matches" in err
    assert "Traceback" not in out + err


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)
