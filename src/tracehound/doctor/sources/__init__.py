"""Read trace exports from files, directories, globs or stdin, gzip or not, in any known format.

`expand_inputs` turns command-line arguments into inputs; `read_input` reads
one into a `RowSink`, line by line when it is line-delimited, and reports
what it could not read as `InputError`s naming the input and the position.
Memory stays bounded: JSON lines are read a block at a time whatever their
number; one JSON document, one protobuf input and one line are read whole, up
to `MAX_DOCUMENT` bytes (over it the input is refused with a message).
"""

from __future__ import annotations

import gzip
import io
import itertools
import sys
import zlib
from typing import Any, BinaryIO

from tracehound.doctor.evidence import k8s
from tracehound.doctor.sources._decode import utf8_stream
from tracehound.doctor.sources._detect import (
    EXPECTED,
    SourceFormat,
    detect,
    sniff_json,
    unwrap,
)
from tracehound.doctor.sources._documents import json_values
from tracehound.doctor.sources._expand import TRACE_SUFFIXES, display_name, expand_inputs
from tracehound.doctor.sources._input import (
    MAX_ERRORS_PER_INPUT,
    Input,
    Progress,
    ReadResult,
    without_duplicates,
)
from tracehound.doctor.sources._js_literals import looks_like_js_objects, to_json
from tracehound.doctor.sources._json_values import read_document, read_line
from tracehound.doctor.sources._lines import TooLarge, line_blocks, lines, too_large
from tracehound.doctor.sources._lines import line as next_line
from tracehound.doctor.sources._text_output import (
    SNIFF,
    holds_span_objects,
    is_text,
    keep_span_objects,
)
from tracehound.doctor.sources.otlp_proto import ProtoError, read_bytes

__all__ = [
    "MAX_DOCUMENT",
    "MAX_ERRORS_PER_INPUT",
    "TRACE_SUFFIXES",
    "Input",
    "Progress",
    "ReadResult",
    "SourceFormat",
    "display_name",
    "expand_inputs",
    "read_input",
    "without_duplicates",
]

LINES_BLOCK = 16 << 20
"""Bytes of OTLP/JSON lines handed to the store at once (see `Store.add_lines`)."""

MAX_DOCUMENT = 256 << 20
"""Bytes of the largest JSON document, protobuf input or single line read (each is
parsed whole); JSON lines as such have no limit."""


def read_input(
    inp: Input,
    source: int,
    sink: Any,
    *,
    forced: SourceFormat | None = None,
    progress: Progress | None = None,
    wait: bool = True,
    log_format: Any = None,
) -> ReadResult:
    """Read ``inp`` into ``sink`` (a `RowSink` with ``flush_if_full()``).

    Lines handed to DuckDB load in the background; with ``wait=False`` the
    result is whole only after `ReadResult.complete` (so that the next input is
    read meanwhile: many small inputs load in parallel).  The lines DuckDB leaves
    to Python are read then, after the rows the next input gave DuckDB.
    """
    result = ReadResult()
    if inp.path is None and sys.stdin is None:
        result.error(inp.name, None, "standard input is closed")
        return result
    try:
        raw: BinaryIO = open(inp.path, "rb") if inp.path else sys.stdin.buffer  # noqa: SIM115
    except OSError as exc:
        result.error(inp.name, None, f"cannot read: {exc.strerror or exc}")
        return result
    try:
        _read_stream(inp, raw, source, sink, forced, progress, result, log_format)
    except (OSError, EOFError, zlib.error) as exc:
        result.error(inp.name, None, f"read failed: {exc}")
    except TooLarge as exc:
        result.error(inp.name, None, str(exc))
    finally:
        if inp.path:
            raw.close()
    drain = result._pending
    if drain is None:
        result.finish(inp.name)
        return result

    def complete() -> None:
        current = sink.use_source(source)  # what Python reads of the leftovers is this input's
        try:
            drain()
        finally:
            sink.use_source(current)
        result.finish(inp.name)

    result._pending = complete
    if wait:
        result.complete()
    return result


