"""gRPC metadata round trip: tracehound injects, a real grpc server reads with OTel's propagators.

gRPC metadata keys must be lower case: a client that sends ``X-B3-TraceId``
has its call rejected (``INTERNAL: Invalid metadata``) before it leaves the
process.  The server is a real ``grpc`` server on 127.0.0.1 with a generic
bytes handler; it extracts with OpenTelemetry's own ``B3MultiFormat``,
``B3SingleFormat``, ``JaegerPropagator``, ``TraceContextTextMapPropagator``
and ``W3CBaggagePropagator`` (over ``dict(metadata)``, as OpenTelemetry's gRPC
instrumentation reads it) and with tracehound's propagator over the raw
metadata tuple.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from opentelemetry import baggage, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, attach, detach
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.propagators.jaeger import JaegerPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import (
    TraceContextTextMapPropagator,
)

from tracehound.runtime.propagation import TracehoundPropagator

METHOD = "/tracehound.test.Echo/Call"
READERS: dict[str, Any] = {
    "b3multi": B3MultiFormat(),
    "b3": B3SingleFormat(),
    "jaeger": JaegerPropagator(),
    "tracecontext": TraceContextTextMapPropagator(),
}


def _ids(context: Context) -> list[Any] | None:
    sc = trace.get_current_span(context).get_span_context()
    return (
        [f"{sc.trace_id:032x}", f"{sc.span_id:016x}", sc.trace_flags.sampled]
        if sc.is_valid
        else None
    )


def _handle(request: bytes, context: Any) -> bytes:
    metadata = tuple(context.invocation_metadata())
    as_dict = {m.key: m.value for m in metadata}
    seen: dict[str, Any] = {name: _ids(p.extract(as_dict)) for name, p in READERS.items()}
    seen["tracehound"] = _ids(TracehoundPropagator(report=False).extract(metadata))
    seen["w3c_baggage"] = dict(baggage.get_all(W3CBaggagePropagator().extract(as_dict)))
    seen["tracehound_baggage"] = dict(
        baggage.get_all(TracehoundPropagator(report=False).extract(metadata))
    )
    seen["keys"] = sorted(m.key for m in metadata)
    return json.dumps(seen).encode()


@pytest.fixture(scope="module")
def channel() -> Iterator[Any]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.unary_unary_rpc_method_handler(_handle)  # no serializers: bytes in, bytes out
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("tracehound.test.Echo", {"Call": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
            grpc.channel_ready_future(chan).result(timeout=10)
            yield chan
    finally:
        server.stop(grace=None).wait(timeout=5)


def _call(chan: Any, metadata: list[tuple[str, str]]) -> dict[str, Any]:
    reply = chan.unary_unary(METHOD)(b"", metadata=metadata, timeout=10)
    return json.loads(reply)


@pytest.mark.parametrize("fmt", ["tracecontext", "jaeger", "b3", "b3multi"])
def test_each_inject_format_survives_grpc_metadata(channel: Any, fmt: str) -> None:
    tracer = TracerProvider().get_tracer("grpc-client")
    propagator = TracehoundPropagator(inject=[fmt])
    token = attach(baggage.set_baggage("tenant id", "acme corp", baggage.set_baggage("k", "a+b")))
    try:
        with tracer.start_as_current_span("parent"), tracer.start_as_current_span("call") as span:
            metadata: dict[str, str] = {}
            propagator.inject(metadata)
            sc = span.get_span_context()
    finally:
        detach(token)
    assert set(metadata) <= propagator.fields | {"uberctx-k"}
    seen = _call(channel, list(metadata.items()))
    expected = [f"{sc.trace_id:032x}", f"{sc.span_id:016x}", True]
    assert seen[fmt] == expected, f"OTel's {fmt} propagator did not read {metadata}"
    assert seen["tracehound"] == expected
    assert seen["w3c_baggage"] == {"tenant id": "acme corp", "k": "a+b"}
    assert seen["tracehound_baggage"] == {"tenant id": "acme corp", "k": "a+b"}


def test_all_formats_at_once(channel: Any) -> None:
    tracer = TracerProvider().get_tracer("grpc-client")
    propagator = TracehoundPropagator(inject=["tracecontext", "jaeger", "b3", "b3multi"])
    with tracer.start_as_current_span("call") as span:
        metadata: dict[str, str] = {}
        propagator.inject(metadata)
        sc = span.get_span_context()
    seen = _call(channel, list(metadata.items()))
    expected = [f"{sc.trace_id:032x}", f"{sc.span_id:016x}", True]
    assert all(seen[name] == expected for name in READERS), seen
    assert seen["tracehound"] == expected
    assert set(seen["keys"]) >= propagator.fields - {"tracestate", "baggage"}


def test_title_case_metadata_is_rejected_by_grpc(channel: Any) -> None:
    """Why inject writes lower case: this is what ``X-B3-TraceId`` did to a gRPC call."""
    with pytest.raises(grpc.RpcError) as raised:
        _call(channel, [("X-B3-TraceId", "4bf92f3577b34da6a3ce929d0e0e4736")])
    assert raised.value.code() == grpc.StatusCode.INTERNAL
