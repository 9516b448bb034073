"""Reading service logs: every spelling of a trace ID, every line accounted for, bad input
named by file and line, written by the real Python logging libraries."""

from __future__ import annotations

import gzip
import io
import json
import logging
from pathlib import Path

import pytest
import structlog
from logfmter import Logfmter
from pythonjsonlogger.json import JsonFormatter

from tracehound.cli import main
from tracehound.doctor import check_paths, load
from tracehound.doctor.evidence.logs._record import row_of

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("fields", "trace", "span"),
    [
        ({"trace_id": TRACE, "span_id": SPAN}, TRACE, SPAN),
        ({"traceId": TRACE.upper(), "spanId": SPAN}, TRACE, SPAN),
        ({"trace.id": TRACE, "span.id": SPAN}, TRACE, SPAN),  # ECS, flattened
        ({"otelTraceID": TRACE, "otelSpanID": SPAN}, TRACE, SPAN),
        ({"otelTraceID": "0", "otelSpanID": "0"}, None, None),  # outside a span
        # Datadog: the low 64 bits in decimal
        ({"dd.trace_id": "12345678901234567890", "dd.span_id": 42},
         f"{12345678901234567890:032x}", f"{42:016x}"),
        ({"traceparent": f"00-{TRACE}-{SPAN}-01"}, TRACE, SPAN),
        ({"uber-trace-id": f"{TRACE}:{SPAN}:0:1"}, TRACE, SPAN),
        ({"b3": f"{TRACE}-{SPAN}-1"}, TRACE, SPAN),
        ({"X-B3-TraceId": "a3ce929d0e0e4736", "X-B3-SpanId": SPAN},
         "0000000000000000a3ce929d0e0e4736", SPAN),
        ({"logging.googleapis.com/trace": f"projects/p/traces/{TRACE}"}, TRACE, None),
        ({"trace_id": "not-hex"}, None, None),
        ({"trace_id": True}, None, None),
    ],
)  # fmt: skip
def test_a_trace_id_in_any_common_spelling(
    fields: dict, trace: str | None, span: str | None
) -> None:
    row = row_of({"msg": "x", **fields})
    assert (row[1], row[2]) == (trace, span)


def _stdlib_json(path: Path, name: str) -> logging.Logger:
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_every_line_is_analysed_or_rejected_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "payments.log"
    logger = _stdlib_json(path, "payments")
    logger.info("charging", extra={"order_id": "o-1", "trace_id": TRACE})
    try:
        raise ValueError("card declined")
    except ValueError:
        logger.exception("failed")  # python-json-logger keeps the traceback in one line
    logger.handlers[0].close()
    with path.open("a") as out:  # what a crashing process prints beside its logger
        out.write("Traceback (most recent call last):\n  File \"x.py\", line 1\n\n[1, 2]\n")
    report = check_paths([str(path)])
    assert report.log_lines == 2
    # the parser's own words after "not JSON" vary with its version
    found = {r.reason.split(" (")[0]: (r.count, r.example) for r in report.log_rejections}
    assert found == {"not JSON": (2, f"{path}:3"), "a JSON list, not an object": (1, f"{path}:6")}
    rows = load([str(path)])[0].query("SELECT SeverityText, Body, ServiceName FROM otel_logs")
    assert rows == [("INFO", "charging", "payments"), ("ERROR", "failed", "payments")]


def test_structlog_and_logfmt_lines_from_the_real_libraries(tmp_path: Path) -> None:
    with (tmp_path / "orders.log").open("w") as out:
        structlog.configure(
            processors=[structlog.processors.add_log_level,
                        structlog.processors.TimeStamper(fmt="iso"),
                        structlog.processors.JSONRenderer()],
            logger_factory=structlog.WriteLoggerFactory(out),
        )  # fmt: skip
        structlog.get_logger().info("order received", order_id="o-1", trace_id=TRACE)
        structlog.reset_defaults()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(Logfmter(keys=["at", "logger"], mapping={"at": "levelname"}))
    logger = logging.getLogger("shipping")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.warning("late", extra={"order_id": "o-1", "trace_id": TRACE, "note": 'a "b" c'})
    (tmp_path / "shipping.log").write_text(stream.getvalue())
    store, report = load([str(tmp_path)])
    try:
        assert report.log_rejections == [] and report.errors == []
        rows = store.query(
            """SELECT ServiceName, TraceId, Body, ResourceAttributes->>'$."log.writer"',
                      LogAttributes->>'$.order_id', LogAttributes->>'$.note'
               FROM otel_logs ORDER BY ServiceName"""
        )
    finally:
        store.close()
    assert rows == [
        ("orders", TRACE, "order received", "structlog", "o-1", None),
        ("shipping", TRACE, "late", "json", "o-1", 'a "b" c'),
    ]
    assert {i.format for i in report.inputs} == {"logs-json", "logs-logfmt"}


