"""G001 and G002 over ``otel_logs``: the hop where a request's trace ID changed or vanished,
and a service whose spans cannot be joined to its logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tracehound.doctor import check_paths, load
from tracehound.doctor.checks import logs
from tracehound.runtime.export import OtlpJsonFileExporter


def _structlog_spans(tmp_path: Path, *, with_ids: bool) -> list[str]:
    """payments, on the real SDK, logging with structlog inside its server span."""
    provider = TracerProvider(resource=Resource.create({"service.name": "payments"}))
    provider.add_span_processor(SimpleSpanProcessor(OtlpJsonFileExporter(tmp_path / "s.jsonl")))
    tracer = provider.get_tracer("test")

    def add_ids(_: object, __: str, event: dict) -> dict:
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            event["trace_id"] = format(ctx.trace_id, "032x")
        return event

    processors = [structlog.processors.add_log_level, structlog.processors.TimeStamper("iso")]
    processors += [add_ids] if with_ids else []
    with (tmp_path / "payments.log").open("w") as out:
        structlog.configure(
            processors=[*processors, structlog.processors.JSONRenderer()],
            logger_factory=structlog.WriteLoggerFactory(out),
        )
        try:
            for order in ("o-1", "o-2"):
                with tracer.start_as_current_span("POST /pay", kind=trace.SpanKind.SERVER):
                    structlog.get_logger().info("charging", order_id=order)
        finally:
            structlog.reset_defaults()
    provider.shutdown()
    return [str(tmp_path / "s.jsonl"), str(tmp_path / "payments.log")]


def test_a_service_with_spans_whose_logs_carry_no_trace_id(tmp_path: Path) -> None:
    report = check_paths(_structlog_spans(tmp_path, with_ids=False))
    (finding,) = [f for f in report.findings if f.code == "G002"]
    assert finding.service == "payments"
    assert "none of its 2 log lines carries a trace ID (written by structlog)" in finding.message
    assert "get_current_span().get_span_context()" in finding.details["fix"]
    assert finding.location == f"{tmp_path / 'payments.log'}:1"


def test_no_finding_once_the_logs_carry_the_trace_id(tmp_path: Path) -> None:
    report = check_paths(_structlog_spans(tmp_path, with_ids=True))
    assert not [f for f in report.findings if f.code.startswith("G")]


def _write(path: Path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _line(second: int, order: str, trace_id: str | None, **extra: str) -> dict:
    line = {"time": f"2024-05-01T12:00:{second:02d}Z", "level": "info", "message": "step",
            "order_id": order, **extra}  # fmt: skip
    if trace_id:
        line["trace_id"] = trace_id
    return line


A, B, C = "a" * 32, "b" * 32, "c" * 32


def test_the_trace_id_vanished_at_the_callee_and_fan_out_is_followed(tmp_path: Path) -> None:
    # gateway calls cart and then stock for each order; stock logs no trace ID for
    # o-1 (its other lines have one); cart continues the trace throughout
    _write(tmp_path / "gateway.log", [_line(0, "o-1", A), _line(10, "o-2", B)])
    _write(tmp_path / "cart.log", [_line(1, "o-1", A), _line(11, "o-2", B)])
    _write(tmp_path / "stock.log", [_line(2, "o-1", None), _line(12, "o-2", B)])
    store, _ = load([str(tmp_path)])
    try:
        result = logs.check(store)
        suggestions = logs.suggest_keys(store)
    finally:
        store.close()
    assert [s.key for s in suggestions] == ["order_id"]
    assert (suggestions[0].services, suggestions[0].shared_values) == (3, 2)
    (finding,) = result.findings
    assert (finding.details["caller"], finding.details["callee"]) == ("cart", "stock")
    assert (finding.details["vanished"], finding.details["requests"]) == (1, 2)
    assert "stock logged no trace ID for order_id o-1" in finding.message
    continued = {(h.caller, h.callee): h.continued for h in result.hops}
    assert continued == {("gateway", "cart"): 2, ("cart", "stock"): 1}


def test_a_key_spelled_differently_in_each_service(tmp_path: Path) -> None:
    _write(tmp_path / "edge.log", [
        {"time": "2024-05-01T12:00:00Z", "msg": "in", "x-request-id": "r1", "trace_id": A},
        {"time": "2024-05-01T12:00:05Z", "msg": "in", "x-request-id": "r2", "trace_id": C},
    ])  # fmt: skip
    _write(tmp_path / "api.log", [
        {"time": "2024-05-01T12:00:01Z", "msg": "go", "requestId": "r1", "trace_id": B},
        {"time": "2024-05-01T12:00:06Z", "msg": "go", "requestId": "r2", "trace_id": C},
    ])  # fmt: skip
    report = check_paths([str(tmp_path)], log_key="x_request_id")
    (finding,) = [f for f in report.findings if f.code == "G001"]
    assert (finding.details["caller"], finding.details["callee"]) == ("edge", "api")
    assert (finding.details["changed"], finding.details["requests"]) == (1, 2)


def test_no_shared_field_is_said_not_guessed(tmp_path: Path) -> None:
    _write(tmp_path / "one.log", [_line(0, "o-1", A)])
    _write(tmp_path / "two.log", [_line(1, "o-9", B)])
    report = check_paths([str(tmp_path)])
    assert not report.findings
    assert [s.family for s in report.skipped] == ["logs"]
    assert "--log-key" in report.skipped[0].reason


@pytest.mark.parametrize("flag", ["--log-key", "--by"])
def test_the_key_flag_of_each_command(tmp_path: Path, flag: str) -> None:
    from tracehound.cli import main

    _write(tmp_path / "one.log", [_line(0, "o-1", A)])
    _write(tmp_path / "two.log", [_line(1, "o-1", B)])
    command = "check" if flag == "--log-key" else "logs"
    assert main([command, str(tmp_path), flag, "order_id"]) == 1  # G001 is an error
