"""The demo's diagnosis: the doctor on the exported spans and each service's runtime findings.

The doctor only sees what was exported; a span never ended is never
exported, and a context lost in a worker thread looks like any other root.
The runtime inside each service saw those happen, with the ``file:line``,
and wrote them to its runtime findings file; ``tracehound check`` reads those
beside the spans (marked ``details["reported_by"] = "runtime"``), so the
demo's diagnosis is one command a user can run again (`reproduce_command`).
"""

from __future__ import annotations

import shlex
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracehound.demo._faults import FAULTS, Fault
from tracehound.demo._process import findings_path, spans_path
from tracehound.doctor import Report, check_paths
from tracehound.rules import Finding

__all__ = [
    "Caught",
    "FaultResult",
    "command_paths",
    "diagnose",
    "is_runtime",
    "planted",
    "reproduce_command",
]


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


def command_paths(out: Path) -> list[str]:
    """The inputs of the diagnosis, as the shell expands `reproduce_command`'s patterns:
    every span file, then every runtime findings file the services wrote, each sorted
    (``out`` itself taken literally, whatever characters it holds)."""
    patterns = (spans_path(out, "*").name, findings_path(out, "*").name)
    return [str(path) for pattern in patterns for path in sorted(out.glob(pattern))]


def reproduce_command(out: Path) -> str:
    """The command that gives the same diagnosis from the files the demo left."""
    where = shlex.quote(str(out))
    names = (spans_path(out, "*").name, findings_path(out, "*").name)
    return "tracehound check " + " ".join(f"{where}/{name}" for name in names)


def diagnose(out: Path) -> Report:
    """The doctor's report on every service's span file and runtime findings file: what
    `reproduce_command` prints."""
    return check_paths(command_paths(out))


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
