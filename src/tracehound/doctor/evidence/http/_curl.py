"""``curl -v`` transcripts: the requests curl sent (``> `` lines), their status (``< `` line).

Other lines are skipped: ``*`` (curl's notes, of which ``Connected to HOST (IP)
port N`` gives the server), ``<`` (the answer's headers, which are not
request headers), ``{``/``}`` data notes, the progress meter and the body.  A
file and standard input are split into lines the same way (`lines`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from tracehound.doctor.evidence.http._exchange import Bad, Exchange

__all__ = ["looks_like", "read_curl", "text_lines"]

_REQUEST = re.compile(r"> ([A-Z]+) (\S+) HTTP/[0-9.]+\s*$")
_STATUS = re.compile(r"< HTTP/[0-9.]+ (\d{3})")
_CONNECTED = re.compile(
    r"\* +(?:Connected to|Established connection to) \S+ \(([^)]+)\) port (\d+)"
)
_HEADER = re.compile(r"> ([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$")


def looks_like(head: bytes) -> bool:
    """Whether the first lines hold a request line as ``curl -v`` prints it."""
    return any(_REQUEST.match(line) for line in text_lines(head.splitlines(keepends=True)))


def text_lines(raw: Iterable[bytes]) -> Iterator[str]:
    """Lines of text from lines of bytes: UTF-8 (bad bytes replaced), line ends and the
    carriage returns of curl's progress meter dropped (what follows the last one stays)."""
    for line in raw:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        yield text.rsplit("\r", 1)[-1]


def read_curl(stream: BinaryIO) -> Iterator[Exchange | Bad]:
    """Every request of a ``curl -v`` transcript, in order."""
    server: str | None = None
    current: dict | None = None
    for number, line in enumerate(text_lines(stream), 1):
        if line.rstrip() == ">":
            if current is not None:
                current["open"] = False  # the end of the request's headers
        elif line.startswith("> "):
            request = _REQUEST.match(line)
            if request:
                if current is not None:
                    yield _done(current, server)
                current = {"method": request[1], "target": request[2], "headers": [],
                           "status": None, "line": number, "open": True}  # fmt: skip
                continue
            if current is None or not current["open"]:
                yield Bad(f"line {number}", "a request header line before any request line")
                continue
            header = _HEADER.match(line)
            if header:
                current["headers"].append((header[1], header[2]))
            else:
                yield Bad(f"line {number}", f"not a header line: {line[:80]!r}")
        elif line.startswith("< "):
            status = _STATUS.match(line)
            if status and current is not None and current["status"] is None:
                current["status"] = int(status[1])
        else:
            connected = _CONNECTED.search(line)
            if connected:
                host = connected[1]
                server = f"[{host}]:{connected[2]}" if ":" in host else f"{host}:{connected[2]}"
    if current is not None:
        yield _done(current, server)


def _done(current: dict, server: str | None) -> Exchange:
    host = next((v for n, v in current["headers"] if n.lower() == "host"), None)
    return Exchange(
        None, None, None, server or host, current["method"], current["target"],
        tuple(current["headers"]), current["status"], f"line {current['line']}",
    )  # fmt: skip
