"""W3C Trace Context conformance: the official test suite's 41 cases, re-implemented.

This module mirrors the 41 test methods of the W3C ``trace-context`` test suite
(``test/test.py``, newest semantics: relaxed ``@`` in tracestate keys, keys of
up to 256 characters): 37 of ``TraceContextTest``, 3 of ``AdvancedTest`` and
the Level 2 ``TraceContext2Test``.  Each pytest test carries the official
name; the official sub-requests are ``parametrize`` cases.  The
``STRICT_LEVEL=2`` cases and the Level 2 case run unconditionally.  No W3C
source code is used; header values are reused as data.

It works as the official suite does, over real HTTP on 127.0.0.1:

* a **service under test** (stdlib ``ThreadingHTTPServer``) receives a POST
  whose JSON body lists callback URLs.  It extracts the context from the
  inbound headers with `TracehoundPropagator` (repeated header lines become
  separate values), starts a SERVER span on a local SDK ``TracerProvider``,
  and for each callback starts a CLIENT span (so every call has a fresh
  parent-id), injects ``traceparent``/``tracestate`` with the same propagator
  and POSTs to the callback URL;
* a **harness** server records each callback's headers, repeated lines kept;
* the tests send requests with ``http.client`` (so repeated ``traceparent`` or
  ``tracestate`` lines go out as separate lines, in order, after
  ``Accept: application/json``), then parse the callback headers with the
  harness's own rules and assert exactly what the official suite asserts,
  quirks included: the outbound ``traceparent`` must be exactly one header of
  version ``00``; every outbound ``tracestate`` line is parsed and a
  malformed member fails the test even when the assertion looks at another
  key; duplicate keys keep the first value.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import string
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanKind

from tracehound.runtime.propagation import TracehoundPropagator

HOST = "127.0.0.1"
SOCKET_TIMEOUT = 5.0
"""Seconds, on every socket: test client, service, harness and the service's callbacks."""
MAX_CALLBACKS = 8
"""The service refuses bodies listing more callbacks than this (bounded loop)."""
MAX_BODY = 64 * 1024

TID = "12345678901234567890123456789012"
PID = "1234567890123456"
ZERO_TID = "0" * 32
TP00_SAMPLED = f"00-{TID}-{PID}-01"
TP00 = ["traceparent", f"00-{TID}-{PID}-00"]

Headers = list[tuple[str, str]]


# -- the harness's view of the outbound headers ---------------------------------------


@dataclass(frozen=True)
class Traceparent:
    """An outbound ``traceparent`` as the harness accepts it: version 00, four fields only."""

    trace_id: str
    parent_id: str
    trace_flags: int

    @classmethod
    def from_string(cls, value: str) -> Traceparent:
        fields = value.split("-")
        if len(fields) != 4:
            raise ValueError(f"traceparent {value!r}: expected 4 '-' separated fields")
        version, trace_id, parent_id, flags = fields
        for name, text, width in (
            ("version", version, 2),
            ("trace-id", trace_id, 32),
            ("parent-id", parent_id, 16),
            ("trace-flags", flags, 2),
        ):
            if len(text) != width or not set(text) <= set("0123456789abcdef"):
                raise ValueError(f"traceparent {value!r}: bad {name} {text!r}")
        if version != "00":
            raise ValueError(f"traceparent {value!r}: unsupported version {version!r}")
        if set(trace_id) == {"0"} or set(parent_id) == {"0"}:
            raise ValueError(f"traceparent {value!r}: all-zero id")
        return cls(trace_id, parent_id, int(flags, 16))


_KEY_FIRST = frozenset(string.ascii_lowercase + string.digits)
_KEY_CHARS = _KEY_FIRST | frozenset("_-*/@")
_VALUE_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {",", "="}
_VALUE_LAST_CHARS = _VALUE_CHARS - {" "}


def _valid_key(key: str) -> bool:
    return 1 <= len(key) <= 256 and key[0] in _KEY_FIRST and set(key) <= _KEY_CHARS


def _valid_value(value: str) -> bool:
    return 1 <= len(value) <= 256 and set(value) <= _VALUE_CHARS and value[-1] in _VALUE_LAST_CHARS


