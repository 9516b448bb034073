"""Span helpers: the right parent, always ended, errors recorded, one deliberate new trace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import tracehound

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"


def test_continue_trace_from_each_format(configure: Callable[..., Any]) -> None:
    recorded = configure()
    carriers = {
        "w3c": {"traceparent": f"00-{TID}-{SID}-01"},
        "jaeger": {"Uber-Trace-Id": f"{TID}:{SID}:0:1"},
        "b3": {"b3": f"{TID}-{SID}-1"},
        "b3multi": {"X-B3-TraceId": TID, "X-B3-SpanId": SID, "X-B3-Sampled": "1"},
    }
    for name, carrier in carriers.items():
        with tracehound.continue_trace(carrier, name) as span:
            assert tracehound.current_trace_id() == TID
            with tracehound.span("child"):
                pass
        assert span.get_span_context().trace_id == int(TID, 16)
    for name in carriers:
        server = recorded.named(name)
        assert server.kind is SpanKind.SERVER
        assert server.parent is not None
        assert server.parent.span_id == int(SID, 16)
        assert server.parent.is_remote
    children = [s for s in recorded.spans if s.name == "child"]
    assert len(children) == 4
    assert all(c.context.trace_id == int(TID, 16) for c in children)


def test_continue_trace_without_context_says_so(configure: Callable[..., Any]) -> None:
    recorded = configure()
    with tracehound.continue_trace({"accept": "*/*"}, "GET /"):
        pass
    assert recorded.codes() == ["C006"]
    assert "no trace headers" in recorded.findings[0].message
    assert recorded.findings[0].location is not None
    assert recorded.findings[0].location.endswith(
        ".py:" + recorded.findings[0].location.split(":")[-1]
    )


def test_continue_trace_with_bad_headers_names_the_problem(
    configure: Callable[..., Any],
) -> None:
    recorded = configure()
    with tracehound.continue_trace({"traceparent": f"00-{TID.upper()}-{SID}-01"}, "GET /"):
        pass
    assert recorded.codes() == ["P001", "C006"]
    assert "upper-case hex" in recorded.findings[1].message


def test_conflict_becomes_link_and_attribute(configure: Callable[..., Any]) -> None:
    recorded = configure()
    other = "a" * 32
    carrier = {"traceparent": f"00-{TID}-{SID}-01", "uber-trace-id": f"{other}:{SID}:0:1"}
    with tracehound.continue_trace(carrier, "handler"):
        pass
    span = recorded.named("handler")
    assert span.context.trace_id == int(TID, 16)
    assert span.attributes["tracehound.propagation.conflict"] == f"jaeger={other}"
    assert [link.context.trace_id for link in span.links] == [int(other, 16)]
    assert "P002" in recorded.codes()


def test_exception_is_recorded_and_span_ends(configure: Callable[..., Any]) -> None:
    recorded = configure()
    with pytest.raises(ZeroDivisionError), tracehound.span("div"):
        1 / 0  # noqa: B018
    span = recorded.named("div")
    assert span.status.status_code is StatusCode.ERROR
    assert "ZeroDivisionError" in (span.status.description or "")
    assert span.events[0].name == "exception"
    assert span.end_time is not None


def test_decorators_sync_and_async(configure: Callable[..., Any]) -> None:
    recorded = configure()

    @tracehound.span("work", attributes={"order.id": 7})
    def work(x: int) -> int:
        return x * 2

    @tracehound.span("async work")
    async def async_work() -> str:
        await asyncio.sleep(0)
        return tracehound.current_span_id() or ""

    with tracehound.span("parent", kind=SpanKind.SERVER) as parent:
        assert work(2) == 4
        assert work(3) == 6  # a new span per call
        span_id = asyncio.run(async_work())
    spans = [s for s in recorded.spans if s.name == "work"]
    assert len(spans) == 2
    assert all(s.parent.span_id == parent.get_span_context().span_id for s in spans)
    assert spans[0].attributes["order.id"] == 7
    assert recorded.named("async work").context.span_id == int(span_id, 16)


def test_async_context_manager(configure: Callable[..., Any]) -> None:
    recorded = configure()

    async def main() -> None:
        async with tracehound.span("outer", kind=SpanKind.SERVER):
            await asyncio.gather(*(child(i) for i in range(3)))

    async def child(i: int) -> None:
        async with tracehound.span(f"child-{i}"):
            await asyncio.sleep(0)

    asyncio.run(main())
    outer = recorded.named("outer")
    for i in range(3):
        assert recorded.named(f"child-{i}").parent.span_id == outer.context.span_id


def test_new_trace_is_deliberate_and_linked(configure: Callable[..., Any]) -> None:
    recorded = configure()
    with (
        tracehound.span("request", kind=SpanKind.SERVER) as request,
        tracehound.new_trace("compensation"),
    ):
        pass
    job = recorded.named("compensation")
    assert job.parent is None
    assert job.context.trace_id != request.get_span_context().trace_id
    assert job.links[0].context.span_id == request.get_span_context().span_id
    assert job.attributes["tracehound.new_trace"] is True
    assert recorded.codes() == []  # not a C004


def test_inject_and_extract_round_trip(configure: Callable[..., Any]) -> None:
    configure(inject=["tracecontext", "b3"])
    outbound: dict[str, str] = {}
    with tracehound.new_trace("client", kind=SpanKind.CLIENT):
        headers = tracehound.inject(outbound)
        trace_id = tracehound.current_trace_id()
    assert outbound == headers
    assert set(headers) == {"traceparent", "b3"}
    assert tracehound.current_trace_id() is None
    from opentelemetry import trace

    context = tracehound.extract(headers)
    assert f"{trace.get_current_span(context).get_span_context().trace_id:032x}" == trace_id


def test_scope_cannot_be_entered_twice(configure: Callable[..., Any]) -> None:
    configure()
    scope = tracehound.span("once")
    with scope, pytest.raises(RuntimeError, match="already in use"), scope:
        pass
