"""A console exporter's spans among the program's own output (`sources._text_output`)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehound.doctor import check_paths, load
from tracehound.doctor.sources._js_literals import looks_like_js_objects, to_json
from tracehound.doctor.sources._text_output import holds_span_objects, keep_span_objects

REALWORLD = Path(__file__).resolve().parent / "data" / "realworld"
CONSOLE = REALWORLD / "req-jaeger-to-tracecontext-console"
REAL = Path(__file__).resolve().parent / "real"


def _span(name: str, span_id: str, parent: str | None = None) -> str:
    span = {
        "name": name,
        "context": {"trace_id": "0x" + "ab" * 16, "span_id": "0x" + span_id, "trace_state": "[]"},
        "kind": "SpanKind.SERVER" if parent is None else "SpanKind.INTERNAL",
        "parent_id": None if parent is None else "0x" + parent,
        "start_time": "2026-12-05T10:00:00.000001Z",
        "end_time": "2026-12-05T10:00:00.250000Z",
        "status": {"status_code": "UNSET"},
        "attributes": {},
        "events": [],
        "links": [],
        "resource": {"attributes": {"service.name": "api"}, "schema_url": ""},
    }
    return json.dumps(span, indent=4) + "\n"


def test_printed_objects_are_told_from_other_text_and_from_protobuf() -> None:
    assert holds_span_objects(b" * Serving Flask app 'api'\n" + _span("GET /", "1" * 16).encode())
    assert holds_span_objects((REAL / "opentelemetry-go" / "stdouttrace-expected.out").read_bytes())
    assert not holds_span_objects(b"Release notes\n\n- fixed {braces}\n{\nnot json\n}\n")
    # a protobuf export whose attribute holds a pretty JSON object: not text
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes(range(200, 216)), bytes(range(8)), "x"
    value = span.attributes.add()
    value.key = "payload"
    value.value.string_value = 'order as received:\n{\n    "name": "order"\n}'
    assert b'\n{\n    "name"' in request.SerializeToString()
    assert not holds_span_objects(request.SerializeToString())


def test_other_lines_are_blanked_in_place() -> None:
    text = (
        "booting\n" + _span("GET /", "1" * 16) + "GET / 200\r\n" + _span("db", "2" * 16, "1" * 16)
    )
    data = bytearray(text.encode())
    assert keep_span_objects(data) == 2
    assert len(data) == len(text.encode())
    lines = data.decode().split("\n")
    assert lines[0].strip() == "" and lines[1] == "{"
    assert data.decode().count("{\n") == text.count("{\n")
    assert "booting" not in data.decode() and "GET / 200" not in data.decode()


def test_spans_among_the_programs_output_are_read_at_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "api.out"
    root = _span("GET /", "1" * 16)
    path.write_text(" * Serving Flask app 'api'\n * Debug mode: off\n" + root
                    + "127.0.0.1 - - [05/Dec/2026 10:00:00] \"GET / HTTP/1.1\" 200 -\n"
                    + _span("db", "2" * 16, "1" * 16))  # fmt: skip
    store, report = load([str(path)])
    try:
        rows = store.query('SELECT SpanName, "Offset" FROM otel_traces ORDER BY "Offset"')
    finally:
        store.close()
    assert [(i.format, i.spans) for i in report.inputs] == [("otel-console", 2)]
    assert report.errors == []
    after = 3 + root.count("\n") + 1  # the access-log line, then the second object
    assert sorted(rows) == [("GET /", "3:$"), ("db", f"{after}:$")]


def test_an_object_cut_off_is_named_where_it_breaks(tmp_path: Path) -> None:
    path = tmp_path / "killed.txt"
    path.write_text("starting\n" + _span("GET /", "1" * 16) + _span("db", "2" * 16)[:120])
    report = check_paths([str(path)])
    assert report.spans_analysed == 1
    assert report.errors and report.errors[0].source == str(path)


def test_the_console_output_of_a_real_run_gives_its_otlp_export_s_diagnosis() -> None:
    """Four services' stdout under ``--traces_exporter otlp,console`` (Flask's banner and
    uvicorn's log lines among the spans): the same spans and broken calls as their OTLP
    export, and both together are one diagnosis with the copies named."""
    console, otlp = check_paths([str(CONSOLE / "console")]), check_paths([str(CONSOLE / "traces")])
    assert {i.format for i in console.inputs} == {"otel-console"}
    assert console.errors == [] and console.spans_analysed == otlp.spans_analysed == 30

    def broken(report: object) -> set[tuple[str | None, str | None]]:
        return {(f.trace_id, f.span_id) for f in report.findings if f.code == "C003"}  # type: ignore[attr-defined]

    assert broken(console) == broken(otlp) != set()
    both = check_paths([str(CONSOLE / "traces"), str(CONSOLE / "console")])
    assert (both.spans_read, both.spans_analysed, both.spans_rejected) == (60, 30, 30)
    assert {d.spans for d in both.duplicates} == {3, 6, 9, 12}
    assert broken(both) == broken(otlp)
    assert not [f for f in both.findings if f.code in ("L006", "C002")]


def test_a_directory_s_text_files_are_taken_when_they_hold_spans(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("How to run the demo: make run\n")
    (tmp_path / "notes.out").write_text("{\nnot json at all\n}\n")
    (tmp_path / "api.txt").write_text("booting\n" + _span("GET /", "1" * 16))
    with gzip.open(tmp_path / "worker.out.gz", "wt") as zipped:
        zipped.write(_span("job", "3" * 16))
    report = check_paths([str(tmp_path)])
    assert sorted(Path(i.source).name for i in report.inputs) == ["api.txt", "worker.out.gz"]
    assert report.errors == [] and report.spans_analysed == 2


LINES = ["{", "}", "  }", "  {", "} ", '    "name": "x",', "GET / 200", "", "\r", "é"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=40))
def test_blanking_keeps_every_byte_offset_and_every_object_line(lines: list[str]) -> None:
    text = "\n".join(lines).encode()
    data = bytearray(text)
    keep_span_objects(data)
    assert len(data) == len(text)
    assert [i for i, b in enumerate(data) if b == 10] == [i for i, b in enumerate(text) if b == 10]
    inside = False
    for before, after in zip(text.split(b"\n"), bytes(data).split(b"\n"), strict=True):
        if inside or before.rstrip() == b"{":  # an object: `{` to `}` at the line's start
            assert after == before  # its lines are kept as they are
            inside = before.rstrip() != b"}" if inside else True
        else:
            assert after.strip() == b""


NODE_CONSOLE = REALWORLD / "node-tracecontext-to-b3-console"


def test_javascript_literals_are_read_as_json_lines_kept() -> None:
    text = (
        "{\n  traceId: 'ab',\n  traceState: TraceState { _internalState: Map(2) "
        "{ 'b' => '2', 'a' => '1' } },\n  attributes: { 'k': 'it\\'s \\x41\\u00e9', n: -1.5e3, "
        "big: 12n, u: undefined, deep: [Object], list: [Array], f: [Function: x] }\n}\n"
    )
    converted = to_json(text)
    assert converted.count("\n") == text.count("\n")
    assert json.loads(converted) == {
        "traceId": "ab",
        "traceState": {"_internalState": {"b": "2", "a": "1"}},
        "attributes": {"k": "it's Aé", "n": -1500.0, "big": 12, "u": None, "deep": None,
                       "list": None, "f": None},
    }  # fmt: skip
    assert looks_like_js_objects(text.encode())
    assert not looks_like_js_objects(b'{\n  "traceId": "ab"\n}\n')  # JSON's keys are quoted


def test_node_console_output_gives_the_otlp_export_s_diagnosis() -> None:
    """Two Node.js services' stdout under OTEL_TRACES_EXPORTER=otlp,console (JavaScript
    objects) beside two Python services': the run's broken calls, as from OTLP."""
    console = check_paths([str(NODE_CONSOLE / "console")])
    otlp = check_paths([str(NODE_CONSOLE / "traces")])
    assert sorted(i.format or "" for i in console.inputs) == [
        "otel-console", "otel-console", "otel-js-console", "otel-js-console",
    ]  # fmt: skip
    assert console.errors == [] and console.spans_analysed == otlp.spans_analysed == 24

    def broken(report: Any) -> set[tuple[str | None, str | None]]:
        return {(f.trace_id, f.span_id) for f in report.findings if f.code == "C003"}

    assert len(broken(console)) == 6 and broken(console) == broken(otlp)
    store, _ = load([str(NODE_CONSOLE / "console" / "gateway.txt")])
    try:
        kinds = dict(store.query("SELECT SpanKind, count(*) FROM otel_traces GROUP BY ALL"))
        scopes = {s for (s,) in store.query("SELECT DISTINCT ScopeName FROM otel_traces")}
    finally:
        store.close()
    assert kinds == {"Server": 3, "Client": 3}  # the JS API's numbers, not OTLP's
    assert scopes == {"@opentelemetry/instrumentation-http"}
    both = check_paths([str(NODE_CONSOLE / "traces"), str(NODE_CONSOLE / "console")])
    assert (both.spans_analysed, both.spans_rejected) == (24, 24)
    assert broken(both) == broken(otlp)


def _node_span(span_id: str = "4c7ac49cb3065669", **lines: str) -> str:
    """One span as Node's console exporter prints it (the shape of the node-* test bed's
    console files), with ``lines`` put in place of the ones with those keys."""
    fields = {
        "resource": "  resource: {\n    attributes: {\n      'service.name': 'ledger'\n    }\n  },",
        "instrumentationScope": "  instrumentationScope: {\n    name: '@opentelemetry/"
        "instrumentation-http',\n    version: '0.300.0',\n    schemaUrl: undefined\n  },",
        "traceId": "  traceId: '0af7651916cd43dd8448eb211c80319c',",
        "parentSpanContext": "  parentSpanContext: undefined,",
        "traceState": "  traceState: undefined,",
        "name": "  name: 'GET',",
        "id": f"  id: '{span_id}',",
        "kind": "  kind: 1,",
        "timestamp": "  timestamp: 1796498504671000,",
        "duration": "  duration: 5213.179,",
        "attributes": "  attributes: { 'url.path': '/ledger' },",
        "status": "  status: { code: 0 },",
        "events": "  events: [],",
        "links": "  links: []",
    }
    fields.update(lines)
    return "{\n" + "\n".join(fields.values()) + "\n}\n"


def test_node_strings_split_at_line_breaks_and_cut_emoji_are_read(tmp_path: Path) -> None:
    """Node prints a multi-line string as `'a\\n' +` lines, and half an emoji (a length
    limit cut it) as a lone surrogate escape."""
    attributes = (
        "  attributes: {\n    'db.statement': 'SELECT 1\\n' +\n      'FROM t',\n"
        "    'exception.message': 'cut \\ud83d'\n  },"
    )
    first = _node_span(attributes=attributes)
    path = tmp_path / "node.out"
    path.write_text(first + _node_span("ffffffffffffff01"))
    store, report = load([str(path)])
    try:
        rows = store.query('SELECT SpanAttributes, "Offset" FROM otel_traces ORDER BY "Offset"')
    finally:
        store.close()
    assert report.errors == [] and report.spans_analysed == 2
    values = {a["key"]: a["value"]["stringValue"] for a in json.loads(rows[0][0])}
    assert values == {"db.statement": "SELECT 1\nFROM t", "exception.message": "cut \ufffd"}
    assert [r[1] for r in rows] == ["1:$", f"{first.count(chr(10)) + 1}:$"]


def test_a_node_duration_out_of_range_is_named_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "node.out"
    path.write_text(_node_span(duration="  duration: 1e308,"))
    report = check_paths([str(path)])
    assert report.spans_analysed == 1 and report.errors == []


def test_spans_printed_after_much_output_are_found(tmp_path: Path) -> None:
    """A batch of spans comes every few seconds: the program's own lines come first."""
    path = tmp_path / "app.out"
    lines = "".join(f'127.0.0.1 - - "GET /checkout HTTP/1.1" 200 - #{i}\n' for i in range(2000))
    path.write_text(lines + _span("GET /", "1" * 16))
    report = check_paths([str(path)])
    assert [(i.format, i.spans) for i in report.inputs] == [("otel-console", 1)]
    forced = check_paths([str(path)], source_format="otel-console")
    assert forced.errors == [] and forced.spans_analysed == 1


