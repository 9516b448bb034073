"""Runtime findings files (``TRACEHOUND_FINDINGS_FILE``): what each service's runtime reported.

A kind of evidence of its own, in tables of its own: ``runtime_findings``
(one row per finding line: the first of each code and location a process
reported) and ``runtime_finding_counts`` (the counts each process wrote at
shutdown).  Recognised by content: every line's ``kind`` starts with
``tracehound.finding`` (format: ``docs/findings-file.md``).  A line that is
not a valid record is an input error naming the line and the reason; it is
never a span.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from tracehound._findings_format import FINDING, HEADER, SUMMARY, VERSION
from tracehound.doctor.sources._rows import Document
from tracehound.rules import UnknownRuleError, get_rule

__all__ = ["COUNTS_TABLE", "SCHEMA", "TABLE", "looks_like", "read"]

TABLE = "runtime_findings"
COUNTS_TABLE = "runtime_finding_counts"
SCHEMA = f"""
CREATE OR REPLACE TABLE {TABLE} (
    Source VARCHAR, "Offset" VARCHAR, ServiceName VARCHAR, Pid BIGINT, Code VARCHAR,
    Message VARCHAR, TraceId VARCHAR, SpanId VARCHAR, Location VARCHAR, Details JSON,
    "Time" VARCHAR
);
CREATE OR REPLACE TABLE {COUNTS_TABLE} (
    Source VARCHAR, ServiceName VARCHAR, Pid BIGINT, Code VARCHAR, Location VARCHAR,
    "Count" BIGINT
);
"""

_PREFIX = "tracehound.finding"
_HEX = re.compile(r"[0-9a-fA-F]+")


def looks_like(value: Any) -> bool:
    """Whether a parsed JSON value is a line of a runtime findings file."""
    kind = value.get("kind") if isinstance(value, dict) else None
    return isinstance(kind, str) and kind.startswith(_PREFIX)


def read(doc: Document) -> int:
    """Put the record of ``doc`` in the tables; returns the findings it held (0 or 1)."""
    record = doc.value
    where = str(doc.line) if doc.line is not None else "$"
    problem = _problem(record)
    if problem is not None:
        doc.errors.append((where, f"runtime finding not read: {problem}"))
        return 0
    add = getattr(doc.sink, "add_evidence", None)  # add(table, row): the input's name goes first
    if add is None:  # a sink that keeps spans only
        return 0
    kind = record["kind"]
    if kind == FINDING:
        details = record.get("details") or {}
        add(
            TABLE,
            (
                where,
                record["service"],
                record.get("pid"),
                record["code"],
                record["message"],
                _id(record.get("trace_id")),
                _id(record.get("span_id")),
                record.get("location"),
                _json(details),
                record.get("time"),
            ),
        )
        return 1
    if kind == SUMMARY:
        for entry in record.get("counts") or []:
            add(
                COUNTS_TABLE,
                (
                    record["service"],
                    record.get("pid"),
                    entry["code"],
                    entry.get("location"),
                    entry["count"],
                ),
            )
        for code, count in (record.get("other") or {}).items():
            add(COUNTS_TABLE, (record["service"], record.get("pid"), code, None, count))
    return 0


def _problem(record: Any) -> str | None:
    """Why ``record`` cannot be read, or ``None``."""
    kind = record.get("kind")
    if kind not in (HEADER, FINDING, SUMMARY):
        return f"unknown kind {kind!r} (expected {HEADER}, {FINDING} or {SUMMARY})"
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return f"version {version!r} is not a positive integer"
    if version > VERSION:
        return f"version {version} is newer than this tracehound reads ({VERSION}); upgrade it"
    service = record.get("service")
    if not isinstance(service, str) or not service:
        return "no service name"
    pid = record.get("pid")
    if pid is not None and not _is_count(pid):
        return f"pid {pid!r} is not a process ID"
    if kind == FINDING:
        return _finding_problem(record)
    if kind == SUMMARY:
        return _summary_problem(record)
    return None


def _finding_problem(record: dict[str, Any]) -> str | None:
    code = record.get("code")
    if not isinstance(code, str):
        return "no rule code"
    if not _known(code):
        return f"unknown rule code {code!r} (written by a newer tracehound?)"
    if not isinstance(record.get("message"), str):
        return "no message"
    for name, width in (("trace_id", 32), ("span_id", 16)):
        value = record.get(name)
        if value is not None and not _is_id(value, width):
            return f"{name} {value!r} is not {width} hex digits"
    for name in ("location", "time"):
        if record.get(name) is not None and not isinstance(record[name], str):
            return f"{name} is not a string"
    details = record.get("details")
    if details is not None and not isinstance(details, dict):
        return "details is not an object"
    return None


def _summary_problem(record: dict[str, Any]) -> str | None:
    counts = record.get("counts")
    if counts is not None and not isinstance(counts, list):
        return "counts is not a list"
    for k, entry in enumerate(counts or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            return f"counts[{k}] has no rule code"
        if not _known(entry["code"]):
            return f"counts[{k}]: unknown rule code {entry['code']!r}"
        if not _is_count(entry.get("count")):
            return f"counts[{k}].count is not a non-negative integer"
        location = entry.get("location")
        if location is not None and not isinstance(location, str):
            return f"counts[{k}].location is not a string"
    other = record.get("other")
    if other is not None and (
        not isinstance(other, dict) or not all(_is_count(v) and _known(k) for k, v in other.items())
    ):
        return "other is not an object of counts by known rule code"
    return None


def _json(details: dict[str, Any]) -> str:
    try:
        return orjson.dumps(details).decode()
    except (TypeError, ValueError):  # an integer over 64 bits, say: kept as JSON all the same
        return json.dumps(details, default=repr)


def _known(code: str) -> bool:
    try:
        get_rule(code)
    except UnknownRuleError:
        return False
    return True


def _is_id(value: Any, width: int) -> bool:
    return isinstance(value, str) and len(value) == width and bool(_HEX.fullmatch(value))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _id(value: str | None) -> str | None:
    return value.lower() if value is not None else None
