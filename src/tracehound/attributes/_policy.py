"""`AttributePolicy`: rules A001-A007 with their configured actions, for runtime and doctor.

One object holds the configuration, the memoised classification caches and
the answers both halves of tracehound need: what a key/value or span name
breaks (`check_attribute`, `check_span_name`), the `Finding` to report, and
for strict mode the `PolicyViolation` to raise at the offending call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tracehound.attributes._checks import Checker, Violation
from tracehound.attributes._config import Action, Mode, PolicyConfig, load_policy_config
from tracehound.rules import CATALOGUE, Finding, get_rule

__all__ = ["AttributePolicy", "PolicyViolation"]

_FIX_HINTS = {
    "A001": "rename it to `{}`",
    "A002": "set it to {}",
    "A003": "record it as the number {}",
    "A006": "rename it to `{}`",
    "A007": "name the span {!r}",
}


def _fix_text(violation: Violation) -> str:
    rule = get_rule(violation.code)
    hint = _FIX_HINTS.get(violation.code)
    if hint and violation.suggestion is not None:
        return f"{hint.format(violation.suggestion)}. {rule.fix}"
    return rule.fix


class PolicyViolation(Exception):
    """Strict mode: an attribute or span name broke a rule at the call that set it.

    ``code`` is the rule, ``key`` the attribute (None for a span name), ``fix``
    what to do.  The message never contains a secret value.
    """

    def __init__(self, violation: Violation) -> None:
        self.violation = violation
        self.code = violation.code
        self.key = violation.key
        self.rule = get_rule(violation.code)
        self.fix = _fix_text(violation)
        super().__init__(f"{self.code} {self.rule.name}: {violation.message}. Fix: {self.fix}")


class AttributePolicy:
    """The attribute rules with their actions; cheap to query per span, safe across threads.

    Build one per process (``AttributePolicy.from_config(...)``) and share it:
    the caches (per distinct key, clean value and clean span name, each
    bounded) are what keep the hot path cheap.
    """

    def __init__(self, config: PolicyConfig | None = None, *, cache_size: int = 4096) -> None:
        self.config = config or PolicyConfig()
        self.checker = Checker(self.config, cache_size)

    @classmethod
    def from_config(
        cls,
        mode: Mode | str | None = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        start: str | os.PathLike[str] | None = None,
    ) -> AttributePolicy:
        """A policy from defaults < config file < environment < these arguments.

        ``overrides`` has the shape of ``[tool.tracehound.attributes]``, e.g.
        ``{"actions": {"A001": "fix"}, "allow_keys": ["auth.method"]}``.
        """
        return cls(load_policy_config(path, mode=mode, overrides=overrides, env=env, start=start))

    @property
    def mode(self) -> Mode:
        return self.config.mode

    @property
    def enabled(self) -> bool:
        """False in mode ``off``: nothing is checked."""
        return self.config.mode is not Mode.OFF

    @property
    def strict(self) -> bool:
        return self.config.mode is Mode.STRICT

    def processor(self, *processors: Any) -> Any:
        """An `AttributePolicyProcessor` enforcing this policy in front of ``processors``."""
        from tracehound.attributes.processor import AttributePolicyProcessor

        return AttributePolicyProcessor(self, *processors)

    def exporter(self, inner: Any) -> Any:
        """A `PolicyExporter` enforcing this policy in front of ``inner``."""
        from tracehound.attributes.processor import PolicyExporter

        return PolicyExporter(inner, self)

    def action(self, code: str) -> Action:
        return self.config.action(code)

    def check_attribute(
        self, key: str, value: object, *, typed: bool = True, scope: str | None = None
    ) -> list[Violation]:
        """Every enabled rule ``key=value`` breaks (see `Checker.violations` for ``typed``
        and ``scope``)."""
        return self.checker.violations(key, value, typed=typed, scope=scope)

    def check_span_name(self, name: str) -> Violation | None:
        return self.checker.name_violation(name)

    def raise_for_attribute(self, key: str, value: object) -> None:
        """Raise `PolicyViolation` when ``key=value`` breaks an enabled rule."""
        if not isinstance(key, str):
            return  # OpenTelemetry drops such keys itself
        violations = self.checker.violations(key, value)
        if violations:
            raise PolicyViolation(violations[0])

    def raise_for_name(self, name: str) -> None:
        """Raise `PolicyViolation` when a span name breaks A007."""
        violation = self.checker.name_violation(name)
        if violation is not None:
            raise PolicyViolation(violation)

    def finding(
        self,
        violation: Violation,
        *,
        span_name: str | None = None,
        action: Action | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        service: str | None = None,
        scope: str = "span",
    ) -> Finding:
        """The `Finding` for ``violation``; ``scope`` is span, event NAME or resource."""
        details: dict[str, Any] = {"scope": scope}
        if violation.key is not None:
            details["key"] = violation.key
        if violation.family is not None:
            details["family"] = violation.family
        if violation.suggestion is not None:
            details["suggestion"] = violation.suggestion
        if action is not None:
            details["action"] = action.value
        if scope == "resource":
            location = f"resource attribute {violation.key!r}"
        else:
            name = span_name
            if violation.code == "A007" and violation.suggestion is not None:
                name = violation.suggestion  # the templated name: one location per route
            location = f"span {name!r}" if name is not None else "span"
            if scope != "span":
                location += f" {scope}"
            if violation.key is not None:
                location += f" attribute {violation.key!r}"
        return Finding(
            rule=CATALOGUE[violation.code],
            message=violation.message,
            trace_id=trace_id,
            span_id=span_id,
            service=service,
            location=location,
            details=details,
        )
