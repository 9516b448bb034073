"""JSON values read from an input (a line of JSON lines, or a document) handed to the
reader of their format; what is not a trace export is an input error at its position."""

from __future__ import annotations

from typing import Any

from tracehound.doctor.sources._detect import (
    EXPECTED,
    SourceFormat,
    detect,
    error_response,
    reader_for,
    unwrap,
)
from tracehound.doctor.sources._documents import json_values
from tracehound.doctor.sources._input import Input, ReadResult
from tracehound.doctor.sources._rows import Document

__all__ = ["read_document", "read_line"]


def read_line(
    inp: Input,
    number: int,
    line: bytes | bytearray,
    source: int,
    sink: Any,
    forced: SourceFormat | None,
    result: ReadResult,
    values: list[Any] | None = None,
) -> None:
    """Read one line of JSON lines: the same way for every line, the first too."""
    if values is None:
        values = list(json_values(line))
    whole = len(values) == 1 and values[0].error is None
    for parsed in values:
        if parsed.error is not None:
            at = parsed.error_at if parsed.error_at is not None else parsed.offset
            result.error(inp.name, f"{number}:{at + 1}", parsed.error)
        if parsed.value is not None:
            raw = line.rstrip() if whole else None
            _handle(inp, parsed.value, number, source, sink, forced, result, raw)


def read_document(
    inp: Input,
    data: bytes | bytearray,
    source: int,
    sink: Any,
    forced: SourceFormat | None,
    result: ReadResult,
) -> None:
    """Read a document, or several written one after another (each then named by its line)."""
    values = list(json_values(data))
    several = sum(1 for v in values if v.value is not None) > 1
    for parsed in values:
        if parsed.error is not None:
            at = parsed.error_at if parsed.error_at is not None else parsed.offset
            result.error(inp.name, _line_col(data, at), parsed.error)
        if parsed.value is not None:
            line = _line_col(data, parsed.offset, column=False) if several else None
            _handle(inp, parsed.value, line, source, sink, forced, result)


def _line_col(data: bytes | bytearray, at: int, *, column: bool = True) -> Any:
    """``"line:column"`` (1-based) of byte ``at`` of ``data``, or the line number alone."""
    line = data.count(b"\n", 0, at) + 1
    if not column:
        return line
    column_number = at - data.rfind(b"\n", 0, at)
    return f"{line}:{column_number}"


def _handle(
    inp: Input,
    value: Any,
    line: int | None,
    source: int,
    sink: Any,
    forced: SourceFormat | None,
    result: ReadResult,
    raw: bytes | None = None,
) -> None:
    inner, label = unwrap(value)
    if inner is not value:
        raw = None  # the line is the wrapper, not the request
    fmt = forced or detect(inner)
    where = str(line) if line is not None else None
    if fmt is None or fmt is SourceFormat.OTLP_PROTO:
        problem = error_response(value)
        if problem is not None:
            result.error(inp.name, where, f"an error response, not traces: {problem}")
        else:
            result.error(inp.name, where, f"not a trace export: {EXPECTED}")
        return
    doc = Document(inner, source, line, sink, raw=raw)
    if fmt is SourceFormat.TRACEHOUND_FINDINGS:
        result.findings += reader_for(fmt)(doc)
    else:
        result.spans += reader_for(fmt)(doc)
    name = label or fmt.value
    if doc.errors and fmt is SourceFormat.TRACEHOUND_FINDINGS:
        pass  # a record not read: the input is not (yet) a findings file
    elif result.format is None:
        result.format = name
    elif result.format != name:
        result.format = "mixed"
    for position, message in doc.errors:
        result.error(inp.name, position, message)
    sink.flush_if_full()
