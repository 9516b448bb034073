"""A log line's fields: a JSON object, a logfmt line, or a pattern's named groups.

Each parser returns the fields (a flat dict) or the reason the line is not one,
so that every line read is either analysed or rejected with a reason.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from tracehound.doctor.evidence.logs._record import flatten

__all__ = ["LogfmtError", "json_fields", "logfmt_fields", "pattern_fields"]


class LogfmtError(ValueError):
    """A line logfmt does not read, with the column."""


def json_fields(line: bytes) -> dict[str, Any] | str:
    """The fields of a JSON-lines log record, or why it is not one."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return f"not JSON ({exc.msg})"
    if not isinstance(value, dict):
        return f"a JSON {type(value).__name__}, not an object"
    if line.count(b"{") > 1:  # perhaps a nested object (or a brace in a string)
        for item in value.values():
            if isinstance(item, dict):
                return flatten(value)
    return value


def logfmt_fields(line: str) -> dict[str, Any] | str:
    """The ``key=value`` pairs of a logfmt line (values quoted with ``"`` and escaped with
    ``\\``, as logrus, slog's TextHandler and go-kit write them), or why it is not logfmt."""
    fields: dict[str, Any] = {}
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        start = i
        while i < n and line[i] not in '= \t"':
            i += 1
        key = line[start:i]
        if not key:
            return f"not logfmt (column {i + 1}: a value with no key)"
        if i >= n or line[i] != "=":
            fields[key] = True  # a bare key: logfmt's flag
            continue
        i += 1
        if i < n and line[i] == '"':
            i += 1
            chars = []
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n:
                    i += 1
                    chars.append(_ESCAPES.get(line[i], line[i]))
                else:
                    chars.append(line[i])
                i += 1
            if i >= n:
                return f"not logfmt (column {start + 1}: the quoted value of {key!r} never ends)"
            i += 1
            fields[key] = "".join(chars)
        else:
            start = i
            while i < n and line[i] not in " \t":
                i += 1
            fields[key] = line[start:i]
    if len(fields) < 2:
        return "not logfmt (fewer than two key=value pairs)"
    return fields


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def pattern_fields(pattern: re.Pattern[str], line: str) -> dict[str, Any] | str:
    """The named groups of ``pattern`` matched at the start of ``line`` (groups that did not
    take part are left out), or why the line does not match."""
    match = pattern.match(line)
    if match is None:
        return "does not match the --pattern"
    return {k: v for k, v in match.groupdict().items() if v is not None}


_LOGFMT_HINT = re.compile(r"^(?:[\w.@-]+=(?:\"(?:[^\"\\]|\\.)*\"|\S*)\s*){2,}$")


def looks_like_logfmt(line: str) -> bool:
    """Whether ``line`` is all ``key=value`` pairs, one of them a level, message or time."""
    if not _LOGFMT_HINT.match(line):
        return False
    fields = logfmt_fields(line)
    if isinstance(fields, str):
        return False
    names = {k.lower() for k in fields}
    return bool(names & {"level", "lvl", "msg", "message", "time", "ts", "t", "severity"})
