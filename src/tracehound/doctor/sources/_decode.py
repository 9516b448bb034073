"""The bytes of an input as UTF-8: byte-order marks dropped, UTF-16 and UTF-32 transcoded.

JSON exported on Windows (PowerShell's ``>``, .NET writers) often starts with a
byte-order mark or is UTF-16 throughout; the readers want UTF-8.  A stream in
another encoding is transcoded as it is read, so memory stays bounded.
Invalid UTF-8 inside a UTF-8 input is left to `repair_utf8`, which the JSON
parsing calls for the one document or line that holds it.
"""

from __future__ import annotations

import codecs
import io
from typing import Any

__all__ = ["repair_utf8", "utf8_stream"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def utf8_stream(stream: Any) -> tuple[Any, str | None]:
    """``stream`` (with ``peek``) as a UTF-8 stream with ``peek``, ``readline``,
    ``readinto1`` and ``read``; and the encoding it was transcoded from, if any."""
    head = stream.peek(4)[:4]
    encoding = None
    for bom, name in _BOMS:
        if head.startswith(bom):
            stream.read(len(bom))
            encoding = name
            break
    else:
        encoding = _without_bom(head)
    if encoding in (None, "utf-8"):
        return stream, encoding
    return io.BufferedReader(_Transcoder(stream, encoding), 1 << 16), encoding


def _without_bom(head: bytes) -> str | None:
    """UTF-16/32 told by where the zero bytes are around an ASCII first character
    (JSON starts with ``{``, ``[`` or white space)."""
    if len(head) < 4:
        return None
    zeros = tuple(b == 0 for b in head)
    return {
        (False, True, True, True): "utf-32-le",
        (True, True, True, False): "utf-32-be",
        (False, True, False, True): "utf-16-le",
        (True, False, True, False): "utf-16-be",
    }.get(zeros)  # type: ignore[call-overload]


class _Transcoder(io.RawIOBase):
    """A raw stream of UTF-8 bytes decoded incrementally from another encoding."""

    def __init__(self, stream: Any, encoding: str) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._done:
            raw = self._stream.read(1 << 16)
            self._done = not raw
            self._pending = self._decoder.decode(raw, final=self._done).encode("utf-8")
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def repair_utf8(data: bytes | bytearray | memoryview) -> tuple[bytes, int] | None:
    """``data`` with each invalid UTF-8 sequence replaced by U+FFFD, and the offset of
    the first one; ``None`` when ``data`` is valid UTF-8 (the problem is elsewhere)."""
    raw = bytes(data)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return raw.decode("utf-8", "replace").encode("utf-8"), exc.start
    return None