def _read_stream(
    inp: Input,
    raw: BinaryIO,
    source: int,
    sink: Any,
    forced: SourceFormat | None,
    progress: Progress | None,
    result: ReadResult,
    log_format: Any = None,
) -> None:
    buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
    stream: Any = buffered
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=buffered)
    if forced is None and _read_http(inp, stream, sink, progress, result, log_format):
        return
    stream, _ = utf8_stream(stream)
    head = stream.peek(64)[:64]
    if not head.strip():
        result.error(inp.name, None, "empty input")
        return
    if forced is None and not sniff_json(head) and k8s.looks_like_manifest(stream.peek(8192)):
        _read_manifest(inp, stream, sink, result)
        return
    if forced in _PRINTED or (forced is None and _is_text(stream.peek(SNIFF), head)):
        # text that is not JSON from its first byte (or a console format named): a
        # console exporter's spans, maybe among the program's own output (its stdout,
        # where a batch of spans comes every few seconds); else what protobuf makes of it
        data = _rest(stream, bytearray())
        start = bytes(data[:_JS_SNIFF])
        if forced is SourceFormat.OTEL_JS_CONSOLE or (
            forced is None and looks_like_js_objects(start)
        ):
            # Node's console exporter: JavaScript object literals (never JSON: its keys
            # are bare); rewritten as JSON, lines kept
            keep_span_objects(data)
            text = to_json(bytes(data).decode(errors="replace"))
            read_document(inp, text.encode(), source, sink, forced, result)
        elif forced is not None or holds_span_objects(start):
            if not sniff_json(head):  # JSON from its first byte (a list of spans) as it is
                keep_span_objects(data)
            read_document(inp, data, source, sink, forced, result)
        else:
            _read_proto(inp, io.BufferedReader(io.BytesIO(data)), source, sink, forced, result)
        return
    if forced is SourceFormat.OTLP_PROTO or (forced is None and not sniff_json(head)):
        _read_proto(inp, stream, source, sink, forced, result)
        return
    total = inp.size

    def report(done: int) -> None:
        if progress is not None:
            progress(inp.name, done, total)

    first = next_line(stream, 1, MAX_DOCUMENT)
    values = list(json_values(first))
    clean = len(values) == 1 and values[0].error is None
    pending = bytearray()  # lines read ahead, not yet handled: they start at line 2
    # line 1 alone is not JSON: a document written over several lines, or JSON lines
    # with a bad first line (or several) -- a later line that alone is a trace export
    # tells; no line of a document written over lines is one
    if (
        not clean
        and first.lstrip()[:1] in (b"{", b"[")
        and not _trace_line_ahead(stream, pending, forced)
        and not _object_lines(first, pending)
    ):
        first += pending
        del pending
        read_document(inp, _rest(stream, first), source, sink, forced, result)
        report(total or 0)
        return
    to_duckdb = (
        clean
        and hasattr(sink, "add_lines")
        and (forced or detect(values[0].value)) is SourceFormat.OTLP_JSON
        and isinstance(values[0].value, dict)
        and "resourceSpans" in values[0].value
    )
    if to_duckdb:
        result.format = SourceFormat.OTLP_JSON.value  # every line, the first too, goes below
        number, prefix = 1, first
    else:
        read_line(inp, 1, first, source, sink, forced, result, values)
        number, prefix = 2, pending
        to_duckdb = hasattr(sink, "add_lines") and _is_plain_otlp(pending, forced)
        if to_duckdb and result.format is None:
            result.format = SourceFormat.OTLP_JSON.value
    if to_duckdb:
        # the rest goes to DuckDB unparsed (see doctor/_otlp_lines.py); the lines it
        # finds irregular come back for the line-by-line reading below
        try:
            for block, size in line_blocks(stream, prefix, LINES_BLOCK, MAX_DOCUMENT):
                number += sink.add_lines(source, number, block, size)
                report(raw.tell() if inp.path else 0)
        except (OSError, EOFError, zlib.error, TooLarge):
            _drain_lines(inp, source, sink, forced, result)  # what came before counts
            raise
        result._pending = lambda: _drain_lines(inp, source, sink, forced, result)
        report(total or 0)
        return
    for at, line in enumerate(lines(stream, prefix, number, MAX_DOCUMENT), number):
        if line.isspace():
            continue
        read_line(inp, at, line, source, sink, forced, result)
        if at % 64 == 0:
            report(raw.tell() if inp.path else 0)
    report(total or 0)


def _read_manifest(inp: Input, stream: Any, sink: Any, result: ReadResult) -> None:
    """A Kubernetes manifest: configuration facts, not spans (see `evidence.k8s`)."""
    data = stream.read(k8s.MAX_MANIFEST + 1)
    read = k8s.read_manifest(data, sink)
    if read.objects:
        result.format = k8s.FORMAT
    for position, message in read.errors:
        result.error(inp.name, position, message)


def _read_http(
    inp: Input,
    stream: Any,
    sink: Any,
    progress: Progress | None,
    result: ReadResult,
    log_format: Any = None,
) -> bool:
    """Read ``stream`` as HTTP evidence if it is some (see `tracehound.doctor.evidence.http`);
    with ``log_format`` (an access-log format given), a text input that matches it is one."""
    from tracehound.doctor.evidence import http

    head = stream.peek(http.SNIFF)[: http.SNIFF]
    kind = http.detect(head, log_format)
    con = getattr(sink, "con", None)
    if kind is None or con is None:
        return False
    total = inp.size

    def report(packets: int) -> None:
        if progress is not None and inp.path is not None:
            progress(inp.name, stream.tell() if hasattr(stream, "tell") else 0, total)

    result.format = kind.value
    result.exchanges += http.read_into(
        kind, inp.name, stream, con, result.error, progress=report, log_format=log_format
    )
    return True


