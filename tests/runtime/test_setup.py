"""configure()/shutdown(): exporters from the environment, reconfiguring, counting drops."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

import tracehound
from tracehound.runtime._exporters import exporters_from_env as _exporters_from_env


class Stalled(SpanExporter):
    """An exporter stuck on a dead collector until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.received = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.received += len(spans)
        self.release.wait(30)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def test_every_dropped_span_is_counted(configure: Callable[..., Any]) -> None:
    configure()  # installs the in-memory recorder; now reconfigure with a stalled exporter
    exporter = Stalled()
    runtime = tracehound.configure(span_exporter=exporter, log_correlation=False)
    tracer = trace.get_tracer("t")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER):
        for _ in range(3000):
            with tracer.start_as_current_span("child"):
                pass
    counting = runtime.processors[-1]
    queued = len(counting._queue)  # type: ignore[attr-defined]
    assert runtime.dropped_spans > 0
    assert runtime.dropped_spans + queued + exporter.received == 3001
    assert tracehound.findings.summary().by_code["L007"] == runtime.dropped_spans
    exporter.release.set()


def test_configure_twice_reconfigures_in_place(configure: Callable[..., Any]) -> None:
    first = configure()
    provider = trace.get_tracer_provider()
    second = configure(inject=["tracecontext", "jaeger"])
    assert trace.get_tracer_provider() is provider
    with tracehound.span("s", kind=SpanKind.SERVER):
        headers = tracehound.inject()
    assert "uber-trace-id" in headers
    assert [s.name for s in second.spans] == ["s"]
    assert first.spans == ()  # the first exporter is no longer in the chain
    assert isinstance(propagate.get_global_textmap(), tracehound.TracehoundPropagator)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("none", []),
        ("console", ["ConsoleSpanExporter"]),
        ("console,none", ["ConsoleSpanExporter"]),
        ("otlp", ["OTLPSpanExporter"]),
    ],
)
def test_exporters_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", value)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert [type(e).__name__ for e in _exporters_from_env()] == expected


def test_unknown_exporter_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaegre")
    with pytest.raises(
        tracehound.ConfigurationError,
        match=r"OTEL_TRACES_EXPORTER: unknown exporter 'jaegre'.*console",
    ):
        _exporters_from_env()


def test_unknown_otlp_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    with pytest.raises(tracehound.ConfigurationError, match="unknown protocol 'carrier-pigeon'"):
        _exporters_from_env()


def test_low_value_spans_are_switched_off(configure: Callable[..., Any]) -> None:
    recorded = configure(drop_spans=["GET /internal/*"])
    for name in ("GET /healthz", "GET /internal/debug", "GET /orders"):
        with tracehound.span(name, kind=SpanKind.SERVER):
            pass
    assert [s.name for s in recorded.spans] == ["GET /orders"]


def test_bad_drop_pattern_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEHOUND_DROP_SPANS", "/ok,***")
    with pytest.raises(tracehound.ConfigurationError, match="TRACEHOUND_DROP_SPANS"):
        tracehound.configure(span_exporter=None, log_correlation=False)


def test_secrets_are_redacted_before_any_exporter(configure: Callable[..., Any]) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    recorded = configure()
    added_later = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(  # type: ignore[attr-defined]
        SimpleSpanProcessor(added_later)
    )
    token = (  # a made-up JWT
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    )
    with tracehound.span("login", kind=SpanKind.SERVER) as span:
        span.set_attribute("user.token", "s3cr3t-value")
        span.set_attribute("request.note", f"retrying with Bearer {token}")
    for exporter in (recorded.exporter, added_later):
        (exported,) = exporter.get_finished_spans()
        text = repr(dict(exported.attributes))
        assert "s3cr3t-value" not in text
        assert token not in text
        assert exported.attributes["user.token"] == "[REDACTED]"
    assert {"A004", "A005"} <= set(recorded.codes())


