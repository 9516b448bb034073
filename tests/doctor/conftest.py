"""Fixtures for the doctor's tests: generated traffic and its report (the data helpers
are in doctor_data)."""

from __future__ import annotations

from pathlib import Path

import pytest

# the data helpers, for tests written before they moved (import them from doctor_data)
from doctor_data import CORPORA, DATA, SAMPLES, codes, corpus  # noqa: F401

from tracehound.doctor import Report, check_paths
from tracehound.doctor._synthetic_writers import to_otlp_json_lines
from tracehound.doctor.synthetic import Traffic, generate


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
