"""configure() injects what the user configured; it reads every format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import baggage, propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import TextMapPropagator, default_getter, default_setter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import tracehound
from tracehound.formats._types import Format
from tracehound.runtime import otel_propagator_names
from tracehound.runtime._propagation_choice import choose_propagation

PEERS = Path(__file__).parent / "propagation_peers.py"
TRACE_ID, SPAN_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7


def written(environ: dict[str, str], inject: list[str] | None = None) -> dict[str, str]:
    """The headers the chosen propagator writes for a sampled span with one baggage entry."""
    propagator = choose_propagation(inject, environ).propagator
    span = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, True, TraceFlags(1)))
    context = baggage.set_baggage("tenant", "t1", trace.set_span_in_context(span))
    carrier: dict[str, str] = {}
    propagator.inject(carrier, context)
    assert set(carrier) <= propagator.fields | {"uberctx-tenant"}
    return carrier


@pytest.mark.parametrize(
    ("environ", "inject", "expected"),
    [
        ({}, None, {"traceparent", "baggage"}),
        ({"OTEL_PROPAGATORS": "tracecontext,baggage"}, None, {"traceparent", "baggage"}),
        ({"OTEL_PROPAGATORS": "jaeger"}, None, {"uber-trace-id", "uberctx-tenant"}),
        ({"OTEL_PROPAGATORS": "jaeger,baggage"}, None,
         {"uber-trace-id", "uberctx-tenant", "baggage"}),
        ({"OTEL_PROPAGATORS": "b3"}, None, {"b3"}),
        ({"OTEL_PROPAGATORS": "tracehound"}, None, {"traceparent", "baggage"}),
        ({"OTEL_PROPAGATORS": "tracehound,jaeger"}, None,
         {"traceparent", "baggage", "uber-trace-id", "uberctx-tenant"}),
        ({"OTEL_PROPAGATORS": "none"}, None, set()),
        ({"OTEL_PROPAGATORS": "jaeger", "TRACEHOUND_PROPAGATION_INJECT": "tracecontext,jaeger"},
         None, {"traceparent", "uber-trace-id", "uberctx-tenant"}),
        ({"OTEL_PROPAGATORS": "jaeger"}, ["tracecontext"], {"traceparent"}),
    ],
)
def test_what_goes_on_the_wire(
    environ: dict[str, str], inject: list[str] | None, expected: set[str]
) -> None:
    assert {k.lower() for k in written(environ, inject)} == expected


def test_every_format_is_read_whatever_is_injected() -> None:
    propagator = choose_propagation(None, {"OTEL_PROPAGATORS": "jaeger"}).propagator
    for headers in (
        {"traceparent": f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"},
        {"b3": f"{TRACE_ID:032x}-{SPAN_ID:016x}-1"},
        {"uber-trace-id": f"{TRACE_ID:032x}:{SPAN_ID:016x}:0:1"},
    ):
        found = trace.get_current_span(propagator.extract(headers)).get_span_context()
        assert (found.trace_id, found.span_id) == (TRACE_ID, SPAN_ID), headers


def test_the_startup_line_says_what_and_why() -> None:
    choice = choose_propagation(None, {"OTEL_PROPAGATORS": "jaeger"})
    assert choice.description == (
        "tracehound: propagation: reads tracecontext, baggage, jaeger (uberctx-*), b3, b3multi; "
        "injects jaeger (OTEL_PROPAGATORS=jaeger)"
    )


def test_configure_logs_one_line_at_info(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PROPAGATORS", "jaeger")
    before = propagate.get_global_textmap()
    try:
        with caplog.at_level("INFO", logger="tracehound"):
            tracehound.configure(span_exporter=None, log_correlation=False, batch=False)
        tracehound.shutdown()
    finally:
        propagate.set_global_textmap(before)
    lines = [r.getMessage() for r in caplog.records if "propagation:" in r.getMessage()]
    assert lines == [
        "tracehound: propagation: reads tracecontext, baggage, jaeger (uberctx-*), b3, b3multi; "
        "injects jaeger (OTEL_PROPAGATORS=jaeger)"
    ]


@pytest.mark.parametrize("value", ["tracecontext,,b3", "tracecontext,", ",jaeger", " , "])
def test_empty_items_in_otel_propagators_are_a_configuration_error(value: str) -> None:
    with pytest.raises(tracehound.ConfigurationError, match=r"OTEL_PROPAGATORS=.* is empty"):
        choose_propagation(None, {"OTEL_PROPAGATORS": value})


def test_a_bad_inject_setting_is_a_configuration_error() -> None:
    with pytest.raises(tracehound.ConfigurationError, match=r"inject argument: unknown .*'w3c'"):
        choose_propagation(["w3c"], {})
    with pytest.raises(tracehound.ConfigurationError,
                       match=r"TRACEHOUND_PROPAGATION_INJECT: unknown .*'zipkin'"):
        choose_propagation(None, {"TRACEHOUND_PROPAGATION_INJECT": "tracecontext,zipkin"})


_TOKENS = ["jaeger", "b3", "b3multi", "baggage", "tracecontext", "tracehound", "none", "xray",
           ",", " ", "\t", "Jaeger"]


@given(st.lists(st.sampled_from(_TOKENS), max_size=12).map("".join))
def test_any_otel_propagators_value_gives_a_propagator_or_a_named_error(value: str) -> None:
    try:
        names = otel_propagator_names({"OTEL_PROPAGATORS": value})
        choice = choose_propagation(None, {"OTEL_PROPAGATORS": value})
    except tracehound.ConfigurationError as exc:
        error = str(exc)
        assert error.startswith("OTEL_PROPAGATORS"), error
        return
    assert names is None or all(n and n == n.strip() for n in names)
    assert "injects" in choice.description
    written({"OTEL_PROPAGATORS": value})  # writes only the fields it declares


@pytest.fixture(params=["plain", "configure"])
def jaeger_server(request: pytest.FixtureRequest) -> Iterator[int]:
    """A service on OTEL_PROPAGATORS=jaeger, with and without tracehound.configure()."""
    env = {**os.environ, "OTEL_PROPAGATORS": "jaeger", "OTEL_TRACES_EXPORTER": "none"}
    env.pop("TRACEHOUND_PROPAGATION_INJECT", None)
    server = subprocess.Popen(
        [sys.executable, str(PEERS), "server", f"--{request.param}"],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert server.stdout is not None
        yield int(server.stdout.readline())
    finally:
        server.kill()
        server.wait(10)


def run_client(port: int, *args: str, **env: str) -> dict[str, object]:
    environ = {**os.environ, "OTEL_PROPAGATORS": "jaeger", "OTEL_TRACES_EXPORTER": "none", **env}
    environ.pop("TRACEHOUND_PROPAGATION_INJECT", None)
    environ.update(env)
    result = subprocess.run(
        [sys.executable, str(PEERS), "client", str(port), *args],
        capture_output=True, text=True, env=environ, timeout=60, check=True,
    )
    answer: dict[str, object] = json.loads(result.stdout)
    answer["log"] = result.stderr
    return answer


def test_two_jaeger_services_keep_working_after_configure(jaeger_server: int) -> None:
    plain = run_client(jaeger_server)
    assert plain["continued"] == 5
    assert plain["sent"] == ["uber-trace-id"]
    configured = run_client(jaeger_server, "--configure")
    assert configured["continued"] == 5
    assert configured["sent"] == ["uber-trace-id"]
    assert "injects jaeger (OTEL_PROPAGATORS=jaeger)" in str(configured["log"])
    migrating = run_client(
        jaeger_server, "--configure", TRACEHOUND_PROPAGATION_INJECT="tracecontext,jaeger"
    )
    assert migrating["continued"] == 5
    assert migrating["sent"] == ["traceparent", "uber-trace-id"]


class CustomPropagator(TextMapPropagator):
    """A vendor format tracehound does not implement (as xray or ottrace would be)."""

    def inject(self, carrier, context=None, setter=default_setter):  # type: ignore[no-untyped-def]
        span_context = trace.get_current_span(context).get_span_context()
        setter.set(carrier, "x-custom-trace", format(span_context.trace_id, "032x"))

    def extract(self, carrier, context=None, getter=default_getter):  # type: ignore[no-untyped-def]
        values = getter.get(carrier, "x-custom-trace")
        if not values:
            return context if context is not None else Context()
        span = NonRecordingSpan(SpanContext(int(values[0], 16), 1, True, TraceFlags(1)))
        return trace.set_span_in_context(span, context)

    @property
    def fields(self) -> set[str]:
        return {"x-custom-trace"}


def test_a_propagator_tracehound_does_not_implement_runs_after_it() -> None:
    from tracehound.runtime._propagation_choice import _ConfiguredPropagator

    propagator = _ConfiguredPropagator((Format.JAEGER,), baggage=False, others=[CustomPropagator()])
    span = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, True, TraceFlags(1)))
    carrier: dict[str, str] = {}
    propagator.inject(carrier, trace.set_span_in_context(span))
    assert set(carrier) == {"uber-trace-id", "x-custom-trace"} == propagator.fields
    only_custom = {"x-custom-trace": format(TRACE_ID + 1, "032x")}
    found = trace.get_current_span(propagator.extract(only_custom)).get_span_context()
    assert found.trace_id == TRACE_ID + 1
