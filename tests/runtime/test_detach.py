"""L009: a span left in another context than it was entered in (real async generators)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from source_marks import line_of_mark

import tracehound

HERE = __file__


line_of = functools.partial(line_of_mark, __file__)


async def stream_in_tracehound_span() -> AsyncIterator[int]:
    with tracehound.span("stream rows"):  # MARK-TRACEHOUND-WITH
        yield 1  # MARK-TRACEHOUND-YIELD
        yield 2


async def stream_in_otel_span() -> AsyncIterator[int]:
    with trace.get_tracer("app").start_as_current_span("stream chunks"):  # MARK-OTEL-WITH
        yield 1  # MARK-OTEL-YIELD
        yield 2


async def read_one_then_close_elsewhere(make: Callable[[], AsyncIterator[int]]) -> None:
    """The streaming-response shape: one task iterates, another closes the generator."""
    with tracehound.new_trace("GET /rows", kind=SpanKind.SERVER):
        rows = make()
        assert await asyncio.create_task(anext_of(rows)) == 1
        await asyncio.create_task(rows.aclose(), name="closer")  # type: ignore[attr-defined]


async def anext_of(rows: AsyncIterator[int]) -> int:
    return await rows.__anext__()


@pytest.mark.parametrize(
    ("make", "span_name", "marker"),
    [
        (stream_in_tracehound_span, "stream rows", "MARK-TRACEHOUND"),
        (stream_in_otel_span, "stream chunks", "MARK-OTEL"),
    ],
)
def test_l009_names_the_span_and_the_line_that_left_it(
    configure: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    make: Callable[[], AsyncIterator[int]],
    span_name: str,
    marker: str,
) -> None:
    recorded = configure()
    with caplog.at_level(logging.ERROR):
        asyncio.run(read_one_then_close_elsewhere(make))
    found = [f for f in recorded.findings if f.code == "L009"]
    assert len(found) == 1, recorded.findings
    # the with block left (Python reports its exit at the with or at the yield)
    lines = {line_of(f"{marker}-WITH"), line_of(f"{marker}-YIELD")}
    assert found[0].location in {f"{HERE}:{line}" for line in lines}
    assert found[0].details["span"] == span_name
    assert found[0].details["where"] == "task 'closer'"
    assert found[0].span_id == f"{recorded.named(span_name).context.span_id:016x}"
    # reported instead of OpenTelemetry's bare traceback into its own code
    assert not [r for r in caplog.records if r.getMessage() == "Failed to detach context"]


def test_a_generator_closed_where_it_runs_is_fine(configure: Callable[..., Any]) -> None:
    recorded = configure()

    async def read_all() -> None:
        with tracehound.new_trace("GET /rows", kind=SpanKind.SERVER):
            rows = stream_in_tracehound_span()
            assert [row async for row in rows] == [1, 2]

    asyncio.run(read_all())
    assert "L009" not in recorded.codes()
    assert recorded.named("stream rows")


def test_strict_mode_raises_at_the_close(configure: Callable[..., Any]) -> None:
    configure(mode="strict")
    with pytest.raises(tracehound.TraceViolation, match="L009"):
        asyncio.run(read_one_then_close_elsewhere(stream_in_tracehound_span))


def test_mode_off_leaves_opentelemetry_s_log_alone(
    configure: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    recorded = configure(mode="off")
    with caplog.at_level(logging.ERROR):
        asyncio.run(read_one_then_close_elsewhere(stream_in_otel_span))
    assert "L009" not in recorded.codes()
    assert [r for r in caplog.records if r.getMessage() == "Failed to detach context"]
