"""How loudly the runtime reacts: off, warn, strict."""

from __future__ import annotations

import enum
import os
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

    @classmethod
    def resolve(cls, given: str | Mode | None) -> Mode:
        """The mode from the argument, else ``TRACEHOUND_MODE``, else warn."""
        source = "mode argument"
        if given is None:
            given, source = os.environ.get(MODE_ENV, "").strip() or "warn", MODE_ENV
        try:
            return cls(str(given.value if isinstance(given, Mode) else given).lower())
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"{source}: unknown mode {given!r}; choose one of {choices}") from None


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
