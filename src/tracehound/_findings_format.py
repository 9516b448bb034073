"""The runtime findings file: JSON lines the runtime writes and ``tracehound check`` reads.

Version 1 (``docs/findings-file.md``).  Every line is one JSON object whose
``kind`` says what it is, so the doctor recognises the file by its content:

- ``tracehound.findings``: the header, first line of each process's file
  (``service``, ``pid``, ``time``, ``tool``);
- ``tracehound.finding``: one finding, written when the runtime reports it
  (``service``, ``pid``, ``code``, ``name``, ``severity``, ``message``, ``trace_id``,
  ``span_id``, ``location``, ``details``, ``time``);
- ``tracehound.findings.summary``: written at shutdown: how often each
  finding occurred (``counts``: ``code``, ``location``, ``count``) and how
  many occurrences were counted but not written (``suppressed``).

Every line carries ``version`` and ``service``.  Pure: no OpenTelemetry.
"""

from __future__ import annotations

import datetime
from typing import Any

from tracehound.rules import Finding

__all__ = [
    "FINDING",
    "HEADER",
    "KINDS",
    "SUMMARY",
    "VERSION",
    "finding_record",
    "timestamp",
]

VERSION = 1
HEADER = "tracehound.findings"
FINDING = "tracehound.finding"
SUMMARY = "tracehound.findings.summary"
KINDS = (HEADER, FINDING, SUMMARY)


def timestamp(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 UTC with microseconds (``...Z``)."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def finding_record(
    finding: Finding, service: str | None, pid: int, seconds: float
) -> dict[str, Any]:
    """The line for ``finding``, reported by ``service`` (process ``pid``) at ``seconds``."""
    return {
        "kind": FINDING,
        "version": VERSION,
        "time": timestamp(seconds),
        "service": finding.service or service,
        "pid": pid,
        "code": finding.rule.code,
        "name": finding.rule.name,
        "severity": str(finding.rule.severity),
        "message": finding.message,
        "trace_id": finding.trace_id,
        "span_id": finding.span_id,
        "location": finding.location,
        "details": dict(finding.details),
    }
