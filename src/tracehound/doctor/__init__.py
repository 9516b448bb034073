"""The doctor: read exported traces and say where the chain broke, between whom, and why.

    from tracehound.doctor import check_paths
    report = check_paths(["traces/"])
    for edge in report.edges: ...

`check_paths` reads OTLP/JSON, OTLP protobuf, Jaeger and Zipkin v2 exports, the
Jaeger API v3 and Tempo answers that wrap them and the OTel SDK console exporter's
output (files, directories, globs, ``-`` for stdin; gzip or not) into a DuckDB span
table, runs every check over it and returns a `Report`.  Bad input never
raises: it becomes `Report.errors` (unreadable parts, with file and position)
or `Report.rejections` (spans left out, with the reason), and
``spans_read == spans_analysed + spans_merged + spans_rejected`` always holds
(`Report.merged`: records that complete another span, as Zipkin reports them).
"""

from __future__ import annotations

import gc
import os
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from tracehound.doctor._model import (
    DuplicateInput,
    Edge,
    InputError,
    InputSummary,
    Rejection,
    Report,
    SkippedCheck,
)

if TYPE_CHECKING:
    from tracehound.doctor.evidence.http import AccessLogFormat

_EXTRA = ("orjson", "duckdb", "rich", "google", "opentelemetry.proto")
"""The modules of the doctor extra."""

try:
    from tracehound.doctor._copies import drop_copies
    from tracehound.doctor._db_target import check_db_target
    from tracehound.doctor.evidence.logs import LogOptions, read_logs, sniff_input
    from tracehound.doctor.sources import (
        Input,
        Progress,
        ReadResult,
        SourceFormat,
        expand_inputs,
        read_input,
        without_duplicates,
    )
    from tracehound.doctor.store import LoadError, Store
except ModuleNotFoundError as _missing:
    # a plain install (no doctor extra): the package still imports, so that what needs no
    # extra (`tracehound headers -H`, in doctor.evidence) runs; `load` and `check_paths` do not
    if not (_missing.name or "").startswith(_EXTRA):
        raise
    _MISSING = _missing

    def __getattr__(name: str) -> object:
        """What needs the extra says which module is missing."""
        raise ModuleNotFoundError(str(_MISSING), name=_MISSING.name)

READ_AHEAD = 4
"""Inputs read while an earlier one is still loading (200 one-line inputs: 1 ahead
loaded in 4.1 s, 4 ahead in 3.2-3.5 s, all of them ahead in 3.3 s; none: 5.4 s)."""

_NOT_LOGS = (
    "not service logs tracehound reads (JSON lines, logfmt; plain text needs --log-pattern), "
    "an access log it recognises (give its --log-format) nor a trace export"
)

__all__ = [
    "DuplicateInput",
    "Edge",
    "Input",
    "InputError",
    "InputSummary",
    "LoadError",
    "LogOptions",
    "Progress",
    "Rejection",
    "Report",
    "SkippedCheck",
    "SourceFormat",
    "check_paths",
    "diagnose",
    "expand_inputs",
    "load",
    "tally",
]


def load(
    paths: Sequence[str | Input],
    *,
    source_format: SourceFormat | str | None = None,
    db: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    log_format: AccessLogFormat | None = None,
    logs: LogOptions | None = None,
) -> tuple[Store, Report]:
    """Read ``paths`` into a new `Store`; the report holds inputs, errors and counts so far.

    ``paths`` are command-line arguments (see `expand_inputs`) or inputs it
    gave.  The caller closes the store.  ``db`` keeps the span table in that
    DuckDB file; a file there is replaced only if it is a span table tracehound
    wrote and not one of the inputs (else `LoadError`).  Without ``db`` the
    table lives in memory.  ``log_format`` is the format of the access logs among the
    inputs (`tracehound.doctor.evidence.http.parse_log_format`); without it the common
    ones are recognised.
    An input whose content is service logs (JSON lines,
    logfmt, or text ``logs.pattern`` matches) goes to the ``otel_logs`` table.
    """
    forced = SourceFormat.parse(source_format) if isinstance(source_format, str) else source_format
    inputs, errors = _inputs(paths)
    inputs, duplicates = without_duplicates(inputs)
    report = Report(errors=list(errors), duplicates=duplicates)
    if db is not None:
        check_db_target(db, inputs)
    store = Store(db)
    collecting = gc.isenabled()
    gc.disable()  # parsed documents hold no cycles; collection would only cost time
    try:
        # An input is completed (its odd lines read by Python) a few inputs later:
        # DuckDB loads those while the next are read, and only a few inputs' odd
        # lines wait in memory.
        reading: list[tuple[Input, ReadResult]] = []
        for inp in inputs:
            source = store.begin_source(inp.name)
            kind = None
            if forced is None:
                kind = sniff_input(inp.path, logs or LogOptions(), _http_detector(log_format))
            if kind not in (None, "other"):
                result = _read_logs(inp, kind, store, logs or LogOptions(), progress)
            elif kind is None and forced is None and inp.name.lower().endswith((".log", ".log.gz")):
                result = ReadResult()  # a log file none of the log readers recognises
                result.error(inp.name, None, _NOT_LOGS)
            else:
                result = read_input(
                    inp, source, store, forced=forced, progress=progress, wait=False,
                    log_format=log_format,
                )  # fmt: skip
            if progress is not None:  # every input counts, the ones read without a report too
                size = inp.size
                progress(inp.name, size or 0, size)
            reading.append((inp, result))
            if len(reading) > READ_AHEAD:
                _complete(*reading.pop(0), report)
        for done in reading:
            _complete(*done, report)
        store.finish()
        if len(inputs) > 1:
            report.duplicates.extend(drop_copies(store))
    except BaseException:
        store.close()
        raise
    finally:
        if collecting:
            gc.enable()
    tally(store, report)
    return store, report


