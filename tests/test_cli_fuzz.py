"""The command line under random arguments and inputs: never a traceback, exit 0, 1 or 2.

Exit 1 means "findings", so a crash that exited 1 would read as a verdict in CI.
A crash inside the readers or checks must come out as exit 2 with one line naming
the source line that failed; the argument handling itself must never crash.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tracehound.cli import main

TID, SID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _maybe(valid: Any) -> st.SearchStrategy[Any]:
    """Mostly the valid value, sometimes anything JSON."""
    return st.one_of(st.just(valid), st.just(valid), json_values)


@st.composite
def otlp_documents(draw: st.DrawFn) -> Any:
    attribute = st.fixed_dictionaries(
        {
            "key": _maybe(draw(st.sampled_from(["http.request.header.traceparent", "peer.service",
                                                "service.name", "a.b", "url.full"]))),
            "value": _maybe({"stringValue": draw(st.sampled_from([f"00-{TID}-{SID}-01", "[/]",
                                                                  "payments[eu]", "x"]))}),
        }
    )  # fmt: skip
    span = st.fixed_dictionaries(
        {
            "traceId": _maybe(TID),
            "spanId": _maybe(draw(st.sampled_from([SID, "00000000000000aa", "zz"]))),
            "parentSpanId": _maybe(draw(st.sampled_from(["", SID, "00000000000000bb"]))),
            "name": _maybe(draw(st.text(max_size=10))),
            "kind": _maybe(draw(st.integers(0, 6))),
            "startTimeUnixNano": _maybe("1767225600000000000"),
            "endTimeUnixNano": _maybe("1767225600100000000"),
            "attributes": _maybe(draw(st.lists(attribute | json_values, max_size=3))),
        }
    )
    service = draw(st.sampled_from(["shop", "pay[eu]", "[/]"]))
    resource = {
        "attributes": draw(_maybe([{"key": "service.name", "value": {"stringValue": service}}]))
    }
    scope = {"spans": draw(_maybe(draw(st.lists(span, min_size=1, max_size=4))))}
    return {"resourceSpans": draw(_maybe([{"resource": resource, "scopeSpans": [scope]}]))}


@st.composite
def zipkin_or_jaeger(draw: st.DrawFn) -> Any:
    zipkin = st.fixed_dictionaries(
        {
            "traceId": _maybe(TID),
            "id": _maybe(SID),
            "name": _maybe("get"),
            "kind": _maybe(draw(st.sampled_from(["CLIENT", "SERVER", "odd"]))),
            "timestamp": _maybe(1767225600000000),
            "duration": _maybe(100),
            "localEndpoint": _maybe({"serviceName": "shop"}),
            "tags": _maybe({"http.method": "GET"}),
        }
    )
    jaeger_span = st.fixed_dictionaries(
        {
            "traceID": _maybe(TID),
            "spanID": _maybe(SID),
            "operationName": _maybe("get"),
            "startTime": _maybe(1767225600000000),
            "duration": _maybe(100),
            "processID": _maybe("p1"),
            "tags": _maybe([{"key": "span.kind", "type": "string", "value": "server"}]),
            "references": _maybe([]),
        }
    )
    jaeger = st.fixed_dictionaries(
        {"data": st.lists(st.fixed_dictionaries({
            "traceID": _maybe(TID), "spans": st.lists(jaeger_span, max_size=3),
            "processes": _maybe({"p1": {"serviceName": "shop", "tags": []}})}), max_size=2)}
    )  # fmt: skip
    return draw(st.lists(zipkin, max_size=4) | jaeger)


def _encode(draw: st.DrawFn, doc: Any) -> bytes:
    try:
        data = orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # integers beyond 64 bits
        data = repr(doc).encode()
    how = draw(st.sampled_from(["whole", "lines", "cut", "noise"]))
    if how == "lines":
        return data + b"\n" + data + b"\n"
    if how == "cut" and data:
        return data[: draw(st.integers(0, len(data) - 1))]
    if how == "noise":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(max_size=6)) + data[at:]
    return data


inputs = st.one_of(otlp_documents(), zipkin_or_jaeger(), json_values)

OPTIONS = [
    "--json", "--all", "--fail-on", "warning", "--fail-on", "nonsense", "--ignore", "C003",
    "--ignore", "broken-edge,A003", "--ignore", "nope", "--format", "zipkin", "--format",
    "jaeger", "--format", "otlp-proto", "--sarif", "-", "--sarif", "@OUT", "--html", "@OUT",
    "--db", "@DB", "--db", "@IN", "--no-progress", "-", "@MISSING", "@DIR",
]  # fmt: skip


# each example builds a span table (about 0.5 s): 30 keep the suite's time in bounds
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
@given(
    data=st.data(),
    docs=st.lists(inputs, min_size=1, max_size=3),
    options=st.lists(st.sampled_from(OPTIONS) | st.text(max_size=6), max_size=6),
    stdin=st.binary(max_size=200),
)
def test_check_never_crashes(
    data: st.DataObject, docs: list[Any], options: list[str], stdin: bytes
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "dir").mkdir()
        paths = []
        for number, doc in enumerate(docs):
            path = root / "dir" / f"in{number}.json"
            path.write_bytes(_encode(data.draw, doc))
            paths.append(str(path))
        swap = {"@OUT": str(root / "out"), "@DB": str(root / "spans.duckdb"), "@IN": paths[0],
                "@MISSING": str(root / "missing.json"), "@DIR": str(root / "dir")}  # fmt: skip
        argv = ["check", *paths, *(swap.get(o, o) for o in options)]
        status, err = _run(argv, stdin)
    assert status in (0, 1, 2), (argv, err)
    # a crash is a bug, even said in one line: every input is read or named as bad
    assert "Traceback" not in err and "internal error" not in err, (argv, err)


def _otlp_span(**fields: Any) -> dict[str, Any]:
    span = {
        "traceId": TID,
        "spanId": SID,
        "name": "x",
        "kind": 2,
        "startTimeUnixNano": "1767225600000000000",
        "endTimeUnixNano": "1767225600100000000",
    }
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeSpans": [{"spans": [{**span, **fields}]}]}]}  # fmt: skip


def _jaeger_span(**fields: Any) -> dict[str, Any]:
    span = {
        "traceID": TID,
        "spanID": SID,
        "operationName": "get",
        "startTime": 1767225600000000,
        "duration": 100,
        "processID": "p1",
        "tags": [],
        "references": [],
    }
    return {"data": [{"traceID": TID, "spans": [{**span, **fields}],
                      "processes": {"p1": {"serviceName": "shop", "tags": []}}}]}  # fmt: skip


BIG = 123456789012345678901234567890  # beyond 64 bits: JSON allows it, orjson reads a float
# what the fuzz test found crashing the readers and checks ("internal error", exit 2)
FOUND = {
    "jaeger processID object": orjson.dumps(_jaeger_span(processID={"p1": 1})),
    "jaeger processID list": orjson.dumps(_jaeger_span(processID=["p1"])),
    "jaeger times beyond 64 bits": json.dumps(_jaeger_span(startTime=BIG, duration=-BIG)).encode(),
    "jaeger tag beyond 64 bits": json.dumps(
        _jaeger_span(tags=[{"key": "n", "type": "int64", "value": BIG}])
    ).encode(),
    "zipkin times beyond 64 bits": json.dumps(
        [
            {
                "traceId": TID,
                "id": SID,
                "kind": "SERVER",
                "timestamp": BIG,
                "duration": BIG,
                "localEndpoint": {"serviceName": "shop"},
            }
        ]
    ).encode(),
    "otlp numbers beyond 64 bits": json.dumps(
        _otlp_span(
            kind=BIG, startTimeUnixNano=BIG, attributes=[{"key": "n", "value": {"intValue": BIG}}]
        )
    ).encode(),
    # lines read by DuckDB: 4-byte UTF-8 in attribute keys and in field names
    "4-byte UTF-8 in keys": b"".join(
        orjson.dumps(
            _otlp_span(
                spanId=f"00f067aa0ba902b{n}",
                **{"\U0001f600": 1},
                attributes=[{"key": "k\U0001f600", "value": {"stringValue": "\U0001f600"}}],
            )
        )
        + b"\n"
        for n in range(3)
    ),
    "bare list as arrayValue": orjson.dumps(
        _otlp_span(
            attributes=[
                {"key": "a", "value": {"arrayValue": [1, 2]}},
                {"key": "b", "value": {"arrayValue": {"values": 5}}},
                {"key": "c", "value": {"kvlistValue": [{"key": "password", "value": 1}]}},
                {"key": "d", "value": {"arrayValue": {"values": [[{"stringValue": "x"}], 5]}}},
            ]
        )
    ),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_what_fuzzing_found_is_read_or_named(name: str, tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(FOUND[name])
    out = io.StringIO()
    err = io.StringIO()
    real = sys.stderr
    sys.stderr = err
    try:
        status = main(["check", str(path), "--json", "--no-progress"], out)
    finally:
        sys.stderr = real
    assert status in (0, 1), err.getvalue()  # something was analysed: no exit 2
    assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()
    spans = json.loads(out.getvalue())["spans"]
    assert spans["read"] == spans["analysed"] + spans["rejected"] > 0


@settings(max_examples=40, deadline=None)
@given(argv=st.lists(st.sampled_from(["rules", "headers", "check", "-H", "--json", "C003",
                                      "broken-edge", "traceparent: 00-x", "--debug", "-",
                                      "--fail-on", "--ignore"]) | st.text(max_size=8),
                     max_size=5),
       stdin=st.binary(max_size=80))  # fmt: skip
def test_any_command_line_exits_0_1_or_2(argv: list[str], stdin: bytes) -> None:
    if argv[:1] == ["demo"]:  # starts servers: not for random arguments
        return
    status, err = _run(argv, stdin)
    assert status in (0, 1, 2), (argv, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)


def _run(argv: list[str], stdin: bytes) -> tuple[int, str]:
    """``main(argv)`` in an empty directory of its own: random arguments name files
    (``--db x``, ``--html x``) that must not land in the working tree."""
    err = io.StringIO()
    real = sys.stdin, sys.stderr, os.getcwd()
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        sys.stderr = err
        try:
            status = main(argv, io.StringIO())
        finally:
            sys.stdin, sys.stderr = real[:2]
            os.chdir(real[2])
    return status, err.getvalue()


@pytest.mark.parametrize("name", ["\udcff.json", "a\x00b.json", "\ud800"])
def test_odd_path_arguments_are_usage_errors(name: str) -> None:
    status, err = _run(["check", name], b"")
    assert status == 2
    assert "Traceback" not in err and "internal error" not in err
