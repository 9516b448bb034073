"""One log line's fields → one ``otel_logs`` row: time, level, message, IDs, service.

The fields come from a JSON object, a logfmt line or a pattern's named groups.
What each field is (the time, the level, a trace ID in one of its spellings...)
is decided once per set of field names (`Plan`, cached): lines of one logger
repeat their names, so a line costs a dictionary lookup and its values.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from tracehound.doctor.evidence.logs._ids import SPAN_KEYS, TRACE_KEYS, key_form, span_id, trace_id
from tracehound.doctor.evidence.logs._writers import writer_of

__all__ = ["Row", "flatten", "plan_for", "role_of", "row_of", "timestamp_ns"]

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
"""(time ns, trace ID, span ID, flags, level, level number, service, body, writer, logger)."""


@dataclass
class Plan:
    """What the fields of lines with one set of field names are, found once."""

    keys: tuple[str, ...]
    specials: tuple[tuple[str, str, str], ...]
    """(name, role, detail) of the fields that are not plain attributes, in line order:
    roles ``trace``/``span`` (detail: the spelling), ``time``, ``level``, ``body``,
    ``service``, ``logger``."""
    writers: dict[type, str] = field(default_factory=dict)
    """`writer_of` by the type of the level's value (pino's numbers, others' words)."""


_plans: dict[tuple[str, ...], Plan] = {}


def plan_for(keys: tuple[str, ...]) -> Plan:
    """The `Plan` of lines with these field names, in this order (cached)."""
    plan = _plans.get(keys)
    if plan is None:
        if len(_plans) > 4096:  # lines whose names vary without end: keep memory bounded
            _plans.clear()
        roles = ((k, *_role(k, keys)) for k in keys)
        plan = _plans[keys] = Plan(keys, tuple(r for r in roles if r[1] != "attr"))
    return plan


def role_of(key: str) -> str:
    """What a field named ``key`` is on its own: ``attr`` unless a known name."""
    return _role(key, (key,))[0]


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


def row_of(fields: dict[str, Any], service: str | None = None, *, forced: bool = False) -> Row:
    """The row of one line's ``fields`` (flat): its service is the one a field names, else
    ``service``; ``forced``: ``service`` whatever the fields say.  The attributes are the
    caller's (the record as written)."""
    plan = plan_for(tuple(fields))
    named = None
    when = trace = span = level = body = logger = None
    number = flags = None
    raw_level: Any = None
    for key, role, detail in plan.specials:
        value = fields[key]
        if role == "trace":
            found, header_span = trace_id(value, detail)
            if found is not None:
                trace = found
                span = span or header_span
        elif role == "span":
            span = span_id(value, detail) or span
        elif role == "time":
            if when is None:
                when = timestamp_ns(value)
        elif role == "level":
            if raw_level is None:
                raw_level = value
                level, number = _severity(value)
        elif role == "body":
            if body is None:
                body = value if isinstance(value, str) else str(value)
        elif role == "service":
            if named is None and value not in (None, ""):
                named = str(value)
        elif logger is None:
            logger = str(value)
    if "otelTraceSampled" in fields:
        flags = 1 if str(fields["otelTraceSampled"]).lower() == "true" else 0
    kind = type(raw_level)
    writer = plan.writers.get(kind)
    if writer is None:
        writer = plan.writers[kind] = writer_of(plan.keys, raw_level)
    if named is not None and not forced:
        service = named
    return (when, trace, span, flags, level, number, service, body, writer, logger)


def _severity(value: Any) -> tuple[str | None, int | None]:
    if type(value) is str:
        return value, _LEVELS.get(value.lower())
    if isinstance(value, bool):
        return str(value), None
    if isinstance(value, int):
        text, number = _NUMERIC_LEVELS.get(value, (str(value), None))
        return text, number
    text = str(value)
    return text, _LEVELS.get(text.lower())




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
    if not isinstance(value, str):
        return None
    match = _ISO.match(value)
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    # lines of a log share their seconds and zone: each pair is converted once
    key = (whole, zone)
    base = _seconds.get(key, -1)
    if base == -1:
        if len(_seconds) > 65536:
            _seconds.clear()
        base = _seconds[key] = _second_ns(whole, zone)
    if base is None:
        return None
    return base + int(fraction[:9].ljust(9, "0")) if fraction else base


_ISO = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(?:[.,](\d+))?(.*)")
_ZONE = re.compile(r"([+-]\d\d):?(\d\d)(?: [A-Za-z]+)?")
_seconds: dict[tuple[str, str], int | None] = {}


def _second_ns(whole: str, zone: str) -> int | None:
    """The whole second ``whole`` in ``zone`` (``Z``, ``+02:00``, ``-0400 EDT`` as Go's
    time.String writes it, or nothing: UTC) as nanoseconds since the epoch."""
    zone = zone.strip()
    if zone in ("", "Z", "z"):
        offset = "+00:00"
    else:
        found = _ZONE.fullmatch(zone)
        if found is None:
            return None
        offset = f"{found.group(1)}:{found.group(2)}"
    try:
        when = dt.datetime.fromisoformat(f"{whole[:10]}T{whole[11:]}{offset}")
    except ValueError:
        return None
    return int(when.timestamp()) * 10**9
