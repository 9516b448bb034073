"""DropSpansSampler: low-value spans dropped by name or URL attribute, the rest delegated."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from tracehound.runtime.propagation import TracehoundPropagator
from tracehound.runtime.sampling import (
    DEFAULT_LOW_VALUE_PATTERNS,
    DROP_SPANS_ENV,
    DropSpansSampler,
    patterns_from_env,
)


@pytest.fixture(autouse=True)
def _no_env_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DROP_SPANS_ENV, raising=False)


def pipeline(sampler: Sampler) -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def exported(exporter: InMemorySpanExporter) -> list[str]:
    return [span.name for span in exporter.get_finished_spans()]


def test_matching_names_are_not_exported_others_are() -> None:
    tracer, exporter = pipeline(DropSpansSampler(["GET /healthz", "*/metrics", "/static/*"]))
    for name in ["GET /healthz", "GET /metrics", "/static/app.js", "GET /orders", "checkout"]:
        with tracer.start_as_current_span(name) as span:
            assert span.is_recording() == (name in {"GET /orders", "checkout"})
    assert exported(exporter) == ["GET /orders", "checkout"]


@pytest.mark.parametrize(
    "attributes",
    [
        {"url.path": "/healthz"},
        {"http.target": "/healthz?verbose=1"},
        {"url.full": "http://10.0.0.7:8080/healthz"},
        {"http.url": "https://api.example.com/healthz?probe=k8s"},
        {"http.route": "/healthz"},
    ],
    ids=lambda a: next(iter(a)),
)
def test_url_attributes_known_at_start_are_matched(attributes: dict[str, str]) -> None:
    tracer, exporter = pipeline(DropSpansSampler(["*/healthz"]))
    with tracer.start_as_current_span("GET", attributes=attributes):
        pass
    with tracer.start_as_current_span("GET", attributes={"url.path": "/orders"}):
        pass
    assert len(exporter.get_finished_spans()) == 1


def test_attribute_keys_can_be_chosen_and_non_text_values_are_ignored() -> None:
    tracer, exporter = pipeline(DropSpansSampler(["/internal/*"], attribute_keys=["rpc.method"]))
    with tracer.start_as_current_span("rpc", attributes={"rpc.method": "/internal/ping"}):
        pass
    with tracer.start_as_current_span("rpc", attributes={"url.path": "/internal/ping"}):
        pass
    with tracer.start_as_current_span("rpc", attributes={"rpc.method": 5}):
        pass
    assert len(exporter.get_finished_spans()) == 2


def test_url_attributes_are_found_in_any_mapping() -> None:
    """Samplers get the attributes as the caller gave them: a dict, a read-only
    proxy, OpenTelemetry's BoundedAttributes (another span's attributes)."""
    from types import MappingProxyType

    from opentelemetry.attributes import BoundedAttributes
    from opentelemetry.sdk.trace.sampling import Decision

    sampler = DropSpansSampler(["*/healthz"])
    decisions = (("/healthz", Decision.DROP), ("/orders", Decision.RECORD_AND_SAMPLE))
    for make in (dict, MappingProxyType, lambda a: BoundedAttributes(attributes=a)):
        for path, decision in decisions:
            attributes = make({"http.request.method": "GET", "url.path": path})
            result = sampler.should_sample(None, 1, "GET", attributes=attributes)
            assert result.decision is decision, (make, path)


def test_children_of_a_dropped_span_are_dropped_with_a_parent_based_delegate() -> None:
    tracer, exporter = pipeline(DropSpansSampler(["GET /healthz"]))
    headers: dict[str, str] = {}
    with (
        tracer.start_as_current_span("GET /healthz") as probe,
        tracer.start_as_current_span("SELECT 1") as query,
        tracer.start_as_current_span("connect"),
    ):
        TracehoundPropagator(report=False).inject(headers)
    assert exported(exporter) == []
    assert not query.is_recording()
    assert query.get_span_context().trace_id == probe.get_span_context().trace_id
    assert not int(headers["traceparent"][-2:], 16) & 0x01  # downstream told: not sampled


def test_children_of_a_dropped_span_with_a_parent_blind_delegate_are_orphans() -> None:
    """Why the default delegate is parent-based: ALWAYS_ON records the children."""
    tracer, exporter = pipeline(DropSpansSampler(["GET /healthz"], ALWAYS_ON))
    with (
        tracer.start_as_current_span("GET /healthz") as probe,
        tracer.start_as_current_span("SELECT 1"),
    ):
        pass
    (child,) = exporter.get_finished_spans()
    assert child.parent is not None
    assert child.parent.span_id == probe.get_span_context().span_id  # never exported


def test_a_sampled_remote_parent_does_not_save_a_matching_span() -> None:
    tracer, exporter = pipeline(DropSpansSampler(["GET /healthz"]))
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1))
    context = trace.set_span_in_context(NonRecordingSpan(remote))
    with tracer.start_as_current_span("GET /healthz", context=context):
        pass
    with tracer.start_as_current_span("GET /orders", context=context):
        pass
    assert exported(exporter) == ["GET /orders"]


def test_always_off_delegate_drops_everything() -> None:
    tracer, exporter = pipeline(DropSpansSampler(["GET /healthz"], ALWAYS_OFF))
    with tracer.start_as_current_span("GET /orders"):
        pass
    assert exported(exporter) == []


@pytest.mark.parametrize("trace_id", [1, 2**63, 2**64 - 1, 2**128 - 1])
def test_trace_id_ratio_delegate_decides_what_is_not_dropped(trace_id: int) -> None:
    ratio = TraceIdRatioBased(0.5)
    sampler = DropSpansSampler(["GET /healthz"], ratio)
    for name in ["GET /orders", "checkout"]:
        expected = ratio.should_sample(None, trace_id, name).decision
        assert sampler.should_sample(None, trace_id, name).decision == expected
    assert sampler.should_sample(None, trace_id, "GET /healthz").decision == Decision.DROP


def test_drop_keeps_the_parent_trace_state() -> None:
    state = TraceState([("vendor", "x")])
    parent = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    context = trace.set_span_in_context(NonRecordingSpan(parent))
    result = DropSpansSampler(["GET /healthz"]).should_sample(context, 0xABC, "GET /healthz")
    assert result.decision == Decision.DROP
    assert result.trace_state == state
    assert dict(result.attributes) == {}


@pytest.mark.parametrize(
    "name",
    [
        "GET /healthz",
        "HEAD /health",
        "GET /actuator/health",
        "GET /actuator/health/liveness",
        "GET /q/health/ready",
        "/livez",
        "GET /readyz",
        "GET /metrics",
        "GET /favicon.ico",
        "GET /static/css/site.css",
    ],
)
def test_default_patterns_drop_checks_scrapes_and_static_files(name: str) -> None:
    sampler = DropSpansSampler(DEFAULT_LOW_VALUE_PATTERNS)
    assert sampler.should_sample(None, 1, name).decision == Decision.DROP
    attributes = {"url.path": name.rsplit(" ", maxsplit=1)[-1]}
    assert sampler.should_sample(None, 1, "GET", attributes=attributes).decision == Decision.DROP


@pytest.mark.parametrize(
    "name", ["GET /orders/{id}", "GET /healthy-recipes", "POST /metrics-export", "checkout"]
)
def test_default_patterns_keep_real_work(name: str) -> None:
    sampler = DropSpansSampler(DEFAULT_LOW_VALUE_PATTERNS)
    assert sampler.should_sample(None, 1, name).decision == Decision.RECORD_AND_SAMPLE


def test_description_names_patterns_and_delegate() -> None:
    description = DropSpansSampler(["GET /healthz", "*/metrics"], ALWAYS_ON).get_description()
    assert (
        description
        == "DropSpansSampler{patterns=[GET /healthz,*/metrics],delegate=AlwaysOnSampler}"
    )
    assert "ParentBased{root:AlwaysOnSampler" in DropSpansSampler([]).get_description()


def test_no_patterns_only_delegates() -> None:
    tracer, exporter = pipeline(DropSpansSampler([]))
    with tracer.start_as_current_span("GET /healthz"):
        pass
    assert exported(exporter) == ["GET /healthz"]


def test_a_single_string_is_one_pattern() -> None:
    assert DropSpansSampler("GET /healthz").patterns == ("GET /healthz",)


def test_env_adds_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DROP_SPANS_ENV, " /internal/* , ,GET /debug,GET /healthz")
    sampler = DropSpansSampler(["GET /healthz"])
    assert sampler.patterns == ("GET /healthz", "/internal/*", "GET /debug")
    assert sampler.should_sample(None, 1, "/internal/x").decision == Decision.DROP
    assert patterns_from_env({DROP_SPANS_ENV: "a,b"}) == ("a", "b")
    assert patterns_from_env({}) == ()


@pytest.mark.parametrize("value", ["/ok,*", "**"])
def test_bad_env_pattern_names_the_variable_and_pattern(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(DROP_SPANS_ENV, value)
    bad = value.rsplit(",", maxsplit=1)[-1]
    with pytest.raises(ValueError, match=rf"{DROP_SPANS_ENV}: '\*+' would drop every span") as e:
        DropSpansSampler([])
    assert repr(bad) in str(e.value)


@pytest.mark.parametrize("pattern", ["", "  ", "*", None])
def test_bad_argument_pattern(pattern: object) -> None:
    with pytest.raises(ValueError, match="pattern"):
        DropSpansSampler([pattern])  # type: ignore[list-item]


def test_memo_is_bounded_and_decisions_survive_clearing() -> None:
    sampler = DropSpansSampler(["GET /healthz"])
    for i in range(5000):
        assert sampler.should_sample(None, 1, f"GET /orders/{i}").decision.is_sampled()
    assert len(sampler._memo) <= 4096
    assert sampler.should_sample(None, 1, "GET /healthz").decision == Decision.DROP
