"""How loudly the runtime reacts: off, warn, strict.

`tracehound.configure` takes the mode from its argument, else
``TRACEHOUND_MODE``, else ``mode`` in the config file (``tracehound.toml`` or
``[tool.tracehound]``), else ``warn``: OpenTelemetry's order, environment
over file.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from tracehound import findings
from tracehound.rules import Finding

__all__ = ["MODE_ENV", "Mode", "TraceViolation", "reporter_for"]

MODE_ENV = "TRACEHOUND_MODE"


class Mode(str, enum.Enum):
    """``off``: no guards; ``warn``: report findings; ``strict``: raise at the offending call."""

    OFF = "off"
    WARN = "warn"
    STRICT = "strict"


class TraceViolation(Exception):
    """Raised in strict mode at the call that broke a rule; carries the `Finding`."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(f"{finding}\n  fix: {finding.rule.fix}")
        self.finding = finding


def reporter_for(mode: Mode) -> Callable[[Finding], None]:
    """Report to the findings sink; in strict mode raise afterwards."""
    if mode is Mode.STRICT:

        def strict(finding: Finding) -> None:
            findings.report(finding)
            raise TraceViolation(finding)

        return strict
    return findings.report