class Tracestate:
    """The outbound ``tracestate`` as the harness reads it.

    Every outbound ``tracestate`` line is added in order.  Only whitespace
    around commas is removed (not at the ends of a line), empty members are
    skipped, any malformed member raises `ValueError`, and a repeated key
    keeps its first value.  ``str()`` is ``k=v`` joined by ``,`` in order.
    """

    def __init__(self) -> None:
        self._members: dict[str, str] = {}

    def add_header(self, line: str) -> None:
        pieces = line.split(",")
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            member = piece.lstrip(" \t") if index > 0 else piece
            member = member.rstrip(" \t") if index < last else member
            if member == "":
                continue
            key, equals, value = member.partition("=")
            if not (equals and _valid_key(key) and _valid_value(value)):
                raise ValueError(f"illegal tracestate member {member!r} in {line!r}")
            self._members.setdefault(key, value)

    def __contains__(self, key: object) -> bool:
        return key in self._members

    def __getitem__(self, key: str) -> str:
        return self._members[key]

    def __len__(self) -> int:
        return len(self._members)

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self._members.items())


def get_traceparent(headers: Headers) -> Traceparent:
    values = [value for name, value in headers if name.lower() == "traceparent"]
    assert len(values) == 1, f"expect one traceparent header, got {len(values)}: {values!r}"
    return Traceparent.from_string(values[0])


def get_tracestate(headers: Headers) -> Tracestate:
    state = Tracestate()
    for name, value in headers:
        if name.lower() == "tracestate":
            state.add_header(value)
    return state


# -- the service under test -----------------------------------------------------------


def _read_body(handler: BaseHTTPRequestHandler) -> Any:
    length = int(handler.headers.get("Content-Length") or 0)
    if not 0 <= length <= MAX_BODY:
        raise ValueError(f"body of {length} bytes")
    raw = handler.rfile.read(length) if length else b""
    return json.loads(raw) if raw else None


