"""Proxy access logs that record trace headers: nginx ``log_format`` and Envoy/Istio formats.

A format is given (``nginx:<log_format>``, ``envoy:<format string>``) or
recognised: nginx's ``combined`` and the Envoy and Istio default formats, each
followed by any number of extra fields (what users append to record
``$http_traceparent`` or ``%REQ(TRACEPARENT)%``).  A given format names each
field; the extra fields of a recognised one are named by their value's shape
(a ``traceparent``, an ``uber-trace-id``, a ``b3`` header), and ``-`` is an
absent header.  Each line is one request as the proxy received it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO

from tracehound.doctor.evidence.http._curl import text_lines
from tracehound.doctor.evidence.http._exchange import Bad, Exchange
from tracehound.doctor.evidence.http._har import _time as iso_time

__all__ = ["AccessLogFormat", "LogFormatError", "looks_like", "parse_format", "read_access_log"]

NGINX_COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)
ENVOY_DEFAULT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" '
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" '
    '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"'
)
ISTIO_DEFAULT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" '
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
    '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% '
    '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" '
    '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% '
    "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% "
    "%REQUESTED_SERVER_NAME% %ROUTE_NAME%"
)

_NGINX_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")
_ENVOY_CMD = re.compile(r"%([A-Z_]+)(?:\(([^)]*)\))?(?::\d+)?%")
_SHAPES = (
    ("traceparent", re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")),
    ("uber-trace-id",
     re.compile(r"[0-9a-f]{1,32}(?::|%3[aA])[0-9a-f]{1,16}(?:(?::|%3[aA])[0-9a-f]{1,16}){2}")),
    ("b3", re.compile(r"[0-9a-f]{16,32}-[0-9a-f]{16}(?:-[01d](?:-[0-9a-f]{16})?)?")),
)  # fmt: skip
_EXTRA = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(\S+))')


class LogFormatError(ValueError):
    """A given access-log format that cannot be used (the reason is named)."""


@dataclass(frozen=True)
class AccessLogFormat:
    """A compiled format: its name, the line pattern and what each group holds."""

    name: str
    pattern: re.Pattern[str]
    fields: tuple[tuple[str, str], ...]
    """``(group, meaning)``: ``client``, ``time_local``, ``time_iso``, ``msec``, ``request``,
    ``method``, ``target``, ``status``, ``duration_ms``, ``request_time``, ``upstream``,
    ``server``, ``header:<name>``."""
    extras: bool = False
    """Fields after the format are read by their values' shapes (a recognised format)."""


def _nginx_meaning(var: str) -> str | None:
    if var.startswith("http_"):
        return "header:" + var[5:].replace("_", "-")
    return {
        "remote_addr": "client", "time_local": "time_local", "time_iso8601": "time_iso",
        "msec": "msec", "request": "request", "request_method": "method",
        "request_uri": "target", "status": "status", "request_time": "request_time",
        "upstream_addr": "upstream", "host": "server",
    }.get(var)  # fmt: skip


def _envoy_meaning(command: str, argument: str | None) -> str | None:
    if command == "REQ" and argument:
        name = argument.split("?")[0].strip().lower()
        return {":method": "method", ":path": "target", "x-envoy-original-path": "target",
                ":authority": "server"}.get(name, f"header:{name}")  # fmt: skip
    return {
        "START_TIME": "time_iso", "RESPONSE_CODE": "status", "DURATION": "duration_ms",
        "UPSTREAM_HOST": "upstream", "DOWNSTREAM_REMOTE_ADDRESS": "client",
    }.get(command)  # fmt: skip


