"""The policy in the export thread: a processor that checks on export gets the span as it is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracehound import findings
from tracehound.attributes import AttributePolicy, AttributePolicyProcessor, PolicyExporter
from tracehound.rules import Finding

TOKEN = "Zx81" + "kQ2mN9vLp4Rt7Ws3Yb6Hc"


class ChecksOnExport(SpanProcessor):
    """Exports through a `PolicyExporter` of ``policy`` itself, as tracehound's batch does."""

    def __init__(self, policy: AttributePolicy) -> None:
        self.exporter = InMemorySpanExporter()
        self.policy_exporter = PolicyExporter(self.exporter, policy)
        self.checks_on_export = policy
        self.received: list[ReadableSpan] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        self.received.append(span)
        self.policy_exporter.export([span])


@pytest.fixture(autouse=True)
def reported() -> Iterator[list[Finding]]:
    seen: list[Finding] = []
    findings.reset()
    findings.add_listener(seen.append)
    yield seen
    findings.remove_listener(seen.append)
    findings.reset()


def provider_with(*processors: Any) -> tuple[TracerProvider, AttributePolicyProcessor]:
    gate = processors[0]
    provider = TracerProvider(active_span_processor=gate)
    return provider, gate


def end_span_with_token(provider: TracerProvider) -> None:
    with provider.get_tracer("t").start_as_current_span("login") as span:
        span.set_attribute("user.token", TOKEN)
        span.set_attribute("order.id", 7)


def test_a_processor_checking_on_export_gets_the_span_unchanged(
    reported: list[Finding],
) -> None:
    policy = AttributePolicy.from_config(env={})
    behind = ChecksOnExport(policy)
    provider, _ = provider_with(policy.processor(behind))
    end_span_with_token(provider)
    (received,) = behind.received
    assert received.attributes["user.token"] == TOKEN  # not checked in the ending thread
    (exported,) = behind.exporter.get_finished_spans()
    assert exported.attributes["user.token"] == "[REDACTED]"
    assert exported.attributes["order.id"] == 7
    # reported once, by the export side, with the place
    assert [f.code for f in reported] == ["A004"]
    assert reported[0].location == "span 'login' attribute 'user.token'"


def test_beside_a_plain_processor_each_gets_checked_spans_and_findings_come_once(
    reported: list[Finding],
) -> None:
    policy = AttributePolicy.from_config(env={})
    at_export, plain = ChecksOnExport(policy), InMemorySpanExporter()
    provider, gate = provider_with(policy.processor(at_export, SimpleSpanProcessor(plain)))
    end_span_with_token(provider)
    for exporter in (at_export.exporter, plain):
        (exported,) = exporter.get_finished_spans()
        assert exported.attributes["user.token"] == "[REDACTED]"
    assert [f.code for f in reported] == ["A004"]
    # the plain processor taken out: the export side reports again
    gate._span_processors = (at_export,)
    end_span_with_token(provider)
    assert [f.code for f in reported] == ["A004", "A004"]


def test_another_policy_on_export_does_not_count(reported: list[Finding]) -> None:
    """Only the gate's own policy may be left to the export side: another's rules differ."""
    policy = AttributePolicy.from_config(env={})
    other = AttributePolicy.from_config(env={}, overrides={"allow_keys": ["user.token"]})
    behind = ChecksOnExport(other)
    provider, _ = provider_with(policy.processor(behind))
    end_span_with_token(provider)
    (received,) = behind.received
    assert received.attributes["user.token"] == "[REDACTED]"


def test_policy_exporter_failure_drops_the_span_and_counts_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = AttributePolicy.from_config(env={})
    behind = ChecksOnExport(policy)

    def broken(span: ReadableSpan) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(behind.policy_exporter._enforcer, "enforce", broken)
    provider, _ = provider_with(policy.processor(behind))
    end_span_with_token(provider)
    assert behind.exporter.get_finished_spans() == ()
    assert behind.policy_exporter.dropped_on_error == 1


def test_a_listener_failing_does_not_lose_the_other_findings(reported: list[Finding]) -> None:
    def failing(finding: Finding) -> None:
        raise RuntimeError("listener bug")

    policy = AttributePolicy.from_config(env={})
    behind = ChecksOnExport(policy)
    provider, _ = provider_with(policy.processor(behind))
    findings.add_listener(failing)
    try:
        with provider.get_tracer("t").start_as_current_span("login") as span:
            span.set_attribute("user.token", TOKEN)
            span.set_attribute("api_key", TOKEN)
    finally:
        findings.remove_listener(failing)
    assert [f.code for f in reported] == ["A004", "A004"]
    assert len(behind.exporter.get_finished_spans()) == 1


def test_a_batch_is_enforced_exactly_as_each_span_alone() -> None:
    """`enforce_all`'s inlined clean path against `enforce`, span by span."""
    from opentelemetry.sdk.resources import Resource

    from tracehound.attributes._enforce import SpanEnforcer

    def spans_of(provider: TracerProvider) -> list[ReadableSpan]:
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("t")
        for name, attributes in [
            ("GET /orders", {"order.id": 7, "url.path": "/orders"}),
            ("login", {"user.token": TOKEN}),
            ("GET /orders/8412", {}),
            (1234, {"k": 1}),
            ("retry", {"retry.count": "3", "http.response.status_code": 201.0}),
        ]:
            with tracer.start_as_current_span(name, attributes=attributes) as span:  # type: ignore[arg-type]
                if name == "retry":
                    span.add_event("sent", {"api_key": TOKEN})
        return list(exporter.get_finished_spans())

    policy = AttributePolicy.from_config(env={})
    clean = spans_of(TracerProvider())
    secret_resource = spans_of(TracerProvider(resource=Resource({"db.password": TOKEN})))
    for spans in (clean, secret_resource, clean + secret_resource, secret_resource + clean):
        one_by_one = SpanEnforcer(policy)
        expected = [one_by_one.enforce(span) for span in spans]
        out, found, dropped = SpanEnforcer(policy).enforce_all(spans)
        assert dropped == 0
        # the span itself when clean, a copy otherwise, for the same spans
        assert [o is i for o, i in zip(out, spans, strict=True)] == [
            e is i for (e, _), i in zip(expected, spans, strict=True)
        ]
        assert not all(e is i for (e, _), i in zip(expected, spans, strict=True))
        assert [dict(s.attributes) for s in out] == [dict(e.attributes) for e, _ in expected]
        assert [s.name for s in out] == [e.name for e, _ in expected]
        assert [f.code for f in found] == [f.code for _, fs in expected for f in fs]
