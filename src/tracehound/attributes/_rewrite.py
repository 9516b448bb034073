"""Actions: rewrite the attributes that break rules, record what was done.

`rewrite_attributes` builds a new attribute dict from the old one, applying
each violation's configured action (`report` keeps, `fix` renames/coerces/
moves, `redact` replaces the secret by the marker and keeps the key, `drop`
removes), and lists every redaction as ``key:family`` for the
``tracehound.redacted`` attribute.  It is only called for attributes that
break a rule, so a clean span never gets here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tracehound.attributes._checks import Checker, Violation
from tracehound.attributes._config import Action
from tracehound.attributes._legacy import successor_items
from tracehound.attributes._numeric import parse_numeric
from tracehound.attributes._reserved import NO_FIX
from tracehound.attributes._secret_values import redact

__all__ = ["REDACTED_ATTRIBUTE", "AttributeRewrite", "redact_nested", "rewrite_attributes"]

REDACTED_ATTRIBUTE = "tracehound.redacted"
"""Lists ``key:family`` for every redacted (or dropped) secret of a span."""


@dataclass
class AttributeRewrite:
    """The outcome of rewriting one attribute set."""

    attributes: dict[str, Any]
    applied: list[tuple[Violation, Action]] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)
    error_description: str | None = None
    """Set when ``error="timeout"`` was fixed: the span status becomes ERROR with it."""


def rewrite_attributes(
    checker: Checker,
    attributes: Mapping[str, Any],
    dirty: Mapping[str, list[Violation]],
    *,
    server_side: bool = False,
    prefix: str = "",
) -> AttributeRewrite:
    """A copy of ``attributes`` with the actions applied to the ``dirty`` keys' violations.

    Keys redacted or fixed in place keep their position; renamed and moved
    keys go to the end.  A rename or move onto a key that already exists is
    not done (the violation is still reported).
    """
    config = checker.config
    result = AttributeRewrite(dict(attributes))
    out = result.attributes
    for key, violations in dirty.items():
        value = attributes[key]
        new_key: str | None = key
        new_value, moved = value, None
        for violation in violations:
            code = violation.code
            action = config.action(code)
            result.applied.append((violation, action))
            if action is Action.REPORT:
                continue
            if action is Action.DROP:
                if code in ("A004", "A005"):
                    result.redacted.extend(_entries(prefix, key, violation, " (dropped)"))
                new_key = None
                break
            if code == "A004":
                new_value = _marker_like(new_value, config.redaction_marker)
                result.redacted.extend(_entries(prefix, key, violation))
            elif code == "A005":
                new_value = _redact_value(checker, new_value, violation, config.redaction_marker)
                result.redacted.extend(_entries(prefix, key, violation))
            elif code == "A002":
                new_value = _fix_reserved(checker, key, new_value, result)
            elif code == "A003":
                number = parse_numeric(new_value) if isinstance(new_value, str) else None
                new_value = new_value if number is None else number
            elif code == "A001":
                target = checker.key_info(key).styled
                if target and target not in out:
                    new_key = target
            elif code == "A006":
                moved = successor_items(key, new_value, server_side)
                if any(k in out for k in moved):
                    moved = None
        if new_key == key and not moved:
            out[key] = new_value
            continue
        del out[key]
        if moved:
            out.update(moved)
        elif new_key is not None:
            out[new_key] = new_value
    return result


def _marker_like(value: Any, marker: str) -> Any:
    """The marker, in the value's shape: a sequence stays a sequence (header values)."""
    if isinstance(value, (tuple, list)):
        return (marker,) * len(value) if value else value
    return marker


def _entries(prefix: str, key: str, violation: Violation, note: str = "") -> list[str]:
    families = (violation.family or "secret").split(", ")
    return [f"{prefix}{key}:{family}{note}" for family in families]


def _fix_reserved(checker: Checker, key: str, value: Any, result: AttributeRewrite) -> Any:
    spec = checker.key_info(key).reserved
    if spec is None:
        return value
    fixed = spec.coerce(value)
    if fixed is not NO_FIX:
        return fixed
    if key == "error":
        # error="timeout": the span failed, with that description.
        result.error_description = str(value)
        return True
    return value


def _redact_value(checker: Checker, value: Any, violation: Violation, marker: str) -> Any:
    if isinstance(value, str) and violation.hits:
        return redact(value, list(violation.hits), marker)
    return redact_nested(checker, value, marker)


def redact_nested(checker: Checker, value: Any, marker: str, depth: int = 0) -> Any:
    """``value`` with every secret inside (strings, sequences, mappings) redacted."""
    if depth > 8:
        return marker
    if isinstance(value, str):
        hits = checker.secrets_in(value)
        return redact(value, hits, marker) if hits else value
    if isinstance(value, int) and not isinstance(value, bool):
        return marker if checker.secrets_in(value) else value
    if isinstance(value, (tuple, list)):
        return tuple(redact_nested(checker, item, marker, depth + 1) for item in value)
    if isinstance(value, Mapping):
        return {
            key: (
                marker
                if isinstance(key, str)
                and checker.key_info(key).secret
                and not isinstance(item, bool)
                else redact_nested(checker, item, marker, depth + 1)
            )
            for key, item in value.items()
        }
    return value
