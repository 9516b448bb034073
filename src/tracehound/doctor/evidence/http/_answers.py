"""The end of each HTTP/1.x answer on the server side of a connection, and its status.

Only the status line and the framing headers are read (``Content-Length``,
``Transfer-Encoding: chunked``, or the end of the connection); the body is
counted and dropped as it arrives, so a large download holds no memory.  A
``HEAD`` request, 1xx, 204 and 304 answers have no body.  (Answers are not
evidence themselves: they give a request its status and the end of its window.)
"""

from __future__ import annotations

__all__ = ["MAX_HEAD", "AnswerReader", "Unreadable"]

MAX_HEAD = 64 << 10
"""Bytes of an answer's status line and headers at most."""


class Unreadable(ValueError):
    """The server side is not HTTP/1.x answers (the reason is the message)."""


class AnswerReader:
    """Feed the server's bytes with `feed`; each call returns the answers it completed."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.status: int | None = None
        """The status of the answer being read (None: its head has not arrived)."""
        self._mode: str | None = None  # None (head), "length", "chunked", "close"
        self._left = 0
        self._trailer = False

    def feed(self, data: bytes | bytearray, method: bytes | None, *, eof: bool = False) -> bool:
        """Add ``data``; True when the answer to ``method`` is complete (then reset for the
        next one, whose bytes stay buffered).  `Unreadable` when it is no HTTP/1.x answer."""
        buf = self.buffer
        buf += data
        while self._mode is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise Unreadable(f"an answer's head over {MAX_HEAD >> 10} KiB")
                return False
            head = bytes(buf[:end]).split(b"\r\n")
            del buf[: end + 4]
            words = head[0].split(b" ", 2)
            if len(words) < 2 or not words[0].startswith(b"HTTP/1.") or not words[1].isdigit():
                raise Unreadable(f"not an HTTP/1.x status line: {head[0][:60]!r}")
            status = int(words[1])
            if 100 <= status < 200 and status != 101:
                continue  # an interim answer; the final one follows
            self.status = status
            length, chunked = None, False
            for line in head[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    try:
                        length = int(value.strip())
                    except ValueError:
                        raise Unreadable("a Content-Length that is not a number") from None
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if method == b"HEAD" or status in (204, 304):
                return self._done()
            if chunked:
                self._mode, self._left, self._trailer = "chunked", 0, False
            elif length is not None:
                self._mode, self._left = "length", length
            else:
                self._mode = "close"
        if self._mode == "length":
            take = min(self._left, len(buf))
            del buf[:take]
            self._left -= take
            return self._done() if self._left == 0 else False
        if self._mode == "chunked":
            return self._chunks()
        buf.clear()  # the body ends with the connection
        return self._done() if eof else False

    def _chunks(self) -> bool:
        buf = self.buffer
        while True:
            if self._left:
                take = min(self._left, len(buf))
                del buf[:take]
                self._left -= take
                if self._left:
                    return False
                continue
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            line = bytes(buf[:end])
            del buf[: end + 2]
            if self._trailer:
                if not line:
                    return self._done()
                continue
            try:
                size = int(line.split(b";")[0].strip() or b"x", 16)
            except ValueError:
                raise Unreadable(f"not a chunk size: {line[:40]!r}") from None
            if size == 0:
                self._trailer = True
            else:
                self._left = size + 2  # the chunk and its CRLF

    def _done(self) -> bool:
        self._mode = None
        return True