_PRINTED = (SourceFormat.OTEL_CONSOLE, SourceFormat.OTEL_GO_STDOUT, SourceFormat.OTEL_JS_CONSOLE)
"""The formats SDKs print to a program's standard output, among its own lines."""
_JS_SNIFF = 1 << 20
"""Bytes of a text input searched for its first printed span object."""


def _is_text(peeked: bytes, head: bytes) -> bool:
    """Whether an input starting with ``peeked`` is text the console readers may hold:
    a printed JavaScript object from the first line, or text that is not JSON from its
    first byte."""
    return looks_like_js_objects(peeked) or (not sniff_json(head) and is_text(peeked))


def _rest(stream: Any, data: bytearray) -> bytearray:
    """``data`` followed by the rest of ``stream``, refused over `MAX_DOCUMENT` bytes
    (read a megabyte at a time: one copy of the document in memory, not two)."""
    while chunk := stream.read(1 << 20):
        data += chunk
        if len(data) > MAX_DOCUMENT:
            raise TooLarge(too_large("one JSON document", None, MAX_DOCUMENT))
    return data


LOOK_AHEAD_LINES = 8
"""Lines after a bad line 1 searched for one that alone is a trace export."""
LOOK_AHEAD_BYTES = 4 << 20
"""Bytes of them read ahead at most (a document's lines are short; JSON lines are not)."""


def _trace_line_ahead(stream: Any, pending: bytearray, forced: SourceFormat | None) -> bool:
    """Whether one of the next few lines that are not blank is a trace export on its own;
    the lines read are appended to ``pending``."""
    seen = 0
    for number in itertools.count(2):
        if seen >= LOOK_AHEAD_LINES or len(pending) >= LOOK_AHEAD_BYTES:
            break
        line = next_line(stream, number, MAX_DOCUMENT)
        pending += line
        if not line:
            return False
        if line.isspace():
            continue
        if _is_trace_line(line, forced):
            return True
        seen += 1
    return False


def _object_lines(first: bytes | bytearray, pending: bytes | bytearray) -> bool:
    """Whether line 1 and a line read after it each hold a whole object (``{...}``):
    JSON lines, every one of them broken -- each is then named, where reading them
    as one document would name the first fault only.  A document written over lines
    opens an object on line 1 and closes it on a later one."""

    def whole_object(line: bytes | bytearray) -> bool:
        line = line.strip()
        return line[:1] == b"{" and line[-1:] == b"}"

    return whole_object(first) and any(whole_object(line) for line in pending.splitlines())


def _is_trace_line(line: bytes | bytearray, forced: SourceFormat | None) -> bool:
    """Whether ``line`` on its own is a trace export (so its input is JSON lines)."""
    values = list(json_values(line)) if line.strip() else []
    if len(values) != 1 or values[0].error is not None:
        return False
    return forced is not None or detect(unwrap(values[0].value)[0]) is not None


def _is_plain_otlp(lines: bytes | bytearray, forced: SourceFormat | None) -> bool:
    """Whether the lines read ahead start with a plain OTLP/JSON request (DuckDB reads those)."""
    line = lines.lstrip().split(b"\n", 1)[0]
    values = list(json_values(line)) if line else []
    if len(values) != 1 or values[0].error is not None:
        return False
    value = values[0].value
    return (
        isinstance(value, dict)
        and "resourceSpans" in value
        and (forced or detect(value)) is SourceFormat.OTLP_JSON
    )


def _drain_lines(
    inp: Input, source: int, sink: Any, forced: SourceFormat | None, result: ReadResult
) -> None:
    """Count the spans DuckDB read from the input's lines; read the lines it left
    (blank ones are skipped here, as in line-by-line reading)."""
    spans, leftovers = sink.drain(source)
    result.spans += spans
    for number, line in leftovers:
        if not line.isspace():
            read_line(inp, number, line, source, sink, forced, result)


def _read_proto(
    inp: Input,
    stream: Any,
    source: int,
    sink: Any,
    forced: SourceFormat | None,
    result: ReadResult,
) -> None:
    if stream.peek(4)[:4] == b"\0\0\0\0":  # neither a message nor a framed stream
        result.error(inp.name, None, f"not a trace export: {EXPECTED}")
        return
    data = stream.read(MAX_DOCUMENT + 1)
    if len(data) > MAX_DOCUMENT:
        raise TooLarge(too_large("a protobuf input", None, MAX_DOCUMENT))
    errors: list[tuple[str, str]] = []
    try:
        result.spans += read_bytes(data, source, sink, errors)
    except ProtoError as exc:
        message = str(exc) if forced else f"not a trace export: {EXPECTED}"
        result.error(inp.name, None, message)
        return
    result.format = SourceFormat.OTLP_PROTO.value
    for position, message in errors:
        result.error(inp.name, position, message)
    sink.flush_if_full()
