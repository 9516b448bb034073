"""tracehound: keep distributed traces in one piece.

The public surface, in one place:

- setup: `configure`, `shutdown`, `Mode`, `TraceViolation`, `ConfigurationError`
- spans: `continue_trace`, `span`, `new_trace`, `inject`, `extract`,
  `current_trace_id`, `current_span_id`
- concurrency: `ContextExecutor`, `start_thread`
- propagation: `TracehoundPropagator`
- rules: `Rule`, `Severity`, `Finding`, `CATALOGUE`, `get_rule`; `findings`
  (the sink: `findings.summary()`)

Header parsing without OpenTelemetry lives in `tracehound.formats`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tracehound import findings
from tracehound.rules import CATALOGUE, Finding, Rule, Severity, get_rule

__version__ = "0.1.0"

# The runtime imports the OpenTelemetry SDK: load it on first use, so the
# doctor and `tracehound rules` start fast.
_LAZY = {
    "configure": "tracehound.runtime.setup",
    "shutdown": "tracehound.runtime.setup",
    "get_runtime": "tracehound.runtime.setup",
    "ConfigurationError": "tracehound.runtime.setup",
    "Mode": "tracehound.runtime._mode",
    "TraceViolation": "tracehound.runtime._mode",
    "continue_trace": "tracehound.runtime.spans",
    "span": "tracehound.runtime.spans",
    "new_trace": "tracehound.runtime.spans",
    "inject": "tracehound.runtime.spans",
    "extract": "tracehound.runtime.spans",
    "current_trace_id": "tracehound.runtime.spans",
    "current_span_id": "tracehound.runtime.spans",
    "ContextExecutor": "tracehound.runtime.concurrency",
    "start_thread": "tracehound.runtime.concurrency",
    "TracehoundPropagator": "tracehound.runtime.propagation",
}

__all__ = [
    "CATALOGUE",
    "ConfigurationError",
    "ContextExecutor",
    "Finding",
    "Mode",
    "Rule",
    "Severity",
    "TraceViolation",
    "TracehoundPropagator",
    "__version__",
    "configure",
    "continue_trace",
    "current_span_id",
    "current_trace_id",
    "extract",
    "findings",
    "get_rule",
    "get_runtime",
    "inject",
    "new_trace",
    "shutdown",
    "span",
    "start_thread",
]

if TYPE_CHECKING:
    from tracehound.runtime._mode import Mode, TraceViolation
    from tracehound.runtime.concurrency import ContextExecutor, start_thread
    from tracehound.runtime.propagation import TracehoundPropagator
    from tracehound.runtime.setup import (
        ConfigurationError,
        configure,
        get_runtime,
        shutdown,
    )
    from tracehound.runtime.spans import (
        continue_trace,
        current_span_id,
        current_trace_id,
        extract,
        inject,
        new_trace,
        span,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tracehound' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
