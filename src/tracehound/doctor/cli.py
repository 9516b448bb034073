"""``tracehound check``: the doctor on the command line.

Exit status: 0 nothing at or above ``--fail-on``; 1 findings at or above it;
2 usage errors (a bad option, a path that names nothing, a report that cannot
be written), input nothing could be analysed from, or an internal error.
Input problems next to analysed spans (a corrupt file among good ones,
rejected spans) are reported with their reasons and do not change the status.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from tracehound.doctor._logs_cli import add_log_options, add_logs_command, log_options
from tracehound.rules import Severity

__all__ = ["add_check_command", "add_logs_command", "parse_ignore", "run_check"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = """\
Read exported traces (OTLP/JSON, OTLP protobuf, Jaeger JSON, Zipkin v2 JSON;
files, directories, globs or - for stdin; gzip or not) and service logs (JSON
lines, logfmt, text with --log-pattern; recognised by content), and report where
the trace chain broke, between which services, why, and how to fix it."""

_EPILOG = """\
exit status:
  0  no finding at or above --fail-on
  1  findings at or above --fail-on
  2  usage error (bad option, a PATH that names nothing, a report that cannot be
     written), nothing analysable (no span, no log line, no runtime findings file), or an
     internal error (one line on stderr; --debug or TRACEHOUND_DEBUG=1 adds
     the traceback)
  Rejected spans and unreadable parts are listed with their reasons; next to
  analysed spans they do not change the status.

examples:
  tracehound check spans.json                  the report on the terminal
  tracehound check traces/ 'exports/*.jsonl.gz'
  otelcol-export | tracehound check -          read standard input
  tracehound check traces/ --fail-on warning   CI: fail on warnings too
  tracehound check traces/ --ignore C004,numeric-string
  tracehound check traces/ --json > report.json
  tracehound check spans-*.jsonl findings-*.jsonl   with the runtime's findings
  tracehound check traces/ logs/ --log-key order_id  with the services' logs
  tracehound check traces/ --sarif report.sarif --html report.html
  tracehound rules C003                        what a code means, how to fix it"""


def add_check_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``check`` on the ``tracehound`` sub-command parser."""
    check = subparsers.add_parser(
        "check",
        help="diagnose exported traces",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "paths", nargs="*", metavar="PATH", help="files, directories, globs, - (or --clickhouse)"
    )
    check.add_argument(
        "--format",
        dest="source_format",
        choices=(
            "otlp-json",
            "otlp-proto",
            "jaeger",
            "zipkin",
            "otel-console",
            "otel-go-stdout",
            "otel-js-console",
        ),
        help="read every input as this format instead of detecting it",
    )
    check.add_argument("--json", action="store_true", help="print the JSON report")
    check.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0 to FILE (- for stdout)")
    check.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    check.add_argument(
        "--db",
        metavar="FILE",
        help="keep the span table in this DuckDB file (a new file, or one tracehound wrote)",
    )
    check.add_argument(
        "--fail-on",
        default="error",
        type=str.lower,
        choices=("error", "warning", "info"),
        help="exit 1 when a finding is at or above this severity (default: error)",
    )
    check.add_argument(
        "--ignore",
        metavar="RULES",
        action="append",
        default=[],
        help="rule codes or names never reported, comma-separated (repeatable): C004,A003",
    )
    check.add_argument(
        "--all",
        dest="all_findings",
        action="store_true",
        help="list every finding (default: the first 5 of each rule; 20 in --html)",
    )
    check.add_argument(
        "--no-progress", action="store_true", help="no progress bar, even on a terminal"
    )
    add_log_options(check, key="--log-key", prefix="--log-")
    check.add_argument(
        "--log-format",
        metavar="KIND:FORMAT",
        help="the format of the proxy access logs among the inputs, as configured: "
        "'nginx:<log_format>' or 'envoy:<format string>' (default: nginx combined and the "
        "Envoy/Istio defaults are recognised, trace headers appended to them found by shape)",
    )
    check.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,  # keeps `tracehound --debug check` working
        help="on an internal error, print the traceback (also TRACEHOUND_DEBUG=1)",
    )
    where = check.add_argument_group(
        "the spans where they live (the OpenTelemetry Collector ClickHouse exporter's tables; "
        "needs tracehound[clickhouse])"
    )
    where.add_argument(
        "--clickhouse",
        metavar="URL",
        help="check the spans in ClickHouse instead of files: clickhouse://user:pass@host:8123/db "
        "(https://… for TLS) or chdb:PATH (an embedded chDB data directory)",
    )
    where.add_argument(
        "--table", default="otel_traces", help="the exporter's span table (default otel_traces)"
    )
    where.add_argument(
        "--since", metavar="AGE", help="only traces entirely in the last AGE (90s, 15m, 1h, 2d)"
    )
    where.add_argument("--from", dest="start", metavar="TIME", help="window start (ISO 8601)")
    where.add_argument("--to", dest="end", metavar="TIME", help="window end (ISO 8601)")
    where.add_argument(
        "--in-clickhouse-only",
        action="store_true",
        help="pull no rows: from a table that is not a MergeTree, skip the attribute and "
        "propagation families (they run on its rows pulled from ClickHouse)",
    )
    check.set_defaults(run=run_check)
    return check