def tally(store: Store, report: Report) -> None:
    """Fill ``report``'s counts from a loaded ``store``: spans analysed, merged, rejected
    and normalised (with the reasons), traces and services, log lines analysed and rejected."""
    report.spans_analysed = int(store.scalar("SELECT count(*) FROM otel_traces"))
    report.rejections = [
        Rejection(reason, int(count), example)
        for reason, count, example in store.query(
            """SELECT Reason, count(*), arg_min(Source || ':' || "Offset", rowid)
               FROM rejected GROUP BY Reason ORDER BY count(*) DESC, Reason"""
        )
    ]
    report.normalised = [
        Rejection(reason, int(count), example)
        for reason, count, example in store.query(
            """SELECT Reason, count(*), arg_min(Source || ':' || "Offset", rowid)
               FROM normalised GROUP BY Reason ORDER BY count(*) DESC, Reason"""
        )
    ]
    report.merged = [
        Rejection(reason, int(count), example)
        for reason, count, example in store.query(
            """SELECT Reason, count(*), arg_min(Source || ':' || "Offset", rowid)
               FROM merged GROUP BY Reason ORDER BY count(*) DESC, Reason"""
        )
    ]
    report.spans_read = report.spans_analysed + report.spans_merged + report.spans_rejected
    report.log_lines = int(store.scalar("SELECT count(*) FROM otel_logs"))
    report.log_rejections = [
        Rejection(reason, int(count), example)
        for reason, count, example in store.query(
            """SELECT Reason, sum("Count"), arg_min(Source || ':' || "Offset", rowid)
               FROM log_rejected GROUP BY Reason ORDER BY sum("Count") DESC, Reason"""
        )
    ]
    report.traces = int(store.scalar("SELECT count(DISTINCT TraceId) FROM otel_traces"))
    report.services = tuple(
        name for (name,) in store.query("SELECT DISTINCT ServiceName FROM otel_traces ORDER BY 1")
    )


def _inputs(paths: Sequence[str | Input]) -> tuple[list[Input], list[InputError]]:
    inputs: list[Input] = []
    errors: list[InputError] = []
    for path in paths:
        if isinstance(path, Input):
            inputs.append(path)
        else:
            found, failed = expand_inputs([path])
            inputs.extend(found)
            errors.extend(failed)
    return inputs, errors


def _complete(inp: Input, result: ReadResult, report: Report) -> None:
    result.complete()
    report.errors.extend(result.errors)
    report.inputs.append(
        InputSummary(
            inp.name, result.format, result.spans, len(result.errors), result.findings,
            result.exchanges,
            result.log_lines,
        )
    )


def _http_detector(log_format: AccessLogFormat | None) -> Callable[[bytes], bool]:
    """Whether the first bytes of an input are HTTP evidence (an access log is a log of
    requests, not of a service: `evidence.http` reads it)."""
    from tracehound.doctor.evidence import http

    return lambda head: http.detect(head[: http.SNIFF], log_format) is not None


def _read_logs(
    inp: Input, kind: str, store: Store, options: LogOptions, progress: Progress | None
) -> ReadResult:
    """Read an input of service logs into ``otel_logs``; its rejected lines are counted."""
    result = ReadResult(format=f"logs-{kind}")
    try:
        read = read_logs(inp.path, inp.name, kind, store.logs, options, progress, inp.size)
    except (OSError, EOFError, zlib.error) as exc:
        result.error(inp.name, None, f"read failed: {exc}")
        return result
    result.log_lines = read.lines
    for reason, count in read.rejected.items():
        store.add_evidence("log_rejected", (str(read.first_rejected[reason]), reason, count))
    return result


def check_paths(
    paths: Sequence[str | Input],
    *,
    source_format: SourceFormat | str | None = None,
    db: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    ignore: Collection[str] = (),
    log_format: AccessLogFormat | None = None,
    logs: LogOptions | None = None,
    log_key: str | None = None,
) -> Report:
    """Read ``paths``, run every check, and return the report (see `load` for the
    arguments); findings of the rule codes ``ignore`` are left out (`Report.ignored`).
    ``log_key`` is the log field that names one request in every service's logs
    (``order_id``); without it the checks choose the best one the logs share."""
    from tracehound.doctor._waterfall import waterfalls

    store, report = load(
        paths, source_format=source_format, db=db, progress=progress, log_format=log_format,
        logs=logs,
    )  # fmt: skip
    try:
        diagnose(
            store,
            report,
            {i.source: i.format for i in report.inputs},
            ignore=ignore,
            log_key=log_key,
        )
        report.waterfalls = waterfalls(store, report.findings)
    finally:
        store.close()
    return report


def diagnose(
    store: Store,
    report: Report,
    formats: Mapping[str, str | None] | None = None,
    *,
    ignore: Collection[str] = (),
    log_key: str | None = None,
) -> None:
    """Run every check over a loaded ``store`` into ``report`` (findings, edges, skipped
    families); ``formats`` maps each input (the Source column) to its export format;
    ``log_key`` the log field that names one request (see `check_paths`)."""
    from tracehound.doctor.checks import run_checks

    results = run_checks(store, formats, log_key=log_key)
    report.findings = results.findings
    report.ignore(ignore)
    report.edges = results.edges
    report.skipped = results.skipped
    report.remote_entries = results.remote_entries
