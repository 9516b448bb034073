"""The guards: lost context (C004/C005), leaked (L001), long-open (L002), double-ended (L003)."""

from __future__ import annotations

import asyncio
import functools
import gc
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from source_marks import line_of_mark

import tracehound
from tracehound.runtime.guards import LifecycleGuard

HERE = __file__


line_of = functools.partial(line_of_mark, __file__)


def work_in_thread() -> None:
    with tracehound.span("charge card", kind=SpanKind.CLIENT):  # MARK-C005
        pass


def test_c005_plain_thread_pool_loses_the_context(configure: Callable[..., Any]) -> None:
    recorded = configure()
    with tracehound.span("POST /orders", kind=SpanKind.SERVER), ThreadPoolExecutor(2) as pool:
        pool.submit(work_in_thread).result()
    assert recorded.codes() == ["C005"]
    finding = recorded.findings[0]
    assert finding.location == f"{HERE}:{line_of('MARK-C005')}"
    assert "'POST /orders'" in finding.message
    assert "ThreadPoolExecutor" in finding.details["thread"]
    charge = recorded.named("charge card")
    assert charge.parent is None  # the trace really is broken


def test_c005_plain_thread(configure: Callable[..., Any]) -> None:
    recorded = configure()
    with tracehound.span("handler", kind=SpanKind.SERVER):
        thread = threading.Thread(target=work_in_thread, name="worker-1")
        thread.start()
        thread.join()
    assert recorded.codes() == ["C005"]
    assert recorded.findings[0].details["thread"] == "worker-1"


def test_context_executor_and_start_thread_keep_the_trace(
    configure: Callable[..., Any],
) -> None:
    recorded = configure()
    with tracehound.span("POST /orders", kind=SpanKind.SERVER) as parent:
        with tracehound.ContextExecutor(ThreadPoolExecutor(2)) as pool:
            list(pool.map(lambda _: work_in_thread(), range(3)))
        tracehound.start_thread(work_in_thread, name="carried").join()
    assert recorded.codes() == []
    charges = [s for s in recorded.spans if s.name == "charge card"]
    assert len(charges) == 4
    assert {s.parent.span_id for s in charges} == {parent.get_span_context().span_id}


def test_context_executor_map_runs_tasks_at_once_in_the_trace(
    configure: Callable[..., Any],
) -> None:
    """map binds the function once; its tasks run side by side, each in the submitter's context."""
    recorded = configure()
    both_running = threading.Barrier(2, timeout=10)

    def task(_: int) -> int:
        both_running.wait()  # two tasks in the same bound function at the same time
        return trace.get_current_span().get_span_context().trace_id

    with (
        tracehound.span("POST /orders", kind=SpanKind.SERVER) as parent,
        tracehound.ContextExecutor(ThreadPoolExecutor(2)) as pool,
    ):
        trace_ids = list(pool.map(task, range(2)))
    assert trace_ids == [parent.get_span_context().trace_id] * 2
    assert recorded.codes() == []


def test_asyncio_tasks_and_to_thread_keep_the_parent(configure: Callable[..., Any]) -> None:
    recorded = configure()

    async def main() -> None:
        with tracehound.span("async handler", kind=SpanKind.SERVER):
            await asyncio.create_task(asyncio.sleep(0))
            await asyncio.to_thread(work_in_thread)

    asyncio.run(main())
    assert recorded.codes() == []
    assert recorded.named("charge card").parent is not None


def test_run_in_executor_loses_it_and_is_caught(configure: Callable[..., Any]) -> None:
    recorded = configure()

    async def main() -> None:
        with tracehound.span("async handler", kind=SpanKind.SERVER):
            await asyncio.get_running_loop().run_in_executor(None, work_in_thread)

    asyncio.run(main())
    assert recorded.codes() == ["C005"]


