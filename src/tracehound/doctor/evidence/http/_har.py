"""HAR 1.2 files (browser devtools, mitmproxy, Charles, k6, ...): one exchange per entry.

HTTP/2 and HTTP/3 entries list pseudo-headers (``:authority``, ``:path``) among
the headers: they are not request headers and are left out (``:authority``
stands for ``Host``).  Sanitised exports (cookies, authorisation removed) read
the same.  An entry without a request line is rejected with the reason.

An entry ends ``time`` ms after ``startedDateTime`` (the spec: the sum of its
timings), except in mitmproxy's files: it times send, wait and receive from
the request's own arrival and adds the upstream connect on top, though that
connect happened before the request (its default, eager) or inside wait
(lazy), so its entries end ``send + wait + receive`` after they start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from tracehound.doctor.evidence.http._exchange import Bad, Exchange

__all__ = ["HarError", "looks_like", "read_har"]

_HEAD = re.compile(rb'^\s*\{\s*"log"\s*:\s*\{')
_CONNECT_NOT_IN_TIME = frozenset({"mitmproxy"})
"""``log.creator.name`` of writers whose connect and ssl timings overlap the others."""
_ANSWER_PHASES = ("send", "wait", "receive")
_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$"
)


class HarError(ValueError):
    """The document is not a HAR log at all."""


def looks_like(head: bytes) -> bool:
    return bool(_HEAD.match(head.lstrip(b"\xef\xbb\xbf")))


def read_har(document: Any) -> Iterator[Exchange | Bad]:
    """Every entry of a parsed HAR document."""
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise HarError('not a HAR file: expected {"log": {"entries": [...]}}')
    creator = log.get("creator")
    name = creator.get("name") if isinstance(creator, dict) else None
    phases_only = isinstance(name, str) and name.lower() in _CONNECT_NOT_IN_TIME
    for number, entry in enumerate(entries, 1):
        where = f"entry {number}"
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict):
            yield Bad(where, "an entry without a request object")
            continue
        method, url = request.get("method"), request.get("url")
        if not isinstance(method, str) or not isinstance(url, str) or not method or not url:
            yield Bad(where, "a request without method or url")
            continue
        headers, authority = _headers(request.get("headers"))
        if headers is None:
            yield Bad(where, "request.headers is not a list of {name, value}")
            continue
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        start = _time(entry.get("startedDateTime"))
        total = _answered_after(entry) if phases_only else None
        total = entry.get("time") if total is None else total
        end = (
            start + int(total * 1e6)
            if start is not None and isinstance(total, (int, float)) and total >= 0
            else None
        )
        response = entry.get("response")
        status = response.get("status") if isinstance(response, dict) else None
        yield Exchange(
            start, end, None, _server(entry, parts, authority), method, target, headers,
            status if isinstance(status, int) and status > 0 else None, where,
        )  # fmt: skip


def _answered_after(entry: dict) -> float | None:
    """ms from the request's start to its answer's end by send, wait and receive alone."""
    timings = entry.get("timings")
    if not isinstance(timings, dict):
        return None
    values = [timings.get(k) for k in _ANSWER_PHASES]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return float(sum(v for v in values if v >= 0))  # type: ignore[operator]


def _headers(raw: Any) -> tuple[tuple[tuple[str, str], ...] | None, str | None]:
    if raw is None:
        return (), None
    if not isinstance(raw, list):
        return None, None
    pairs, authority = [], None
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None, None
        name, value = item["name"], item.get("value")
        value = value if isinstance(value, str) else "" if value is None else str(value)
        if name.startswith(":"):
            if name == ":authority":
                authority = value
            continue
        pairs.append((name, value))
    return tuple(pairs), authority


def _server(entry: dict, parts: Any, authority: str | None) -> str | None:
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    address = entry.get("serverIPAddress")
    if isinstance(address, str) and address:
        address = address.strip("[]")
        return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return parts.netloc or authority


def _time(text: Any) -> int | None:
    """Unix ns of an ISO 8601 time as HAR writes it (any number of fraction digits)."""
    match = _TIME.match(text) if isinstance(text, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        base = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        tzinfo=timezone.utc)  # fmt: skip
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        base -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    nanos = int((fraction or "0")[:9].ljust(9, "0"))
    return int(base.timestamp()) * 1_000_000_000 + nanos
