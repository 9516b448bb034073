"""Read one input of service logs: recognise its format, then every line into a row.

JSON lines and logfmt are recognised by content (the first lines); plain text
is read with a pattern the user gives once (``--pattern``, a regular expression
with named groups: ``time``, ``level``, ``service``, ``trace_id``, ``span_id``,
``msg`` and any others, kept as attributes).  Every line read is either a row or
a rejection with its reason; blank lines are skipped.
"""

from __future__ import annotations

import gzip
import io
import re
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, BinaryIO

import orjson

from tracehound.doctor.evidence.logs._ids import key_form
from tracehound.doctor.evidence.logs._lines import (
    json_fields,
    logfmt_fields,
    looks_like_logfmt,
    pattern_fields,
)
from tracehound.doctor.evidence.logs._record import plan_for, row_of
from tracehound.doctor.evidence.logs._table import LogLoader

__all__ = ["LogOptions", "LogRead", "read_logs", "service_from_name", "sniff", "sniff_input"]

SNIFF_LINES = 20
SNIFF_BYTES = 64 << 10
MAX_LINE = 16 << 20
"""Bytes of the longest log line read; a longer one is rejected, the next still read."""

_SPAN_FIELDS = {
    "operationname", "references", "parentspanid", "parentid", "starttimeunixnano",
    "localendpoint", "remoteendpoint", "spankind",
}  # fmt: skip
"""Fields of a span object (Jaeger, Zipkin, OTLP): a line holding one is no log record."""

_GENERIC_STEMS = {"app", "application", "service", "server", "stdout", "stderr", "log", "logs",
                  "output", "out", "current", "main", "combined", "error", "access"}  # fmt: skip


@dataclass(frozen=True)
class LogOptions:
    """How to read logs: a pattern for plain text, a service name for every line."""

    pattern: re.Pattern[str] | None = None
    service: str | None = None

    @staticmethod
    def compile(pattern: str) -> re.Pattern[str]:
        """``pattern`` compiled; `ValueError` naming the problem (no named group, bad regex)."""
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"--pattern {pattern!r}: {exc}") from None
        if not compiled.groupindex:
            raise ValueError(
                f"--pattern {pattern!r} has no named group: name the parts, e.g. "
                r"'(?P<time>\S+) (?P<level>\w+) trace=(?P<trace_id>\w+) (?P<msg>.*)'"
            )
        return compiled


@dataclass
class LogRead:
    """What reading one input of logs gave."""

    format: str
    lines: int = 0
    """Lines analysed (rows in ``otel_logs``)."""
    rejected: Counter[str] = field(default_factory=Counter)
    first_rejected: dict[str, int] = field(default_factory=dict)
    """The first line number of each rejection reason."""

    def reject(self, reason: str, line: int) -> None:
        self.rejected[reason] += 1
        self.first_rejected.setdefault(reason, line)


def _open(path: Any) -> BinaryIO:
    raw: BinaryIO = open(path, "rb") if path is not None else sys.stdin.buffer  # noqa: SIM115
    buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    return buffered  # type: ignore[return-value]


def sniff(head: bytes, options: LogOptions) -> str | None:
    """``"json"``, ``"logfmt"`` or ``"pattern"`` when the first lines ``head`` are service
    logs of that kind, else ``None`` (trace exports are never logs)."""
    from tracehound.doctor.sources._detect import detect, unwrap

    lines = [line for line in head.split(b"\n")[:SNIFF_LINES] if line.strip()]
    if len(head) >= SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last may be cut short
    if not lines or lines[0].lstrip()[:1] == b"[":
        return None  # nothing, or a JSON array written over lines (spans, not logs)
    json_like = json_objects = logfmt_like = matched = 0
    for line in lines:
        fields = json_fields(line)
        if isinstance(fields, dict):
            if detect(unwrap(fields)[0]) is not None:
                return None  # a trace export (or a runtime findings file)
            json_objects += 1
            if _SPAN_FIELDS & {key_form(k) for k in fields}:
                continue  # a span of some export format, one a line: not a log record
            roles = {role for _, role, _ in plan_for(tuple(fields)).specials}
            if roles & {"time", "level", "body", "trace"}:
                json_like += 1
            continue
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if options.pattern is not None and options.pattern.match(text):
            matched += 1
        elif looks_like_logfmt(text):
            logfmt_like += 1
    # JSON logs: most JSON objects look like log records (lines between them, such as a
    # traceback a crashing process printed, are rejected one by one when read)
    if json_like and json_like * 2 >= json_objects:
        return "json"
    if matched:  # the user's pattern says what the text is
        return "pattern"
    if logfmt_like * 2 >= len(lines):
        return "logfmt"
    return None


