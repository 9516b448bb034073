"""Lines of an input, with the size limit: one line at a time, or blocks of whole lines.

The limit is the caller's (``limit`` bytes for one line); a line over it
raises `TooLarge` after the lines before it have been given out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["TooLarge", "line", "line_blocks", "lines", "too_large"]


class TooLarge(Exception):
    """A document, protobuf input or line over the size limit (the message says which)."""


def too_large(what: str, line: int | None, limit: int) -> str:
    where = f" (line {line})" if line is not None else ""
    return (
        f"{what}{where} is larger than {limit >> 20} MB, the most read whole; "
        "not read (split it, or export JSON lines)"
    )


def line(stream: Any, number: int, limit: int) -> bytearray:
    """The next line of ``stream`` (empty at the end), at most ``limit`` bytes; read a
    megabyte at a time, so that a long line is in memory once, not twice."""
    text = bytearray()
    while part := stream.readline(1 << 20):
        text += part
        if len(text) > limit:
            raise TooLarge(too_large("a line", number, limit))
        if part.endswith(b"\n"):
            break
    return text


def lines(
    stream: Any, prefix: bytes | bytearray, first: int, limit: int
) -> Iterator[bytes | bytearray]:
    """The lines of ``prefix`` and then of ``stream``, the first numbered ``first``."""
    number = first
    for text in prefix.splitlines(keepends=True):
        yield text
        number += 1
    while text := line(stream, number, limit):
        yield text
        number += 1


def line_blocks(
    stream: Any, first: bytes | bytearray, block: int, limit: int
) -> Iterator[tuple[bytearray, int]]:
    """Blocks of whole lines from ``stream`` (after ``first``), about ``block`` bytes each.

    Yields ``(buffer, size)``: the lines are ``buffer[:size]``, valid until the
    next block.  One buffer is filled again and again: a new 16 MB object per
    block cost a copy and thousands of page faults each time.  It is filled
    one read at a time (``readinto1``), so that a read error (a cut-off gzip
    file) loses nothing before it: the whole lines read so far come first.
    A line longer than ``limit`` raises `TooLarge` after the lines before it.
    """
    buffer = bytearray(max(block, 2 * len(first)))
    buffer[: len(first)] = first
    filled = len(first)
    while True:
        if filled == len(buffer):  # one line longer than the buffer
            if filled > limit:
                raise TooLarge(too_large("a line", None, limit))
            buffer.extend(bytes(min(len(buffer), limit + 1 - len(buffer))))
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
