"""In-process enforcement: every span, before any exporter, copied only when it breaks a rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tracehound import findings
from tracehound.attributes import (
    REDACTED_ATTRIBUTE,
    AttributePolicy,
    AttributePolicyProcessor,
    Mode,
    PolicyViolation,
)
from tracehound.rules import Finding

FAKE = "Zx81" + "kQ2mN9vLp4Rt7Ws3Yb6Hc"
ALL_FIX = {"actions": {"A001": "fix", "A002": "fix", "A003": "fix", "A006": "fix", "A007": "fix"}}


class Recorder(SpanProcessor):
    """Keeps every span object it receives."""

    def __init__(self) -> None:
        self.started: list[Span] = []
        self.ended: list[ReadableSpan] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started.append(span)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


@pytest.fixture(autouse=True)
def reported() -> Iterator[list[Finding]]:
    seen: list[Finding] = []
    findings.reset()
    findings.add_listener(seen.append)
    yield seen
    findings.remove_listener(seen.append)
    findings.reset()


def pipeline(
    mode: Mode = Mode.WARN, overrides: dict[str, Any] | None = None, **provider: Any
) -> tuple[TracerProvider, InMemorySpanExporter]:
    policy = AttributePolicy.from_config(mode=mode, overrides=overrides, env={})
    tracer_provider = TracerProvider(
        active_span_processor=policy.processor(), shutdown_on_exit=False, **provider
    )
    exporter = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider, exporter


def test_clean_span_is_passed_on_without_a_copy() -> None:
    processor = AttributePolicyProcessor(AttributePolicy(), recorder := Recorder())
    provider = TracerProvider(active_span_processor=processor, shutdown_on_exit=False)
    tracer = provider.get_tracer("t")
    sent: list[ReadableSpan] = []
    original_on_end = processor.on_end

    def spy(span: ReadableSpan) -> None:
        sent.append(span)
        original_on_end(span)

    processor.on_end = spy  # type: ignore[method-assign]
    with tracer.start_as_current_span("GET /orders/{id}", attributes={"order.id": 7, "a.b": "x"}):
        pass
    assert recorder.ended[0] is sent[0]


def test_secrets_redacted_key_kept_and_recorded(reported: list[Finding]) -> None:
    provider, exporter = pipeline()
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("login") as span:
        span.set_attribute("user.token", FAKE)
        span.set_attribute(
            "url.full", f"https://bob:{FAKE}@api.example.com/x?access_token={FAKE}&a=1"
        )
        span.set_attribute("card", "4111 1111 1111 1111")
        span.set_attribute("safe", "ok")
    [exported] = exporter.get_finished_spans()
    attributes = dict(exported.attributes)
    assert attributes["user.token"] == "[REDACTED]"
    assert (
        attributes["url.full"]
        == "https://bob:[REDACTED]@api.example.com/x?access_token=[REDACTED]&a=1"
    )
    assert attributes["card"] == "[REDACTED]"
    assert attributes["safe"] == "ok"
    assert set(attributes[REDACTED_ATTRIBUTE]) == {
        "user.token:token",
        "url.full:secret_param",
        "url.full:url_password",
        "card:card_number",
    }
    assert FAKE not in repr(exported.to_json())
    codes = sorted(f.code for f in reported)
    assert codes == ["A004", "A005", "A005"]
    assert all(FAKE not in str(f) and FAKE not in repr(f.details) for f in reported)
    assert all(f.trace_id and f.span_id and f.location.startswith("span 'login'") for f in reported)


def test_fix_actions() -> None:
    provider, exporter = pipeline(overrides=ALL_FIX)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("GET /orders/8412", kind=SpanKind.SERVER) as span:
        span.set_attributes(
            {
                "userId": "u-1",
                "http.status_code": "200",
                "error": "timeout",
                "order.amount": "42.50",
                "net.peer.name": "10.0.0.1",
                "http.target": "/orders/8412?x=1",
            }
        )
    [exported] = exporter.get_finished_spans()
    assert exported.name == "GET /orders/{id}"
    assert dict(exported.attributes) == {
        "user_id": "u-1",
        "http.response.status_code": 200,
        "error": True,
        "order.amount": 42.5,
        "client.address": "10.0.0.1",
        "url.path": "/orders/8412",
        "url.query": "x=1",
    }
    assert exported.status.status_code is StatusCode.ERROR
    assert exported.status.description == "timeout"


def test_fix_does_not_overwrite_an_existing_key() -> None:
    provider, exporter = pipeline(overrides=ALL_FIX)
    with provider.get_tracer("t").start_as_current_span("x") as span:
        span.set_attributes(
            {"http.method": "GET", "http.request.method": "POST", "userId": "a", "user_id": "b"}
        )
    attributes = dict(exporter.get_finished_spans()[0].attributes)
    assert attributes == {
        "http.method": "GET",
        "http.request.method": "POST",
        "userId": "a",
        "user_id": "b",
    }


def test_error_fix_keeps_an_explicit_status() -> None:
    provider, exporter = pipeline(overrides=ALL_FIX)
    with provider.get_tracer("t").start_as_current_span("x") as span:
        span.set_status(StatusCode.ERROR, "boom")
        span.set_attribute("error", "timeout")
    status = exporter.get_finished_spans()[0].status
    assert (status.status_code, status.description) == (StatusCode.ERROR, "boom")


def test_drop_action_removes_but_records() -> None:
    provider, exporter = pipeline(overrides={"actions": {"A004": "drop", "A001": "drop"}})
    with provider.get_tracer("t").start_as_current_span("x") as span:
        span.set_attributes({"password": "hunter2", "Bad Key": 1, "good": 2})
    attributes = dict(exporter.get_finished_spans()[0].attributes)
    assert attributes == {"good": 2, REDACTED_ATTRIBUTE: ("password:password (dropped)",)}


def test_report_action_keeps_the_value(reported: list[Finding]) -> None:
    provider, exporter = pipeline(overrides={"actions": {"A004": "report"}})
    with provider.get_tracer("t").start_as_current_span("x") as span:
        span.set_attribute("password", "hunter2")
    assert dict(exporter.get_finished_spans()[0].attributes) == {"password": "hunter2"}
    assert [f.code for f in reported] == ["A004"]


def test_secrets_in_events_and_resource_are_redacted(reported: list[Finding]) -> None:
    resource = Resource({"service.name": "shop", "deploy.token": FAKE})
    provider, exporter = pipeline(resource=resource)
    tracer = provider.get_tracer("t")
    for _ in range(2):
        with tracer.start_as_current_span("x") as span:
            span.add_event("exception", {"exception.message": f"auth failed: Bearer {FAKE}"})
    spans = exporter.get_finished_spans()
    for exported in spans:
        assert FAKE not in exported.to_json()
        assert exported.resource.attributes["deploy.token"] == "[REDACTED]"
        assert exported.resource.attributes["service.name"] == "shop"
        assert (
            exported.events[0].attributes["exception.message"] == "auth failed: Bearer [REDACTED]"
        )
        assert "exception/exception.message:bearer" in exported.attributes[REDACTED_ATTRIBUTE]
    resource_findings = [f for f in reported if f.details.get("scope") == "resource"]
    assert len(resource_findings) == 1  # once per resource, not once per span


def test_processors_added_later_sit_behind_the_policy() -> None:
    provider, _ = pipeline()
    late = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(late))
    with provider.get_tracer("t").start_as_current_span("x") as span:
        span.set_attribute("api_key", FAKE)
    assert dict(late.get_finished_spans()[0].attributes)["api_key"] == "[REDACTED]"


def test_wrapped_processors_and_exporter() -> None:
    policy = AttributePolicy()
    inner = InMemorySpanExporter()
    wrapped = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(policy.processor(SimpleSpanProcessor(inner)))
    provider.add_span_processor(SimpleSpanProcessor(policy.exporter(wrapped)))
    with provider.get_tracer("t").start_as_current_span("x") as span:
        span.set_attribute("password", "hunter2")
    for exporter in (inner, wrapped):
        assert dict(exporter.get_finished_spans()[0].attributes)["password"] == "[REDACTED]"


def test_off_mode_changes_nothing(reported: list[Finding]) -> None:
    provider, exporter = pipeline(mode=Mode.OFF)
    with provider.get_tracer("t").start_as_current_span("GET /orders/1") as span:
        span.set_attribute("password", "hunter2")
    assert dict(exporter.get_finished_spans()[0].attributes) == {"password": "hunter2"}
    assert reported == []


def test_policy_failure_drops_the_span(monkeypatch: pytest.MonkeyPatch) -> None:
    provider, exporter = pipeline()
    processor = provider._active_span_processor
    assert isinstance(processor, AttributePolicyProcessor)

    def broken(span: ReadableSpan) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(processor._enforcer, "enforce", broken)
    with provider.get_tracer("t").start_as_current_span("x") as span:
        span.set_attribute("password", "hunter2")
    assert exporter.get_finished_spans() == ()
    assert processor.dropped_on_error == 1


class TestStrict:
    def test_set_attribute_raises_before_storing(self) -> None:
        provider, exporter = pipeline(mode=Mode.STRICT)
        with provider.get_tracer("t").start_as_current_span("x") as span:
            with pytest.raises(PolicyViolation) as error:
                span.set_attribute("user.token", FAKE)
            span.set_attribute("ok", 1)
        assert error.value.code == "A004"
        assert error.value.key == "user.token"
        assert "tracehound redacts" in error.value.fix
        assert FAKE not in str(error.value)
        assert dict(exporter.get_finished_spans()[0].attributes) == {"ok": 1}

    def test_set_attributes_and_update_name_raise(self) -> None:
        provider, _ = pipeline(mode=Mode.STRICT)
        with provider.get_tracer("t").start_as_current_span("x") as span:
            with pytest.raises(PolicyViolation, match="A001 attribute-name-style"):
                span.set_attributes({"ok": 1, "userId": 2})
            with pytest.raises(PolicyViolation, match=r"A007.*GET /orders/\{id\}"):
                span.update_name("GET /orders/8412")

    def test_start_attributes_raise_and_the_span_still_ends(self) -> None:
        provider, exporter = pipeline(mode=Mode.STRICT)
        with pytest.raises(PolicyViolation, match="A002"):
            provider.get_tracer("t").start_span("x", attributes={"error": "timeout"})
        assert len(exporter.get_finished_spans()) == 1

    def test_bad_span_name_raises_at_start(self) -> None:
        provider, _ = pipeline(mode=Mode.STRICT)
        with pytest.raises(PolicyViolation, match="A007"):
            provider.get_tracer("t").start_span("GET /orders/8412")

    def test_clean_spans_pass(self) -> None:
        provider, exporter = pipeline(mode=Mode.STRICT)
        with provider.get_tracer("t").start_as_current_span("GET /orders/{id}") as span:
            span.set_attribute("order.id", 8412)
        assert len(exporter.get_finished_spans()) == 1


def test_sequence_values_keep_their_shape() -> None:
    provider, exporter = pipeline()
    with provider.get_tracer("t").start_as_current_span("x") as span:
        span.set_attribute("http.request.header.authorization", ["Bearer " + FAKE])
        span.set_attribute("http.request.header.x-forwarded-for", ["10.0.0.1", "10.0.0.2"])
    attributes = dict(exporter.get_finished_spans()[0].attributes)
    assert attributes["http.request.header.authorization"] == ("[REDACTED]",)
    assert attributes["http.request.header.x-forwarded-for"] == ("10.0.0.1", "10.0.0.2")


attribute_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=60)
    | st.binary(max_size=16),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.text(min_size=1, max_size=30), attribute_values, max_size=8),
    st.text(max_size=40),
)
def test_any_attributes_any_name_are_enforced_without_error(attributes: dict, name: str) -> None:
    provider, exporter = pipeline(overrides=ALL_FIX)
    processor = provider._active_span_processor
    with provider.get_tracer("t").start_as_current_span(name or "x", attributes=attributes):
        pass
    assert processor.dropped_on_error == 0
    assert len(exporter.get_finished_spans()) == 1
