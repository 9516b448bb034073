"""The rule catalogue: the codes DESIGN.md lists, complete entries, lookups."""

from __future__ import annotations

import pytest

from tracehound.rules import CATALOGUE, Finding, Severity, UnknownRuleError, get_rule

DESIGN_CODES = (
    "P001 P002 P003 P004 P005 C001 C002 C003 C004 C005 L001 L002 L003 L004 L005 L006 "
    "A001 A002 A003 A004 A005 A006 A007 K001 K002 K003"
).split()


def test_every_design_code_is_present_and_complete() -> None:
    assert set(DESIGN_CODES) <= set(CATALOGUE)
    for code, rule in CATALOGUE.items():
        assert rule.code == code
        assert rule.name and rule.name == rule.name.lower() and " " not in rule.name
        assert rule.summary and rule.explanation and rule.fix
        assert isinstance(rule.severity, Severity)


def test_names_are_unique() -> None:
    names = [r.name for r in CATALOGUE.values()]
    assert len(names) == len(set(names))


def test_get_rule_is_case_insensitive_and_names_choices() -> None:
    assert get_rule("c003").name == "broken-edge"
    with pytest.raises(UnknownRuleError, match="known codes: P001"):
        get_rule("Z999")


def test_severity_order_and_parse() -> None:
    assert Severity.ERROR > Severity.WARNING > Severity.INFO
    assert Severity.parse("Warning") is Severity.WARNING
    with pytest.raises(ValueError, match="choose one of info, warning, error"):
        Severity.parse("fatal")


def test_finding_text_and_dict() -> None:
    finding = Finding(
        get_rule("L001"), "span 'db' never ended", trace_id="ab", location="app.py:12"
    )
    assert str(finding) == "L001 span-never-ended (error) at app.py:12: span 'db' never ended"
    data = finding.to_dict()
    assert data["code"] == "L001" and data["severity"] == "error"
    assert data["location"] == "app.py:12"
