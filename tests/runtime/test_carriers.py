"""Carriers: reading and writing the header shapes Python services really use."""

from __future__ import annotations

import http.client
import io
import threading
from collections import namedtuple
from collections.abc import Iterator, MutableMapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from requests.structures import CaseInsensitiveDict

from tracehound.runtime.carriers import (
    carrier_getter,
    carrier_setter,
    read_carrier,
    write_carrier,
)
from tracehound.runtime.propagation import TracehoundPropagator

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TID}-{SID}-01"

# -- realistic fakes of the libraries' carrier types --------------------------

# kafka-python's consumer record (a named tuple; headers a list of (str, bytes)).
ConsumerRecord = namedtuple(
    "ConsumerRecord",
    "topic partition leader_epoch offset timestamp timestamp_type key value headers "
    "checksum serialized_key_size serialized_value_size serialized_header_size",
)


def consumer_record(headers: list[tuple[str, bytes]]) -> ConsumerRecord:
    return ConsumerRecord("orders", 0, 0, 42, 0, 0, b"k", b"v", headers, None, 1, 1, 10)


class ConfluentMessage:
    """Like confluent_kafka.Message: ``headers()`` is a method, ``None`` when there are none."""

    def __init__(self, headers: list[tuple[str, bytes | None]] | None) -> None:
        self._headers = headers

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self._headers

    def set_headers(self, headers: list[tuple[str, bytes]]) -> None:
        self._headers = list(headers)


class BasicProperties:
    """Like pika.BasicProperties: ``headers`` is ``None`` until set."""

    def __init__(self, content_type: str | None = None, headers: dict[str, Any] | None = None):
        self.content_type = content_type
        self.headers = headers


class AioPikaMessage:
    """Like aio_pika.Message / IncomingMessage: a ``headers`` dict of mixed value types."""

    def __init__(self, body: bytes, headers: dict[str, Any] | None = None) -> None:
        self.body = body
        self.headers = headers if headers is not None else {}


class MultiHeaders(MutableMapping[str, str]):
    """Like httpx.Headers: case-insensitive, repeated names kept, ``multi_items()``."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items = list(items or [])

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __getitem__(self, key: str) -> str:
        values = [v for k, v in self._items if k.lower() == key.lower()]
        if not values:
            raise KeyError(key)
        return ", ".join(values)

    def __setitem__(self, key: str, value: str) -> None:
        self._items = [(k, v) for k, v in self._items if k.lower() != key.lower()]
        self._items.append((key.lower(), value))

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._items = [(k, v) for k, v in self._items if k.lower() != key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self._items))

    def __len__(self) -> int:
        return len(dict.fromkeys(k for k, _ in self._items))


class WerkzeugLikeHeaders:
    """Like werkzeug's Headers: not a Mapping; ``items()`` repeats names."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


