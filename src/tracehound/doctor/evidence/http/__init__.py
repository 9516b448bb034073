"""HTTP evidence: requests seen on the wire or at a proxy, read into ``http_exchanges``.

Four kinds of input, recognised by their content (`detect`): packet captures
(pcap, pcapng; `_capture`), HAR files (`_har`), ``curl -v`` transcripts
(`_curl`) and proxy access logs (`_access_log`).  `read_exchanges` yields what
one input holds; `read_into` puts it in a store's table, counting every
record it could not read as an input error that names the place.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import orjson

from tracehound.doctor.evidence.http import _access_log, _capture, _curl, _har
from tracehound.doctor.evidence.http._access_log import AccessLogFormat, LogFormatError
from tracehound.doctor.evidence.http._exchange import Bad, Context, Exchange, context_of
from tracehound.doctor.evidence.http._table import SCHEMA, TABLE, ExchangeSink

__all__ = [
    "SCHEMA",
    "TABLE",
    "AccessLogFormat",
    "Bad",
    "Context",
    "EvidenceError",
    "Exchange",
    "HttpFormat",
    "LogFormatError",
    "context_of",
    "detect",
    "parse_log_format",
    "read_exchanges",
    "read_into",
]

MAX_HAR = 256 << 20
"""Bytes of the largest HAR file (parsed whole)."""
SNIFF = 4096
"""Bytes looked at to recognise an input."""


class HttpFormat(str, enum.Enum):
    PCAP = "pcap"
    HAR = "har"
    CURL = "curl"
    ACCESS_LOG = "access-log"

    def __str__(self) -> str:
        return self.value


class EvidenceError(ValueError):
    """The input cannot be read at all (the message names why)."""


def parse_log_format(spec: str) -> AccessLogFormat:
    """An access-log format as a user gives it (``nginx:...``, ``envoy:...``)."""
    return _access_log.parse_format(spec)


def detect(head: bytes, log_format: AccessLogFormat | None = None) -> HttpFormat | None:
    """The kind of HTTP evidence an input starting with ``head`` is, or None; with an
    access-log format given, an input whose first line matches it is an access log."""
    if _capture.looks_like(head):
        return HttpFormat.PCAP
    if _har.looks_like(head):
        return HttpFormat.HAR
    if _curl.looks_like(head):
        return HttpFormat.CURL
    if _access_log.looks_like(head, log_format):
        return HttpFormat.ACCESS_LOG
    return None


def read_exchanges(
    kind: HttpFormat,
    stream: BinaryIO,
    *,
    log_format: AccessLogFormat | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Exchange | Bad]:
    """Every request in ``stream`` (and every record that is not one); `EvidenceError`
    when the input as a whole cannot be read."""
    if kind is HttpFormat.PCAP:
        try:
            return _capture.read_capture(stream, progress)
        except _capture.CaptureError as exc:
            raise EvidenceError(str(exc)) from None
    if kind is HttpFormat.HAR:
        data = stream.read(MAX_HAR + 1).removeprefix(b"\xef\xbb\xbf")
        if len(data) > MAX_HAR:
            raise EvidenceError(f"a HAR file over {MAX_HAR >> 20} MB is not read")
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise EvidenceError(f"not valid JSON: {exc}") from None
        try:
            return iter(list(_har.read_har(document)))
        except _har.HarError as exc:
            raise EvidenceError(str(exc)) from None
    if kind is HttpFormat.CURL:
        return _curl.read_curl(stream)
    return _access_log.read_access_log(stream, log_format)


def read_into(
    kind: HttpFormat,
    name: str,
    stream: BinaryIO,
    con: Any,
    error: Callable[[str, str | None, str], None],
    *,
    log_format: AccessLogFormat | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Read ``stream`` (the input ``name``) into ``http_exchanges`` on ``con``; every
    record not read goes to ``error(name, position, reason)``.  Returns the requests read."""
    try:
        found = read_exchanges(kind, stream, log_format=log_format, progress=progress)
    except EvidenceError as exc:
        error(name, None, str(exc))
        return 0
    sink = ExchangeSink(con)
    count = 0
    try:
        for item in found:
            if isinstance(item, Bad):
                error(name, item.position, item.reason)
            else:
                sink.add(item, kind.value, name)
                count += 1
    finally:
        sink.close()
    return count
