"""L010: spans still open when their request (the entry span) ended."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from source_marks import line_of_mark

import tracehound
from tracehound.runtime import guards

HERE = __file__


line_of = functools.partial(line_of_mark, __file__)


def send_receipt(started: threading.Event, release: threading.Event) -> None:
    with tracehound.span("send receipt", kind=SpanKind.CLIENT):  # MARK-THREAD
        started.set()
        release.wait(10)


def test_a_background_thread_span_outliving_the_request(configure: Callable[..., Any]) -> None:
    recorded = configure()
    started, release = threading.Event(), threading.Event()
    with tracehound.new_trace("POST /orders", kind=SpanKind.SERVER):
        worker = tracehound.start_thread(send_receipt, started, release)
        started.wait(10)
    release.set()
    worker.join(10)
    found = [f for f in recorded.findings if f.code == "L010"]
    assert len(found) == 1, recorded.findings
    assert found[0].location == f"{HERE}:{line_of('MARK-THREAD')}"
    assert found[0].details["request"] == "POST /orders"
    assert found[0].span_id == f"{recorded.named('send receipt').context.span_id:016x}"
    # the child is still exported, just late
    assert (
        recorded.named("send receipt").parent.span_id
        == recorded.named("POST /orders").context.span_id
    )


async def audit(started: asyncio.Event, release: asyncio.Event) -> None:
    with tracehound.span("write audit log"):  # MARK-TASK
        started.set()
        await release.wait()


def test_a_fire_and_forget_task_outliving_the_request(configure: Callable[..., Any]) -> None:
    recorded = configure()

    async def main() -> None:
        started, release = asyncio.Event(), asyncio.Event()
        with tracehound.new_trace("GET /cart", kind=SpanKind.SERVER):
            task = asyncio.create_task(audit(started, release))
            await started.wait()
        release.set()
        await task

    asyncio.run(main())
    found = [f for f in recorded.findings if f.code == "L010"]
    assert [f.location for f in found] == [f"{HERE}:{line_of('MARK-TASK')}"]


def test_work_finished_inside_the_request_and_ancestors_are_fine(
    configure: Callable[..., Any],
) -> None:
    recorded = configure()
    release = threading.Event()
    with tracehound.new_trace("checkout job"):  # opened before the request: not its work
        with tracehound.span("POST /orders", kind=SpanKind.SERVER):
            with tracehound.span("charge card", kind=SpanKind.CLIENT):
                pass
            worker = tracehound.start_thread(release.wait, 10)
        release.set()
        worker.join(10)
    assert "L010" not in recorded.codes()


def test_another_request_of_the_same_trace_is_not_this_one_s_work(
    configure: Callable[..., Any],
) -> None:
    # A service calling itself twice in parallel: two requests of one trace
    # overlap in one process, the first ends while the second still works.
    recorded = configure()
    first_started, second_started, release = (threading.Event() for _ in range(3))

    def first() -> None:
        with tracehound.span("GET /price", kind=SpanKind.SERVER):
            first_started.set()
            second_started.wait(10)

    def second() -> None:
        with tracehound.span("GET /stock", kind=SpanKind.SERVER), tracehound.span("read stock"):
            second_started.set()
            release.wait(10)

    with tracehound.new_trace("fan out", kind=SpanKind.CLIENT):
        one = tracehound.start_thread(first)
        first_started.wait(10)
        two = tracehound.start_thread(second)
        one.join(10)
        release.set()
        two.join(10)
    assert "L010" not in recorded.codes()


def test_not_checked_while_more_spans_are_open_than_the_scan_limit(
    configure: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(guards, "MAX_SCANNED", 1)
    recorded = configure()
    tracer = trace.get_tracer("app")
    with tracehound.new_trace("GET /a", kind=SpanKind.SERVER):
        first = tracer.start_span("left open")
    assert [f.details["span"] for f in recorded.findings if f.code == "L010"] == ["left open"]
    with tracehound.new_trace("GET /b", kind=SpanKind.SERVER):
        second = tracer.start_span("left open too")
    # two spans open when GET /b ended: over the limit, not scanned
    assert [f.details["span"] for f in recorded.findings if f.code == "L010"] == ["left open"]
    first.end()
    second.end()
