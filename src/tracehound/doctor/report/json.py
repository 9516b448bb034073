"""The JSON report: a stable shape (``tracehound.doctor/1``), see ``docs/doctor-json.md``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from tracehound import __version__
from tracehound.doctor._model import Report

__all__ = ["SCHEMA", "dumps", "to_dict"]

SCHEMA = "tracehound.doctor/1"


def to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data."""
    return {
        "schema": SCHEMA,
        "tool": {"name": "tracehound", "version": __version__},
        "inputs": [i.to_dict() for i in report.inputs],
        "spans": {
            "read": report.spans_read,
            "analysed": report.spans_analysed,
            "merged": report.spans_merged,
            "merges": [r.to_dict() for r in report.merged],
            "rejected": report.spans_rejected,
            "rejections": [r.to_dict() for r in report.rejections],
            "normalised": [r.to_dict() for r in report.normalised],
        },
        "logs": {
            "analysed": report.log_lines,
            "rejected": sum(r.count for r in report.log_rejections),
            "rejections": [r.to_dict() for r in report.log_rejections],
        },
        "duplicate_inputs": [d.to_dict() for d in report.duplicates],
        "traces": report.traces,
        "services": list(report.services),
        "remote_entries": report.remote_entries,
        "errors": [e.to_dict() for e in report.errors],
        "counts": {
            "by_code": dict(sorted(Counter(f.code for f in report.findings).items())),
            "by_severity": {
                name: sum(1 for f in report.findings if str(f.severity) == name)
                for name in ("error", "warning", "info")
            },
        },
        "findings": [f.to_dict() for f in report.findings],
        "edges": [e.to_dict() for e in report.edges],
        "skipped": [s.to_dict() for s in report.skipped],
        "ignored": dict(sorted(report.ignored.items())),
        "notes": list(report.notes),
    }


def dumps(report: Report) -> bytes:
    """The report as indented JSON bytes, ending in a newline."""
    return (
        orjson.dumps(to_dict(report), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"
    )
