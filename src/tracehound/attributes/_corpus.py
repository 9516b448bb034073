"""Measure the policy against a labelled corpus: recall on secrets, precision on look-alikes.

A corpus is JSON lines with ``key``, ``value``, ``kind`` (``secret`` or
``benign``), ``family``, ``rules`` (expected codes) and, for secrets,
``secret`` (the substring that must not survive).  A secret counts as
caught when A004 or A005 fires *and* the rewritten value no longer contains
the secret; a benign case is a false positive when A004 or A005 fires.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracehound.attributes._policy import AttributePolicy
from tracehound.attributes._rewrite import rewrite_attributes

__all__ = ["CorpusReport", "FamilyScore", "evaluate_corpus", "load_corpus"]

_SECRET_RULES = ("A004", "A005")


def load_corpus(path: str | Path) -> list[dict[str, Any]]:
    """The cases of a JSON-lines corpus file (lists become tuples, as OTel stores them)."""
    cases = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            case = json.loads(line)
            if isinstance(case.get("value"), list):
                case["value"] = tuple(case["value"])
            case["line"] = number
            cases.append(case)
    return cases


@dataclass
class FamilyScore:
    """Counts for one family of the corpus."""

    kind: str
    cases: int = 0
    flagged: int = 0
    """Cases where A004 or A005 fired."""
    caught: int = 0
    """Secrets flagged and gone from the rewritten value."""
    rules_exact: int = 0
    """Cases whose reported rule codes equal the expected ones."""
    misses: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CorpusReport:
    """Per-family scores and the totals the targets are stated in."""

    families: dict[str, FamilyScore]

    def _total(self, kind: str, attribute: str) -> int:
        return sum(getattr(s, attribute) for s in self.families.values() if s.kind == kind)

    @property
    def secret_recall(self) -> float:
        cases = self._total("secret", "cases")
        return self._total("secret", "caught") / cases if cases else 1.0

    @property
    def benign_pass_rate(self) -> float:
        """Share of benign look-alikes not flagged (the issue's "precision on the benign set")."""
        cases = self._total("benign", "cases")
        return 1 - self._total("benign", "flagged") / cases if cases else 1.0

    @property
    def precision(self) -> float:
        """Flagged secrets / everything flagged."""
        flagged = self._total("secret", "flagged") + self._total("benign", "flagged")
        return self._total("secret", "flagged") / flagged if flagged else 1.0

    def misses(self) -> list[dict[str, Any]]:
        return [miss for score in self.families.values() for miss in score.misses]

    def table(self) -> str:
        """A markdown table: one row per family, then the totals."""
        rows = [
            "| family | kind | cases | flagged | recall (secret) / not flagged (benign) | rules |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for name, s in sorted(self.families.items(), key=lambda item: (item[1].kind, item[0])):
            rate = s.caught / s.cases if s.kind == "secret" else 1 - s.flagged / s.cases
            rows.append(
                f"| {name} | {s.kind} | {s.cases} | {s.flagged} | {rate:.1%} | "
                f"{s.rules_exact}/{s.cases} |"
            )
        secrets, benign = self._total("secret", "cases"), self._total("benign", "cases")
        rows.append(
            f"\n**Totals:** {secrets} secrets, recall {self.secret_recall:.1%}; {benign} benign "
            f"look-alikes, {self.benign_pass_rate:.1%} not flagged; precision of what is "
            f"flagged {self.precision:.1%}."
        )
        return "\n".join(rows) + "\n"


def evaluate_corpus(
    cases: Iterable[Mapping[str, Any]], policy: AttributePolicy | None = None
) -> CorpusReport:
    """Score ``policy`` (default: default actions) on ``cases``."""
    policy = policy or AttributePolicy()
    checker = policy.checker
    families: dict[str, FamilyScore] = {}
    for case in cases:
        key, value, kind = case["key"], case["value"], case["kind"]
        score = families.setdefault(case["family"], FamilyScore(kind))
        score.cases += 1
        violations = checker.violations(key, value)
        codes = sorted({v.code for v in violations})
        flagged = any(code in _SECRET_RULES for code in codes)
        score.flagged += flagged
        score.rules_exact += codes == sorted(case.get("rules", ()))
        caught = False
        if kind == "secret" and flagged:
            rewritten = rewrite_attributes(checker, {key: value}, {key: violations})
            caught = str(case["secret"]) not in repr(list(rewritten.attributes.values()))
        score.caught += caught
        wrong = (kind == "secret" and not caught) or (kind == "benign" and flagged)
        if wrong or codes != sorted(case.get("rules", ())):
            score.misses.append({"line": case.get("line"), "key": key, "family": case["family"],
                                 "expected": case.get("rules"), "found": codes})  # fmt: skip
    return CorpusReport(families)