def _reply(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _post(url: str, payload: Any, headers: Headers) -> int:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != HOST:
        raise ValueError(f"callbacks go to http://{HOST} only, not {url!r}")
    body = json.dumps(payload).encode()
    conn = http.client.HTTPConnection(HOST, parts.port, timeout=SOCKET_TIMEOUT)
    try:
        conn.putrequest("POST", parts.path or "/", skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class _Service(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _ServiceHandler)
        self.propagator = TracehoundPropagator(inject=("tracecontext",), report=False)
        self.provider = TracerProvider(sampler=ParentBased(ALWAYS_ON), shutdown_on_exit=False)
        self.tracer = self.provider.get_tracer("w3c-conformance-service")


class _ServiceHandler(BaseHTTPRequestHandler):
    server: _Service
    timeout = SOCKET_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        try:
            callbacks = _read_body(self) or []
            if not isinstance(callbacks, list) or len(callbacks) > MAX_CALLBACKS:
                raise ValueError(f"expected at most {MAX_CALLBACKS} callbacks: {callbacks!r}")
            statuses = self._handle(callbacks)
        except Exception as exc:
            _reply(self, 500, {"error": repr(exc)})
            return
        _reply(self, 200, {"callbacks": statuses})

    def _handle(self, callbacks: list[dict[str, Any]]) -> list[int]:
        carrier: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            carrier.setdefault(name.lower(), []).append(value)
        extracted = self.server.propagator.extract(carrier)
        tracer = self.server.tracer
        statuses = []
        server_span = tracer.start_span("service", context=extracted, kind=SpanKind.SERVER)
        try:
            server_context = trace.set_span_in_context(server_span, extracted)
            for callback in callbacks:
                client_span = tracer.start_span(
                    "callback", context=server_context, kind=SpanKind.CLIENT
                )
                try:
                    outbound: dict[str, str] = {}
                    self.server.propagator.inject(
                        outbound, context=trace.set_span_in_context(client_span, server_context)
                    )
                    statuses.append(
                        _post(
                            callback["url"], callback.get("arguments", []), list(outbound.items())
                        )
                    )
                finally:
                    client_span.end()
        finally:
            server_span.end()
        return statuses


# -- the harness ----------------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    headers: Headers
    arguments: Any


class _Harness(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _HarnessHandler)
        self.lock = threading.Lock()
        self.records: dict[str, dict[int, Callback]] = {}

    def take(self, scope: str) -> dict[int, Callback]:
        with self.lock:
            return self.records.pop(scope, {})


class _HarnessHandler(BaseHTTPRequestHandler):
    server: _Harness
    timeout = SOCKET_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        scope, dot, index = self.path.strip("/").rpartition(".")
        try:
            arguments = _read_body(self)
        except ValueError:
            _reply(self, 400, None)
            return
        if not dot or not index.isdigit():
            _reply(self, 404, None)
            return
        record = Callback(list(self.headers.items()), arguments)
        with self.server.lock:
            self.server.records.setdefault(scope, {})[int(index)] = record
        _reply(self, 200, None)


class Client:
    """Sends a request to the service and collects the callbacks it made."""

    def __init__(self, service: _Service, harness: _Harness) -> None:
        self.service_port = service.server_address[1]
        self.harness_port = harness.server_address[1]
        self.harness = harness

    def make_request(self, headers: list[list[str]], count: int = 1) -> list[Callback]:
        scope = uuid.uuid4().hex
        arguments = [
            {"url": f"http://{HOST}:{self.harness_port}/{scope}.{index}", "arguments": []}
            for index in range(count)
        ]
        body = json.dumps(arguments).encode()
        conn = http.client.HTTPConnection(HOST, self.service_port, timeout=SOCKET_TIMEOUT)
        try:
            conn.putrequest("POST", "/", skip_accept_encoding=True)
            conn.putheader("Accept", "application/json")
            for name, value in headers:
                conn.putheader(name, value)  # one header line per pair, repeats kept
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            reply = (response.status, response.read().decode("utf-8", "replace"))
        finally:
            conn.close()
        recorded = self.harness.take(scope)
        for index in range(count):
            assert index in recorded, (
                f"your test service failed to make a callback to the test harness "
                f"(callback {index}; service replied {reply})"
            )
        return [recorded[index] for index in range(count)]

    def single(self, headers: list[list[str]]) -> tuple[Traceparent, Tracestate]:
        callback_headers = self.make_request(headers)[0].headers
        return get_traceparent(callback_headers), get_tracestate(callback_headers)


@contextlib.contextmanager
def _serving(server: ThreadingHTTPServer) -> Iterator[None]:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=SOCKET_TIMEOUT)
        assert not thread.is_alive()


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with contextlib.ExitStack() as stack:
        harness = _Harness()
        stack.callback(harness.server_close)
        service = _Service()
        stack.callback(service.provider.shutdown)
        stack.callback(service.server_close)
        stack.enter_context(_serving(harness))
        stack.enter_context(_serving(service))
        yield Client(service, harness)


# -- TraceContextTest (Level 1) ----------------------------------------------------------


def test_both_traceparent_and_tracestate_missing(client: Client) -> None:
    client.single([])


def test_traceparent_included_tracestate_missing(client: Client) -> None:
    traceparent, _ = client.single([["traceparent", TP00_SAMPLED]])
    assert traceparent.trace_id == TID
    assert traceparent.parent_id != PID


def test_traceparent_duplicated(client: Client) -> None:
    traceparent, _ = client.single(
        [
            ["traceparent", f"00-{TID[:-1]}1-{PID}-01"],
            ["traceparent", TP00_SAMPLED],
        ]
    )
    assert traceparent.trace_id != f"{TID[:-1]}1"
    assert traceparent.trace_id != TID


@pytest.mark.parametrize("name", ["trace-parent", "trace.parent"])
def test_traceparent_header_name(client: Client, name: str) -> None:
    traceparent, _ = client.single([[name, TP00_SAMPLED]])
    assert traceparent.trace_id != TID


@pytest.mark.parametrize("name", ["TraceParent", "TrAcEpArEnT", "TRACEPARENT"])
def test_traceparent_header_name_valid_casing(client: Client, name: str) -> None:
    traceparent, _ = client.single([[name, TP00_SAMPLED]])
    assert traceparent.trace_id == TID


@pytest.mark.parametrize(
    "value",
    [f"{TP00_SAMPLED}.", f"{TP00_SAMPLED}-what-the-future-will-be-like"],
    ids=["trailing-dot", "extra-field"],
)
def test_traceparent_version_0x00(client: Client, value: str) -> None:
    traceparent, _ = client.single([["traceparent", value]])
    assert traceparent.trace_id != TID


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (f"cc-{TID}-{PID}-01", True),
        (f"cc-{TID}-{PID}-01-what-the-future-will-be-like", True),
        (f"cc-{TID}-{PID}-01.what-the-future-will-be-like", False),
    ],
    ids=["plain", "dash-suffix", "dot-suffix"],
)
def test_traceparent_version_0xcc(client: Client, value: str, kept: bool) -> None:
    traceparent, _ = client.single([["traceparent", value]])
    assert (traceparent.trace_id == TID) is kept