def asgi_scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """An HTTP scope as uvicorn builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 51234),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": "/orders/7",
        "raw_path": b"/orders/7",
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


def trace_id_of(carrier: object) -> str:
    context = TracehoundPropagator(report=False).extract(read_carrier(carrier))
    return format(trace.get_current_span(context).get_span_context().trace_id, "032x")


# -- reading --------------------------------------------------------------------


def test_dict_names_are_lowered_and_values_listed() -> None:
    got = read_carrier({"Traceparent": TRACEPARENT, "X-Count": 3, "Skip": None, 7: "x"})
    assert got == {"traceparent": [TRACEPARENT], "x-count": ["3"]}


def test_dict_values_may_be_bytes_or_lists() -> None:
    got = read_carrier({"b3": b"abc", "Accept": ["a", b"b", None], "Empty": []})
    assert got == {"b3": ["abc"], "accept": ["a", "b"]}


def test_bytes_are_utf8_else_latin1() -> None:
    got = read_carrier([("x-name", "é".encode()), ("x-raw", b"\xe9")])
    assert got == {"x-name": ["é"], "x-raw": ["é"]}


def test_wsgi_environ_from_a_real_wsgiref_server() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["headers"] = read_carrier(environ)
        seen["trace_id"] = trace_id_of(environ)
        start_response("204 No Content", [])
        return []

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    worker = threading.Thread(target=server.handle_request)
    worker.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
        connection.request(
            "POST",
            "/orders",
            body=b"{}",
            headers={
                "Traceparent": TRACEPARENT,
                "X-B3-TraceId": TID,
                "Content-Type": "application/json",
            },
        )
        assert connection.getresponse().status == 204
        connection.close()
    finally:
        worker.join(5)
        server.server_close()
    headers = seen["headers"]
    assert headers["traceparent"] == [TRACEPARENT]
    assert headers["x-b3-traceid"] == [TID]
    assert headers["content-type"] == ["application/json"]
    assert "request-method" not in headers and "path-info" not in headers
    assert seen["trace_id"] == TID


def test_environ_is_recognised_by_http_keys_alone() -> None:
    environ = {"REQUEST_METHOD": "GET", "HTTP_TRACEPARENT": TRACEPARENT, "HTTP_X_B3_SAMPLED": "1"}
    assert read_carrier(environ) == {"traceparent": [TRACEPARENT], "x-b3-sampled": ["1"]}


def test_environ_utf8_header_given_as_latin1_text_is_decoded() -> None:
    environ = {"wsgi.version": (1, 0), "HTTP_BAGGAGE": "user=é".encode().decode("latin-1")}
    assert read_carrier(environ) == {"baggage": ["user=é"]}


def test_asgi_scope_like_uvicorn() -> None:
    scope = asgi_scope([(b"host", b"api"), (b"traceparent", TRACEPARENT.encode())])
    assert read_carrier(scope) == {"host": ["api"], "traceparent": [TRACEPARENT]}
    assert trace_id_of(scope) == TID


def test_asgi_websocket_scope_and_repeated_headers() -> None:
    scope = asgi_scope([(b"x-forwarded-for", b"a"), (b"x-forwarded-for", b"b")])
    scope["type"] = "websocket"
    assert read_carrier(scope) == {"x-forwarded-for": ["a", "b"]}


def test_kafka_python_consumer_record() -> None:
    record = consumer_record([("traceparent", TRACEPARENT.encode()), ("retry", b"2")])
    assert read_carrier(record) == {"traceparent": [TRACEPARENT], "retry": ["2"]}
    assert read_carrier(record.headers) == read_carrier(record)
    assert trace_id_of(record) == TID


def test_confluent_message_headers_method() -> None:
    message = ConfluentMessage([("traceparent", TRACEPARENT.encode()), ("nullable", None)])
    assert read_carrier(message) == {"traceparent": [TRACEPARENT]}
    assert read_carrier(ConfluentMessage(None)) == {}


def test_pika_properties() -> None:
    properties = BasicProperties("application/json", {"traceparent": TRACEPARENT, "x-retry": 1})
    assert read_carrier(properties) == {"traceparent": [TRACEPARENT], "x-retry": ["1"]}
    assert read_carrier(BasicProperties()) == {}


def test_aio_pika_message_with_bytes_values() -> None:
    message = AioPikaMessage(b"{}", {"traceparent": TRACEPARENT.encode(), "x-death": [{"n": 1}]})
    got = read_carrier(message)
    assert got["traceparent"] == [TRACEPARENT]
    assert got["x-death"] == ["{'n': 1}"]  # odd values are stringified, not raised


def test_http_client_message_keeps_repeated_headers() -> None:
    raw = (
        b"Traceparent: " + TRACEPARENT.encode() + b"\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
    )
    message = http.client.parse_headers(io.BytesIO(raw))
    assert read_carrier(message) == {"traceparent": [TRACEPARENT], "set-cookie": ["a=1", "b=2"]}


def test_header_classes_of_http_libraries() -> None:
    assert read_carrier(CaseInsensitiveDict({"TraceParent": TRACEPARENT})) == {
        "traceparent": [TRACEPARENT]
    }
    multi = MultiHeaders([("accept", "a"), ("Accept", "b")])
    assert read_carrier(multi) == {"accept": ["a", "b"]}
    werkzeug = WerkzeugLikeHeaders([("X-A", "1"), ("x-a", "2")])
    assert read_carrier(werkzeug) == {"x-a": ["1", "2"]}


def test_request_objects_are_read_through_their_headers() -> None:
    prepared = requests.Request("GET", "http://example.test/", headers={"B3": "x"}).prepare()
    assert read_carrier(prepared) == {"b3": ["x"]}


def test_non_pairs_in_a_list_are_skipped() -> None:
    pairs = [("traceparent", TRACEPARENT), "junk", ("a", "b", "c"), (1, b"x"), ["b3", "v"]]
    assert read_carrier(pairs) == {"traceparent": [TRACEPARENT], "b3": ["v"]}


def test_none_reads_as_no_headers() -> None:
    assert read_carrier(None) == {}


@pytest.mark.parametrize("carrier", [42, "traceparent: x", b"raw", object(), {1, 2}])
def test_unsupported_carrier_is_a_type_error_naming_the_shapes(carrier: object) -> None:
    with pytest.raises(TypeError, match=type(carrier).__qualname__) as raised:
        read_carrier(carrier)
    assert "WSGI environ" in str(raised.value) and "pairs" in str(raised.value)


def test_headers_attribute_of_an_unsupported_type_is_a_type_error() -> None:
    class Odd:
        headers = "traceparent: x"

    with pytest.raises(TypeError, match="Odd"):
        read_carrier(Odd())


def test_otel_propagators_read_the_result() -> None:
    """Lower-case names suit OpenTelemetry's own, case-sensitive, propagators."""
    context = TraceContextTextMapPropagator().extract(read_carrier({"TraceParent": TRACEPARENT}))
    assert trace.get_current_span(context).get_span_context().trace_id == int(TID, 16)


