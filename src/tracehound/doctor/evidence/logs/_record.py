"""One log line's fields → one ``otel_logs`` row: time, level, message, IDs, service.

The fields come from a JSON object, a logfmt line or a pattern's named groups.
What each field is (the time, the level, a trace ID in one of its spellings...)
is decided once per set of field names (`Plan`, cached): lines of one logger
repeat their names, so a line costs a dictionary lookup and its values.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from tracehound.doctor.evidence.logs._ids import SPAN_KEYS, TRACE_KEYS, key_form, span_id, trace_id
from tracehound.doctor.evidence.logs._writers import writer_of

__all__ = ["Row", "flatten", "plan_for", "row_of"]

_TIME = {"time", "timestamp", "ts", "asctime", "datetime", "date", "t", "eventtime"}
_LEVEL = {"level", "levelname", "severity", "lvl", "loglevel", "severitytext", "loglevelname"}
_BODY = {"msg", "message", "event", "body", "logmessage", "text"}
_SERVICE = {"service", "servicename", "otelservicename", "ddservice", "app", "application"}
_LOGGER = {"logger", "loggername", "name", "caller"}

_LEVELS = {
    "trace": 1, "debug": 5, "info": 9, "information": 9, "notice": 10, "warn": 13,
    "warning": 13, "error": 17, "err": 17, "critical": 21, "fatal": 21, "panic": 21,
    "dpanic": 19, "crit": 21, "alert": 22, "emerg": 23, "emergency": 23,
}  # fmt: skip
"""Level words → OpenTelemetry SeverityNumber (TRACE 1, DEBUG 5, INFO 9, WARN 13, ...)."""
_NUMERIC_LEVELS = {10: ("trace", 1), 20: ("debug", 5), 30: ("info", 9), 40: ("warn", 13),
                   50: ("error", 17), 60: ("fatal", 21)}  # fmt: skip
"""pino's and bunyan's numeric levels."""

Row = tuple[Any, ...]
"""(time ns, trace ID, span ID, flags, level, level number, service, body, writer, logger,
attributes)."""


@dataclass(frozen=True)
class Plan:
    """What each field of a set of field names is: ``roles[i]`` for the i-th name."""

    roles: tuple[tuple[str, str], ...]
    """(role, detail): ``("trace", spelling)``, ``("span", spelling)``, ``("time", "")``,
    ``("level", "")``, ``("body", "")``, ``("service", "")``, ``("logger", "")``,
    ``("attr", "")``."""
    keys: tuple[str, ...]


_plans: dict[tuple[str, ...], Plan] = {}


def plan_for(keys: tuple[str, ...]) -> Plan:
    """The `Plan` of lines with these field names, in this order (cached)."""
    plan = _plans.get(keys)
    if plan is None:
        if len(_plans) > 4096:  # lines whose names vary without end: keep memory bounded
            _plans.clear()
        plan = _plans[keys] = Plan(tuple(_role(k, keys) for k in keys), keys)
    return plan


def _role(key: str, keys: tuple[str, ...]) -> tuple[str, str]:
    form = key_form(key)
    if form in TRACE_KEYS:
        return "trace", TRACE_KEYS[form]
    if form in SPAN_KEYS:
        return "span", SPAN_KEYS[form]
    if form in _TIME:
        return "time", ""
    if form in _LEVEL:
        return "level", ""
    if form in _BODY and not (form == "event" and ("msg" in keys or "message" in keys)):
        return "body", ""
    if form in _SERVICE:
        return "service", ""
    if form == "name" and "v" in keys and "hostname" in keys:
        return "service", ""  # bunyan: the name given to createLogger is the app's
    if form in _LOGGER:
        return "logger", ""
    return "attr", ""


def flatten(value: dict[str, Any]) -> dict[str, Any]:
    """Nested objects as dotted keys (``{"dd": {"trace_id": 1}}`` → ``dd.trace_id``)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            for inner, leaf in flatten(item).items():
                out[f"{key}.{inner}"] = leaf
        else:
            out[key] = item
    return out