def test_traceparent_version_0xff(client: Client) -> None:
    traceparent, _ = client.single([["traceparent", f"ff-{TID}-{PID}-01"]])
    assert traceparent.trace_id != TID


@pytest.mark.parametrize("version", [".0", "0."])
def test_traceparent_version_illegal_characters(client: Client, version: str) -> None:
    traceparent, _ = client.single([["traceparent", f"{version}-{TID}-{PID}-01"]])
    assert traceparent.trace_id != TID


@pytest.mark.parametrize("version", ["000", "0000"])
def test_traceparent_version_too_long(client: Client, version: str) -> None:
    traceparent, _ = client.single([["traceparent", f"{version}-{TID}-{PID}-01"]])
    assert traceparent.trace_id != TID


def test_traceparent_version_too_short(client: Client) -> None:
    traceparent, _ = client.single([["traceparent", f"0-{TID}-{PID}-01"]])
    assert traceparent.trace_id != TID


def test_traceparent_trace_id_all_zero(client: Client) -> None:
    traceparent, _ = client.single([["traceparent", f"00-{ZERO_TID}-{PID}-01"]])
    assert traceparent.trace_id != ZERO_TID


@pytest.mark.parametrize(
    "trace_id", [".2345678901234567890123456789012", "1234567890123456789012345678901."]
)
def test_traceparent_trace_id_illegal_characters(client: Client, trace_id: str) -> None:
    traceparent, _ = client.single([["traceparent", f"00-{trace_id}-{PID}-01"]])
    assert traceparent.trace_id != trace_id


def test_traceparent_trace_id_too_long(client: Client) -> None:
    too_long = TID + "3"
    traceparent, _ = client.single([["traceparent", f"00-{too_long}-{PID}-01"]])
    assert traceparent.trace_id != too_long
    assert traceparent.trace_id != too_long[:32]
    assert traceparent.trace_id != too_long[1:]


def test_traceparent_trace_id_too_short(client: Client) -> None:
    too_short = TID[:31]
    traceparent, _ = client.single([["traceparent", f"00-{too_short}-{PID}-01"]])
    assert traceparent.trace_id != too_short


def test_traceparent_parent_id_all_zero(client: Client) -> None:
    traceparent, _ = client.single([["traceparent", f"00-{TID}-{'0' * 16}-01"]])
    assert traceparent.trace_id != TID


@pytest.mark.parametrize("parent_id", [".234567890123456", "123456789012345."])
def test_traceparent_parent_id_illegal_characters(client: Client, parent_id: str) -> None:
    traceparent, _ = client.single([["traceparent", f"00-{TID}-{parent_id}-01"]])
    assert traceparent.trace_id != TID


def test_traceparent_parent_id_too_long(client: Client) -> None:
    traceparent, _ = client.single([["traceparent", f"00-{TID}-{PID}7-01"]])
    assert traceparent.trace_id != TID


def test_traceparent_parent_id_too_short(client: Client) -> None:
    traceparent, _ = client.single([["traceparent", f"00-{TID}-{PID[:15]}-01"]])
    assert traceparent.trace_id != TID


@pytest.mark.parametrize("flags", [".0", "0."])
def test_traceparent_trace_flags_illegal_characters(client: Client, flags: str) -> None:
    traceparent, _ = client.single([["traceparent", f"00-{TID}-{PID}-{flags}"]])
    assert traceparent.trace_id != TID


def test_traceparent_trace_flags_too_long(client: Client) -> None:
    traceparent, _ = client.single([["traceparent", f"00-{TID}-{PID}-001"]])
    assert traceparent.trace_id != TID


def test_traceparent_trace_flags_too_short(client: Client) -> None:
    traceparent, _ = client.single([["traceparent", f"00-{TID}-{PID}-1"]])
    assert traceparent.trace_id != TID


@pytest.mark.parametrize(
    "value",
    [
        f" {TP00_SAMPLED}",
        f"\t{TP00_SAMPLED}",
        f"{TP00_SAMPLED} ",
        f"{TP00_SAMPLED}\t",
        f"\t {TP00_SAMPLED} \t",
    ],
    ids=["leading-space", "leading-tab", "trailing-space", "trailing-tab", "both"],
)
def test_traceparent_ows_handling(client: Client, value: str) -> None:
    traceparent, _ = client.single([["traceparent", value]])
    assert traceparent.trace_id == TID


