"""Real exporters' files, read as their users mean them (see real/SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from doctor_data import corpus

from tracehound.doctor import check_paths, load
from tracehound.doctor.report.html import render as render_html
from tracehound.doctor.sources._zipkin_merge import FRAGMENT

REAL = Path(__file__).resolve().parent / "real"

MISSING_START = "missing start time (kept; its times are unknown)"
IMPLAUSIBLE_START = "implausible start time (outside 1990-2200; kept as written)"


def real(name: str) -> str:
    return str(REAL / name)


def table(path: str, columns: str = "TraceId, SpanId, ParentSpanId, SpanName, SpanKind") -> list:
    store, _ = load([path])
    try:
        return store.query(f"SELECT {columns} FROM otel_traces ORDER BY SpanId, SpanKind, rowid")
    finally:
        store.close()


def test_jaeger_api_v3_answer_is_read_and_its_missing_times_named() -> None:
    report = check_paths([real("jaeger/api_v3_GetTrace.json")])
    assert [(i.format, i.spans) for i in report.inputs] == [("jaeger-api-v3", 1)]
    assert (report.spans_read, report.spans_analysed, report.errors) == (1, 1, [])
    assert [(n.reason, n.count) for n in report.normalised] == [(MISSING_START, 1)]
    assert table(real("jaeger/api_v3_GetTrace.json")) == [
        ("00000000000000000000000000000001", "0000000000000002", "", "foobar", "Server")
    ]


def test_jaeger_api_v3_span_in_year_2339_is_kept_and_reported_as_l011() -> None:
    report = check_paths([real("jaeger/api_v3_FindTraces_2024.json")])
    assert (report.spans_read, report.spans_analysed) == (1, 1)
    assert [(n.reason, n.count) for n in report.normalised] == [(IMPLAUSIBLE_START, 1)]
    (finding,) = [f for f in report.findings if f.code == "L011"]
    assert finding.span_id == "00000000000000b4"
    assert finding.location and finding.location.endswith("spans[0]")
    # its times are past what a timestamp holds, but both are known: a zero duration
    (row,) = table(real("jaeger/api_v3_FindTraces_2024.json"), '"Timestamp", Duration')
    assert row == (None, 0)


def test_an_end_past_2262_after_a_real_start_is_named_not_a_crash(tmp_path: Path) -> None:
    """Its start fits a timestamp and its end does not: start + duration overflowed the
    checks' 64-bit times (an internal error, exit 2)."""
    span = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "name": "x",
        "kind": 2,
        "startTimeUnixNano": "1767225600000000000",
        "endTimeUnixNano": "10" + "0" * 18,
    }
    request = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}
    path = tmp_path / "late-end.json"
    path.write_text(json.dumps(request))
    report = check_paths([str(path)])
    assert report.spans_analysed == 1 and report.errors == []
    assert [f.code for f in report.findings] == ["L011"]  # not L004: it did end


def test_grpc_gateway_stream_of_several_results(tmp_path: Path) -> None:
    compact = [
        orjson.dumps(json.loads(Path(real(f"jaeger/{name}")).read_text()))
        for name in ("api_v3_FindTraces_2024.json", "api_v3_GetTrace.json")
    ]
    stream = tmp_path / "search.json"
    stream.write_bytes(b"\n".join(compact) + b"\n")
    report = check_paths([str(stream)])
    assert [(i.format, i.spans) for i in report.inputs] == [("jaeger-api-v3", 2)]
    assert (report.spans_read, report.spans_analysed, report.errors) == (2, 2, [])
    # the same, pretty-printed one after the other (no newline-delimited lines)
    pretty = tmp_path / "pretty.json"
    pretty.write_bytes(
        b"".join(
            Path(real(f"jaeger/{n}")).read_bytes()
            for n in ("api_v3_FindTraces_2024.json", "api_v3_GetTrace.json")
        )
    )
    again = check_paths([str(pretty)])
    assert (again.spans_read, again.spans_analysed, again.errors) == (2, 2, [])


