"""Fixtures for the doctor's tests: the shared corpora, generated traffic, a runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracehound.doctor import Report, check_paths
from tracehound.doctor._synthetic_writers import to_otlp_json_lines
from tracehound.doctor.synthetic import Traffic, generate

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
    path = CORPORA / name
    if not path.exists():
        pytest.skip(f"shared corpus {name} not found beside the repository")
    return str(path)


def codes(report: Report, code: str) -> list:
    return [f for f in report.findings if f.code == code]


@pytest.fixture(scope="session")
def traffic() -> Traffic:
    """2,000 requests (about 32,000 spans) with every fault injected."""
    return generate(2000, seed=7)


@pytest.fixture(scope="session")
def traffic_file(traffic: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("generated") / "traffic.otlp.jsonl"
    path.write_bytes(b"".join(to_otlp_json_lines(traffic.spans)))
    return path


@pytest.fixture(scope="session")
def traffic_report(traffic_file: Path) -> Report:
    return check_paths([str(traffic_file)])
