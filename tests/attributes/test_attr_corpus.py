"""Precision and recall of the secret rules (A004/A005) on the shipped labelled corpus."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tracehound.attributes import evaluate_corpus, load_corpus

CORPUS = Path(__file__).with_name("corpus.jsonl")
SECRET_FAMILIES = {
    # the families the issue names, each must be in the corpus
    "jwt",
    "bearer",
    "basic",
    "aws_access_key",
    "github_token",
    "slack_token",
    "stripe_key",
    "pem_private_key",
    "card_number",
    "url_password",
    "secret_param",
    "password",
    "secret",
    "token",
    "api_key",
    "authorization",
    "cookie",
    "session",
    "credential",
    "private_key",
    "csrf",
    "ssn",
}
BENIGN_FAMILIES = {
    "uuid",
    "hash",
    "trace_id",
    "base64",
    "version",
    "order_number",
    "luhn_fail_16",
    "token_count",
}


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return load_corpus(CORPUS)


def test_corpus_is_large_and_labelled(cases: list[dict]) -> None:
    assert len(cases) >= 300
    kinds = Counter(case["kind"] for case in cases)
    assert set(kinds) == {"secret", "benign"}
    families = {case["family"] for case in cases}
    assert families >= SECRET_FAMILIES
    assert families >= BENIGN_FAMILIES
    for case in cases:
        assert {"key", "value", "kind", "family", "rules"} <= set(case)
        assert case["kind"] == "benign" or case.get("secret")


def test_corpus_file_hides_fakes_from_secret_scanners() -> None:
    # The fakes are real-looking; in the raw file every eighth character of
    # a secret is a JSON escape, so scanners (and this test) see no token.
    raw = CORPUS.read_text(encoding="utf-8")
    for pattern in (
        r"AKIA[A-Z2-7]{16}",
        r"gh[pousr]_[A-Za-z0-9]{36}",
        r"sk_live_[A-Za-z0-9]{16}",
        r"xox[bp]-[0-9]{12}",
        r"BEGIN [A-Z ]*PRIVATE KEY",
        r"eyJ[\w-]{6,}\.eyJ",
    ):
        assert re.search(pattern, raw) is None, pattern


def test_precision_and_recall_per_family(cases: list[dict]) -> None:
    report = evaluate_corpus(cases)
    table = report.table()
    # The table is in the assertion messages, so a failure shows every family.
    assert report.secret_recall == 1.0, f"secrets missed or leaked:\n{table}\n{report.misses()}"
    assert report.benign_pass_rate >= 0.99, f"benign look-alikes flagged:\n{table}"
    assert report.precision >= 0.99, table


def test_every_case_reports_exactly_its_rules(cases: list[dict]) -> None:
    report = evaluate_corpus(cases)
    assert report.misses() == [], report.table()
