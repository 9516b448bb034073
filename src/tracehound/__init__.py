"""tracehound: keep distributed traces in one piece.

The public surface: the rule catalogue (`Rule`, `Severity`, `Finding`), the
propagator (`TracehoundPropagator`), and the findings sink (`findings`).
Header parsing lives in `tracehound.formats`.
"""

from tracehound import findings
from tracehound.rules import CATALOGUE, Finding, Rule, Severity, get_rule

__version__ = "0.1.0"

__all__ = [
    "CATALOGUE",
    "Finding",
    "Rule",
    "Severity",
    "TracehoundPropagator",
    "__version__",
    "findings",
    "get_rule",
]


def __getattr__(name: str) -> object:
    # The propagator imports OpenTelemetry; load it only when asked for.
    if name == "TracehoundPropagator":
        from tracehound.runtime.propagation import TracehoundPropagator

        return TracehoundPropagator
    raise AttributeError(f"module 'tracehound' has no attribute {name!r}")