def test_tracestate_included_traceparent_missing(client: Client) -> None:
    _, one = client.single([["tracestate", "foo=1"]])
    _, two = client.single([["tracestate", "foo=1,bar=2"]])
    assert len(one) == len(two)


def test_tracestate_included_traceparent_included(client: Client) -> None:
    traceparent, tracestate = client.single([TP00, ["tracestate", "foo=1,bar=2"]])
    assert traceparent.trace_id == TID
    assert "foo" in tracestate
    assert "bar" in tracestate
    assert tracestate["foo"] == "1"
    assert tracestate["bar"] == "2"


@pytest.mark.parametrize("name", ["trace-state", "trace.state"])
def test_tracestate_header_name(client: Client, name: str) -> None:
    _, tracestate = client.single([TP00, [name, "foo=1"]])
    with pytest.raises(KeyError):
        tracestate["foo"]


@pytest.mark.parametrize("name", ["TraceState", "TrAcEsTaTe", "TRACESTATE"])
def test_tracestate_header_name_valid_casing(client: Client, name: str) -> None:
    _, tracestate = client.single([TP00, [name, "foo=1"]])
    assert "foo" in tracestate
    assert tracestate["foo"] == "1"


@pytest.mark.parametrize(
    ("lines", "foo"),
    [
        ([""], None),
        (["foo=1", ""], "1"),
        (["", "foo=1"], "1"),
    ],
    ids=["empty", "value-then-empty", "empty-then-value"],
)
def test_tracestate_empty_header(client: Client, lines: list[str], foo: str | None) -> None:
    traceparent, tracestate = client.single([TP00, *(["tracestate", v] for v in lines)])
    assert traceparent.trace_id == TID
    if foo is None:
        assert not tracestate or str(tracestate) != ""
    else:
        assert "foo" in tracestate
        assert tracestate["foo"] == foo


def test_tracestate_multiple_headers_different_keys(client: Client) -> None:
    traceparent, tracestate = client.single(
        [
            TP00,
            ["tracestate", "foo=1,bar=2"],
            ["tracestate", "rojo=1,congo=2"],
            ["tracestate", "baz=3"],
        ]
    )
    assert traceparent.trace_id == TID
    text = str(tracestate)
    expected = ["foo=1", "bar=2", "rojo=1", "congo=2", "baz=3"]
    for member in expected:
        assert member in text
    positions = [text.index(member) for member in expected]
    assert positions == sorted(positions), text


# STRICT_LEVEL >= 2 in the official suite; run here unconditionally.
@pytest.mark.parametrize(
    ("lines", "accepted"),
    [
        (["foo=1,foo=1"], {"foo=1"}),
        (["foo=1,foo=2"], {"foo=1", "foo=2"}),
        (["foo=1", "foo=1"], {"foo=1"}),
        (["foo=1", "foo=2"], {"foo=1", "foo=2"}),
    ],
    ids=["same-line-same-value", "same-line-other-value", "two-lines-same", "two-lines-other"],
)
def test_tracestate_duplicated_keys(client: Client, lines: list[str], accepted: set[str]) -> None:
    traceparent, tracestate = client.single([TP00, *(["tracestate", v] for v in lines)])
    assert traceparent.trace_id == TID
    text = str(tracestate)
    assert any(member in text for member in accepted), text


_KEY_CHARS_L1 = string.ascii_lowercase + string.digits + "_-*/"
_ALL_VALUE_CHARS = "".join(
    chr(c) for c in [*range(0x20, 0x2C), *range(0x2D, 0x3D), *range(0x3E, 0x7F)]
)


@pytest.mark.parametrize(
    "key", [_KEY_CHARS_L1, _KEY_CHARS_L1 + "@a-z0-9_-*/"], ids=["plain-key", "vendor-key"]
)
def test_tracestate_all_allowed_characters(client: Client, key: str) -> None:
    _, tracestate = client.single([TP00, ["tracestate", f"{key}={_ALL_VALUE_CHARS}"]])
    assert key in tracestate
    assert tracestate[key] == _ALL_VALUE_CHARS


