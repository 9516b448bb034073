"""Attribute policy: rules A001-A007 with per-rule actions, in the process and on stored data.

- `AttributePolicy` holds the configuration and answers what a key/value or
  span name breaks; build it with `AttributePolicy.from_config` (defaults <
  ``tracehound.toml``/``[tool.tracehound]`` < environment < arguments).
- `AttributePolicyProcessor` enforces it on every span before any exporter
  (install it as the provider's ``active_span_processor``); `PolicyExporter`
  wraps one exporter when you do not own the provider.
- `check_span_row` runs the same rules on a stored ``otel_traces`` row for
  the doctor.
- Strict mode raises `PolicyViolation` at the offending call.
- `evaluate_corpus` measures recall and precision on a labelled corpus.
"""

from tracehound.attributes._checks import Violation
from tracehound.attributes._config import (
    ALLOWED_ACTIONS,
    DEFAULT_ACTIONS,
    RULE_CODES,
    Action,
    ConfigError,
    Mode,
    PolicyConfig,
    load_policy_config,
)
from tracehound.attributes._corpus import CorpusReport, evaluate_corpus, load_corpus
from tracehound.attributes._policy import AttributePolicy, PolicyViolation
from tracehound.attributes._rewrite import REDACTED_ATTRIBUTE
from tracehound.attributes._rows import check_span_row

__all__ = [
    "ALLOWED_ACTIONS",
    "DEFAULT_ACTIONS",
    "REDACTED_ATTRIBUTE",
    "RULE_CODES",
    "Action",
    "AttributePolicy",
    "AttributePolicyProcessor",
    "ConfigError",
    "CorpusReport",
    "Mode",
    "PolicyConfig",
    "PolicyExporter",
    "PolicyViolation",
    "Violation",
    "check_span_row",
    "evaluate_corpus",
    "load_corpus",
    "load_policy_config",
]


def __getattr__(name: str) -> object:
    # The processor imports the OpenTelemetry SDK; the doctor does not need it.
    if name in ("AttributePolicyProcessor", "PolicyExporter"):
        from tracehound.attributes import processor

        return getattr(processor, name)
    raise AttributeError(f"module 'tracehound.attributes' has no attribute {name!r}")
