"""Span names that are not strings: never raise, never drop the span (fuzzing found both)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import tracehound
from tracehound.runtime.export import OtlpJsonFileExporter

NOT_TEXT: list[Any] = [123, None, b"GET /", ("a", "b"), ["unhashable"], 1.5]


@pytest.mark.parametrize("mode", ["off", "warn", "strict"])
def test_start_span_with_a_name_that_is_not_text_does_not_raise(
    configure: Callable[..., Any], mode: str
) -> None:
    recorded = configure(mode=mode)
    tracer = trace.get_tracer("app")
    with tracehound.new_trace("GET /orders", kind=SpanKind.SERVER):
        for name in NOT_TEXT:
            with tracer.start_as_current_span(name):  # type: ignore[arg-type]
                pass
    names = [span.name for span in recorded.spans]
    assert len(names) == len(NOT_TEXT) + 1
    if mode == "off":
        assert names[:-1] == NOT_TEXT  # as plain OpenTelemetry keeps it
    else:  # in front of the exporters the policy makes it text (OTLP could not encode it)
        assert names[:-1] == [str(name) for name in NOT_TEXT]


@pytest.mark.parametrize("mode", ["warn", "strict"])
def test_update_name_with_a_number_keeps_the_span(configure: Callable[..., Any], mode: str) -> None:
    recorded = configure(mode=mode)
    with tracehound.new_trace("job") as span:
        span.update_name(456)  # type: ignore[arg-type]
    assert [s.name for s in recorded.spans] == ["456"]
    assert recorded.findings == []


def test_the_otlp_batch_still_encodes(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    tracehound.configure(
        span_exporter=OtlpJsonFileExporter(path), batch=False, log_correlation=False
    )
    try:
        with tracehound.new_trace("job") as span:
            span.update_name(7)  # type: ignore[arg-type]
    finally:
        tracehound.shutdown()
    request = json.loads(path.read_text().splitlines()[0])
    assert request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] == "7"


def test_drop_span_patterns_ignore_names_that_are_not_text(
    configure: Callable[..., Any],
) -> None:
    recorded = configure(drop_spans=["GET /healthz"])
    with tracehound.new_trace("GET /healthz"):
        pass
    with tracehound.new_trace(404):  # type: ignore[arg-type]
        pass
    assert [s.name for s in recorded.spans] == ["404"]
