"""Other ecosystems' log lines, as their projects document them (``data/logs/SOURCES.md``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracehound.cli import main
from tracehound.doctor import LogOptions, load
from tracehound.doctor.evidence.logs import LogOptions as Options

DATA = Path(__file__).resolve().parents[2] / "data" / "logs"


def rows(path: Path, options: LogOptions | None = None) -> list[tuple]:
    store, report = load([str(path)], logs=options)
    try:
        assert report.errors == []
        assert report.log_rejections == []
        return store.query(
            """SELECT epoch_ns("Timestamp"), TraceId, SpanId, SeverityText, SeverityNumber,
                      ServiceName, Body, ResourceAttributes->>'$."log.writer"', "Offset"
               FROM otel_logs ORDER BY "Offset"::INTEGER"""
        )
    finally:
        store.close()


@pytest.mark.parametrize(
    ("name", "writer", "lines"),
    [
        ("logrus.json.log", "logrus", 5),
        ("logrus.text.log", "logrus", 6),
        ("zap.log", "zap", 4),
        ("slog.json.log", "slog", 1),
        ("slog.text.log", "slog", 1),
        ("pino.log", "pino", 9),
        ("bunyan.log", "bunyan", 2),
    ],
)
def test_every_documented_line_is_read_with_its_writer(name: str, writer: str, lines: int) -> None:
    found = rows(DATA / name)
    assert len(found) == lines
    assert {r[7] for r in found} == {writer}
    assert all(r[0] is not None for r in found)  # every line's time was understood
    assert all(r[4] is not None for r in found)  # and its level
    assert all(r[6] for r in found)  # and its message


def test_times_and_levels_keep_their_meaning() -> None:
    first = rows(DATA / "logrus.json.log")[0]
    # "2014-03-10 19:57:38.562264131 -0400 EDT" (Go's time.String), to the nanosecond
    assert first[0] == 1394495858562264131
    assert (first[3], first[4]) == ("info", 9)
    pino = rows(DATA / "pino.log")
    assert pino[0][0] == 1459529098958 * 10**6  # milliseconds, exactly
    assert (pino[1][3], pino[1][4]) == ("error", 17)  # pino's 50
    assert rows(DATA / "slog.json.log")[0][0] == 1667939306 * 10**9  # -05:00 kept
    zap = rows(DATA / "zap.log")
    assert zap[0][0] == 0 and (zap[2][3], zap[2][4]) == ("error", 17)


def test_bunyan_names_its_service_and_the_file_names_the_others() -> None:
    assert {r[5] for r in rows(DATA / "bunyan.log")} == {"myapp"}  # createLogger({name})
    assert {r[5] for r in rows(DATA / "pino.log")} == {"pino"}  # the file's name


def test_trace_ids_as_the_otel_instrumentations_and_the_spec_write_them() -> None:
    (pino,) = rows(DATA / "pino-otel.log")
    assert (pino[1], pino[2]) == ("fc30029f30df383a4090d3189fe0ffdf", "625fa861d19d1056")
    (spec,) = rows(DATA / "otel-spec.log")
    # the spec's short example IDs are padded as OTel pads 64-bit IDs
    assert (spec[1], spec[2]) == ("000000000000000000102981abcd2901", "000000abcdef1010")
    assert spec[6] == "Incoming request" and spec[0] == 1581385157144290048


def test_plain_text_is_read_with_a_pattern_given_once() -> None:
    pattern = Options.compile(
        r"host:(?P<host>\S+)\ttrace_id:(?P<trace_id>\w+)\tspan_id:(?P<span_id>\w+)\t"
        r"time:\[(?P<when>[^\]]+)\]\treq:(?P<msg>[^\t]+)\tstatus:(?P<status>\d+)"
    )
    (line,) = rows(DATA / "otel-spec.ltsv", Options(pattern=pattern, service="web"))
    assert line[1] == "000000000000000000102981abcd2901"
    assert (line[5], line[6]) == ("web", "GET /health HTTP/1.0")


def test_tracehound_logs_tells_each_library_how_to_log_the_trace_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["logs", str(DATA / "zap.log"), str(DATA / "bunyan.log")]) == 0
    out = capsys.readouterr().out
    assert "6 log lines from 2 services" in out
    assert "zap logs no trace ID: log with the request's context through the otelzap" in out
    assert "myapp logs no trace ID: enable @opentelemetry/instrumentation-bunyan" in out
