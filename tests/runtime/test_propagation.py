"""The OpenTelemetry propagator: entry point, extract, inject, fields, findings."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry import baggage, trace
from opentelemetry.context import Context, attach, detach
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.trace import TracerProvider

from tracehound import findings
from tracehound.runtime.propagation import (
    TracehoundPropagator,
    conflict_attributes,
    conflict_links,
    get_extraction,
    take_rejection,
)

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"
OTHER = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

REQUESTS = {
    "w3c": {"traceparent": f"00-{TID}-{SID}-01"},
    "jaeger": {"uber-trace-id": f"{TID}:{SID}:0:1"},
    "b3": {"b3": f"{TID}-{SID}-1"},
    "b3multi": {"X-B3-TraceId": TID, "X-B3-SpanId": SID, "X-B3-Sampled": "1"},
}


@pytest.fixture(autouse=True)
def _clean_findings() -> Iterator[None]:
    findings.reset()
    yield
    findings.reset()


@pytest.fixture
def tracer() -> trace.Tracer:
    return TracerProvider().get_tracer("test")


def parent_of(context: Context) -> trace.SpanContext:
    return trace.get_current_span(context).get_span_context()


def test_entry_point_selects_it_through_otel_propagators() -> None:
    code = (
        "from opentelemetry import propagate, trace\n"
        "from tracehound.runtime.propagation import TracehoundPropagator\n"
        "p = propagate.get_global_textmap()\n"
        "assert any(isinstance(x, TracehoundPropagator) for x in p._propagators), p\n"
        "for h in [{'traceparent': '00-%s-%s-01'}, {'uber-trace-id': '%s:%s:0:1'},\n"
        "          {'b3': '%s-%s-1'}, {'X-B3-TraceId': '%s', 'X-B3-SpanId': '%s'}]:\n"
        "    sc = trace.get_current_span(propagate.extract(h)).get_span_context()\n"
        "    assert f'{sc.trace_id:032x}' == '%s', h\n"
        "print('ok')\n"
    ) % (TID, SID, TID, SID, TID, SID, TID, SID, TID)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"OTEL_PROPAGATORS": "tracehound", "PATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("fmt", sorted(REQUESTS))
def test_extract_restores_the_parent_from_every_format(fmt: str, tracer: trace.Tracer) -> None:
    context = TracehoundPropagator().extract(REQUESTS[fmt])
    parent = parent_of(context)
    assert parent.is_valid and parent.is_remote
    assert f"{parent.trace_id:032x}" == TID
    assert f"{parent.span_id:016x}" == SID
    assert parent.trace_flags.sampled
    with tracer.start_as_current_span("handler", context=context) as span:
        assert span.get_span_context().trace_id == parent.trace_id
        assert span.parent is not None and span.parent.span_id == parent.span_id


def test_header_names_in_any_case() -> None:
    for headers in ({"TRACEPARENT": f"00-{TID}-{SID}-01"}, {"Uber-Trace-Id": f"{TID}:{SID}:0:1"}):
        assert parent_of(TracehoundPropagator().extract(headers)).is_valid


def test_bytes_and_list_values() -> None:
    context = TracehoundPropagator().extract({"traceparent": [f"00-{TID}-{SID}-01".encode()]})
    assert f"{parent_of(context).trace_id:032x}" == TID


def test_no_context_returns_the_given_context_unchanged() -> None:
    given = Context({"x": 1})
    assert TracehoundPropagator().extract({"accept": "*/*"}, given) is given
    assert TracehoundPropagator().extract({}) == Context()


def test_legacy_only_reports_p003() -> None:
    context = TracehoundPropagator().extract(REQUESTS["jaeger"])
    extraction = get_extraction(context)
    assert extraction is not None
    assert [f.code for f in extraction.findings] == ["P003"]
    assert findings.summary().by_code == {"P003": 1}


def test_invalid_traceparent_reports_p001_and_leaves_the_context_as_it_was() -> None:
    carrier = {"traceparent": f"00-{TID}-{SID}-1"}
    given = Context({"x": 1})
    context = TracehoundPropagator().extract(carrier, given)
    assert context == given  # OTel: MUST NOT store a value it could not parse
    assert get_extraction(context) is None
    assert take_rejection({"traceparent": f"00-{TID}-{SID}-1"}) is None  # another carrier
    extraction = take_rejection(carrier)
    assert extraction is not None
    assert take_rejection(carrier) is None  # taken once
    assert extraction.findings[0].code == "P001"
    assert "trace-flags" in extraction.findings[0].message


def test_conflict_w3c_wins_loser_is_a_link(tracer: trace.Tracer) -> None:
    headers = {"traceparent": f"00-{TID}-{SID}-01", "uber-trace-id": f"{OTHER}:{SID}:0:1"}
    context = TracehoundPropagator().extract(headers)
    assert f"{parent_of(context).trace_id:032x}" == TID
    links = conflict_links(context)
    assert len(links) == 1
    assert f"{links[0].context.trace_id:032x}" == OTHER
    assert links[0].attributes["tracehound.propagation.format"] == "jaeger"
    attrs = conflict_attributes(context)
    assert attrs["tracehound.propagation.conflict"] == f"jaeger={OTHER}"
    with tracer.start_as_current_span("h", context=context, links=links, attributes=attrs) as span:
        assert span.links[0].context.trace_id == int(OTHER, 16)
    assert findings.summary().by_code == {"P002": 1}


def test_findings_are_logged_once_per_location(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tracehound")
    propagator = TracehoundPropagator()
    for _ in range(50):
        propagator.extract(REQUESTS["b3"])
    logged = [r for r in caplog.records if r.name == "tracehound"]
    assert len(logged) == 1
    assert "P003" in logged[0].getMessage()
    summary = findings.summary()
    assert summary.by_code["P003"] == 50
    assert summary.suppressed == 49


def test_report_false_keeps_findings_on_the_context_only() -> None:
    context = TracehoundPropagator(report=False).extract(REQUESTS["b3"])
    extraction = get_extraction(context)
    assert extraction is not None and extraction.findings
    assert findings.summary().total == 0


def test_baggage_from_w3c_and_jaeger() -> None:
    context = TracehoundPropagator().extract(
        {
            "uber-trace-id": f"{TID}:{SID}:0:1",
            "uberctx-tenant": "acme",
            "baggage": "user=alice",
        }
    )
    assert baggage.get_all(context) == {"tenant": "acme", "user": "alice"}


def test_level2_tracestate_keys_survive_into_the_span(tracer: trace.Tracer) -> None:
    context = TracehoundPropagator().extract(
        {"traceparent": f"00-{TID}-{SID}-01", "tracestate": "1vendor=a,foo@bar@baz=b"}
    )
    assert dict(parent_of(context).trace_state) == {"1vendor": "a", "foo@bar@baz": "b"}
    carrier: dict[str, str] = {}
    with tracer.start_as_current_span("h", context=context):
        TracehoundPropagator().inject(carrier)
    assert carrier["tracestate"] == "1vendor=a,foo@bar@baz=b"


def test_inject_w3c_by_default(tracer: trace.Tracer) -> None:
    carrier: dict[str, str] = {}
    with tracer.start_as_current_span("client") as span:
        TracehoundPropagator().inject(carrier)
        sc = span.get_span_context()
    # The SDK sets Level 2's random-trace-id flag (0x02) on roots: it is carried as is.
    flags = f"{sc.trace_flags:02x}"
    assert carrier == {"traceparent": f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{flags}"}


def test_inject_legacy_formats_during_migration(tracer: trace.Tracer) -> None:
    carrier: dict[str, str] = {}
    propagator = TracehoundPropagator(inject=["tracecontext", "jaeger", "b3", "b3multi"])
    token = attach(baggage.set_baggage("user", "a b"))
    try:
        with tracer.start_as_current_span("client") as span:
            propagator.inject(carrier)
            sc = span.get_span_context()
    finally:
        detach(token)
    t, s = f"{sc.trace_id:032x}", f"{sc.span_id:016x}"
    assert carrier["traceparent"] == f"00-{t}-{s}-{sc.trace_flags:02x}"
    assert carrier["uber-trace-id"] == f"{t}:{s}:0:1"  # the debug bit only if the context has it
    assert carrier["b3"] == f"{t}-{s}-1"
    assert (carrier["x-b3-traceid"], carrier["x-b3-spanid"]) == (t, s)
    assert carrier["baggage"] == "user=a%20b"
    assert carrier["uberctx-user"] == "a%20b"
    assert set(carrier) - {"uberctx-user"} <= propagator.fields
    assert all(name == name.lower() for name in carrier)  # gRPC metadata requires it


def test_inject_formats_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEHOUND_PROPAGATION_INJECT", "tracecontext, jaeger")
    propagator = TracehoundPropagator()
    assert [f.value for f in propagator.inject_formats] == ["tracecontext", "jaeger"]
    assert propagator.fields == {"traceparent", "tracestate", "baggage", "uber-trace-id"}


def test_bad_environment_value_is_logged_and_the_default_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TRACEHOUND_PROPAGATION_INJECT", "tracecontext,zipkin")
    propagator = TracehoundPropagator()
    assert [f.value for f in propagator.inject_formats] == ["tracecontext"]
    assert "TRACEHOUND_PROPAGATION_INJECT: unknown propagation format 'zipkin'" in caplog.text
    assert "b3multi" in caplog.text  # the valid choices are named


def test_bad_argument_raises_naming_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown propagation format 'w3c'.*tracecontext"):
        TracehoundPropagator(inject=["w3c"])


def test_legacy_order_argument() -> None:
    headers = {"b3": f"{OTHER}-{SID}-1", "uber-trace-id": f"{TID}:{SID}:0:1"}
    first_b3 = TracehoundPropagator(legacy_order="b3,jaeger").extract(headers)
    assert f"{parent_of(first_b3).trace_id:032x}" == OTHER


class ExplodingGetter(Getter[dict[str, str]]):
    def get(self, carrier: dict[str, str], key: str) -> list[str] | None:
        raise RuntimeError("broken framework getter")

    def keys(self, carrier: dict[str, str]) -> list[str]:
        raise RuntimeError("broken")


def test_a_misbehaving_getter_never_breaks_the_request(caplog: pytest.LogCaptureFixture) -> None:
    given = Context()
    assert TracehoundPropagator().extract({}, given, ExplodingGetter()) is given
    assert "could not read trace headers" in caplog.text