def test_a_protobuf_export_holding_javascript_text_is_read_as_protobuf(tmp_path: Path) -> None:
    """An exception message from Node's assert holds `{\\n  a: 1`: inside a protobuf
    export (no NUL byte in it) it is still a value, not a printed object."""
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes(range(200, 216)), bytes(range(1, 9)), "x"
    # times, IDs and lengths without a NUL byte, as an SDK that writes no flags has them
    span.start_time_unix_nano, span.end_time_unix_nano = 0x1811223344556677, 0x1811223345556677
    event = span.events.add()
    event.name, event.time_unix_nano = "exception", 0x1811223344556678
    value = event.attributes.add()
    value.key = "exception.message"
    value.value.string_value = "Expected values to be strictly deep-equal:\n{\n  a: 1\n}"
    data = request.SerializeToString()
    assert b"\0" not in data and b"\n{\n  a: 1" in data
    path = tmp_path / "export.pb"
    path.write_bytes(data)
    report = check_paths([str(path)])
    assert [(i.format, i.spans) for i in report.inputs] == [("otlp-proto", 1)]


def test_a_console_format_named_reads_a_list_of_spans_as_it_is(tmp_path: Path) -> None:
    spans = [json.loads(_span("GET /", "1" * 16)), json.loads(_span("db", "2" * 16, "1" * 16))]
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(spans, indent=2))
    report = check_paths([str(path)], source_format="otel-console")
    assert (report.spans_analysed, report.errors) == (2, [])
