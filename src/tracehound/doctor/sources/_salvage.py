"""Keep what is valid in a truncated or malformed JSON document.

The document is cut at the last ``,`` before the error that sits outside a
string, and the containers still open there are closed.  Objects closed that
way get the key `TRUNCATED`, so a reader can reject a span that was cut off
instead of analysing half of it.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

__all__ = ["MAX_SALVAGE_BYTES", "TRUNCATED", "salvage"]

TRUNCATED = "\x00truncated"
"""Key added to every object the salvage had to close."""

MAX_SALVAGE_BYTES = 64 * 1024 * 1024
"""Larger documents are not salvaged (the scan is in Python)."""

_STRUCTURAL = re.compile(rb'[\[\]{},"]')
_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)
_CLOSE_OBJECT = b',"' + TRUNCATED.encode().replace(b"\x00", b"\\u0000") + b'":true}'


def salvage(data: bytes, error_at: int) -> Any | None:
    """The value made of the complete parts of ``data`` before ``error_at``, or ``None``."""
    if len(data) > MAX_SALVAGE_BYTES:
        return None
    stack: list[int] = []
    cut: tuple[int, bytes] | None = None
    pos = 0
    limit = min(error_at, len(data))
    while True:
        found = _STRUCTURAL.search(data, pos, limit)
        if found is None:
            break
        char = data[found.start()]
        pos = found.end()
        if char == 0x22:  # '"'
            rest = _STRING_REST.match(data, pos, limit)
            if rest is None:
                break  # the input ends inside a string
            pos = rest.end()
        elif char in (0x5B, 0x7B):  # '[' '{'
            stack.append(char)
        elif char in (0x5D, 0x7D):  # ']' '}'
            if not stack:
                break
            stack.pop()
        elif stack:  # ','
            cut = (found.start(), bytes(stack))
    if cut is None:
        return None
    at, open_containers = cut
    closing = b"".join(_CLOSE_OBJECT if c == 0x7B else b"]" for c in reversed(open_containers))
    try:
        return orjson.loads(data[:at] + closing)
    except orjson.JSONDecodeError:
        return None