def test_batched_spans_are_redacted_in_front_of_the_exporter(
    configure: Callable[..., Any],
) -> None:
    """With the batch processor the policy runs in the export thread, before the exporter."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    recorded = configure(batch=True)
    provider = trace.get_tracer_provider()
    with tracehound.span("login", kind=SpanKind.SERVER) as span:
        span.set_attribute("user.token", "s3cr3t-value")
    provider.force_flush()  # type: ignore[attr-defined]
    (exported,) = recorded.exporter.get_finished_spans()
    assert exported.attributes["user.token"] == "[REDACTED]"
    assert recorded.codes().count("A004") == 1
    # a processor added later: it gets checked spans, the batch still redacts, and each
    # finding is reported once, in the thread that ended the span
    added_later = InMemorySpanExporter()
    added_later_processor = SimpleSpanProcessor(added_later)
    provider.add_span_processor(added_later_processor)  # type: ignore[attr-defined]
    with tracehound.span("login", kind=SpanKind.SERVER) as span:
        span.set_attribute("user.token", "s3cr3t-value")
    assert recorded.codes().count("A004") == 2
    provider.force_flush()  # type: ignore[attr-defined]
    for exporter in (recorded.exporter, added_later):
        exported = exporter.get_finished_spans()[-1]
        assert exported.attributes["user.token"] == "[REDACTED]"
    assert len(recorded.exporter.get_finished_spans()) == 2
    assert recorded.codes().count("A004") == 2
    # taken out again (the pytest plugin does): the export side reports once more
    provider._active_span_processor.remove_span_processor(added_later_processor)  # type: ignore[attr-defined]
    with tracehound.span("login", kind=SpanKind.SERVER) as span:
        span.set_attribute("user.token", "s3cr3t-value")
    provider.force_flush()  # type: ignore[attr-defined]
    assert len(added_later.get_finished_spans()) == 1
    assert recorded.exporter.get_finished_spans()[-1].attributes["user.token"] == "[REDACTED]"
    assert recorded.codes().count("A004") == 3


def test_mode_off_leaves_attributes_alone(configure: Callable[..., Any]) -> None:
    recorded = configure(mode="off")
    with tracehound.span("login", kind=SpanKind.SERVER) as span:
        span.set_attribute("user.token", "s3cr3t-value")
    assert recorded.named("login").attributes["user.token"] == "s3cr3t-value"


def test_bad_attribute_config_is_a_configuration_error() -> None:
    with pytest.raises(tracehound.ConfigurationError, match="A004"):
        tracehound.configure(span_exporter=None, log_correlation=False,
                             attribute_policy={"actions": {"A004": "fix"}})


def test_unknown_otel_propagator_names_the_installed_ones() -> None:
    from tracehound.runtime import check_otel_propagators

    check_otel_propagators({"OTEL_PROPAGATORS": "tracehound,baggage"})
    check_otel_propagators({"OTEL_PROPAGATORS": "none"})
    with pytest.raises(tracehound.ConfigurationError,
                       match=r"unknown propagator 'w3c'; installed: .*tracecontext.*tracehound"):
        check_otel_propagators({"OTEL_PROPAGATORS": "tracecontext,w3c"})


def test_unknown_otel_propagator_fails_clearly_at_import() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "OTEL_PROPAGATORS": "jaegr"}
    result = subprocess.run([sys.executable, "-c", "import tracehound; tracehound.configure"],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 1
    assert "ConfigurationError: OTEL_PROPAGATORS: unknown propagator 'jaegr'" in result.stderr
    assert "jaeger" in result.stderr


def test_only_hooks_with_a_body_are_called_per_span() -> None:
    """BatchSpanProcessor.on_start is ``pass``: the chain skips it, and nothing else."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    from tracehound.runtime.setup import _does_nothing

    class Probe:
        def documented(self, span: object) -> None:
            """Only a docstring."""

        def returns_none(self, span: object) -> None:
            return None

        def returns_one(self, span: object) -> int:
            return 1

        def calls(self, span: object) -> None:
            print(span)

    batch = BatchSpanProcessor(ConsoleSpanExporter())
    try:
        assert _does_nothing(batch.on_start)
        assert not _does_nothing(batch.on_end)
    finally:
        batch.shutdown()
    probe = Probe()
    assert _does_nothing(probe.documented)
    assert _does_nothing(probe.returns_none)
    assert not _does_nothing(probe.returns_one)
    assert not _does_nothing(probe.calls)
    assert not _does_nothing(print)  # a builtin: no bytecode to judge, so it is called


def test_the_chain_calls_every_other_processor_for_every_span() -> None:
    """Only RootGuard's own on_start is kept for root spans; subclasses and odd hooks
    (a staticmethod) see every span."""
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from tracehound.findings import report
    from tracehound.runtime.guards import RootGuard
    from tracehound.runtime.setup import _Processors

    seen: list[str] = []

    class EverySpan(RootGuard):
        def on_start(self, span, parent_context=None):  # type: ignore[no-untyped-def]
            seen.append(f"sub:{span.name}")

    class Static(SpanProcessor):
        @staticmethod
        def on_start(span, parent_context=None):  # type: ignore[no-untyped-def]
            seen.append(f"static:{span.name}")

    chain = _Processors()
    chain.processors = (RootGuard(report), EverySpan(report), Static())
    tracer = TracerProvider(active_span_processor=chain).get_tracer("t")  # type: ignore[arg-type]
    with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
        pass
    assert seen == ["sub:root", "static:root", "sub:child", "static:child"]


