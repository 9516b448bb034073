"""The SQL shortcut for lone ``traceparent`` headers says what the parser would say.

`tracehound.doctor.checks.propagation` lets SQL recognise spans whose only
recorded header is one valid ``traceparent`` and skips the parser for them.
Every attribute list here, odd or not, must come out of `check` exactly as
parsing each span in Python would have it.
"""

from __future__ import annotations

from typing import Any

import duckdb
import orjson
import pytest

from tracehound.doctor.checks import propagation
from tracehound.doctor.checks.propagation import LONE_TRACEPARENT, HeaderEvidence
from tracehound.formats import read_headers

TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
HEADER = "http.request.header."


def _array(*values: str) -> dict[str, Any]:
    return {"arrayValue": {"values": [{"stringValue": v} for v in values]}}


def _attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def _json(items: list[Any]) -> str:
    return orjson.dumps(items).decode()


ROUTE = _attr("http.route", {"stringValue": "/items/{id}"})
PORT = _attr("server.port", {"intValue": "8080"})
LONE = _attr(HEADER + "traceparent", _array(TP))
LONE_TEXT = _json([LONE])[1:-1]
ATTRIBUTES = [
    _json([LONE]),
    _json([ROUTE, LONE, PORT]),
    _json([_attr(HEADER + "traceparent", {"stringValue": TP})]),
    _json([_attr(HEADER + "traceparent", _array(TP.replace("-01", "-00")))]),
    # invalid or not alone: the parser decides
    _json([_attr(HEADER + "traceparent", _array(TP.upper()))]),
    _json([_attr(HEADER + "traceparent", _array("00-" + "0" * 32 + TP[35:]))]),
    _json([_attr(HEADER + "traceparent", _array(TP[:36] + "0" * 16 + "-01"))]),
    _json([_attr(HEADER + "traceparent", {"stringValue": "00-" + "0" * 32 + TP[35:]})]),
    _json([_attr(HEADER + "traceparent", {"stringValue": TP[:36] + "0" * 16 + "-01"})]),
    _json([_attr(HEADER + "traceparent", _array("00-" + "0" * 31 + "1" + TP[35:]))]),
    _json([_attr(HEADER + "traceparent", _array(TP[:36] + "0" * 15 + "a-01"))]),
    _json([_attr(HEADER + "traceparent", _array("ff" + TP[2:]))]),
    _json([_attr(HEADER + "traceparent", _array(TP + "-extra"))]),
    _json([_attr(HEADER + "traceparent", _array(TP, TP))]),
    _json([_attr(HEADER + "traceparent", _array(f"{TP},{TP}"))]),
    _json([_attr(HEADER + "Traceparent", _array(TP))]),
    _json([LONE, _attr(HEADER + "tracestate", _array("a=1"))]),
    _json([LONE, _attr(HEADER + "baggage", _array("k=v"))]),
    _json([_attr(HEADER + "uber-trace-id", _array("4bf92f3577b34da6:00f067aa0ba902b7:0:1"))]),
    _json([LONE, _attr(HEADER + "uber_trace_id", _array("1:2:0:1"))]),
    # not at the top level, or keys given twice (the parser keeps the last one)
    _json([_attr("wrapped", {"kvlistValue": {"values": [LONE]}})]),
    _json([{"key": "x", "value": {"stringValue": "y"}, "extra": LONE}]),
    "[" + LONE_TEXT[:-1] + ',"key":"other"}]',
    "[" + LONE_TEXT[:-1] + ',"value":{"stringValue":"x"}}]',
    "[" + LONE_TEXT.replace(":", " : ").replace(",", " , ") + "]",
    _json([_attr(HEADER + "traceparent", {"arrayValue": {"values": []}})]),
    _json([_attr(HEADER + "traceparent", {"intValue": "5"})]),
    _json([_attr("note", {"stringValue": '{"key":"http.request.header.traceparent"}'})]),
    # the prefix inside another key or value (the parser reads only keys that start with it)
    _json([LONE, _attr("x." + HEADER + "traceparent", {"stringValue": "1"})]),
    _json([LONE, _attr("note", {"stringValue": "see " + HEADER + "traceparent"})]),
    _json([1, "x", LONE]),
]


class _Store:
    """Just what `propagation.check` touches: ``con``, ``query``, ``otel_traces``, ``th_work``."""

    def __init__(self, attributes: list[str]) -> None:
        self.con = duckdb.connect()
        self.con.execute("ATTACH ':memory:' AS th_work")
        self.con.execute(
            "CREATE TABLE otel_traces (TraceId VARCHAR, SpanId VARCHAR, ServiceName VARCHAR, "
            'SpanName VARCHAR, Source VARCHAR, "Offset" VARCHAR, SpanAttributes JSON)'
        )
        self.con.executemany(
            "INSERT INTO otel_traces VALUES ('t', ?, 'svc', 'GET /', 'f', ?, ?)",
            [(f"{n:016x}", str(n), text) for n, text in enumerate(attributes)],
        )

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params).fetchall()


def _expected(text: str) -> tuple[HeaderEvidence | None, list[tuple[str, str]]]:
    pairs = propagation._header_pairs(text)
    if not pairs:
        return None, []
    inbound = read_headers(pairs)
    return HeaderEvidence.of(inbound), [(p.code, p.header) for p in inbound.problems]


@pytest.mark.parametrize("text", ATTRIBUTES)
def test_sql_shortcut_agrees_with_the_parser(text: str) -> None:
    store = _Store([text])
    findings, evidence = propagation.check(store)  # type: ignore[arg-type]
    ((lone,),) = store.query("SELECT lone FROM th_work.headers") or [(None,)]
    found = LONE_TRACEPARENT if lone else evidence.get(0)
    expected, problems = _expected(text)
    assert found == expected
    assert [(f.code, f.details["header"]) for f in findings] == problems


def test_the_shortcut_takes_the_common_case() -> None:
    store = _Store(ATTRIBUTES[:4])
    propagation.check(store)  # type: ignore[arg-type]
    assert store.query("SELECT bool_and(lone) FROM th_work.headers") == [(True,)]
