"""The demo's diagnosis: the doctor on the exported spans, plus what each service's runtime saw.

The doctor only sees what was exported; a span never ended is never
exported, and a context lost in a worker thread looks like any other root.
The runtime inside each service saw those happen, with the ``file:line``.
Its findings (one per rule and service, with the number of occurrences) are
added to the doctor's report, marked ``details["reported_by"] = "runtime"``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracehound.demo._faults import FAULTS, Fault
from tracehound.demo._process import findings_path, spans_path
from tracehound.doctor import Report, check_paths
from tracehound.rules import Finding, UnknownRuleError, get_rule

__all__ = ["Caught", "FaultResult", "diagnose", "is_runtime", "planted", "runtime_findings"]


Caught = tuple[str, str]
"""``(code, "doctor" or "runtime")``."""


@dataclass(frozen=True)
class FaultResult:
    """One fault of the catalogue, whether it was switched on, and what the report says."""

    fault: Fault
    on: bool
    found: tuple[Caught, ...]
    """Of the fault's expected findings, those the report holds (at the expected service)."""

    @property
    def expected(self) -> tuple[Caught, ...]:
        doctor = [(code, "doctor") for code, _ in self.fault.doctor]
        return (*doctor, *((code, "runtime") for code in self.fault.runtime))

    @property
    def missing(self) -> tuple[Caught, ...]:
        return tuple(c for c in self.expected if c not in self.found)

    @property
    def as_expected(self) -> bool:
        """On: every expected finding is there.  Off: none of them."""
        return not self.missing if self.on else not self.found

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.fault.key,
            "service": self.fault.service,
            "on": self.on,
            "what": self.fault.broken if self.on else self.fault.fixed,
            "expected": [
                *({"code": c, "by": "doctor", "service": s} for c, s in self.fault.doctor),
                *(
                    {"code": c, "by": "runtime", "service": self.fault.service}
                    for c in self.fault.runtime
                ),
            ],
            "found": [{"code": c, "by": by} for c, by in self.found],
            "as_expected": self.as_expected,
        }


def is_runtime(finding: Finding) -> bool:
    """Whether ``finding`` came from a service's runtime rather than the doctor."""
    return finding.details.get("reported_by") == "runtime"


def runtime_findings(out: Path, services: Iterable[str]) -> list[Finding]:
    """One finding per rule each service's runtime reported, from its findings file."""
    found: list[Finding] = []
    for service in services:
        path = findings_path(out, service)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for code, count in sorted(data.get("by_code", {}).items()):
            example = data.get("examples", {}).get(code) or {}
            try:
                rule = get_rule(code)
            except UnknownRuleError:
                continue
            times = "once" if count == 1 else f"{count} times"
            found.append(
                Finding(
                    rule,
                    f"reported by the runtime in {service} ({times}): {example.get('message', '')}",
                    trace_id=example.get("trace_id"),
                    span_id=example.get("span_id"),
                    service=service,
                    location=example.get("location"),
                    details={
                        **(example.get("details") or {}),
                        "reported_by": "runtime",
                        "occurrences": count,
                    },
                )
            )
    return found


def diagnose(out: Path, services: Iterable[str]) -> Report:
    """The doctor's report on every service's span file, with the runtime's findings added."""
    names = list(services)
    paths = [str(spans_path(out, name)) for name in names if spans_path(out, name).exists()]
    report = check_paths(paths)
    report.findings.extend(runtime_findings(out, names))
    report.findings.sort(key=lambda f: (-f.severity, f.code, f.location or "", f.span_id or ""))
    return report


def planted(report: Report, faults_on: Collection[str]) -> list[FaultResult]:
    """For every fault of the catalogue: switched on or not, and which of its codes showed up."""
    doctor = {(f.code, f.service) for f in report.findings if not is_runtime(f)}
    runtime = {(f.code, f.service) for f in report.findings if is_runtime(f)}
    results = []
    for fault in FAULTS:
        found = [(code, "doctor") for code, service in fault.doctor if (code, service) in doctor]
        found += [(code, "runtime") for code in fault.runtime if (code, fault.service) in runtime]
        results.append(FaultResult(fault, fault.key in faults_on, tuple(found)))
    return results
