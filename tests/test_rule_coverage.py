"""`tracehound rules` says which rules nothing detects: the table must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from tracehound._rule_coverage import DETECTORS
from tracehound.rules import CATALOGUE

SRC = Path(__file__).resolve().parents[1] / "src" / "tracehound"
_SKIP = {"rules.py", "_rule_coverage.py"}


def _mentions() -> dict[str, set[str]]:
    """Rule code → the source files (outside the catalogue) that name it."""
    found: dict[str, set[str]] = {code: set() for code in CATALOGUE}
    for path in SRC.rglob("*.py"):
        if path.name in _SKIP:
            continue
        text = path.read_text(encoding="utf-8")
        for code in set(re.findall(r"\b[PCLAKG][0-9]{3}\b", text)) & set(found):
            found[code].add(str(path.relative_to(SRC)))
    return found


def test_every_rule_has_an_entry() -> None:
    assert set(DETECTORS) == set(CATALOGUE)


def test_undetected_rules_are_named_nowhere_in_the_code() -> None:
    """A rule that gains a detector must leave the "not detected yet" list."""
    mentions = _mentions()
    for code, parts in DETECTORS.items():
        if not parts:
            assert not mentions[code], f"{code} is marked undetected but {mentions[code]} name it"


def test_detected_rules_are_reported_by_their_part() -> None:
    mentions = _mentions()
    where = {"runtime": ("runtime/", "attributes/", "formats/"),
             "doctor": ("doctor/", "attributes/", "formats/"),
             "headers": ("formats/",), "pytest": ("testing/", "pytest_plugin"),
             "k8s": ("doctor/checks/cluster", "doctor/checks/_cluster")}  # fmt: skip
    for code, parts in DETECTORS.items():
        for part in parts:
            assert any(m.startswith(where[part]) for m in mentions[code]), (code, part)