def test_c004_root_internal_span_without_a_submitter(configure: Callable[..., Any]) -> None:
    recorded = configure()
    with tracehound.span("orphaned helper"):  # MARK-C004
        pass
    assert recorded.codes() == ["C004"]
    assert recorded.findings[0].location == f"{HERE}:{line_of('MARK-C004')}"
    with tracehound.span("GET /", kind=SpanKind.SERVER):
        pass
    assert recorded.codes() == ["C004"]  # entry spans may start traces


def test_strict_mode_raises_at_the_call(configure: Callable[..., Any]) -> None:
    configure(mode="strict")
    with (
        pytest.raises(tracehound.TraceViolation, match="C004 suspicious-root") as raised,
        tracehound.span("lost"),
    ):
        pass
    assert raised.value.finding.code == "C004"
    assert "fix:" in str(raised.value)


def leak() -> None:
    span = trace.get_tracer("t").start_span("never ended")  # MARK-L001
    del span


def test_l001_garbage_collected_span_names_its_line(configure: Callable[..., Any]) -> None:
    recorded = configure()
    with tracehound.span("request", kind=SpanKind.SERVER):
        leak()
        gc.collect()
    l001 = [f for f in recorded.findings if f.code == "L001"]
    assert len(l001) == 1
    assert l001[0].location == f"{HERE}:{line_of('MARK-L001')}"
    assert "'never ended'" in l001[0].message
    assert "garbage-collected" in l001[0].message


def test_l001_open_at_shutdown_and_strict_raises(configure: Callable[..., Any]) -> None:
    recorded = configure(mode="strict")
    with (
        pytest.raises(tracehound.TraceViolation, match="L010"),  # open when its request ended
        tracehound.span("request", kind=SpanKind.SERVER),
    ):
        kept = trace.get_tracer("t").start_span("still open")
    assert trace.get_current_span() is trace.INVALID_SPAN  # the request's context was detached
    with pytest.raises(tracehound.TraceViolation, match="L001"):
        tracehound.shutdown()
    assert "still open at shutdown" in recorded.findings[-1].message
    kept.end()


def test_l002_open_too_long_is_checked_by_the_timer_logic() -> None:
    seen: list[tracehound.Finding] = []
    guard = LifecycleGuard(seen.append, open_limit=10.0, check_interval=3600)
    provider_span = trace.get_tracer("t")
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(guard)
    span = provider.get_tracer("t").start_span("slow")
    started = guard.open_spans()[0].started
    assert guard.check_open_too_long(now=started + 5) == []
    found = guard.check_open_too_long(now=started + 11)
    assert [f.code for f in found] == ["L002"]
    assert guard.check_open_too_long(now=started + 20) == []  # reported once
    span.end()
    assert guard.open_spans() == []
    guard.shutdown()
    del provider_span


def test_l003_ended_twice(configure: Callable[..., Any]) -> None:
    recorded = configure()
    with tracehound.span("parent", kind=SpanKind.SERVER):
        span = trace.get_tracer("t").start_span("twice")
        span.end()
        span.end()  # MARK-L003
    l003 = [f for f in recorded.findings if f.code == "L003"]
    assert len(l003) == 1
    assert "'twice'" in l003[0].message
    assert l003[0].location == f"{HERE}:{line_of('MARK-L003')}"


def test_bookkeeping_is_bounded() -> None:
    guard = LifecycleGuard(lambda f: None, max_tracked=10, open_limit=None)
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(guard)
    spans = [provider.get_tracer("t").start_span(f"s{i}") for i in range(25)]
    assert len(guard.open_spans()) == 10
    assert guard.untracked == 15
    for span in spans:
        span.end()
    assert guard.open_spans() == []
    guard.shutdown()


def test_mode_off_installs_no_guards(configure: Callable[..., Any]) -> None:
    recorded = configure(mode="off")
    with tracehound.span("lost"):
        pass
    assert recorded.codes() == []
    assert recorded.named("lost") is not None


def test_bad_mode_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEHOUND_MODE", "loud")
    with pytest.raises(
        tracehound.ConfigurationError,
        match="TRACEHOUND_MODE: unknown mode 'loud'; choose one of off, warn",
    ):
        tracehound.configure(span_exporter=None)
