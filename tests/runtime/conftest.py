"""A configured tracehound runtime per test, exporting to memory."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracehound
from tracehound import findings


class Recorded:
    """The spans and findings one test produced."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter
        self.findings: list[tracehound.Finding] = []

    @property
    def spans(self):  # type: ignore[no-untyped-def]
        return self.exporter.get_finished_spans()

    def named(self, name: str):  # type: ignore[no-untyped-def]
        matches = [s for s in self.spans if s.name == name]
        assert matches, f"no span {name!r} among {[s.name for s in self.spans]}"
        return matches[0]

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]


@pytest.fixture
def configure() -> Iterator[Callable[..., Recorded]]:
    made: list[Recorded] = []
    listeners: list[Callable[[tracehound.Finding], None]] = []

    def setup(**kwargs: object) -> Recorded:
        exporter = InMemorySpanExporter()
        recorded = Recorded(exporter)
        findings.reset()
        listener = recorded.findings.append
        findings.add_listener(listener)
        listeners.append(listener)
        kwargs.setdefault("batch", False)
        kwargs.setdefault("log_correlation", False)
        tracehound.configure(span_exporter=exporter, **kwargs)  # type: ignore[arg-type]
        made.append(recorded)
        return recorded

    yield setup
    with contextlib.suppress(tracehound.TraceViolation):
        tracehound.shutdown()
    for listener in listeners:
        findings.remove_listener(listener)
    findings.reset()
