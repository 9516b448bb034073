"""Attribute checks A001-A007 on stored spans, through the runtime's attribute policy.

The policy (`tracehound.attributes.check_span_row`) judges one span at a
time.  To keep a million spans cheap it is asked once per distinct span name,
once per distinct attribute (every distinct string value; one value per key
and type otherwise) and once per distinct resource, each per service; its
findings are merged per (rule, service, message) and carry the number of
spans affected and the first of them.  When the policy is not installed the
family is skipped and the report says so.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from tracehound.doctor._model import SkippedCheck
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["FAMILY", "check", "python_value"]

FAMILY = "attributes (A001-A007)"

# Each query groups first and reads the trace ID, span ID and place of the first span of
# a group afterwards, for the few groups only (arg_min over strings costs a million reads);
# `ORDER BY ALL` puts the first span (`rid`, the first column) first.
_FIRST = """
SELECT g.*, o.TraceId, o.SpanId, o.Source || ':' || o."Offset"
FROM g JOIN (SELECT rowid AS rid, TraceId, SpanId, Source, "Offset" FROM otel_traces
             WHERE rowid IN (SELECT rid FROM g)) o USING (rid)
ORDER BY ALL
"""

_NAMES = f"""
WITH g AS (
    SELECT min(rowid) AS rid, ServiceName, SpanName, count(*) AS n
    FROM otel_traces GROUP BY ServiceName, SpanName
)
{_FIRST}
"""

# $fmt is the row's export format: a literal when every input has the same one, else
# looked up per input (th_formats); Zipkin rows name their scope in tags, not apart.
_VALUES = f"""
WITH d0 AS (  -- each distinct attribute list (per service, scope, format) is parsed once
    SELECT ServiceName, ScopeName, $fmt AS fmt, SpanAttributes, count(*) AS n, min(rowid) AS rid
    FROM otel_traces $join WHERE SpanAttributes <> '[]' GROUP BY ALL
), d1 AS (  -- Jaeger marks spans it translated from Zipkin: judged as Zipkin
    SELECT * REPLACE (CASE WHEN fmt = 'jaeger' AND th_str(th_attrs(SpanAttributes),
        'internal.span.format') = 'zipkin' THEN 'zipkin' ELSE fmt END AS fmt)
    FROM d0
), d AS (
    SELECT * REPLACE (CASE WHEN fmt = 'zipkin' AND coalesce(ScopeName, '') = '' THEN coalesce(
        th_str(th_attrs(SpanAttributes), 'otel.scope.name'),
        th_str(th_attrs(SpanAttributes), 'otel.library.name')) ELSE ScopeName END AS ScopeName)
    FROM d1
), a AS (
    SELECT rid, n, ServiceName, ScopeName, fmt, unnest(th_attr_entries(SpanAttributes)) AS kv
    FROM d
), k AS (  -- the well-formed entries (as th_attrs keeps them)
    SELECT *, kv.key AS key, kv.value AS value,
           CASE WHEN kv.value ->> 'stringValue' IS NOT NULL THEN kv.value::VARCHAR
                ELSE json_keys(kv.value)[1] END AS grp
    FROM a WHERE kv.key IS NOT NULL AND starts_with(kv.value, '{{')
), g AS (
    SELECT min(rid) AS rid, ServiceName, ScopeName, fmt, key, arg_min(value, rid)::VARCHAR AS value,
           sum(n) AS n
    FROM k GROUP BY ServiceName, ScopeName, fmt, key, grp
)
{_FIRST}
"""

_RESOURCES = f"""
WITH g AS (
    SELECT min(rowid) AS rid, ServiceName, ResourceAttributes::VARCHAR AS resource, count(*) AS n
    FROM otel_traces GROUP BY ServiceName, ResourceAttributes
)
{_FIRST}
"""

Policy = Callable[[Mapping[str, Any]], list[Finding]]


def _policy() -> Policy | str:
    """The project's policy (``[tool.tracehound.attributes]``), or why there is none."""
    try:
        from tracehound.attributes import AttributePolicy, ConfigError, check_span_row
    except ImportError:
        return "the attribute policy (tracehound.attributes) is not available in this install"
    try:
        configured = AttributePolicy.from_config(mode="warn")
    except ConfigError as exc:
        return f"the attribute policy configuration is invalid: {exc}"
    return functools.partial(check_span_row, policy=configured)


