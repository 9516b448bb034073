"""SARIF 2.1.0, for code-scanning tools: one result per finding, located in the input file."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from tracehound import __version__
from tracehound.doctor._model import Report
from tracehound.rules import Finding, Severity

__all__ = ["SARIF_SCHEMA", "dumps", "to_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def to_sarif(report: Report) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log with one run."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for f in report.findings:
        if f.code not in index:
            index[f.code] = len(rules)
            rule = f.rule
            rules.append(
                {
                    "id": rule.code,
                    "name": rule.name,
                    "shortDescription": {"text": rule.summary},
                    "fullDescription": {"text": rule.explanation},
                    "help": {"text": rule.fix},
                    "defaultConfiguration": {"level": _LEVEL[rule.severity]},
                }
            )
    sources = sorted((i.source for i in report.inputs), key=len, reverse=True)
    results = [_result(f, index[f.code], sources) for f in report.findings]
    notes = [{"level": "error", "message": {"text": str(e)}} for e in report.errors] + [
        {
            "level": "warning",
            "message": {"text": f"{r.count} spans rejected: {r.reason} (first at {r.example})"},
        }
        for r in report.rejections
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tracehound",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": notes,
                    }
                ],
                "results": results,
            }
        ],
    }


def _result(f: Finding, rule_index: int, sources: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": f.message},
        "partialFingerprints": {
            "tracehound/v1": hashlib.sha256(
                f"{f.code}|{f.trace_id}|{f.span_id}|{f.service}|{f.message}".encode()
            ).hexdigest()[:32]
        },
        "properties": {
            "trace_id": f.trace_id,
            "span_id": f.span_id,
            "service": f.service,
            "details": dict(f.details),
        },
    }
    location = _location(f.location, sources) or _program_location(f)
    if location is not None:
        result["locations"] = [location]
    return result


def _location(where: str | None, sources: list[str]) -> dict[str, Any] | None:
    if not where:
        return None
    source = next((s for s in sources if where.startswith(s + ":") or where == s), None)
    if source is None:
        return None
    offset = where[len(source) + 1 :]
    line_text = offset.split(":", 1)[0]
    numbered = line_text.isascii() and line_text.isdigit()  # not "²", which int() refuses
    region = {"startLine": max(int(line_text), 1)} if numbered else {"startLine": 1}
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": source.replace("\\", "/")},
        "region": region,
    }
    location: dict[str, Any] = {"physicalLocation": physical}
    if offset:
        location["logicalLocations"] = [{"fullyQualifiedName": offset, "kind": "element"}]
    return location


def _program_location(f: Finding) -> dict[str, Any] | None:
    """The ``file:line`` in the program a runtime finding names (code scanning shows it there)."""
    if f.details.get("reported_by") != "runtime" or not f.location:
        return None
    path, _, line = f.location.rpartition(":")
    if not path or not (line.isascii() and line.isdigit()):
        return None  # an attribute or header finding: no place in a file
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": path.replace("\\", "/")},
            "region": {"startLine": max(int(line), 1)},
        }
    }


def dumps(report: Report) -> bytes:
    """The SARIF log as indented JSON bytes."""
    return orjson.dumps(to_sarif(report), option=orjson.OPT_INDENT_2) + b"\n"
