"""The doctor tests' data: the shared corpora beside the repository and the sample files.

Imported by name (``from doctor_data import corpus``) rather than from conftest.py, so
that a test directory below may have a conftest.py of its own without shadowing these.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tracehound.doctor import Report

REPO = Path(__file__).resolve().parents[2]
CORPORA = REPO.parent / "shared" / "corpora"
DATA = Path(__file__).resolve().parent / "data"
SAMPLES = [
    str(DATA / name)
    for name in ("checkout-broken.jaeger.json", "collector.otlp.jsonl", "zipkin-duplicates.json")
]
"""The hand-made sample files at the top of data/ (its subdirectories, such as the
real-instrumentation snapshot in data/realworld, are read by their own tests)."""


def corpus(name: str) -> str:
    """The path of ``name`` in the shared corpora; the test is skipped without them."""
    path = CORPORA / name
    if not path.exists():
        pytest.skip(f"shared corpus {name} not found beside the repository")
    return str(path)


def codes(report: Report, code: str) -> list:
    """The findings of ``report`` with rule ``code``."""
    return [f for f in report.findings if f.code == code]