def row_of(fields: dict[str, Any]) -> Row:
    """The row of one line's ``fields`` (flat); the service is ``None`` unless a field names it."""
    plan = plan_for(tuple(fields))
    when = trace = span = level = body = service = logger = None
    number = flags = None
    attrs: dict[str, Any] = {}
    raw_level: Any = None
    for (role, detail), (key, value) in zip(plan.roles, fields.items(), strict=True):
        if role == "attr":
            attrs[key] = value
        elif role == "trace":
            found, header_span = trace_id(value, detail)
            if found is not None:
                trace = found
                span = span or header_span
        elif role == "span":
            span = span_id(value, detail) or span
        elif role == "time" and when is None:
            when = timestamp_ns(value)
            if when is None:
                attrs[key] = value
        elif role == "level" and raw_level is None:
            raw_level = value
            level, number = _severity(value)
        elif role == "body" and body is None:
            body = value if isinstance(value, str) else str(value)
        elif role == "service" and service is None and value not in (None, ""):
            service = str(value)
        elif role == "logger" and logger is None:
            logger = str(value)
        else:
            attrs[key] = value
    if "otelTraceSampled" in fields:
        flags = 1 if str(fields["otelTraceSampled"]).lower() == "true" else 0
    writer = writer_of(plan.keys, raw_level)
    return (when, trace, span, flags, level, number, service, body, writer, logger, attrs)


def _severity(value: Any) -> tuple[str | None, int | None]:
    if isinstance(value, bool):
        return str(value), None
    if isinstance(value, int):
        text, number = _NUMERIC_LEVELS.get(value, (str(value), None))
        return text, number
    text = str(value)
    return text, _LEVELS.get(text.lower())


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_GO_STRING = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) ([+-]\d{4})(?: \w+)?$")
_US = dt.timedelta(microseconds=1)


_NS_LIMIT = 2**63 - 1  # TIMESTAMP_NS holds a signed 64-bit count (years 1678-2262)


def timestamp_ns(value: Any) -> int | None:
    """`_timestamp_ns`, ``None`` outside what the table's TIMESTAMP_NS column holds."""
    try:
        ns = _timestamp_ns(value)
    except (OverflowError, ValueError):  # inf, nan
        return None
    return ns if ns is not None and -_NS_LIMIT < ns < _NS_LIMIT else None


def _timestamp_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch of a log time: ISO 8601 (``Z``, an offset, or none: UTC),
    Python's ``asctime`` (``2024-05-01 12:00:00,123``), or an epoch number in s, ms, µs or
    ns (by its size); ``None`` when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):  # exact: pino's milliseconds stay milliseconds
        for limit, scale in ((10**17, 1), (10**14, 10**3), (10**11, 10**6)):
            if abs(value) >= limit:
                return value * scale
        return value * 10**9
    if isinstance(value, float):
        for limit, scale in ((1e17, 1), (1e14, 1e3), (1e11, 1e6)):
            if abs(value) >= limit:
                return round(value * scale)
        return round(value * 1e9)
    if not isinstance(value, str) or len(value) < 10:
        return None
    text = value.replace(",", ".", 1) if "," in value else value
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    go = _GO_STRING.match(text)
    if go is not None:  # Go's time.Time.String(): "2014-03-10 19:57:38.562264131 -0400 EDT"
        text = f"{go.group(1)}{go.group(2)[:3]}:{go.group(2)[3:]}"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return _long_fraction(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return ((when - _EPOCH) // _US) * 1000 + (_nanos(text) % 1000)


def _nanos(text: str) -> int:
    """The digits of a fraction beyond microseconds (Go writes nanoseconds), as ns."""
    dot = text.find(".", 17)
    if dot < 0:
        return 0
    end = dot + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    digits = text[dot + 1 : end]
    return int(digits[6:9].ljust(3, "0")) if len(digits) > 6 else 0


def _long_fraction(text: str) -> int | None:
    """Python 3.10 refuses fractions longer than 6 digits (Go's RFC 3339 nano): cut them."""
    dot = text.find(".", 17)
    if dot < 0:
        return None
    end = dot + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    if end - dot - 1 <= 6:
        return None
    try:
        when = dt.datetime.fromisoformat(text[: dot + 7] + text[end:])
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return ((when - _EPOCH) // _US) * 1000 + int(text[dot + 7 : dot + 10].ljust(3, "0"))