@pytest.mark.parametrize(
    "value",
    [
        "foo=1 \t , \t bar=2, \t baz=3",
        "foo=1\t \t,\t \tbar=2,\t \tbaz=3",
        " foo=1",
        "\tfoo=1",
        "foo=1 ",
        "foo=1\t",
        "\t foo=1 \t",
    ],
    ids=[
        "around-commas",
        "around-commas-tabs",
        "leading-space",
        "leading-tab",
        "trailing-space",
        "trailing-tab",
        "both-ends",
    ],
)
def test_tracestate_ows_handling(client: Client, value: str) -> None:
    traceparent, tracestate = client.single([TP00, ["tracestate", value]])
    assert "foo" in tracestate
    assert tracestate["foo"] == "1"
    if "bar" in value:
        assert tracestate["bar"] == "2"
        assert tracestate["baz"] == "3"
    else:
        assert traceparent.trace_id == TID


# STRICT_LEVEL >= 2 in the official suite; run here unconditionally.
@pytest.mark.parametrize(
    ("value", "key"),
    [("foo =1", "foo "), ("FOO=1", "FOO"), ("foo.bar=1", "foo.bar")],
    ids=["space", "upper-case", "dot"],
)
def test_tracestate_key_illegal_characters(client: Client, value: str, key: str) -> None:
    _, tracestate = client.single([TP00, ["tracestate", value]])
    with pytest.raises(KeyError):
        tracestate[key]


# STRICT_LEVEL >= 2 in the official suite; run here unconditionally.
@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("foo@=1,bar=2", "foo@"),
        ("@foo=1,bar=2", None),
        ("foo@@bar=1,bar=2", "foo@@bar"),
        ("foo@bar@baz=1,bar=2", "foo@bar@baz"),
    ],
    ids=["trailing-at", "leading-at", "double-at", "two-ats"],
)
def test_tracestate_key_illegal_vendor_format(client: Client, value: str, kept: str | None) -> None:
    _, tracestate = client.single([TP00, ["tracestate", value]])
    if kept is None:
        with pytest.raises(KeyError):
            tracestate["bar"]
    else:
        assert tracestate[kept] == "1"
        assert tracestate["bar"] == "2"


_TEN_BARS = [
    ",".join(f"bar{n:02d}={n:02d}" for n in range(start, start + 10)) for start in (1, 11, 21)
]


# STRICT_LEVEL >= 2 in the official suite; run here unconditionally.
@pytest.mark.parametrize(
    ("last", "members"),
    [("bar31=31,bar32=32", 32), ("bar31=31,bar32=32,bar33=33", 33)],
    ids=["32-members", "33-members"],
)
def test_tracestate_member_count_limit(client: Client, last: str, members: int) -> None:
    lines = [*_TEN_BARS, last]
    _, tracestate = client.single([TP00, *(["tracestate", v] for v in lines)])
    if members == 32:
        assert tracestate["bar01"] == "01"
        assert len(tracestate) == 32
    else:
        with pytest.raises(KeyError):
            tracestate["bar01"]


# STRICT_LEVEL >= 2 in the official suite; run here unconditionally.
@pytest.mark.parametrize(
    ("key", "kept"),
    [
        ("z" * 256, True),
        ("z" * 257, False),
        ("t" * 241 + "@" + "v" * 14, True),
        ("t" * 242 + "@v", True),
        ("t@" + "v" * 15, True),
    ],
    ids=["256", "257", "tenant-241-vendor-14", "tenant-242-vendor-1", "tenant-1-vendor-15"],
)
def test_tracestate_key_length_limit(client: Client, key: str, kept: bool) -> None:
    _, tracestate = client.single([TP00, ["tracestate", "foo=1"], ["tracestate", f"{key}=1"]])
    if kept:
        assert tracestate["foo"] == "1"
        assert tracestate[key] == "1"
    else:
        with pytest.raises(KeyError):
            tracestate["foo"]


# STRICT_LEVEL >= 2 in the official suite; run here unconditionally.
@pytest.mark.parametrize(
    ("value", "absent"),
    [("foo=bar=baz", ["foo"]), ("foo=,bar=3", ["foo", "bar"])],
    ids=["equals-in-value", "empty-value"],
)
def test_tracestate_value_illegal_characters(client: Client, value: str, absent: list[str]) -> None:
    _, tracestate = client.single([TP00, ["tracestate", value]])
    for key in absent:
        with pytest.raises(KeyError):
            tracestate[key]