def sniff_input(
    path: Any, options: LogOptions, other: Callable[[bytes], bool] | None = None
) -> str | None:
    """`sniff` of the start of a file (``None``: standard input, peeked, not consumed);
    ``"other"`` when ``other(first bytes)`` says it is evidence of another kind."""
    try:
        if path is None:
            if sys.stdin is None or not hasattr(sys.stdin.buffer, "peek"):
                return None
            head = sys.stdin.buffer.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        else:
            with _open(path) as stream:
                head = stream.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error):
        return None  # the trace reader says what is wrong with it
    if other is not None and other(head):
        return "other"
    return sniff(head, options)


def service_from_name(name: str) -> str:
    """The service a log file's name gives: its stem (``payments.log.gz`` → payments), or
    its directory's name when the stem is generic (``payments/app.log``, ``pod/0.log``)."""
    path = PurePath(name)
    stem = path.name.split(".", 1)[0]
    if (stem.lower() in _GENERIC_STEMS or stem.isdigit() or not stem) and path.parent.name:
        return path.parent.name
    return stem or name


def read_logs(
    path: Any,
    name: str,
    kind: str,
    loader: LogLoader,
    options: LogOptions,
    progress: Callable[[str, int, int | None], None] | None = None,
    total: int | None = None,
) -> LogRead:
    """Read the input ``path`` (``None``: standard input), named ``name``, of the `sniff`
    kind ``kind``, into ``loader``; `OSError` etc. propagate to the caller."""
    read = LogRead(kind)
    default_service = options.service or service_from_name(name)
    forced = options.service is not None
    raw = _open(path)
    try:
        parse = _parser(kind, options)
        for number, line in enumerate(_lines(raw), 1):
            if line is None:
                read.reject(f"a line longer than {MAX_LINE:,} bytes", number)
                continue
            if not line.strip():
                continue
            fields = parse(line)
            if isinstance(fields, str):
                read.reject(fields, number)
                continue
            row = row_of(fields, default_service, forced=forced)
            # a JSON line is kept as written; other lines' fields as a JSON object
            attrs = line.strip() if kind == "json" else orjson.dumps(fields, default=str)
            loader.add(row, name, number, attrs)
            read.lines += 1
            if progress is not None and number % 8192 == 0 and path is not None:
                progress(name, _position(raw), total)
    finally:
        if path is not None:
            raw.close()
    if progress is not None:
        progress(name, total or 0, total)
    return read


def _lines(raw: BinaryIO) -> Iterator[bytes | None]:
    """The lines of ``raw``; ``None`` for one over `MAX_LINE` bytes (memory stays bounded)."""
    while line := raw.readline(MAX_LINE + 1):
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while (rest := raw.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield line


def _position(raw: Any) -> int:
    inner = getattr(raw, "fileobj", None)  # a gzip file: where in the compressed file
    try:
        return int((inner or raw).tell())
    except (OSError, ValueError):
        return 0


def _parser(kind: str, options: LogOptions) -> Callable[[bytes], dict[str, Any] | str]:
    if kind == "json":

        def parse_json(line: bytes) -> dict[str, Any] | str:
            fields = json_fields(line)
            return _short(fields) if isinstance(fields, str) else fields

        return parse_json
    pattern = options.pattern

    def parse_text(line: bytes) -> dict[str, Any] | str:
        try:
            text = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            return "not UTF-8"
        if kind == "pattern" and pattern is not None:
            return pattern_fields(pattern, text)
        return logfmt_fields(text)

    return parse_text


def _short(reason: str) -> str:
    """A rejection reason without the line's own position (so that reasons group)."""
    return reason.split(": line ", 1)[0] if ": line " in reason else reason