@pytest.mark.parametrize(("wrap", "label"), [("batches", "tempo"), ("trace", "tempo-v2")])
def test_tempo_trace_by_id_answers(tmp_path: Path, wrap: str, label: str) -> None:
    request = json.loads(Path(corpus("opentelemetry-proto/trace.json")).read_text())
    body = {"batches": request["resourceSpans"]} if wrap == "batches" else {"trace": request}
    path = tmp_path / "tempo.json"
    path.write_text(json.dumps(body, indent=2))
    report = check_paths([str(path)])
    assert [(i.format, i.spans) for i in report.inputs] == [(label, 1)]
    assert table(str(path)) == table(corpus("opentelemetry-proto/trace.json"))


def test_otel_console_exporter_output() -> None:
    path = real("opentelemetry-python/console-exporter.out")
    report = check_paths([path])
    assert [(i.format, i.spans) for i in report.inputs] == [("otel-console", 3)]
    assert (report.spans_read, report.spans_analysed, report.errors) == (3, 3, [])
    rows = table(path, "SpanName, SpanKind, ServiceName, ParentSpanId = '', Duration > 0, Events")
    by_name = {r[0]: r[1:] for r in rows}
    assert by_name["GET /checkout"][:3] == ("Server", "checkout", True)
    assert by_name["charge"][:4] == ("Client", "checkout", False, True)
    assert "retry" in by_name["charge"][4]
    assert by_name["render"][:3] == ("Internal", "checkout", False)
    # the children's parent is the root: one trace, no orphan
    assert report.traces == 1
    assert not [f for f in report.findings if f.code.startswith("C")]


def test_zipkin_spans_without_timestamp_are_kept(tmp_path: Path) -> None:
    spans = json.loads(Path(real("zipkin/yelp.json")).read_text())
    for span in spans[:3]:
        del span["timestamp"]  # reported late, or by the other side: legal in Zipkin v2
    path = tmp_path / "untimed.json"
    path.write_text(json.dumps(spans))
    report = check_paths([str(path)])
    assert report.inputs[0].format == "zipkin"
    assert (report.spans_read, report.spans_analysed, report.spans_rejected) == (16, 16, 0)
    assert [(n.reason, n.count) for n in report.normalised] == [(MISSING_START, 3)]
    assert report.errors == []


def test_zipkin_sideless_record_of_a_shared_server_is_merged_into_it() -> None:
    """SmartThings' Brave reports a shared SERVER's name and endpoint once more in a
    record with neither kind, shared flag nor times: part of that server, not a third
    span under the RPC's ID (was 84 L006, each "kinds Client, Internal, Server")."""
    path = real("zipkin/smartthings-mobile-web-install.json")
    store, report = load([path])
    try:
        rpc = store.query(
            """SELECT SpanKind, ServiceName, Shared, SpanName, "Offset" FROM otel_traces
               WHERE SpanId = 'a0dc23f22c4fee3f' ORDER BY SpanKind"""
        )
    finally:
        store.close()
    assert rpc == [
        ("Client", "strongman", False, "post /app-execute", "[56]"),
        ("Server", "platformapi", True, "post", "[55]"),
    ]
    assert (report.spans_read, report.spans_analysed, report.spans_merged) == (1041, 957, 84)
    assert report.rejections == []  # merged into their spans, not left out
    assert [(r.reason, r.count) for r in report.merged] == [(FRAGMENT, 84)]
    assert report.normalised == []  # every untimed record was such a part
    checked = check_paths([path])
    assert [f for f in checked.findings if f.code in ("L006", "C002")] == []
    assert not checked.has_input_errors  # a legal Zipkin export is no input problem
    assert checked.spans_text() == "1041 read = 957 analysed + 84 merged + 0 rejected"
    assert "84 records merged: each completes another record" in render_html(checked)


def test_zipkin_sideless_record_with_a_time_of_its_own_stays_a_span(tmp_path: Path) -> None:
    spans = json.loads(Path(real("zipkin/smartthings-mobile-web-install.json")).read_text())
    spans[0]["timestamp"] = spans[55]["timestamp"] + 1_000  # a local span reusing the ID
    path = tmp_path / "reused.json"
    path.write_text(json.dumps(spans))
    (dup,) = [f for f in check_paths([str(path)]).findings if f.code == "L006"]
    assert dup.span_id == "a0dc23f22c4fee3f" and "Internal" in dup.message