def add_load_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``load`` (files into the ClickHouse exporter's schema)."""
    load = subparsers.add_parser(
        "load",
        help="write exported traces into the ClickHouse exporter's tables",
        description="Read exported traces as `tracehound check` does and write their spans "
        "into the OpenTelemetry Collector ClickHouse exporter's otel_traces table (created "
        "with its trace-ID lookup table when missing). Needs tracehound[clickhouse].",
    )
    load.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, globs, -")
    load.add_argument("--clickhouse", metavar="URL", required=True, help="as for check")
    load.add_argument("--table", default="otel_traces", help="default otel_traces")
    load.set_defaults(run=run_load)
    return load


def _quiet_clickhouse_client() -> None:
    """clickhouse-connect logs each failure before raising it; the command reports the
    error once, naming the target, so the client's log line would only say it twice."""
    import logging

    logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)


def run_load(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``tracehound load``; 0 when spans were written, 2 otherwise."""
    from tracehound.doctor.clickhouse import ClickHouseError, load_clickhouse

    _quiet_clickhouse_client()
    args.stage = "loading the inputs into ClickHouse"
    try:
        report = load_clickhouse(args.paths, args.clickhouse, table=args.table)
    except ClickHouseError as exc:
        return _usage(str(exc))
    _tell_problems(report, False)
    out.write(f"{report.spans_analysed} spans written to {args.table}\n")
    return EXIT_OK if report.spans_analysed else EXIT_USAGE


def parse_ignore(values: list[str]) -> set[str]:
    """Rule codes from ``--ignore`` values (codes or names, comma-separated); raises
    `ValueError` naming an unknown one."""
    from tracehound.cli import find_rule
    from tracehound.rules import UnknownRuleError

    codes: set[str] = set()
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            try:
                codes.add(find_rule(item).code)
            except UnknownRuleError as exc:
                raise ValueError(f"--ignore: {exc}") from None
    return codes


def run_check(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``tracehound check`` for parsed ``args``; returns the exit status.

    ``args.stage`` says what is being done (for a crash message) and
    ``args.status`` holds the verdict once known (for a reader that stopped
    reading the report).
    """
    if args.json and args.sarif == "-":
        return _usage("--json and --sarif - both write to stdout")
    try:
        ignored = parse_ignore(args.ignore)
        logs = log_options(args)
    except ValueError as exc:
        return _usage(str(exc))
    if args.clickhouse:
        return _check_clickhouse(args, ignored, out)
    if not args.paths:
        return _usage("give files to check (PATH ...) or --clickhouse URL")
    for option in ("since", "start", "end"):
        if getattr(args, option):
            return _usage(
                f"--{ {'start': 'from', 'end': 'to'}.get(option, option) } needs "
                "--clickhouse (files are checked whole)"
            )
    from tracehound.doctor import LoadError, check_paths, expand_inputs
    from tracehound.doctor._progress import progress_bar

    args.stage = "looking for the inputs"
    inputs, path_errors, empty = [], [], False
    for path in args.paths:
        found, errors = expand_inputs([path])
        inputs += found
        path_errors += errors
        empty = empty or not found  # a PATH naming nothing to read: a typo, or a wrong place
    for option, target in (("--sarif", args.sarif), ("--html", args.html)):
        if target and target != "-" and _names_an_input(target, inputs):
            return _usage(f"{option} {target} is one of the inputs; not writing the report over it")
    log_format = None
    if getattr(args, "log_format", None):
        from tracehound.doctor.evidence.http import LogFormatError, parse_log_format

        try:
            log_format = parse_log_format(args.log_format)
        except LogFormatError as exc:
            return _usage(f"--log-format: {exc}")
    args.stage = "reading and checking the inputs"
    quiet = args.json or args.sarif == "-" or getattr(args, "no_progress", False)
    try:
        with progress_bar(inputs, enabled=not quiet) as progress:
            report = check_paths(
                inputs,
                source_format=args.source_format,
                db=args.db,
                progress=progress,
                ignore=ignored,
                log_format=log_format,
                logs=logs,
                log_key=args.log_key,
            )
    except LoadError as exc:
        return _usage(str(exc))
    report.errors[:0] = path_errors
    return _emit(args, report, empty, out)


def _check_clickhouse(args: argparse.Namespace, ignored: set[str], out: TextIO) -> int:
    import datetime

    from tracehound.doctor.clickhouse import ClickHouseError, check_clickhouse
    from tracehound.doctor.clickhouse._window import parse_since

    if args.paths:
        return _usage("--clickhouse checks the spans in ClickHouse: give no PATH with it")
    for option, value in (("--db", args.db), ("--format", args.source_format)):
        if value:
            return _usage(f"{option} is for files, not with --clickhouse")
    if args.since and (args.start or args.end):
        return _usage("--since or --from/--to, not both")
    try:
        start = _time("--from", args.start)
        end = _time("--to", args.end)
        if args.since:
            end = datetime.datetime.now(datetime.timezone.utc)
            start = end - parse_since(args.since)
    except ValueError as exc:
        return _usage(str(exc))
    if start and end and start >= end:
        return _usage("--from must be before --to")
    args.stage = "checking the spans in ClickHouse"
    _quiet_clickhouse_client()
    try:
        report = check_clickhouse(
            args.clickhouse,
            table=args.table,
            start=start,
            end=end,
            ignore=ignored,
            local=not args.in_clickhouse_only,
        )
    except ClickHouseError as exc:
        return _usage(str(exc))
    return _emit(args, report, False, out)


def _time(option: str, value: str | None) -> Any:
    """An ISO 8601 time (UTC when it names no zone), or None."""
    import datetime

    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{option} {value}: not an ISO 8601 time (2026-01-01T12:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _emit(args: argparse.Namespace, report: Any, empty: bool, out: TextIO) -> int:
    """Write the report as asked; the exit status."""
    status = _status(report, empty, Severity.parse(args.fail_on))
    args.status = status
    _tell_problems(report, empty)
    examples = None if args.all_findings else 5
    try:
        if args.sarif and args.sarif != "-":
            from tracehound.doctor.report import sarif

            args.stage = "writing the SARIF report"
            Path(args.sarif).write_bytes(sarif.dumps(report))
        if args.html:
            from tracehound.doctor.report import html

            args.stage = "writing the HTML report"
            Path(args.html).write_text(
                html.render(report, examples=len(report.findings) if examples is None else 20),
                encoding="utf-8",
            )
    except OSError as exc:
        return _usage(f"cannot write the report: {exc.strerror or exc}: {exc.filename or ''}")
    args.stage = "writing the report"
    if args.json:
        from tracehound.doctor.report import json

        out.write(json.dumps(report).decode())
    elif args.sarif == "-":
        from tracehound.doctor.report import sarif

        out.write(sarif.dumps(report).decode())
    else:
        from tracehound.doctor.report import terminal

        terminal.render(
            report,
            out,
            color=None if out.isatty() else False,
            examples=examples,
        )
    return status


def _names_an_input(target: str, inputs: list[Any]) -> bool:
    try:
        if not os.path.exists(target):
            return False
        return any(inp.path is not None and os.path.samefile(target, inp.path) for inp in inputs)
    except (OSError, ValueError):
        return False


def _status(report: Any, bad_paths: bool, threshold: Severity) -> int:
    if bad_paths or not report.analysed_anything:
        return EXIT_USAGE
    return EXIT_FINDINGS if report.failed(threshold) else EXIT_OK


def _tell_problems(report: Any, bad_paths: bool) -> None:
    """Input problems on stderr too: they matter whatever the report's format."""
    for error in report.errors:
        _say(str(error))
    for rejection in report.rejections:
        _say(f"{rejection.count} spans rejected: {rejection.reason} (first at {rejection.example})")
    for rejection in report.log_rejections:
        _say(
            f"{rejection.count} log lines rejected: {rejection.reason} "
            f"(first at {rejection.example})"
        )
    if not report.analysed_anything:
        sys.stderr.write("tracehound check: nothing could be analysed (exit status 2)\n")
    elif bad_paths:
        sys.stderr.write("tracehound check: a PATH named nothing to read (exit status 2)\n")


def _usage(message: str) -> int:
    _say(message)
    return EXIT_USAGE


def _say(message: str) -> None:
    """One line on stderr; control characters from the input shown escaped."""
    from tracehound.doctor.report import printable

    sys.stderr.write(f"tracehound check: {printable(message)}\n")
