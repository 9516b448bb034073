"""Reports of a `tracehound.doctor.Report`: terminal (rich), JSON, SARIF 2.1.0 and HTML."""

from __future__ import annotations

__all__ = ["printable"]

_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F) if c != 0x0A}
_CONTROL.update({0x09: "\\t", 0x0D: "\\r"})


def printable(text: str) -> str:
    """``text`` from the input made safe for a terminal: control characters (all but the
    newline) shown as escapes, so a trace file cannot move the cursor or change colours."""
    return text.translate(_CONTROL)
