"""What fuzzing found in the readers, each fixed at its root: no traceback, every span counted."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest
from doctor_data import corpus

from tracehound.doctor import Report, check_paths, load
from tracehound.doctor import sources as sources_module
from tracehound.doctor._synthetic_writers import to_otlp_json_lines, to_otlp_proto
from tracehound.doctor.store import Store
from tracehound.doctor.synthetic import NONE, generate

REAL = Path(__file__).resolve().parent / "real"
INVALID_KIND = "invalid span kind (read as UNSPECIFIED)"


def accounted(report: Report) -> None:
    assert report.spans_read == report.spans_analysed + report.spans_merged + report.spans_rejected


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def lines(n: int = 3) -> list[bytes]:
    spans = generate(6, seed=5, faults=NONE).spans
    return list(to_otlp_json_lines(spans, per_line=len(spans) // n + 1))


def test_a_bad_first_line_loses_only_itself(tmp_path: Path) -> None:
    good = lines()
    whole = check_paths([write(tmp_path / "ok.jsonl", b"".join(good))])
    for bad in (b'{"resourceSpans": [}\n', good[0][:40] + b"\n", b"{\n"):
        report = check_paths([write(tmp_path / "bad.jsonl", bad + b"".join(good[1:]))])
        accounted(report)
        assert [e.position.split(":")[0] for e in report.errors if e.position] == ["1"], bad
        assert report.inputs[0].format == "otlp-json"
        kept = whole.spans_analysed - good[0].count(b'"spanId"')
        assert report.spans_analysed >= kept, bad


@pytest.mark.parametrize("bad_lines", [2, 3])
def test_several_bad_first_lines_lose_only_themselves(tmp_path: Path, bad_lines: int) -> None:
    """Was: line 2 bad too made the file one document, and every later line was lost
    without a word (exit 2 when the cut lines kept nothing)."""
    good = lines(6)
    whole = check_paths([write(tmp_path / "ok.jsonl", b"".join(good))])
    cut = [line[:60] + b"\n" for line in good[:bad_lines]]
    report = check_paths([write(tmp_path / "bad.jsonl", b"".join(cut + good[bad_lines:]))])
    accounted(report)
    lost = sum(line.count(b'"spanId"') for line in good[:bad_lines])
    assert report.spans_analysed == whole.spans_analysed - lost > 0
    assert [e.position.split(":")[0] for e in report.errors if e.position] == [
        str(n) for n in range(1, bad_lines + 1)
    ]


def test_json_lines_that_are_all_broken_are_each_named(tmp_path: Path) -> None:
    """Was: no line a trace export alone, the file was read as one document and only
    its first fault named.  A document written over lines still gets one error."""
    good = lines(4)
    broken = [line.replace(b'"spanId":', b'"spanId";', 1) for line in good]
    report = check_paths([write(tmp_path / "bad.jsonl", b"".join(broken))])
    accounted(report)
    assert [e.position.split(":")[0] for e in report.errors if e.position] == ["1", "2", "3", "4"]
    document = json.dumps(json.loads(good[0]), indent=2).replace('"spanId":', '"spanId";', 1)
    report = check_paths([write(tmp_path / "pretty.json", document.encode())])
    accounted(report)
    at = document[: document.index('"spanId";')].count("\n") + 1
    assert [e.position.split(":")[0] for e in report.errors if e.position] == [str(at)]


def test_line_one_and_later_lines_are_read_alike(tmp_path: Path) -> None:
    good = lines()
    odd = good[0].rstrip() + b" trailing words\n"  # a whole request, then stray bytes
    first = check_paths([write(tmp_path / "first.jsonl", odd + good[1])])
    later = check_paths([write(tmp_path / "later.jsonl", good[1] + odd)])
    assert first.spans_analysed == later.spans_analysed == whole_spans(good[:2])
    assert [e.message for e in first.errors] == [e.message for e in later.errors]


def whole_spans(chunk: list[bytes]) -> int:
    return sum(line.count(b'"spanId"') for line in chunk)


def test_stray_bytes_after_a_document_lose_no_span(tmp_path: Path) -> None:
    data = Path(corpus("zipkin/messaging2.json")).read_bytes()
    last_line = data.count(b"\n") + 1
    for tail in (b"\nGARBAGE", b"]", b"\x00\x00", b'{"half": '):
        report = check_paths([write(tmp_path / "tail.json", data + tail)])
        accounted(report)
        assert report.spans_analysed == 11, tail
        (error,) = report.errors
        assert error.position is not None, tail
        assert int(error.position.split(":")[0]) >= last_line, tail  # where the bytes are


def test_invalid_utf8_loses_nothing_else(tmp_path: Path) -> None:
    data = Path(corpus("zipkin/ascend.json")).read_bytes()
    at = data.index(b'"name"') + 9
    report = check_paths([write(tmp_path / "latin1.json", data[:at] + b"\xe9" + data[at:])])
    accounted(report)
    assert report.spans_analysed == 8
    (error,) = report.errors
    assert "invalid UTF-8" in error.message


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_byte_order_marks_and_utf16(tmp_path: Path, encoding: str) -> None:
    text = Path(corpus("zipkin/skew.json")).read_text()
    report = check_paths([write(tmp_path / "w.json", text.encode(encoding))])
    assert (report.spans_analysed, report.errors) == (4, [])
    jsonl = b"".join(lines()).decode()
    report = check_paths([write(tmp_path / "w.jsonl", jsonl.encode(encoding))])
    assert report.errors == [] and report.spans_analysed == whole_spans(lines())


def test_huge_and_float_microsecond_times(tmp_path: Path) -> None:
    spans = json.loads(Path(corpus("zipkin/skew.json")).read_text())
    spans[0]["timestamp"] = 10**40
    spans[1]["timestamp"] = 1.5e300
    spans[2]["duration"] = float("1e30")
    spans[3]["timestamp"] = 1571896375322000.5
    path = write(tmp_path / "times.json", json.dumps(spans).encode())
    report = check_paths([path])
    accounted(report)
    assert (report.spans_read, report.spans_analysed) == (4, 4)
    assert {n.reason for n in report.normalised} == {
        "implausible start time (outside 1990-2200; kept as written)"
    }
    jaeger = json.loads(Path(corpus("jaeger/trace_success.json")).read_text())
    jaeger[0]["startTime"] = "9" * 5000  # more digits than Python reads as an int
    jaeger[1]["duration"] = -1e308
    report = check_paths([write(tmp_path / "j.json", json.dumps(jaeger).encode())])
    accounted(report)
    assert report.spans_analysed == 2


def test_arrays_and_objects_where_strings_belong(tmp_path: Path) -> None:
    jaeger = json.loads(Path(corpus("jaeger-ui/otlp2jaeger-out.json")).read_text())
    for span in jaeger["data"][0]["spans"]:
        span["processID"] = ["p1"]
    report = check_paths([write(tmp_path / "j.json", json.dumps(jaeger).encode())])
    accounted(report)
    assert report.spans_analysed == 2
    otlp = json.loads(Path(corpus("opentelemetry-proto/trace.json")).read_text())
    otlp["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"] = {"not": ["a", "name"]}
    for name, data in (
        ("o.json", json.dumps(otlp, indent=1).encode()),
        ("o.jsonl", orjson.dumps(otlp) + b"\n"),
    ):
        report = check_paths([write(tmp_path / name, data)])
        assert (report.spans_analysed, report.errors) == (1, []), name


def _nested(depth: int) -> object:
    value: object = "deep"
    for _ in range(depth):
        value = [value]
    return value


def _nested_any_value(depth: int) -> dict:
    value: dict = {"stringValue": "deep"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return value


@pytest.mark.parametrize("depth", [300, 900])
def test_json_nested_hundreds_of_levels(tmp_path: Path, depth: int) -> None:
    zipkin = json.loads(Path(corpus("zipkin/skew.json")).read_text())
    zipkin[0]["tags"] = {"deep": _nested(depth)}
    jaeger = json.loads(Path(corpus("jaeger/trace_success.json")).read_text())
    jaeger[0]["tags"].append({"key": "deep", "type": "string", "value": _nested(depth)})
    otlp = json.loads(Path(corpus("opentelemetry-proto/trace.json")).read_text())
    span = otlp["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"].append({"key": "deep", "value": _nested_any_value(depth // 3)})
    line = json.dumps(otlp).encode() + b"\n"
    for name, data in (
        ("z.json", json.dumps(zipkin).encode()),
        ("j.json", json.dumps(jaeger).encode()),
        ("o.json", json.dumps(otlp).encode()),
        ("o.jsonl", b"".join(lines()) + line),
    ):
        report = check_paths([write(tmp_path / name, data)])
        accounted(report)
        assert report.spans_analysed > 0, name


def test_otlp_containers_of_the_wrong_type_are_named(tmp_path: Path) -> None:
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"}
    docs = {
        "resourceSpans": {"resourceSpans": {"scopeSpans": []}},
        "scopeSpans": {"resourceSpans": [{"scopeSpans": {"spans": [span]}}]},
        "spans": {"resourceSpans": [{"scopeSpans": [{"spans": span}]}]},
    }
    for name, doc in docs.items():
        for suffix, data in ((".json", json.dumps(doc, indent=1)), (".jsonl", json.dumps(doc))):
            report = check_paths([write(tmp_path / f"{name}{suffix}", data.encode())])
            messages = [f"{e.position}: {e.message}" for e in report.errors]
            assert any(name in m and "not a list" in m for m in messages), (name, messages)


def _proto(tmp_path: Path) -> tuple[bytes, int]:
    spans = generate(4, seed=2, faults=NONE).spans
    return to_otlp_proto(spans), len(spans)


def test_truncated_protobuf_keeps_the_spans_before_the_cut(tmp_path: Path) -> None:
    data, total = _proto(tmp_path)
    for cut in (len(data) - 7, len(data) * 2 // 3, len(data) // 3):
        report = check_paths([write(tmp_path / "cut.pb", data[:cut])])
        accounted(report)
        assert report.inputs[0].format == "otlp-proto", cut
        assert 0 < report.spans_analysed < total, cut
        assert report.spans_read <= total  # the spans after the cut are gone, not miscounted
        assert [r.reason for r in report.rejections] == ["span cut off or corrupt (protobuf)"]
        assert any("cut off or corrupt" in e.message for e in report.errors), cut


def test_framed_protobuf_stream_cut_or_corrupt(tmp_path: Path) -> None:
    data, total = _proto(tmp_path)
    framed = b"".join(len(m).to_bytes(4, "big") + m for m in (data, data, data))
    cut = check_paths([write(tmp_path / "s.pb", framed[: len(framed) - 10])])
    accounted(cut)
    assert cut.spans_analysed >= 2 * total
    assert any("cut off in message 2" in e.message for e in cut.errors)
    middle = len(data) + 4 + len(data) // 2
    corrupt = framed[:middle] + b"\xff\xff\xff" + framed[middle + 3 :]
    report = check_paths([write(tmp_path / "c.pb", corrupt)])
    accounted(report)
    assert report.spans_analysed >= 2 * total  # the other two messages whole
    assert any("message 1 is corrupt" in e.message for e in report.errors)


def test_inputs_over_the_size_limit_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources_module, "MAX_DOCUMENT", 1 << 20)
    monkeypatch.setattr(sources_module, "LINES_BLOCK", 64 << 10)
    bomb = tmp_path / "bomb.json.gz"
    with gzip.open(bomb, "wb") as out:
        out.write(b"[" + b" " * (8 << 20) + b"]")
    report = check_paths([str(bomb)])
    (error,) = report.errors
    assert "larger than 1 MB" in error.message
    long_line = b'{"resourceSpans": [], "pad": "' + b"x" * (2 << 20) + b'"}\n'
    report = check_paths([write(tmp_path / "long.jsonl", b"".join(lines()) + long_line)])
    accounted(report)
    assert report.spans_analysed == whole_spans(lines())  # the lines before it count
    assert any("larger than 1 MB" in e.message for e in report.errors)


def test_endless_zero_bytes_are_no_trace_export() -> None:
    report = check_paths(["/dev/zero"])
    (error,) = report.errors
    assert "not a trace export" in error.message


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (
            "otlp.json",
            {
                "resourceSpans": [
                    {
                        "scopeSpans": [
                            {
                                "spans": [
                                    {
                                        "traceId": "5b8efff798038103d269b633813fc60c",
                                        "spanId": "eee19b7ec3c1b174",
                                        "name": "x",
                                        "kind": "SPAN_KIND_BOGUS",
                                        "startTimeUnixNano": "1767225600000000000",
                                    },
                                    {
                                        "traceId": "5b8efff798038103d269b633813fc60c",
                                        "spanId": "eee19b7ec3c1b175",
                                        "name": "y",
                                        "kind": 9,
                                        "startTimeUnixNano": "1767225600000000000",
                                    },
                                ]
                            }
                        ]
                    }
                ]
            },
        ),
        (
            "zipkin.json",
            [
                {
                    "traceId": "5af7183fb1d4cf5f",
                    "id": "5af7183fb1d4cf5f",
                    "kind": "WEIRD",
                    "name": "x",
                    "timestamp": 1767225600000000,
                    "duration": 5,
                },
                {
                    "traceId": "5af7183fb1d4cf5f",
                    "id": "5af7183fb1d4cf60",
                    "kind": "RPC",
                    "name": "y",
                    "timestamp": 1767225600000000,
                    "duration": 5,
                },
            ],
        ),
        (
            "jaeger.json",
            [
                {
                    "traceID": "5af7183fb1d4cf5f",
                    "spanID": "5af7183fb1d4cf5f",
                    "operationName": "x",
                    "startTime": 1767225600000000,
                    "duration": 5,
                    "tags": [{"key": "span.kind", "type": "string", "value": "bogus"}],
                },
                {
                    "traceID": "5af7183fb1d4cf5f",
                    "spanID": "5af7183fb1d4cf60",
                    "operationName": "y",
                    "startTime": 1767225600000000,
                    "duration": 5,
                    "tags": [{"key": "span.kind", "type": "string", "value": "[]"}],
                },
            ],
        ),
    ],
)
def test_an_invalid_span_kind_is_named(tmp_path: Path, name: str, data: object) -> None:
    report = check_paths([write(tmp_path / name, json.dumps(data).encode())])
    assert (report.spans_read, report.spans_analysed) == (2, 2)
    assert [(n.reason, n.count) for n in report.normalised] == [(INVALID_KIND, 2)]
    store, _ = load([str(tmp_path / name)])
    try:
        assert store.query("SELECT DISTINCT SpanKind FROM otel_traces") == [("Unspecified",)]
    finally:
        store.close()


def test_a_resource_nested_deeper_than_orjson_writes_is_kept_with_a_note() -> None:
    """Hypothesis found it (a mutated real input): a resource attribute nested deeper than
    orjson writes made the load raise; its deep part is now kept as a note."""
    value: dict[str, object] = {"stringValue": "x"}
    for _ in range(100):  # 400 JSON levels: read by orjson (1,024), not written (254)
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    store = Store()
    try:
        first = store.scope("shop", [{"key": "deep", "value": value}], None, None)
        assert store.scope("shop", [{"key": "deep", "value": value}], None, None) == first
        resource = orjson.loads(store._new_scopes[0][2])
        assert resource[0]["key"] == "deep"
        assert "(nested more than 64 levels)" in store._new_scopes[0][2]
    finally:
        store.close()