def check(
    store: Store, formats: Mapping[str, str | None] | None = None
) -> tuple[list[Finding], list[SkippedCheck]]:
    """A001-A007 findings (merged), or the note that the family was skipped.

    ``formats`` maps each input's name (the Source column) to the export
    format it was read as: what a format's translation wrote is not the
    sender's fault (`tracehound.attributes` knows which keys).
    """
    policy = _policy()
    if isinstance(policy, str):
        return [], [SkippedCheck(FAMILY, policy)]
    merged: dict[tuple[str, str | None, str], tuple[Finding, int]] = {}
    values: dict[tuple[str, str | None, str], set[str]] = {}

    def ask(row: dict[str, Any], count: int, loc: str) -> None:
        for found in policy(row):
            # a value rule's message quotes the value: one finding per key, not per value
            # (a server's net.peer.port is another number on every request)
            by_value = found.code in _BY_KEY and found.details.get("key")
            key = (found.code, row["ServiceName"], by_value or found.message)
            if by_value:
                values.setdefault(key, set()).add(found.message)
            if key in merged:
                first, total = merged[key]
                merged[key] = (first, total + count)
            else:
                details = {**found.details, "where": found.location}
                if found.code in _BY_SCOPE and row.get("ScopeName"):
                    details["instrumentation"] = row["ScopeName"]
                merged[key] = (dataclasses.replace(found, location=loc, details=details), count)

    # the first span of each group comes first: a merged finding shows the earliest one
    for _, service, name, count, trace_id, span_id, loc in store.query(_NAMES):
        ask(_row(service, name, {}, {}, trace_id, span_id), count, loc)
    for _, service, scope, fmt, key, value, count, trace_id, span_id, loc in store.query(
        _values(store, formats or {})
    ):
        row = _row(service, None, {key: python_value(orjson.loads(value))}, {}, trace_id, span_id)
        row["ScopeName"], row["Format"] = scope, fmt
        ask(row, count, loc)
    for _, service, resource, count, trace_id, span_id, loc in store.query(_RESOURCES):
        ask(_row(service, None, {}, _as_dict(resource), trace_id, span_id), count, loc)
    findings = []
    for key, (found, count) in merged.items():
        details = {**found.details, "spans": count}
        message = found.message
        others = len(values.get(key, ())) - 1
        if others > 0:
            details["values"] = others + 1
            message += f" (and {others} other value{'s' if others > 1 else ''} like it)"
        scope = details.get("instrumentation")
        if found.code in _BY_KEY and _is_instrumentation(scope):
            message += (
                f"; {scope} records it so, not this service's code: upgrade it or report it "
                "upstream (a Collector `transform` processor can convert it meanwhile)"
            )
        findings.append(dataclasses.replace(found, message=message, details=details))
    return _one_per_opt_in(findings), []


_BY_KEY = frozenset({"A002", "A003"})
"""Value rules: their findings are merged per attribute key (the message quotes one value)."""
_BY_SCOPE = frozenset({"A002", "A003", "A006"})
"""Rules whose finding names the instrumentation scope that recorded the attribute."""


def _is_instrumentation(scope: Any) -> bool:
    """Whether ``scope`` names an instrumentation library (OpenTelemetry's Python, Java,
    Go, JavaScript and .NET ones), which the service's authors do not write."""
    if not isinstance(scope, str):
        return False
    return scope.startswith(
        ("opentelemetry.instrumentation.", "io.opentelemetry.", "@opentelemetry/instrumentation",
         "go.opentelemetry.io/contrib/instrumentation/", "OpenTelemetry.Instrumentation.")
    )  # fmt: skip