def test_a_gzip_log_and_one_named_by_a_flag(tmp_path: Path) -> None:
    line = json.dumps({"time": "2024-05-01T12:00:00Z", "level": "info", "message": "hi",
                       "trace_id": TRACE})  # fmt: skip
    (tmp_path / "app.log.gz").write_bytes(gzip.compress((line + "\n").encode()))
    out = io.StringIO()
    assert main(["logs", str(tmp_path), "--service", "billing", "--json"], out=out) == 0
    data = json.loads(out.getvalue())
    assert data["services"] == [
        {"service": "billing", "lines": 1, "with_trace_id": 1, "writer": "json"}
    ]


def test_a_check_given_only_logs_reports(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    logger = _stdlib_json(tmp_path / "orders.log", "orders")
    logger.info("received", extra={"order_id": "o-1", "trace_id": TRACE})
    logger.handlers[0].close()
    assert main(["check", str(tmp_path), "--json"]) == 0  # not 2: the logs were analysed
    data = json.loads(capsys.readouterr().out)
    assert data["logs"] == {"analysed": 1, "rejected": 0, "rejections": []}
    assert data["inputs"][0]["format"] == "logs-json"


def test_bad_input_is_named_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    text = tmp_path / "app.log"
    text.write_text("2024-05-01 12:00:00 INFO started\n")
    assert main(["logs", str(text)]) == 2  # plain text needs a pattern
    assert "no log line could be read" in capsys.readouterr().err
    assert main(["logs", str(text), "--pattern", "(unclosed"]) == 2
    assert "--pattern '(unclosed': missing ), unterminated subpattern" in capsys.readouterr().err
    assert main(["logs", str(text), "--pattern", r"\S+"]) == 2
    assert "has no named group" in capsys.readouterr().err
    pattern = r"(?P<time>\S+ \S+) (?P<level>\w+) (?P<msg>.*)"
    text.write_text("2024-05-01 12:00:00 INFO started\n---\n")
    assert main(["logs", str(text), "--pattern", pattern]) == 0
    captured = capsys.readouterr()
    assert "1 log lines rejected: does not match the --pattern (first at" in captured.err
    assert f"{text}:2" in captured.err
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(gzip.compress(b'{"msg": "a", "level": "info"}\n' * 50)[:60])
    assert main(["check", str(broken)]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "Traceback" not in err


def test_a_large_log_reports_its_progress(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    line = json.dumps({"time": "2024-05-01T12:00:00Z", "level": "info", "message": "x"})
    path.write_text((line + "\n") * 20_000)
    seen: list[tuple[str, int, int | None]] = []
    report = check_paths([str(path)], progress=lambda *call: seen.append(call))
    assert report.log_lines == 20_000
    done = [d for name, d, _ in seen if name == str(path)]
    assert len(done) >= 3 and done == sorted(done)  # along the way, never backwards
    assert done[-1] == path.stat().st_size


def test_an_endless_line_is_rejected_and_the_next_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracehound.doctor.evidence.logs import _reader

    monkeypatch.setattr(_reader, "MAX_LINE", 1000)
    line = json.dumps({"level": "info", "message": "ok"})
    path = tmp_path / "app.log"
    path.write_text(f"{line}\n{{\"message\": \"{'x' * 5000}\"}}\n{line}\n")
    report = check_paths([str(path)])
    assert report.log_lines == 2
    assert [(r.reason, r.count, r.example) for r in report.log_rejections] == [
        ("a line longer than 1,000 bytes", 1, f"{path}:2")
    ]


def test_a_log_file_no_reader_knows_is_named_with_what_would_read_it(tmp_path: Path) -> None:
    (tmp_path / "collector.log").write_text("2024-05-01 12:00:00 INFO started\n")
    report = check_paths([str(tmp_path)])
    (error,) = report.errors
    assert error.source == str(tmp_path / "collector.log")
    assert "plain text needs --log-pattern" in error.message
