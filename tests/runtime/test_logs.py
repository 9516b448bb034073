"""Trace IDs on log records (stdlib logging) and structlog events."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from tracehound.runtime.logs import (
    LOG_FIELDS,
    TraceIdsFilter,
    add_trace_ids,
    current_trace_ids,
    install_log_correlation,
    uninstall_log_correlation,
)

EMPTY = {"trace_id": "", "span_id": "", "trace_flags": ""}


class Records(logging.Handler):
    """Keeps every record it handles."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def fields(self, index: int = -1) -> dict[str, str]:
        record = self.records[index]
        return {name: getattr(record, name) for name in LOG_FIELDS}


@pytest.fixture
def records() -> Iterator[Records]:
    """Records reaching the root logger; the record factory restored afterwards."""
    original = logging.getLogRecordFactory()
    handler = Records()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    uninstall_log_correlation()
    root.removeHandler(handler)
    root.setLevel(old_level)
    logging.setLogRecordFactory(original)


@pytest.fixture
def tracer() -> trace.Tracer:
    return TracerProvider().get_tracer("test")


def ids_of(span: trace.Span) -> dict[str, str]:
    context = span.get_span_context()
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "trace_flags": format(context.trace_flags, "02x"),
    }


def test_inside_a_span_records_carry_its_w3c_hex(records: Records, tracer: trace.Tracer) -> None:
    install_log_correlation()
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("app").info("inside")
    fields = records.fields()
    assert fields == ids_of(span)
    assert len(fields["trace_id"]) == 32 and len(fields["span_id"]) == 16
    assert int(fields["trace_flags"], 16) & 0x01  # sampled (0x02, W3C's random flag, may be set)


def test_outside_a_span_the_fields_are_empty(records: Records) -> None:
    install_log_correlation()
    logging.getLogger("app").info("outside")
    assert records.fields() == EMPTY


def test_an_unsampled_span_still_names_its_trace(records: Records) -> None:
    install_log_correlation()
    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("test")
    with tracer.start_as_current_span("unsampled") as span:
        logging.getLogger("app").info("inside")
    assert records.fields() == ids_of(span)
    assert not int(records.fields()["trace_flags"], 16) & 0x01


def test_nested_spans_give_the_innermost(records: Records, tracer: trace.Tracer) -> None:
    install_log_correlation()
    log = logging.getLogger("app")
    with tracer.start_as_current_span("outer") as outer:
        log.info("a")
        with tracer.start_as_current_span("inner") as inner:
            log.info("b")
        log.info("c")
    assert [r.span_id for r in records.records] == [  # type: ignore[attr-defined]
        ids_of(outer)["span_id"],
        ids_of(inner)["span_id"],
        ids_of(outer)["span_id"],
    ]


def test_format_string_with_the_fields(records: Records, tracer: trace.Tracer) -> None:
    install_log_correlation()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(trace_id)s %(span_id)s %(trace_flags)s %(message)s"))
    log = logging.getLogger("app.formatted")
    log.addHandler(handler)
    try:
        log.warning("outside")
        with tracer.start_as_current_span("work") as span:
            log.warning("inside")
    finally:
        log.removeHandler(handler)
    ids = ids_of(span)
    assert stream.getvalue().splitlines() == [
        "   outside",
        f"{ids['trace_id']} {ids['span_id']} {ids['trace_flags']} inside",
    ]


def test_third_party_loggers_are_covered(records: Records, tracer: trace.Tracer) -> None:
    install_log_correlation()
    with tracer.start_as_current_span("request") as span:
        logging.getLogger("urllib3.connectionpool").debug("Starting new HTTPS connection")
        logging.getLogger("sqlalchemy.engine.Engine").info("SELECT 1")
    assert records.fields(0) == records.fields(1) == ids_of(span)


def test_extra_with_a_trace_id_is_kept_not_rejected(records: Records) -> None:
    """Code that logged its own trace_id before installing keeps working."""
    install_log_correlation()
    logging.getLogger("app").info("legacy", extra={"trace_id": "from-caller"})
    assert records.fields() == {**EMPTY, "trace_id": "from-caller"}


def test_idempotent(records: Records, tracer: trace.Tracer) -> None:
    install_log_correlation()
    factory = logging.getLogRecordFactory()
    install_log_correlation()
    assert logging.getLogRecordFactory() is factory
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("app").info("once")
    assert records.fields() == ids_of(span)


def test_uninstall_restores_the_previous_factory(records: Records) -> None:
    original = logging.getLogRecordFactory()
    install_log_correlation()
    uninstall_log_correlation()
    uninstall_log_correlation()  # a no-op the second time
    assert logging.getLogRecordFactory() is original
    logging.getLogger("app").info("plain")
    assert not hasattr(records.records[-1], "trace_id")