names = st.one_of(
    st.text(max_size=20),
    st.binary(max_size=20),
    st.sampled_from(["HTTP_TRACEPARENT", "wsgi.version", "type", "headers", "traceparent"]),
)
scalars = st.one_of(st.none(), st.text(max_size=40), st.binary(max_size=40), st.integers())
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.sampled_from(["http", "websocket"]),
    st.lists(st.tuples(st.binary(max_size=5), st.binary(max_size=5)), max_size=3),
)
carriers = st.one_of(
    st.dictionaries(names, values, max_size=6),
    st.lists(st.one_of(st.tuples(names, values), names, st.tuples(names)), max_size=6),
    st.lists(st.tuples(names, values), max_size=6).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(carriers)
def test_read_carrier_never_raises_on_dicts_and_lists(carrier: object) -> None:
    got = read_carrier(carrier)
    assert all(name and name == name.lower() for name in got)
    assert all(values and all(isinstance(v, str) for v in values) for values in got.values())


# -- writing ----------------------------------------------------------------------


def test_dict_write_replaces_names_in_any_case() -> None:
    headers = {"Traceparent": "old", "Accept": "*/*"}
    write_carrier(headers, {"traceparent": TRACEPARENT})
    assert headers == {"Accept": "*/*", "traceparent": TRACEPARENT}


def test_kafka_pairs_get_bytes_values_and_no_duplicates() -> None:
    headers: list[tuple[str, bytes]] = [("TraceParent", b"old"), ("key", b"v")]
    write_carrier(headers, {"traceparent": TRACEPARENT})
    write_carrier(headers, {"traceparent": TRACEPARENT})
    assert headers == [("key", b"v"), ("traceparent", TRACEPARENT.encode())]


def test_byte_pair_lists_keep_byte_names() -> None:
    headers: list[tuple[bytes, bytes]] = [(b"host", b"api")]
    write_carrier(headers, {"traceparent": TRACEPARENT})
    assert headers == [(b"host", b"api"), (b"traceparent", TRACEPARENT.encode())]


def test_pika_properties_without_headers_get_a_dict() -> None:
    properties = BasicProperties("application/json")
    write_carrier(properties, {"traceparent": TRACEPARENT})
    assert properties.headers == {"traceparent": TRACEPARENT}


def test_asgi_scope_with_tuple_headers_gets_a_list() -> None:
    scope = asgi_scope([])
    scope["headers"] = ((b"host", b"api"),)
    write_carrier(scope, {"Traceparent": TRACEPARENT})
    assert scope["headers"] == [(b"host", b"api"), (b"traceparent", TRACEPARENT.encode())]


@pytest.mark.parametrize(
    "carrier",
    [42, "x", ((b"a", b"b"),), ConsumerRecord(*range(13)), object()],
    # stable IDs (repr of object() holds an address): pytest-xdist workers must agree
    ids=["int", "str", "tuple-of-byte-pairs", "consumer-record", "object"],
)
def test_unwritable_carrier_is_a_type_error_naming_the_shapes(carrier: object) -> None:
    with pytest.raises(TypeError, match="supported: a mutable mapping"):
        write_carrier(carrier, {"traceparent": TRACEPARENT})


def test_getter_and_setter_for_otel_apis() -> None:
    record = consumer_record([])
    carrier_setter.set(record.headers, "traceparent", TRACEPARENT)
    assert carrier_getter.get(record, "TraceParent") == [TRACEPARENT]
    assert carrier_getter.keys(record) == ["traceparent"]
    context = TracehoundPropagator(report=False).extract(record, getter=carrier_getter)
    assert trace.get_current_span(context).get_span_context().trace_id == int(TID, 16)


# -- round trip ---------------------------------------------------------------------

OUTBOUND = {
    "dict": lambda: {"Accept": "*/*"},
    "requests-headers": lambda: CaseInsensitiveDict({"TRACEPARENT": "stale"}),
    "requests-prepared": lambda: requests.Request("GET", "http://example.test/").prepare(),
    "httpx-like": lambda: MultiHeaders([("traceparent", "stale")]),
    "kafka-producer": list,
    "confluent-message": lambda: ConfluentMessage(None),
    "pika-properties": BasicProperties,
    "aio-pika-message": lambda: AioPikaMessage(b"{}"),
    "wsgi-environ": lambda: {"wsgi.version": (1, 0), "REQUEST_METHOD": "GET"},
    "asgi-scope": lambda: asgi_scope([]),
}


@pytest.mark.parametrize("make", OUTBOUND.values(), ids=OUTBOUND.keys())
@pytest.mark.parametrize("formats", ["tracecontext", "tracecontext,jaeger,b3multi"])
def test_round_trip_keeps_the_trace(make: Any, formats: str) -> None:
    propagator = TracehoundPropagator(inject=formats, report=False)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("send") as span:
        sent = span.get_span_context()
        injected: dict[str, str] = {}
        propagator.inject(injected)
    carrier = make()
    write_carrier(carrier, injected)
    write_carrier(carrier, injected)  # re-injection replaces, never duplicates
    headers = read_carrier(carrier)
    assert headers["traceparent"] == [injected["traceparent"]]
    received = trace.get_current_span(propagator.extract(headers)).get_span_context()
    assert (received.trace_id, received.span_id) == (sent.trace_id, sent.span_id)
    assert received.trace_flags.sampled
