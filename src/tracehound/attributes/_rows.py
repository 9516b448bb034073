"""The doctor's side: the same rules on a stored span row, as findings.

Rows use the OpenTelemetry Collector ClickHouse exporter's ``otel_traces``
column names (``SpanName``, ``SpanAttributes``, ``ResourceAttributes``,
``ServiceName``, ``TraceId``, ``SpanId``, optionally ``SpanKind``,
``ScopeName``, ``Events.Name`` and ``Events.Attributes``), and optionally
``Format``, the export format the row was read from: what that format's
translation wrote is not held against the sender (see `_exporters`).  Stored data is whatever some
program wrote, so nothing here raises: odd values are skipped, attribute
maps may arrive as dicts, JSON text or lists of pairs.  No value is ever
copied into a finding when it is a secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from tracehound.attributes._exporters import rules_for
from tracehound.attributes._policy import AttributePolicy
from tracehound.rules import Finding

__all__ = ["check_span_row"]

logger = logging.getLogger("tracehound")
_DEFAULT: list[AttributePolicy] = []


def _default_policy() -> AttributePolicy:
    if not _DEFAULT:
        _DEFAULT.append(AttributePolicy())
    return _DEFAULT[0]


def _as_map(value: Any) -> dict[str, Any]:
    """Attributes from a dict, JSON object text, or a list of (key, value) pairs."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except (ValueError, UnicodeDecodeError):
            return {}
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, (list, tuple)):
        items = [item for item in value if isinstance(item, (list, tuple)) and len(item) == 2]
    else:
        return {}
    return {str(key): item for key, item in items if key is not None and str(key)}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    return value if isinstance(value, str) else str(value)


def check_span_row(
    row: Mapping[str, Any],
    *,
    policy: AttributePolicy | None = None,
    typed_values: bool = True,
) -> list[Finding]:
    """Findings (A001-A007) for one stored span; never raises.

    Pass ``typed_values=False`` for stores that keep every attribute value as
    a string (ClickHouse ``Map(String, String)``): A003 is then skipped and
    A002 only reports values that cannot be read as the required type.  A
    Zipkin row (``Format``) is read so whatever is passed.
    """
    try:
        return _check(row, policy or _default_policy(), typed_values)
    except Exception:  # a bug here must not kill a report
        logger.debug("check_span_row failed on a row", exc_info=True)
        return []


def _check(row: Mapping[str, Any], policy: AttributePolicy, typed: bool) -> list[Finding]:
    if not isinstance(row, Mapping) or not policy.enabled:
        return []
    name = _text(row.get("SpanName"))
    ids = {
        "trace_id": _text(row.get("TraceId")),
        "span_id": _text(row.get("SpanId")),
        "service": _text(row.get("ServiceName")),
    }
    scope = _text(row.get("ScopeName")) or None
    exported = rules_for(_text(row.get("Format")))
    typed = typed and exported.typed
    findings: list[Finding] = []
    if name is not None:
        violation = policy.check_span_name(name)
        if violation is not None:
            findings.append(policy.finding(violation, span_name=name, **ids))
    for key, value in _as_map(row.get("SpanAttributes")).items():
        for violation in policy.check_attribute(key, value, typed=typed, scope=scope):
            if not exported.skips(violation.code, key, scope):
                findings.append(policy.finding(violation, span_name=name, **ids))
    for key, value in _as_map(row.get("ResourceAttributes")).items():
        for violation in policy.check_attribute(key, value, typed=typed):
            if violation.code in ("A004", "A005", "A001"):
                findings.append(policy.finding(violation, scope="resource", **ids))
    event_names = row.get("Events.Name")
    event_attributes = row.get("Events.Attributes")
    if isinstance(event_attributes, (list, tuple)):
        names = event_names if isinstance(event_names, (list, tuple)) else []
        for index, attributes in enumerate(event_attributes):
            event = _text(names[index]) if index < len(names) else f"#{index}"
            for key, value in _as_map(attributes).items():
                for violation in policy.check_attribute(key, value, typed=typed):
                    if violation.code in ("A004", "A005"):
                        findings.append(
                            policy.finding(
                                violation, span_name=name, scope=f"event {event!r}", **ids
                            )
                        )
    return findings
