"""Putting the chain in front of a provider tracehound did not create, and naming what it cannot."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracehound.runtime._placement import held_processors, take_over, unguarded_reason


class Chain(SynchronousMultiSpanProcessor):
    """Stands in for tracehound's switchboard: records what reaches it."""

    def remove_span_processor(self, processor: SpanProcessor) -> None:
        self._span_processors = tuple(p for p in self._span_processors if p is not processor)


def test_take_over_moves_earlier_processors_and_catches_later_ones() -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    earlier = SimpleSpanProcessor(InMemorySpanExporter())
    provider.add_span_processor(earlier)
    tracer = provider.get_tracer("made-before")  # holds the provider's multi-processor
    chain = Chain()
    assert held_processors(provider, chain) == ([earlier], "")
    assert take_over(provider, chain) == [earlier]
    later = SimpleSpanProcessor(InMemorySpanExporter())
    provider.add_span_processor(later)
    assert provider._active_span_processor._span_processors == (chain,)
    assert chain._span_processors == (later,)
    with tracer.start_as_current_span("s"):
        pass
    assert [s.name for s in later.span_exporter.get_finished_spans()] == ["s"]
    assert take_over(provider, chain) == []  # again: harmless
    provider._active_span_processor.remove_span_processor(later)
    assert chain._span_processors == ()


def test_concurrent_multi_processor_is_taken_over_too() -> None:
    provider = TracerProvider(
        active_span_processor=ConcurrentMultiSpanProcessor(2), shutdown_on_exit=False
    )
    earlier = SimpleSpanProcessor(InMemorySpanExporter())
    provider.add_span_processor(earlier)
    assert take_over(provider, Chain()) == [earlier]


class Custom(SpanProcessor):
    pass


def test_an_unknown_active_processor_is_named() -> None:
    provider = TracerProvider(active_span_processor=Custom(), shutdown_on_exit=False)
    held, reason = held_processors(provider, Chain())
    assert held == []
    assert "span processor is a test_placement.Custom" in reason
    assert "cannot put itself in front" in reason


class OnStartExporter(SpanProcessor):
    def __init__(self) -> None:
        self.exporter = ConsoleSpanExporter()

    def on_start(self, span, parent_context=None):  # type: ignore[no-untyped-def]
        self.exporter.export([span])


class Enricher(SpanProcessor):
    """Sets an attribute at start; exports nothing (like BaggageSpanProcessor)."""

    def on_start(self, span, parent_context=None):  # type: ignore[no-untyped-def]
        span.set_attribute("tenant", "t1")


class EndExporter(SpanProcessor):
    """Exports in on_end: behind the policy it receives the redacted span."""

    def __init__(self) -> None:
        self.exporter = ConsoleSpanExporter()

    def on_end(self, span):  # type: ignore[no-untyped-def]
        self.exporter.export([span])


def test_only_processors_that_export_before_the_span_ends_are_unguardable() -> None:
    assert unguarded_reason(BatchSpanProcessor(ConsoleSpanExporter())) == ""
    assert unguarded_reason(SimpleSpanProcessor(ConsoleSpanExporter())) == ""
    assert unguarded_reason(Enricher()) == ""
    assert unguarded_reason(EndExporter()) == ""
    reason = unguarded_reason(OnStartExporter())
    assert reason.startswith("test_placement.OnStartExporter holds an exporter and its on_start")
    nested = SynchronousMultiSpanProcessor()
    nested.add_span_processor(Enricher())
    nested.add_span_processor(OnStartExporter())
    assert "OnStartExporter" in unguarded_reason(nested)


FOREIGN = """
import logging, sys
from opentelemetry import trace
import tracehound
logging.basicConfig(level=logging.WARNING)
trace.set_tracer_provider(trace.NoOpTracerProvider())
try:
    runtime = tracehound.configure(mode=sys.argv[1], span_exporter=None)
except tracehound.ConfigurationError as exc:
    print("ConfigurationError:", exc)
    sys.exit(3)
print("unguarded:", runtime.unguarded)
"""


