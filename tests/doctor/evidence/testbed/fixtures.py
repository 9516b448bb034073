"""The three-service test bed (chain.py) as pytest fixtures, run once per test session.

Import them into a test module (``from testbed.fixtures import chain_runs``): a
conftest.py here would shadow ``tests/doctor/conftest.py``, which tests import by
name.  ``chain_runs`` runs A → B → C healthy and with each fault, into a temporary
directory: spans, JSON logs, and a tcpdump capture when this machine lets
tcpdump capture on ``lo`` (else ``ChainRun.capture_skipped`` says why).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chain import FAULTS, ChainRun, run_chain


@pytest.fixture(scope="session")
def chain_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ChainRun]:
    """Every fault of `FAULTS` (and the healthy chain), by name."""
    out = tmp_path_factory.mktemp("chain")
    return {name: run_chain(name, out) for name in FAULTS}


def capture_of(run: ChainRun) -> Path:
    """The run's capture, or skip the test with the reason there is none."""
    if run.capture is None:
        pytest.skip(f"no packet capture: {run.capture_skipped}")
    return run.capture
