"""Propagation checks from recorded request headers: P002, P003 (and P001/P004/P006).

Spans that recorded their inbound headers (``http.request.header.<name>``,
as OpenTelemetry's capture-headers options do; ``_`` in the name read as
``-``) are read with `tracehound.formats.read_headers`, the same parser the
runtime propagator uses, and every problem it names becomes a finding.  The
formats seen per span are kept as evidence for the per-edge view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tracehound.doctor.checks._sql import finding
from tracehound.doctor.store import Store
from tracehound.formats import read_headers
from tracehound.rules import Finding

__all__ = ["HeaderEvidence", "check"]

PREFIX = "http.request.header."

_SPANS = """
SELECT rowid, TraceId, SpanId, ServiceName, SpanName, Source || ':' || "Offset", SpanAttributes
FROM otel_traces WHERE contains(SpanAttributes::VARCHAR, '"http.request.header.')
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


def check(store: Store) -> tuple[list[Finding], dict[int, HeaderEvidence]]:
    """Findings for every span with recorded headers, and the evidence by span row ID."""
    findings: list[Finding] = []
    evidence: dict[int, HeaderEvidence] = {}
    for rid, trace_id, span_id, service, name, loc, attributes in store.query(_SPANS):
        pairs = _header_pairs(attributes)
        if not pairs:
            continue
        inbound = read_headers(pairs)
        evidence[rid] = HeaderEvidence(
            tuple(f.value for f in inbound.formats_seen),
            frozenset(p.code for p in inbound.problems),
            inbound.context is not None,
        )
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
        value = item.get("value") or {}
        if "arrayValue" in value:
            values = (value["arrayValue"] or {}).get("values") or []
            pairs.extend(
                (name, str(v.get("stringValue", ""))) for v in values if isinstance(v, dict)
            )
        elif "stringValue" in value:
            pairs.append((name, str(value["stringValue"])))
    return pairs
