"""The doctor tests' data: the shared corpora beside the repository and the sample files.

Imported by name (``from doctor_data import corpus``) rather than from conftest.py, so
that a test directory below may have a conftest.py of its own without shadowing these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
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


T0 = 1_767_225_600_000_000_000
"""2026-01-01 00:00 UTC in nanoseconds: the start of the hand-made spans."""
SECOND = 1_000_000_000


def otlp_span(trace: int, span: int, start: int, parent: str = "", kind: int = 2) -> dict[str, Any]:
    """An OTLP/JSON span of 100 ms named ``GET /items``, IDs from ``trace`` and ``span``."""
    return {
        "traceId": f"{trace:032x}",
        "spanId": f"{span:016x}",
        "parentSpanId": parent,
        "name": "GET /items",
        "kind": kind,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + SECOND // 10),
    }


def write_otlp(path: Path, spans: list[dict[str, Any]]) -> str:
    """``spans`` of the service ``shop`` as one OTLP/JSON request in ``path``."""
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]}
    doc = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}
    path.write_bytes(orjson.dumps(doc))
    return str(path)


def minute_of_traffic() -> list[dict[str, Any]]:
    """One request every half second for a minute: entry spans and their children."""
    spans = []
    for n in range(120):
        start = T0 + n * SECOND // 2
        spans.append(otlp_span(n + 1, 2 * n + 1, start))
        spans.append(otlp_span(n + 1, 2 * n + 2, start + 1000, parent=f"{2 * n + 1:016x}", kind=1))
    return spans
