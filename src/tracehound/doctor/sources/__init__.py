"""Read trace exports from files, directories, globs or stdin, gzip or not, in any known format.

`expand_inputs` turns command-line arguments into inputs; `read_input` reads
one into a `RowSink`, line by line when it is line-delimited, and reports
what it could not read as `InputError`s naming the input and the position.
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from tracehound.doctor._model import InputError
from tracehound.doctor.sources._detect import EXPECTED, SourceFormat, detect, reader_for, sniff_json
from tracehound.doctor.sources._expand import TRACE_SUFFIXES, display_name, expand_inputs
from tracehound.doctor.sources._rows import Document
from tracehound.doctor.sources._salvage import salvage
from tracehound.doctor.sources.otlp_proto import ProtoError, read_bytes

__all__ = [
    "TRACE_SUFFIXES",
    "Input",
    "ReadResult",
    "SourceFormat",
    "display_name",
    "expand_inputs",
    "read_input",
]

LINES_BLOCK = 16 << 20
"""Bytes of OTLP/JSON lines handed to the store at once (see `Store.add_lines`)."""

MAX_ERRORS_PER_INPUT = 20
"""Input errors kept per input; the rest are counted in one last error."""

Progress = Callable[[str, int, int | None], None]
"""``progress(input name, bytes read, total bytes or None)``."""


@dataclass(frozen=True)
class Input:
    """One thing to read: a file, or standard input when ``path`` is ``None``."""

    name: str
    path: Path | None

    @property
    def size(self) -> int | None:
        try:
            return self.path.stat().st_size if self.path else None
        except OSError:
            return None


@dataclass
class ReadResult:
    """What reading one input gave."""

    format: str | None = None
    spans: int = 0
    errors: list[InputError] = field(default_factory=list)
    _dropped: int = 0
    _pending: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def complete(self) -> None:
        """Wait for what DuckDB still loads of this input (`read_input` with
        ``wait=False``); the counts and errors are whole afterwards."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending()

    def error(self, source: str, position: str | None, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_PER_INPUT:
            self.errors.append(InputError(source, position, message))
        else:
            self._dropped += 1

    def finish(self, source: str) -> None:
        if self._dropped:
            self.errors.append(
                InputError(source, None, f"{self._dropped} more errors in this input not shown")
            )
            self._dropped = 0


def read_input(
    inp: Input,
    source: int,
    sink: Any,
    *,
    forced: SourceFormat | None = None,
    progress: Progress | None = None,
    wait: bool = True,
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
        _read_stream(inp, raw, source, sink, forced, progress, result)
    except (OSError, EOFError, zlib.error) as exc:
        result.error(inp.name, None, f"read failed: {exc}")
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
) -> None:
    buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
    stream: Any = buffered
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=buffered)
    head = stream.peek(64)[:64]
    if not head.strip():
        result.error(inp.name, None, "empty input")
        return
    if forced is SourceFormat.OTLP_PROTO or (forced is None and not sniff_json(head)):
        _read_proto(inp, stream.read(), source, sink, forced, result)
        return
    total = inp.size

    def report(done: int) -> None:
        if progress is not None:
            progress(inp.name, done, total)

    first = stream.readline()
    try:
        value = orjson.loads(first.lstrip(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError:
        _read_document(inp, first + stream.read(), source, sink, forced, result)
        report(total or 0)
        return
    to_duckdb = (forced or detect(value)) is SourceFormat.OTLP_JSON and hasattr(sink, "add_lines")
    if to_duckdb and not first.startswith(b"\xef\xbb\xbf"):
        result.format = SourceFormat.OTLP_JSON.value  # every line, the first too, goes below
        number = 1
    else:
        number = 2
        _handle(inp, value, 1, source, sink, forced, result, first.lstrip(b"\xef\xbb\xbf").rstrip())
        first = b""
    if to_duckdb:
        # the rest goes to DuckDB unparsed (see doctor/_otlp_lines.py); the lines it
        # finds irregular come back for the line-by-line reading below
        try:
            for block, size in _line_blocks(stream, first):
                number += sink.add_lines(source, number, block, size)
                report(raw.tell() if inp.path else 0)
        except (OSError, EOFError, zlib.error):
            _drain_lines(inp, source, sink, forced, result)  # what came before counts
            raise
        result._pending = lambda: _drain_lines(inp, source, sink, forced, result)
        report(total or 0)
        return
    for number, line in enumerate(stream, 2):
        if line.isspace():
            continue
        _read_line(inp, number, line, source, sink, forced, result)
        if number % 64 == 0:
            report(raw.tell() if inp.path else 0)
    report(total or 0)


def _drain_lines(
    inp: Input, source: int, sink: Any, forced: SourceFormat | None, result: ReadResult
) -> None:
    """Count the spans DuckDB read from the input's lines; read the lines it left
    (blank ones are skipped here, as in line-by-line reading)."""
    spans, leftovers = sink.drain(source)
    result.spans += spans
    for number, line in leftovers:
        if not line.isspace():
            _read_line(inp, number, line, source, sink, forced, result)


def _line_blocks(stream: Any, first: bytes = b"") -> Iterator[tuple[bytearray, int]]:
    """Blocks of whole lines from ``stream`` (after ``first``), about `LINES_BLOCK` bytes each.

    Yields ``(buffer, size)``: the lines are ``buffer[:size]``, valid until the
    next block.  One buffer is filled again and again: a new 16 MB object per
    block cost a copy and thousands of page faults each time.  It is filled
    one read at a time (``readinto1``), so that a read error (a cut-off gzip
    file) loses nothing before it: the whole lines read so far come first.
    """
    buffer = bytearray(max(LINES_BLOCK, 2 * len(first)))
    buffer[: len(first)] = first
    filled = len(first)
    while True:
        if filled == len(buffer):  # one line longer than the buffer
            buffer.extend(bytes(len(buffer)))
        try:
            with memoryview(buffer) as view:
                read = stream.readinto1(view[filled:])
        except BaseException:
            end = buffer.rfind(b"\n", 0, filled) + 1
            if end:
                yield buffer, end
            raise
        filled += read
        if read and filled < len(buffer):
            continue  # fill the block first
        end = filled if not read else buffer.rfind(b"\n", 0, filled) + 1
        if end:
            yield buffer, end
            buffer[: filled - end] = buffer[end:filled]
            filled -= end
        if not read:
            return


def _read_line(
    inp: Input,
    number: int,
    line: bytes,
    source: int,
    sink: Any,
    forced: SourceFormat | None,
    result: ReadResult,
) -> None:
    try:
        value = orjson.loads(line)
        text: bytes | None = line.rstrip()
    except orjson.JSONDecodeError as exc:
        value = salvage(line, exc.pos)
        text = None
        kept = "; kept its complete spans" if value is not None else ""
        result.error(inp.name, f"{number}:{exc.colno}", f"invalid JSON ({exc.msg}){kept}")
        if value is None:
            return
    _handle(inp, value, number, source, sink, forced, result, text)


def _read_document(
    inp: Input,
    data: bytes,
    source: int,
    sink: Any,
    forced: SourceFormat | None,
    result: ReadResult,
) -> None:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        value = salvage(data, exc.pos)
        where = f"{exc.lineno}:{exc.colno}"
        if value is None:
            result.error(inp.name, where, f"invalid JSON ({exc.msg}); nothing could be kept")
            return
        result.error(inp.name, where, f"invalid JSON ({exc.msg}); kept the spans before it")
    _handle(inp, value, None, source, sink, forced, result)


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
    fmt = forced or detect(value)
    if fmt is None or fmt is SourceFormat.OTLP_PROTO:
        where = str(line) if line is not None else None
        result.error(inp.name, where, f"not a trace export: {EXPECTED}")
        return
    if result.format is None:
        result.format = fmt.value
    elif result.format != fmt.value:
        result.format = "mixed"
    doc = Document(value, source, line, sink, raw=raw)
    result.spans += reader_for(fmt)(doc)
    for position, message in doc.errors:
        result.error(inp.name, position, message)
    sink.flush_if_full()


def _read_proto(
    inp: Input,
    data: bytes,
    source: int,
    sink: Any,
    forced: SourceFormat | None,
    result: ReadResult,
) -> None:
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
