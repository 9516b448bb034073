"""Where a span was started: the user's file:line, whatever path started it."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from source_marks import line_of_mark

import tracehound
from tracehound.findings import report
from tracehound.runtime import _location
from tracehound.runtime.guards import LifecycleGuard
from tracehound.runtime.setup import _Processors

HERE = __file__


line_of = functools.partial(line_of_mark, __file__)


@pytest.fixture(params=["sdk-multi", "switchboard"])
def guarded(request: pytest.FixtureRequest) -> Iterator[tuple[TracerProvider, LifecycleGuard]]:
    """A provider with a LifecycleGuard, behind the SDK's processor list or tracehound's."""
    guard = LifecycleGuard(report, open_limit=None)
    if request.param == "sdk-multi":
        provider = TracerProvider()
        provider.add_span_processor(guard)
    else:
        chain = _Processors()
        chain.processors = (guard,)
        provider = TracerProvider(active_span_processor=chain)  # type: ignore[arg-type]
    yield provider, guard
    guard.shutdown()


def started_at(guard: LifecycleGuard) -> list[str]:
    return [entry.location for entry in guard.open_spans()]


@contextlib.contextmanager
def user_context_manager(provider: TracerProvider) -> Iterator[None]:
    span = provider.get_tracer("t").start_span("inside a user generator")  # MARK-GEN
    try:
        yield
    finally:
        span.end()


def test_every_path_names_the_users_line(
    guarded: tuple[TracerProvider, LifecycleGuard],
) -> None:
    provider, guard = guarded
    tracer = provider.get_tracer("t")
    # Alternate the paths several times: the depth learnt on one path must
    # never give another path's answer.
    for _ in range(3):
        with tracer.start_as_current_span("with"):  # MARK-WITH
            assert started_at(guard) == [f"{HERE}:{line_of('MARK-WITH')}"]
        span = tracer.start_span("direct")  # MARK-DIRECT
        assert started_at(guard) == [f"{HERE}:{line_of('MARK-DIRECT')}"]
        span.end()
        with user_context_manager(provider):
            assert started_at(guard) == [f"{HERE}:{line_of('MARK-GEN')}"]
        span = tracer.start_span(  # MARK-MULTI
            "over several lines",
            attributes={"k": 1},
        )
        assert started_at(guard) == [f"{HERE}:{line_of('MARK-MULTI')}"]
        span.end()
        with contextlib.ExitStack() as stack:  # its __enter__ caller is plumbing too
            stack.enter_context(tracer.start_as_current_span("stacked"))  # MARK-STACK
            assert started_at(guard) == [f"{HERE}:{line_of('MARK-STACK')}"]
        manager = tracer.start_as_current_span("entered by hand")
        manager.__enter__()  # MARK-BY-HAND
        assert started_at(guard) == [f"{HERE}:{line_of('MARK-BY-HAND')}"]
        manager.__exit__(None, None, None)
    assert guard.open_spans() == []


def test_helpers_name_the_users_line(configure: Callable[..., Any]) -> None:
    configure()
    runtime = tracehound.get_runtime()
    assert runtime is not None and runtime.lifecycle is not None
    guard = runtime.lifecycle
    for _ in range(2):
        with tracehound.span("helper"):  # MARK-HELPER
            assert started_at(guard) == [f"{HERE}:{line_of('MARK-HELPER')}"]
        with tracehound.new_trace("job"):  # MARK-NEW
            assert started_at(guard) == [f"{HERE}:{line_of('MARK-NEW')}"]


def test_the_learnt_depth_is_checked_not_trusted(
    guarded: tuple[TracerProvider, LifecycleGuard],
) -> None:
    provider, guard = guarded
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("learn"):
        pass
    # a depth that lands outside the user frame (as if learnt under another
    # processor chain) is noticed and the walk is done again
    depth, code = _location._start_caller  # type: ignore[misc]
    _location._start_caller = (depth + 3, code)
    guard_depth = guard._depth  # the guard's own copy, read inline per span
    guard._depth = guard_depth + 3
    with tracer.start_as_current_span("after"):  # MARK-AFTER
        assert started_at(guard) == [f"{HERE}:{line_of('MARK-AFTER')}"]
    assert _location._start_caller == (depth, code)  # learnt again
    assert guard._depth == guard_depth


def test_line_is_worked_out_from_the_bytecode_offset() -> None:
    def here() -> tuple[object, int]:
        import sys

        frame = sys._getframe()
        return frame.f_code, frame.f_lasti  # MARK-LASTI

    code, lasti = here()
    assert _location.site_location(code, lasti) == (HERE, line_of("MARK-LASTI"))  # type: ignore[arg-type]
