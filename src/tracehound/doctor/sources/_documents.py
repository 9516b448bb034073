"""JSON values from bytes: one document, several written one after another, or a line.

One parser for every input and every line of it, so that line 1 and line
1000 are read with the same leniency.  Several values one after the other
(the OpenTelemetry SDK's console exporter prints one span object after the
other; grpc-gateway streams one ``{"result": ...}`` per message) are read one
by one.  Invalid UTF-8 is replaced (and reported); a value that breaks off
keeps its complete parts (`_salvage`); bytes after the last value are
reported, not allowed to spoil the value before them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from tracehound.doctor.sources._decode import repair_utf8
from tracehound.doctor.sources._salvage import salvage

__all__ = ["Parsed", "json_values"]

_TRAILING = "unexpected content after document"
_WHITE = b" \t\r\n"


@dataclass
class Parsed:
    """One value read (``value`` is ``None`` when nothing could be kept), or a problem."""

    value: Any
    offset: int
    """Byte offset of the value (or of the problem) in the bytes given."""
    error: str | None = None
    """What was wrong; the value, if any, is what could be kept."""
    error_at: int | None = None
    """Byte offset of the problem."""


def json_values(data: bytes | bytearray) -> Iterator[Parsed]:
    """Every JSON value in ``data``, in order; problems as `Parsed` with an ``error``."""
    repaired = False
    view = memoryview(data)
    pos = _skip_white(data, 0)
    while pos < len(data):
        try:
            value = orjson.loads(view[pos:])
        except orjson.JSONDecodeError as exc:
            at = pos + _byte_offset(view, pos, exc.pos)
            if exc.msg == _TRAILING:
                try:
                    value = orjson.loads(view[pos:at])  # the complete value before the rest
                except orjson.JSONDecodeError:
                    pass  # not where the value ends after all: a plain syntax error
                else:
                    yield Parsed(value, pos)
                    pos = _skip_white(data, at)
                    continue
            if "UTF-8" in exc.msg and not repaired:
                fixed = repair_utf8(view[pos:])
                if fixed is not None:
                    repaired = True
                    text, bad = fixed
                    yield Parsed(
                        None,
                        pos,
                        error="invalid UTF-8; read with U+FFFD in its place",
                        error_at=pos + bad,
                    )
                    data = bytes(data[:pos]) + text
                    view = memoryview(data)
                    continue
            kept = salvage(bytes(view[pos:]), at - pos)
            if kept is None:
                what = "nothing could be kept" if pos == 0 else "the rest is not read"
                yield Parsed(None, pos, error=f"invalid JSON ({exc.msg}); {what}", error_at=at)
            else:
                yield Parsed(
                    kept,
                    pos,
                    error=f"invalid JSON ({exc.msg}); kept the complete parts before it",
                    error_at=at,
                )
            return
        yield Parsed(value, pos)
        return


def _byte_offset(view: memoryview, start: int, chars: int) -> int:
    """The byte offset, from ``start``, of the ``chars``-th character (orjson counts
    an error's position in characters; the text before it is valid UTF-8)."""
    head = bytes(view[start : start + 4 * chars])
    if head.isascii():
        return min(chars, len(head))
    return len(head.decode("utf-8", "ignore")[:chars].encode("utf-8"))


def _skip_white(data: bytes | bytearray, pos: int) -> int:
    size = len(data)
    while pos < size and data[pos] in _WHITE:
        pos += 1
    return pos