def test_uninstall_leaves_a_later_wrapper_in_place(records: Records) -> None:
    install_log_correlation()
    ours = logging.getLogRecordFactory()

    def later(*args: object, **kwargs: object) -> logging.LogRecord:
        record = ours(*args, **kwargs)
        record.later = True
        return record

    logging.setLogRecordFactory(later)
    uninstall_log_correlation()
    assert logging.getLogRecordFactory() is later
    logging.getLogger("app").info("after")
    assert records.records[-1].later is True  # type: ignore[attr-defined]
    assert not hasattr(records.records[-1], "trace_id")


def test_wraps_an_existing_factory(records: Records) -> None:
    previous = logging.getLogRecordFactory()

    def custom(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.service = "orders"
        return record

    logging.setLogRecordFactory(custom)
    install_log_correlation()
    logging.getLogger("app").info("both")
    assert records.records[-1].service == "orders"  # type: ignore[attr-defined]
    assert records.fields() == EMPTY


def test_a_worker_thread_without_context_logs_empty_fields(
    records: Records, tracer: trace.Tracer
) -> None:
    install_log_correlation()
    log = logging.getLogger("app.worker")
    with tracer.start_as_current_span("request") as span:
        worker = threading.Thread(target=log.info, args=("in a thread",))
        worker.start()
        worker.join()
        with ThreadPoolExecutor(1) as pool:
            pool.submit(log.info, "in a pool").result()
        log.info("in the request")
    assert [records.fields(i) for i in range(3)] == [EMPTY, EMPTY, ids_of(span)]


def test_asyncio_tasks_inherit_the_span(records: Records, tracer: trace.Tracer) -> None:
    install_log_correlation()

    async def handler() -> None:
        logging.getLogger("app.async").info("in a task")

    async def request() -> trace.Span:
        with tracer.start_as_current_span("request") as span:
            await asyncio.create_task(handler())
        return span

    span = asyncio.run(request())
    assert records.fields() == ids_of(span)


def test_logger_scoped_install_uses_a_filter(records: Records, tracer: trace.Tracer) -> None:
    original = logging.getLogRecordFactory()
    scoped = logging.getLogger("app.scoped")
    install_log_correlation(logger=scoped)
    install_log_correlation(logger=scoped)
    try:
        assert logging.getLogRecordFactory() is original
        assert len(scoped.filters) == 1
        with tracer.start_as_current_span("work") as span:
            scoped.info("covered")
            logging.getLogger("app.scoped.child").info("not covered")
            scoped.info("extra wins", extra={"span_id": "mine"})
        assert records.fields(0) == ids_of(span)
        assert not hasattr(records.records[1], "trace_id")
        assert records.fields(2) == {**ids_of(span), "span_id": "mine"}
    finally:
        uninstall_log_correlation(logger=scoped)
    assert scoped.filters == []


def test_filter_on_a_handler(tracer: trace.Tracer) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TraceIdsFilter())
    handler.setFormatter(logging.Formatter("%(trace_id)s|%(message)s"))
    log = logging.getLogger("app.handler_filter")
    log.addHandler(handler)
    log.propagate = False
    try:
        with tracer.start_as_current_span("work") as span:
            logging.getLogger("app.handler_filter.child").warning("child")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert stream.getvalue() == f"{ids_of(span)['trace_id']}|child\n"


def test_current_trace_ids(tracer: trace.Tracer) -> None:
    assert current_trace_ids() == ("", "", "")
    with tracer.start_as_current_span("work") as span:
        ids = ids_of(span)
        assert current_trace_ids() == (ids["trace_id"], ids["span_id"], ids["trace_flags"])
        assert current_trace_ids() is current_trace_ids()  # memoised per span
    assert current_trace_ids() == ("", "", "")


# -- structlog ------------------------------------------------------------------------


def test_structlog_processor_called_directly(tracer: trace.Tracer) -> None:
    assert add_trace_ids(None, "info", {"event": "x"}) == {"event": "x", **EMPTY}
    with tracer.start_as_current_span("work") as span:
        event = add_trace_ids(None, "info", {"event": "x", "span_id": "kept"})
    assert event == {"event": "x", **ids_of(span), "span_id": "kept"}


def test_structlog_pipeline(tracer: trace.Tracer) -> None:
    captured = structlog.testing.CapturingLogger()
    log = structlog.wrap_logger(captured, processors=[add_trace_ids])
    with tracer.start_as_current_span("work") as span:
        log.info("inside", order_id=7)
    log.info("outside")
    inside, outside = captured.calls
    assert inside.kwargs == {"event": "inside", "order_id": 7, **ids_of(span)}
    assert outside.kwargs == {"event": "outside", **EMPTY}