def test_on_ending_hooks_run_only_when_a_processor_has_one() -> None:
    """The SDK calls ``_on_ending`` on every span end: with no processor behind that
    has one it is a C no-op; one added later runs, for every span, before on_end."""
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from tracehound.findings import report
    from tracehound.runtime.guards import LifecycleGuard, RootGuard
    from tracehound.runtime.setup import _does_nothing, _Processors

    seen: list[str] = []

    class Ending(SpanProcessor):
        def _on_ending(self, span):  # type: ignore[no-untyped-def]
            seen.append(f"ending:{span.name}")

        def on_end(self, span):  # type: ignore[no-untyped-def]
            seen.append(f"end:{span.name}")

    guard = LifecycleGuard(report, open_limit=None)
    chain = _Processors()
    chain.processors = (RootGuard(report), guard)
    assert _does_nothing(chain._on_ending)
    tracer = TracerProvider(active_span_processor=chain).get_tracer("t")  # type: ignore[arg-type]
    with tracer.start_as_current_span("before"):
        pass
    chain.add_span_processor(Ending())
    chain.add_span_processor(Ending())
    assert not _does_nothing(chain._on_ending)
    with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
        pass
    assert seen == [
        *["ending:child", "ending:child", "end:child", "end:child"],
        *["ending:root", "ending:root", "end:root", "end:root"],
    ]
    assert guard.open_spans() == []
    chain.processors = (RootGuard(report), guard)  # and taken out again
    assert _does_nothing(chain._on_ending)
    guard.shutdown()


def test_a_leading_guard_hands_each_span_to_every_processor_behind_in_order() -> None:
    """The lifecycle guard leads the chain (one call per span): one processor behind
    is called directly, several in order, none is nothing to call."""
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from tracehound.findings import report
    from tracehound.runtime.guards import LifecycleGuard
    from tracehound.runtime.setup import _Processors

    seen: list[str] = []

    class Named(SpanProcessor):
        def __init__(self, name: str) -> None:
            self.name = name

        def on_end(self, span):  # type: ignore[no-untyped-def]
            seen.append(f"{self.name}:{span.name}")

    guard = LifecycleGuard(report, open_limit=None)
    chain = _Processors()
    tracer = TracerProvider(active_span_processor=chain).get_tracer("t")  # type: ignore[arg-type]
    for behind in ((), (Named("a"),), (Named("a"), Named("b"), Named("c"))):
        seen.clear()
        chain.processors = (guard, *behind)
        assert chain.on_end == guard.on_end  # the SDK calls the guard itself
        with tracer.start_as_current_span("span"):
            assert len(guard.open_spans()) == 1
        assert guard.open_spans() == []
        assert seen == [f"{p.name}:span" for p in behind]
    guard.shutdown()


@pytest.mark.parametrize(
    ("file_mode", "env_mode", "argument", "expected"),
    [
        ("off", None, None, "off"),
        ("strict", None, None, "strict"),
        ("off", "strict", None, "strict"),  # the environment wins over the file
        ("off", "strict", "warn", "warn"),  # the argument wins over both
    ],
)
def test_the_config_file_mode_applies(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, file_mode: str, env_mode: str | None,
    argument: str | None, expected: str,
) -> None:
    config = tmp_path / "tracehound.toml"
    config.write_text(f'mode = "{file_mode}"\n')
    monkeypatch.setenv("TRACEHOUND_CONFIG", str(config))
    if env_mode:
        monkeypatch.setenv("TRACEHOUND_MODE", env_mode)
    else:
        monkeypatch.delenv("TRACEHOUND_MODE", raising=False)
    runtime = tracehound.configure(span_exporter=None, log_correlation=False, mode=argument)
    try:
        assert runtime.mode.value == expected
        assert runtime.policy.mode.value == expected
        assert (runtime.roots is None) is (expected == "off")
    finally:
        tracehound.shutdown()


def test_a_malformed_config_file_is_a_configuration_error(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_bytes(b"[tool.tracehound]\nmode = \"warn\"\nnote = \"caf\xe9\"\n")
    monkeypatch.setenv("TRACEHOUND_CONFIG", str(config))
    with pytest.raises(tracehound.ConfigurationError, match=r"pyproject.toml: line 3: not UTF-8"):
        tracehound.configure(span_exporter=None, log_correlation=False)
