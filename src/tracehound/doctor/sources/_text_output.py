"""Span objects printed among a program's own output (a console exporter's stdout).

The OpenTelemetry Python SDK's console exporter and Go's ``stdouttrace`` print
each span as a pretty JSON object, ``{`` and ``}`` alone on their lines, to the
program's standard output, between whatever else the program prints (Flask's
start-up banner, ``print`` calls, log lines).  `holds_span_objects` tells such
text from the start of an input; `keep_span_objects` blanks every line outside
those objects with spaces, so the JSON readers see the objects one after the
other at their own byte offsets and line numbers.  An object that never closes
is kept to the end, where the JSON reader reports where it broke off.
"""

from __future__ import annotations

import re

__all__ = ["SNIFF", "holds_span_objects", "is_text", "keep_span_objects"]

SNIFF = 64 << 10
"""Bytes of an input looked at for a printed object."""

# `{` alone on a line, then an indented member ("name", Go's "Name"): a printed object
_OBJECT = re.compile(rb'(?:\A|\n)\{\r?\n[ \t]+"[A-Za-z_]')


def is_text(head: bytes) -> bool:
    """Whether ``head`` (an input's first bytes) is text: valid UTF-8 but for a character
    cut off at its end, no NUL.  A protobuf export is not (its IDs are random bytes), even
    where a value in it holds what looks like a printed object."""
    if b"\0" in head:
        return False
    try:
        head.decode()
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3
    return True


def holds_span_objects(head: bytes) -> bool:
    """Whether ``head`` (an input's first bytes) is text with a pretty JSON object in it."""
    return _OBJECT.search(head) is not None and is_text(head)


def keep_span_objects(data: bytearray) -> int:
    """Blank (in place) every line of ``data`` outside a printed object; the number of
    non-blank lines blanked."""
    blanked = 0
    start, inside, end = 0, False, len(data)
    while start < end:
        stop = data.find(b"\n", start)
        stop = end if stop < 0 else stop
        line = bytes(data[start:stop]).rstrip()
        if inside:
            inside = line != b"}"
        elif line == b"{":
            inside = True
        elif line.strip():
            data[start:stop] = b" " * (stop - start)
            blanked += 1
        start = stop + 1
    return blanked
