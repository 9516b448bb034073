"""``tracehound check``: the doctor on the command line.

Exit status: 0 nothing at or above ``--fail-on``; 1 findings at or above it;
2 usage errors, or input that could not be read (every readable span is still
analysed and reported).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from tracehound.rules import Severity

__all__ = ["add_check_command", "run_check"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

_PROGRESS_MIN_BYTES = 8 * 1024 * 1024

_DESCRIPTION = """\
Read exported traces (OTLP/JSON, OTLP protobuf, Jaeger JSON, Zipkin v2 JSON;
files, directories, globs or - for stdin; gzip or not) and report where the
trace chain broke, between which services, why, and how to fix it."""


def add_check_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``check`` on the ``tracehound`` sub-command parser."""
    check = subparsers.add_parser(
        "check", help="diagnose exported traces", description=_DESCRIPTION
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, globs, -")
    check.add_argument(
        "--format",
        dest="source_format",
        choices=("otlp-json", "otlp-proto", "jaeger", "zipkin", "otel-console", "otel-go-stdout"),
        help="read every input as this format instead of detecting it",
    )
    check.add_argument("--json", action="store_true", help="print the JSON report")
    check.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0 to FILE (- for stdout)")
    check.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    check.add_argument("--db", metavar="FILE", help="keep the span table in this DuckDB file")
    check.add_argument(
        "--fail-on",
        default="error",
        type=str.lower,
        choices=("error", "warning", "info"),
        help="exit 1 when a finding is at or above this severity (default: error)",
    )
    check.set_defaults(run=run_check)
    return check


def run_check(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``tracehound check`` for parsed ``args``; returns the exit status."""
    if args.json and args.sarif == "-":
        sys.stderr.write("tracehound check: --json and --sarif - both write to stdout\n")
        return EXIT_USAGE
    from tracehound.doctor import LoadError, check_paths

    try:
        with _progress(args.paths) as progress:
            report = check_paths(
                args.paths, source_format=args.source_format, db=args.db, progress=progress
            )
    except LoadError as exc:
        sys.stderr.write(f"tracehound check: {exc}\n")
        return EXIT_USAGE
    for error in report.errors:
        sys.stderr.write(f"tracehound check: {error}\n")
    try:
        if args.sarif:
            from tracehound.doctor.report import sarif

            _write(args.sarif, sarif.dumps(report), out)
        if args.html:
            from tracehound.doctor.report import html

            Path(args.html).write_text(html.render(report), encoding="utf-8")
    except OSError as exc:
        sys.stderr.write(f"tracehound check: cannot write report: {exc}\n")
        return EXIT_USAGE
    if args.json:
        from tracehound.doctor.report import json

        out.write(json.dumps(report).decode())
    elif args.sarif != "-":
        from tracehound.doctor.report import terminal

        terminal.render(report, out, color=None if out.isatty() else False)
    if report.has_input_errors or not report.inputs:
        return EXIT_USAGE
    return EXIT_FINDINGS if report.failed(Severity.parse(args.fail_on)) else EXIT_OK


def _write(target: str, data: bytes, out: TextIO) -> None:
    if target == "-":
        out.write(data.decode())
    else:
        Path(target).write_bytes(data)


class _progress:
    """A rich progress bar on stderr while reading large inputs on a terminal."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        total = 0
        for name in self.paths:
            try:
                total += Path(name).stat().st_size if Path(name).is_file() else 0
            except OSError:
                continue
        if not sys.stderr.isatty() or total < _PROGRESS_MIN_BYTES:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        self.bar = Progress(
            TextColumn("reading {task.description}"),
            BarColumn(),
            DownloadColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self.bar.start()
        return self.update

    def update(self, name: str, done: int, total: int | None) -> None:
        task = self.tasks.get(name)
        if task is None:
            task = self.tasks[name] = self.bar.add_task(Path(name).name, total=total)
        self.bar.update(task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
