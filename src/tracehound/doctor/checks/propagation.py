"""Propagation checks from recorded request headers: P002, P003 (and P001/P004/P006).

Spans that recorded their inbound headers (``http.request.header.<name>``,
as OpenTelemetry's capture-headers options do; ``_`` in the name read as
``-``) are read with `tracehound.formats.read_headers`, the same parser the
runtime propagator uses, and every problem it names becomes a finding.  The
formats seen per span are kept as evidence for the per-edge view.

Nearly every such span recorded one valid W3C ``traceparent`` and nothing
else, and the parser says the same of all of them (`LONE_TRACEPARENT`): SQL
recognises those from the attribute text and only the others reach Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tracehound.doctor.checks._sql import finding
from tracehound.doctor.store import Store
from tracehound.formats import read_headers
from tracehound.formats.inbound import Inbound
from tracehound.rules import Finding

__all__ = ["LONE_TRACEPARENT", "HeaderEvidence", "check"]

PREFIX = "http.request.header."


def _non_zero_hex(width: int) -> str:
    """``width`` lower-case hex digits, not all zero (RE2 has no look-ahead: by the
    number of leading zeros)."""
    return (
        "(?:" + "|".join(f"0{{{k}}}[1-9a-f][0-9a-f]{{{width - 1 - k}}}" for k in range(width)) + ")"
    )


# version 00 with IDs that are not all zero (an all-zero ID is invalid: the parser says so)
_TRACEPARENT = rf"00-{_non_zero_hex(32)}-{_non_zero_hex(16)}-[0-9a-f]{{2}}"
_HEADER = (
    r'\{"key":"http\.request\.header\.traceparent","value":\{(?:"arrayValue":\{"values":\[\{'
    rf'"stringValue":"{_TRACEPARENT}"\}}\]\}}|"stringValue":"{_TRACEPARENT}")\}}\}}'
)
# a scalar attribute whose key and value need no escapes
_SCALAR = (
    r'\{"key":"[^"\\]*","value":\{"(?:stringValue|intValue|doubleValue|boolValue)":'
    r'(?:"[^"\\]*"|[^"\\{}\[\],]*)\}\}'
)

# A lone traceparent: the prefix occurs once, in a top-level attribute whose one value
# has the version-00 shape and non-zero IDs; the others are plain scalars.  Anything
# else, however harmless, goes to the parser: this may only err towards Python.
# Searches for the prefix leave out its leading quote where they may: a needle starting
# with '"' stops the search at every quote of every list (4-5 times the time).  Counted
# without it, the prefix may also be found inside another key or value: not lone then.
_HEADERS = f"""
CREATE OR REPLACE TABLE th_work.headers AS
WITH h AS (
    SELECT rowid AS rid, SpanAttributes::VARCHAR AS a FROM otel_traces
    WHERE contains(SpanAttributes::VARCHAR, '{PREFIX}')
      AND contains(SpanAttributes::VARCHAR, '"{PREFIX}')
)
SELECT rid,
       strlen(a) - strlen(replace(a, '{PREFIX}', '')) = {len(PREFIX)}
       AND regexp_full_match(a, '\\[(?:{_SCALAR},)*{_HEADER}(?:,{_SCALAR})*\\]') AS lone
FROM h
"""

_SPANS = """
SELECT rowid, TraceId, SpanId, ServiceName, SpanName, Source || ':' || "Offset", SpanAttributes
FROM otel_traces WHERE rowid IN (SELECT rid FROM th_work.headers WHERE NOT lone)
"""


@dataclass(frozen=True)
class HeaderEvidence:
    """What one span's recorded request headers say about propagation."""

    formats: tuple[str, ...]
    """Formats whose headers were present (``tracecontext``, ``jaeger``, ``b3``, ``b3multi``)."""
    codes: frozenset[str]
    """Problem codes the headers raised."""
    continued: bool
    """Whether a receiver following tracehound's rules would continue a trace."""

    @classmethod
    def of(cls, inbound: Inbound) -> HeaderEvidence:
        return cls(
            tuple(f.value for f in inbound.formats_seen),
            frozenset(p.code for p in inbound.problems),
            inbound.context is not None,
        )


LONE_TRACEPARENT = HeaderEvidence.of(
    read_headers([("traceparent", f"00-{'1' * 32}-{'2' * 16}-01")])
)
"""The evidence of every span that ``th_work.headers`` marks ``lone`` (it raises no problem)."""


def check(store: Store) -> tuple[list[Finding], dict[int, HeaderEvidence]]:
    """Findings for every span with recorded headers, and the evidence by span row ID.

    Creates ``th_work.headers`` (``rid``, ``lone``): every span that recorded headers.  The
    evidence map leaves out the ``lone`` ones, whose evidence is `LONE_TRACEPARENT`.
    """
    store.con.execute(_HEADERS)
    findings: list[Finding] = []
    evidence: dict[int, HeaderEvidence] = {}
    for rid, trace_id, span_id, service, name, loc, attributes in store.query(_SPANS):
        pairs = _header_pairs(attributes)
        if not pairs:
            continue
        inbound = read_headers(pairs)
        evidence[rid] = HeaderEvidence.of(inbound)
        for problem in inbound.problems:
            findings.append(
                finding(
                    problem.code,
                    f"request into '{name}' of {service}: {problem.header}: {problem.message}",
                    trace_id=trace_id,
                    span_id=span_id,
                    service=service,
                    loc=loc,
                    details={"header": problem.header},
                )
            )
    return findings, evidence


def _header_pairs(attributes: Any) -> list[tuple[str, str]]:
    try:
        items = orjson.loads(attributes) if isinstance(attributes, (str, bytes)) else attributes
    except orjson.JSONDecodeError:
        return []
    pairs: list[tuple[str, str]] = []
    for item in items if isinstance(items, list) else ():
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX) :].replace("_", "-")
        value = item.get("value")
        if not isinstance(value, dict):
            continue  # not an attribute value (`5`, `null`): nothing was recorded
        array = value.get("arrayValue")
        if isinstance(array, dict):
            values = array.get("values")
            pairs.extend(
                (name, str(v.get("stringValue", "")))
                for v in (values if isinstance(values, list) else ())
                if isinstance(v, dict)
            )
        elif "stringValue" in value:
            pairs.append((name, str(value["stringValue"])))
    return pairs