# -- AdvancedTest (several callbacks per request) -----------------------------------------


def _ids(callbacks: list[Callback]) -> tuple[set[str], set[str]]:
    trace_ids, parent_ids = set(), set()
    for callback in callbacks:
        traceparent = get_traceparent(callback.headers)
        trace_ids.add(traceparent.trace_id)
        parent_ids.add(traceparent.parent_id)
    return trace_ids, parent_ids


def test_multiple_requests_with_valid_traceparent(client: Client) -> None:
    trace_ids, parent_ids = _ids(client.make_request([["traceparent", TP00_SAMPLED]], 3))
    assert trace_ids == {TID}
    assert len(parent_ids) == 3


def test_multiple_requests_without_traceparent(client: Client) -> None:
    _, parent_ids = _ids(client.make_request([], 3))
    assert len(parent_ids) == 3


def test_multiple_requests_with_illegal_traceparent(client: Client) -> None:
    headers = [["traceparent", f"00-{ZERO_TID}-{PID}-01"]]
    trace_ids, parent_ids = _ids(client.make_request(headers, 3))
    assert ZERO_TID not in trace_ids
    assert len(parent_ids) == 3


# -- TraceContext2Test (Level 2; SPEC_LEVEL >= 2 in the official suite) --------------------


def test_propagates_random_flag(client: Client) -> None:
    traceparent, _ = client.single([["traceparent", f"00-{TID}-{PID}-02"]])
    assert traceparent.trace_id == TID
    assert traceparent.parent_id != PID
    assert traceparent.trace_flags & 0x02 == 0x02, (
        f"expected value 0x{traceparent.trace_flags:02x} to have the random bit (0x02) set"
    )


# -- the catalogue is complete ------------------------------------------------------------

OFFICIAL_TESTS = (
    # TraceContextTest
    "test_both_traceparent_and_tracestate_missing",
    "test_traceparent_included_tracestate_missing",
    "test_traceparent_duplicated",
    "test_traceparent_header_name",
    "test_traceparent_header_name_valid_casing",
    "test_traceparent_version_0x00",
    "test_traceparent_version_0xcc",
    "test_traceparent_version_0xff",
    "test_traceparent_version_illegal_characters",
    "test_traceparent_version_too_long",
    "test_traceparent_version_too_short",
    "test_traceparent_trace_id_all_zero",
    "test_traceparent_trace_id_illegal_characters",
    "test_traceparent_trace_id_too_long",
    "test_traceparent_trace_id_too_short",
    "test_traceparent_parent_id_all_zero",
    "test_traceparent_parent_id_illegal_characters",
    "test_traceparent_parent_id_too_long",
    "test_traceparent_parent_id_too_short",
    "test_traceparent_trace_flags_illegal_characters",
    "test_traceparent_trace_flags_too_long",
    "test_traceparent_trace_flags_too_short",
    "test_traceparent_ows_handling",
    "test_tracestate_included_traceparent_missing",
    "test_tracestate_included_traceparent_included",
    "test_tracestate_header_name",
    "test_tracestate_header_name_valid_casing",
    "test_tracestate_empty_header",
    "test_tracestate_multiple_headers_different_keys",
    "test_tracestate_duplicated_keys",
    "test_tracestate_all_allowed_characters",
    "test_tracestate_ows_handling",
    "test_tracestate_key_illegal_characters",
    "test_tracestate_key_illegal_vendor_format",
    "test_tracestate_member_count_limit",
    "test_tracestate_key_length_limit",
    "test_tracestate_value_illegal_characters",
    # AdvancedTest
    "test_multiple_requests_with_valid_traceparent",
    "test_multiple_requests_without_traceparent",
    "test_multiple_requests_with_illegal_traceparent",
    # TraceContext2Test
    "test_propagates_random_flag",
)


def test_module_defines_the_41_official_tests() -> None:
    assert len(OFFICIAL_TESTS) == len(set(OFFICIAL_TESTS)) == 41
    defined = {
        name for name, value in globals().items() if name.startswith("test_") and callable(value)
    }
    missing = [name for name in OFFICIAL_TESTS if name not in defined]
    assert not missing, f"official W3C tests not mirrored: {missing}"
    assert defined - set(OFFICIAL_TESTS) == {"test_module_defines_the_41_official_tests"}