def _one_per_opt_in(findings: list[Finding]) -> list[Finding]:
    """The A006 findings one switch fixes (OTel instrumentation's older keys, fixed by
    ``OTEL_SEMCONV_STABILITY_OPT_IN``) as one finding per service and instrumentation."""
    from tracehound.attributes._legacy import CONVENTIONS  # present: the policy ran

    groups: dict[tuple[Any, ...], list[Finding]] = {}
    out: list[Finding] = []
    for found in findings:
        family = found.details.get("family")
        if found.code != "A006" or family not in CONVENTIONS:
            out.append(found)
            continue
        key = (found.service, found.details.get("instrumentation"), family)
        if key not in groups:
            groups[key] = []
            out.append(found)  # its place: the first of the group
        groups[key].append(found)
    for (_, scope, family), group in groups.items():
        if len(group) == 1:
            continue
        keys = sorted(f.details["key"] for f in group)
        first = group[0]
        message = (
            f"{scope} records {len(keys)} keys of {CONVENTIONS[family]} "
            f"({', '.join(keys)}); set OTEL_SEMCONV_STABILITY_OPT_IN={family} in this service "
            f"(or {family}/dup to emit both while dashboards move) to record their successors "
            "instead of renaming them"
        )
        details = {
            **{k: v for k, v in first.details.items() if k not in ("key", "suggestion")},
            "keys": keys,
            "successors": {f.details["key"]: f.details.get("suggestion") for f in group},
            "spans": max(f.details.get("spans", 0) for f in group),
        }
        out[out.index(first)] = dataclasses.replace(first, message=message, details=details)
    return out


def _values(store: Store, formats: Mapping[str, str | None]) -> str:
    """`_VALUES` with each row's export format."""
    kinds = set(formats.values())
    if len(kinds) <= 1:
        known = next(iter(kinds), None)
        literal = "NULL::VARCHAR" if known is None else "'" + known.replace("'", "''") + "'"
        return _VALUES.replace("$fmt", literal).replace("$join", "")
    store.con.execute("CREATE OR REPLACE TEMP TABLE th_formats (Source VARCHAR, Format VARCHAR)")
    store.con.executemany("INSERT INTO th_formats VALUES (?, ?)", list(formats.items()))
    join = "LEFT JOIN (SELECT Source, any_value(Format) AS Format FROM th_formats GROUP BY ALL) "
    join += "USING (Source)"
    return _VALUES.replace("$fmt", "Format").replace("$join", join)


def _row(
    service: str,
    name: str | None,
    attributes: dict[str, Any],
    resource: dict[str, Any],
    trace_id: str,
    span_id: str,
) -> dict[str, Any]:
    return {
        "ServiceName": service,
        "SpanName": name,
        "SpanAttributes": attributes,
        "ResourceAttributes": resource,
        "TraceId": trace_id,
        "SpanId": span_id,
    }


def _as_dict(key_values: str | None) -> dict[str, Any]:
    items = orjson.loads(key_values) if key_values else []
    return {
        kv["key"]: python_value(kv.get("value"))
        for kv in items
        if isinstance(kv, dict) and isinstance(kv.get("key"), str)
    }


def python_value(value: Any) -> Any:
    """An OTLP/JSON ``AnyValue`` as the Python value it encodes (``intValue`` strings as int)."""
    if not isinstance(value, dict) or not value:
        return None
    kind, raw = next(iter(value.items()))
    if kind == "intValue":
        try:
            return int(raw)
        except (TypeError, ValueError):
            return raw
    if kind == "doubleValue":
        return float(raw) if isinstance(raw, (int, float)) else raw
    if kind == "bytesValue":
        try:
            return base64.b64decode(raw)
        except (TypeError, ValueError):
            return raw
    if kind in ("arrayValue", "kvlistValue"):
        values = raw.get("values") if isinstance(raw, dict) else None
        values = values if isinstance(values, list) else []
        if kind == "arrayValue":
            return [python_value(v) for v in values]
        return {
            kv["key"]: python_value(kv.get("value"))
            for kv in values
            if isinstance(kv, dict) and isinstance(kv.get("key"), str)
        }
    return raw