def parse_format(spec: str, *, extras: bool = False) -> AccessLogFormat:
    """``nginx:<log_format>`` or ``envoy:<format string>`` compiled; `LogFormatError`."""
    kind, colon, text = spec.partition(":")
    kind = kind.strip().lower()
    if not colon or kind not in ("nginx", "envoy") or not text.strip():
        raise LogFormatError(
            f"access-log format {spec[:60]!r}: expected nginx:<log_format> or "
            "envoy:<format string>"
        )
    token = _NGINX_VAR if kind == "nginx" else _ENVOY_CMD
    parts, fields, at = ["^"], [], 0
    for n, match in enumerate(token.finditer(text)):
        parts.append(re.escape(text[at : match.start()]))
        if kind == "nginx":
            meaning = _nginx_meaning(match[1] or match[2])
        else:
            meaning = _envoy_meaning(match[1], match[2])
        group = f"g{n}"
        parts.append(f"(?P<{group}>.*?)")
        if meaning:
            fields.append((group, meaning))
        at = match.end()
    parts.append(re.escape(text[at:].rstrip("\n")))
    parts.append("(?P<extra>.*)$" if extras else r"\s*$")
    if not fields:
        raise LogFormatError(f"access-log format {spec[:60]!r}: it names no field tracehound reads")
    return AccessLogFormat(kind, re.compile("".join(parts)), tuple(fields), extras)


KNOWN = (
    parse_format("nginx:" + NGINX_COMBINED, extras=True),
    parse_format("envoy:" + ISTIO_DEFAULT, extras=True),
    parse_format("envoy:" + ENVOY_DEFAULT, extras=True),
)
"""The formats recognised without being given, most specific first."""


def recognise(line: str) -> AccessLogFormat | None:
    return next((f for f in KNOWN if f.pattern.match(line)), None)


def looks_like(head: bytes, given: AccessLogFormat | None = None) -> bool:
    """Whether the first line that is not blank is in the format ``given`` or in a
    recognised one."""
    for line in text_lines(head.splitlines(keepends=True)[:-1] or [head]):
        if line.strip():
            if given is not None and given.pattern.match(line):
                return True
            return recognise(line) is not None
    return False


def read_access_log(
    stream: BinaryIO, fmt: AccessLogFormat | None = None
) -> Iterator[Exchange | Bad]:
    """Every line of an access log as the request the proxy received."""
    source = "the log" if fmt is None else f"the {fmt.name} format given"
    for number, line in enumerate(text_lines(stream), 1):
        if not line.strip():
            continue
        use = fmt or recognise(line)
        match = use.pattern.match(line) if use is not None else None
        if match is None or use is None:
            yield Bad(f"line {number}", f"not a line of {source}: {line[:80]!r}")
            continue
        found = _exchange(match, use, f"line {number}")
        if isinstance(found, str):
            yield Bad(f"line {number}", found)
        else:
            yield found


def _exchange(match: re.Match[str], fmt: AccessLogFormat, where: str) -> Exchange | str:
    values: dict[str, str] = {}
    headers: list[tuple[str, str]] = []
    for group, meaning in fmt.fields:
        value = match[group]
        if value in ("-", ""):
            continue
        if meaning.startswith("header:"):
            headers.append((meaning[7:], value))
        else:
            values[meaning] = value
    if fmt.extras and match["extra"]:
        for quoted, bare in _EXTRA.findall(match["extra"]):
            value = quoted or bare
            name = next((n for n, shape in _SHAPES if shape.fullmatch(value)), None)
            if name:
                headers.append((name, value))
    method, target = values.get("method"), values.get("target")
    if "request" in values:
        words = values["request"].split()
        if len(words) < 2:
            return f"not a request line: {values['request'][:80]!r}"
        method, target = words[0], words[1]
    if not method or not target:
        return "no request method or target in the line"
    start = _start(values)
    end = None
    if start is not None:
        if values.get("duration_ms", "").isdigit():
            end = start + int(values["duration_ms"]) * 1_000_000
        elif values.get("request_time"):
            try:
                end = start + int(float(values["request_time"]) * 1e9)
            except ValueError:
                end = None
    status = values.get("status", "")
    return Exchange(
        start, end, values.get("client"), values.get("server"), method, target, tuple(headers),
        int(status) if status.isdigit() else None, where, values.get("upstream"),
    )  # fmt: skip


def _start(values: dict[str, str]) -> int | None:
    if "time_iso" in values:
        return iso_time(values["time_iso"])
    if "msec" in values:
        try:
            return int(float(values["msec"]) * 1e9)
        except ValueError:
            return None
    if "time_local" in values:
        try:
            when = datetime.strptime(values["time_local"], "%d/%b/%Y:%H:%M:%S %z")
        except ValueError:
            return None
        return int(when.astimezone(timezone.utc).timestamp()) * 1_000_000_000
    return None