def test_a_non_sdk_provider_fails_strict_mode_and_is_named_otherwise() -> None:
    def run(mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(FOREIGN), mode],
            capture_output=True, text=True, timeout=60, check=False,
            env={"OTEL_TRACES_EXPORTER": "none", "PATH": ""},
        )

    strict = run("strict")
    assert strict.returncode == 3, strict.stderr
    assert "ConfigurationError: the global tracer provider is a " \
        "opentelemetry.trace.NoOpTracerProvider, not the OpenTelemetry SDK's" in strict.stdout
    warn = run("warn")
    assert warn.returncode == 0, warn.stderr
    assert "WARNING:tracehound:tracehound: the global tracer provider is a " \
        "opentelemetry.trace.NoOpTracerProvider" in warn.stderr
    assert "secrets are not redacted" in warn.stdout


GIVE_BACK = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import tracehound

provider = TracerProvider()
mine = InMemorySpanExporter()
processor = SimpleSpanProcessor(mine)
provider.add_span_processor(processor)
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("t")

def secret_span(name):
    with tracer.start_as_current_span(name) as span:
        span.set_attribute("api_token", "tok-4c9e1a7f3b2d8e60")

tracehound.configure(span_exporter=None, batch=False, log_correlation=False)
secret_span("configured")
tracehound.shutdown()
assert provider._active_span_processor._span_processors == (processor,)
assert type(provider._active_span_processor).__name__ == "SynchronousMultiSpanProcessor"
secret_span("after shutdown")          # as before configure(): tracehound is gone
tracehound.configure(span_exporter=None, batch=False, log_correlation=False)
secret_span("configured again")
tracehound.shutdown()
for span in mine.get_finished_spans():
    print(span.name, span.attributes["api_token"])
"""


def test_shutdown_gives_the_processors_back_and_configure_takes_them_again() -> None:
    result = subprocess.run(
        [sys.executable, "-c", GIVE_BACK], capture_output=True, text=True, timeout=60,
        check=False, env={"OTEL_TRACES_EXPORTER": "none", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "configured [REDACTED]",
        "after shutdown tok-4c9e1a7f3b2d8e60",
        "configured again [REDACTED]",
    ]


ADDED_LATER = """
import logging, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
import tracehound

class OnStartExporter(SpanProcessor):
    def __init__(self):
        self.exporter = ConsoleSpanExporter()
    def on_start(self, span, parent_context=None):
        self.exporter.export([span])

logging.basicConfig(level=logging.WARNING)
runtime = tracehound.configure(mode=sys.argv[1], span_exporter=None, log_correlation=False)
try:
    trace.get_tracer_provider().add_span_processor(OnStartExporter())
except tracehound.ConfigurationError as exc:
    print("ConfigurationError:", exc)
    sys.exit(3)
print("unguarded:", runtime.unguarded)
"""


def test_an_unguardable_processor_added_later_fails_strict_mode_and_is_named_otherwise() -> None:
    def run(mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", ADDED_LATER, mode], capture_output=True, text=True,
            timeout=60, check=False, env={"OTEL_TRACES_EXPORTER": "none", "PATH": ""},
        )

    strict = run("strict")
    assert strict.returncode == 3, strict.stderr
    assert "ConfigurationError: tracehound cannot keep secrets from: __main__.OnStartExporter " \
        "holds an exporter and its on_start sees each span before" in strict.stdout
    warn = run("warn")
    assert warn.returncode == 0, warn.stderr
    assert "WARNING:tracehound:tracehound: the attribute policy cannot protect this: " \
        "__main__.OnStartExporter" in warn.stderr
    assert "unguarded: ['__main__.OnStartExporter holds an exporter" in warn.stdout
    assert run("off").stdout.strip() == "unguarded: []"  # mode off claims nothing