def test_zipkin_fan_out_servers_are_shared_spans_of_their_client() -> None:
    store, _ = load([real("zipkin/smartthings-mobile-web-install.json")])
    try:
        fan_out = store.query(
            """SELECT SpanKind, ServiceName, Shared FROM otel_traces
               WHERE SpanId = 'cbab506b53f336fc' ORDER BY SpanKind, rowid"""
        )
    finally:
        store.close()
    # one message, consumed by five hosts of 'pusher': five distinct shared SERVER spans
    assert fan_out == [("Client", "bouncer", False)] + [("Server", "pusher", True)] * 5


def test_zipkin_consumers_on_one_host_are_distinct_and_fragments_merged() -> None:
    store, report = load([real("zipkin/smartthings-oauth-authorization.json")])
    try:
        (servers,) = store.query(
            """SELECT count(*) FROM otel_traces
               WHERE SpanKind = 'Server' AND ServiceName = 'pusher' AND Shared"""
        )[0]
    finally:
        store.close()
    assert servers >= 5  # the Kafka consumers started at different times: not merged
    assert report.spans_read == 175


def test_zipkin_server_without_shared_flag_is_marked_shared(tmp_path: Path) -> None:
    spans = json.loads(Path(real("zipkin/yelp.json")).read_text())
    for span in spans:
        span.pop("shared", None)  # instrumentation that never writes the flag
    path = tmp_path / "unflagged.json"
    path.write_text(json.dumps(spans))
    rows = table(str(path), "SpanId, SpanKind, Shared")
    clients = {span_id for span_id, kind, _ in rows if kind == "Client"}
    answered = [(i, shared) for i, kind, shared in rows if kind == "Server" and i in clients]
    assert len(answered) == 3 and all(shared for _, shared in answered)
    assert not [f for f in check_paths([str(path)]).findings if f.code == "L006"]


def test_zipkin_record_completing_a_span_is_merged(tmp_path: Path) -> None:
    spans = json.loads(Path(real("zipkin/yelp.json")).read_text())
    server = next(s for s in spans if s["kind"] == "SERVER" and s["id"] == "f5f268651b2a2b34")
    late = {k: server[k] for k in ("traceId", "parentId", "id", "localEndpoint", "shared")}
    late["tags"] = {"late.tag": "arrived later"}  # the same span, reported again later
    path = tmp_path / "late.json"
    path.write_text(json.dumps([*spans, late]))
    store, report = load([str(path)])
    try:
        rows = store.query(
            "SELECT SpanAttributes FROM otel_traces WHERE SpanId = ? AND SpanKind = 'Server'",
            ["f5f268651b2a2b34"],
        )
    finally:
        store.close()
    assert len(rows) == 1 and "late.tag" in rows[0][0]
    assert (report.spans_read, report.spans_analysed, report.spans_merged) == (17, 16, 1)
    assert report.merged[0].reason == FRAGMENT and not report.rejections


def test_the_same_file_given_twice_is_read_once(tmp_path: Path) -> None:
    folder = tmp_path / "traces"
    folder.mkdir()
    copy = folder / "yelp.json"
    copy.write_bytes(Path(real("zipkin/yelp.json")).read_bytes())
    report = check_paths([str(copy), str(folder), str(copy)])
    assert report.spans_read == 16
    assert [(d.source, d.same_as) for d in report.duplicates] == [
        (str(copy), str(copy)),
        (str(copy), str(copy)),
    ]
    assert not [f for f in report.findings if f.code == "L006"]


def _snake(value: object) -> object:
    """A camelCase OTLP/JSON value with the proto's own field names, as protojson with
    ``OrigName`` (Tempo's and Grafana's older writers) spells them."""
    if isinstance(value, dict):
        return {
            "".join("_" + c.lower() if c.isupper() else c for c in k): _snake(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def test_otlp_with_the_protos_snake_case_names(tmp_path: Path) -> None:
    original = corpus("jaeger/otel_traces_01.json")
    snake = _snake(json.loads(Path(original).read_text()))
    columns = "TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, SpanAttributes"
    for name, data in (
        ("snake.json", json.dumps(snake, indent=2)),
        ("snake.jsonl", json.dumps(snake) + "\n"),
    ):
        path = tmp_path / name
        path.write_text(data)
        assert table(str(path), columns) == table(original, columns), name


def test_an_api_error_answer_is_named(tmp_path: Path) -> None:
    path = tmp_path / "error.json"
    path.write_text('{"error": {"httpCode": 404, "message": "trace not found"}}')
    (error,) = check_paths([str(path)]).errors
    assert error.message == "an error response, not traces: trace not found"


def test_overlapping_inputs_are_analysed_once(tmp_path: Path) -> None:
    spans = json.loads(Path(real("zipkin/yelp.json")).read_text())
    first, later = tmp_path / "morning.json", tmp_path / "all-day.json"
    first.write_text(json.dumps(spans[:10]))
    later.write_text(json.dumps(spans))  # a later export that includes the first
    report = check_paths([str(first), str(later)])
    assert report.spans_read == 26
    assert (report.spans_analysed, report.spans_rejected) == (16, 10)
    assert [(d.source, d.same_as, d.spans) for d in report.duplicates] == [
        (str(later), str(first), 10)
    ]
    assert not [f for f in report.findings if f.code == "L006"]
    assert check_paths([str(later)]).counts() == report.counts()


def test_otel_console_output_from_the_sdks_own_documentation() -> None:
    path = real("opentelemetry-python/django-example-console.out")
    report = check_paths([path])
    assert [(i.format, i.spans) for i in report.inputs] == [("otel-console", 1)]
    (row,) = table(path, "TraceId, SpanId, ParentSpanId, SpanKind, StatusCode, Duration")
    assert row == (
        "ed88755c56d95d05a506f5f70e7849b9",
        "0a94c7a60e0650d5",
        "3096ef92e621c22d",
        "Server",
        "Ok",
        381_000,
    )
    assert report.remote_entries == 1  # its parent is the client's: no orphan
    assert not [f for f in report.findings if f.code.startswith(("C", "L"))]


def test_relative_times_keep_the_structure_and_are_reported() -> None:
    path = real("jaeger/ui_traceWithOverlappingChildrenLongerThanParent.json")
    report = check_paths([path])
    assert (report.spans_read, report.spans_analysed, report.spans_rejected) == (4, 4, 0)
    assert [(n.reason, n.count) for n in report.normalised] == [(IMPLAUSIBLE_START, 4)]
    (l011,) = [f for f in report.findings if f.code == "L011"]
    assert "4 spans" in l011.message and "1970-01-01" in l011.message
    # relative times still order the spans of one trace: the children outlasting their
    # parent, which the file is named for, start after it and it is a PRODUCER (async
    # work after a send is no L005); none starts before it
    assert [f for f in report.findings if f.code == "L005"] == []
    assert report.traces == 1 and not [f for f in report.findings if f.code == "C001"]


def test_go_stdouttrace_output() -> None:
    path = real("opentelemetry-go/stdouttrace-expected.out")
    report = check_paths([path])
    assert [(i.format, i.spans) for i in report.inputs] == [("otel-go-stdout", 2)]
    assert (report.spans_analysed, report.errors, report.normalised) == (2, [], [])
    columns = (
        "TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, StatusCode, "
        'StatusMessage, Duration, epoch_ns("Timestamp"), SpanAttributes, ResourceAttributes'
    )
    row = table(path, columns)[0]
    assert row[:10] == (
        "0102030405060708090a0b0c0d0e0f10",
        "0102030405060708",
        "",  # the all-zero parent: a root
        "key=val",
        "/foo",
        "Internal",
        "Error",
        "interesting",
        0,
        1_710_876_258_215_416_139,  # 20:24:18.215416139+01:00, to the nanosecond
    )
    assert json.loads(row[10]) == [
        {"key": "key", "value": {"stringValue": "value"}},
        {"key": "double", "value": {"doubleValue": 123.456}},
    ]
    assert {"key": "rk1", "value": {"stringValue": "rv11"}} in json.loads(row[11])


def test_go_stdouttrace_without_timestamps_is_kept() -> None:
    report = check_paths([real("opentelemetry-go/stdouttrace-without-timestamps.out")])
    assert report.spans_analysed == 2
    assert [(n.reason, n.count) for n in report.normalised] == [(IMPLAUSIBLE_START, 2)]
    assert [f.code for f in report.findings if f.code == "L011"] == ["L011"]
