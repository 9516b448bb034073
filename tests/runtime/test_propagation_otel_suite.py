"""OpenTelemetry Python's own propagator tests, pointed at `TracehoundPropagator`.

Ported from open-telemetry/opentelemetry-python at commit
0a5d76b65094a4bad414e0c0ab68981fc266f0a9 (Copyright The OpenTelemetry
Authors, Apache-2.0, as tracehound):

* propagator/opentelemetry-propagator-b3/tests/test_b3_format.py
* propagator/opentelemetry-propagator-jaeger/tests/test_jaeger_propagator.py
* opentelemetry-api/tests/propagators/test_w3cbaggagepropagator.py
* opentelemetry-api/tests/trace/propagation/test_tracecontexthttptextformat.py

Each test keeps the original's name (``b3_``/``jaeger_``/``baggage_``/``tc_``
prefixed) and its inputs.  Where tracehound deliberately differs, the test
asserts tracehound's behaviour and its docstring says why (the same list as
README's "Where tracehound deliberately differs").  Left out: tests of OTel
internals (``_format_uber_trace_id`` helpers, mocked ``get_all``) and of the
composite/global propagator plumbing, which tracehound does not replace.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry import baggage
from opentelemetry import trace as trace_api
from opentelemetry.baggage import _BAGGAGE_KEY
from opentelemetry.context import Context, get_current
from opentelemetry.propagators.textmap import DefaultGetter, Setter
from opentelemetry.sdk import trace
from opentelemetry.sdk.trace import id_generator
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.trace.span import TraceState

from tracehound.runtime.propagation import TracehoundPropagator

GENERATOR = id_generator.RandomIdGenerator()
TRACE_ID_HEX = trace_api.format_trace_id(GENERATOR.generate_trace_id())
SPAN_ID_HEX = trace_api.format_span_id(GENERATOR.generate_span_id())
B3_TRACE, B3_SPAN, B3_SAMPLED, B3_FLAGS, B3_SINGLE = (
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
)


class RecordingSetter(Setter[Any]):
    """Stands in for the original tests' ``Mock()`` setter: the names inject wrote."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def set(self, carrier: Any, key: str, value: str) -> None:
        self.names.add(key)


def child_parent_new_carrier(
    old_carrier: dict[str, Any], propagator: TracehoundPropagator
) -> tuple[Any, Any, dict[str, str]]:
    """The original's ``get_child_parent_new_carrier``: extract, make a child, inject."""
    ctx = propagator.extract(old_carrier)
    parent_span_context = trace_api.get_current_span(ctx).get_span_context()
    parent = trace._Span("parent", parent_span_context)
    child = trace._Span(
        "child",
        trace_api.SpanContext(
            parent_span_context.trace_id,
            GENERATOR.generate_span_id(),
            is_remote=False,
            trace_flags=parent_span_context.trace_flags,
            trace_state=parent_span_context.trace_state,
        ),
        parent=parent.get_span_context(),
    )
    new_carrier: dict[str, str] = {}
    propagator.inject(new_carrier, context=trace_api.set_span_in_context(child, ctx))
    return child, parent, new_carrier


# -- B3 (test_b3_format.py) ----------------------------------------------------------

B3_VARIANTS = {"b3multi": B3_TRACE, "b3": B3_SINGLE}


def b3_trace_id(fmt: str, carrier: dict[str, str]) -> str:
    return carrier[B3_TRACE] if fmt == "b3multi" else carrier[B3_SINGLE].split("-")[0]


def b3_sampled(fmt: str, carrier: dict[str, str]) -> str:
    return carrier[B3_SAMPLED] if fmt == "b3multi" else carrier[B3_SINGLE].split("-")[2]


@pytest.fixture(params=list(B3_VARIANTS))
def b3(request: pytest.FixtureRequest) -> tuple[str, TracehoundPropagator]:
    return request.param, TracehoundPropagator(inject=[request.param], report=False)


def test_b3_extract_multi_header(b3: tuple[str, TracehoundPropagator]) -> None:
    _, propagator = b3
    carrier = {B3_TRACE: TRACE_ID_HEX, B3_SPAN: SPAN_ID_HEX, B3_SAMPLED: "1"}
    child, parent, _ = child_parent_new_carrier(carrier, propagator)
    assert trace_api.format_trace_id(child.context.trace_id) == TRACE_ID_HEX
    assert trace_api.format_span_id(child.parent.span_id) == SPAN_ID_HEX
    assert parent.context.is_remote
    assert parent.context.trace_flags.sampled


def test_b3_extract_single_header(b3: tuple[str, TracehoundPropagator]) -> None:
    _, propagator = b3
    for value in (f"{TRACE_ID_HEX}-{SPAN_ID_HEX}", f"{TRACE_ID_HEX}-{SPAN_ID_HEX}-1"):
        child, parent, _ = child_parent_new_carrier({B3_SINGLE: value}, propagator)
        assert trace_api.format_trace_id(child.context.trace_id) == TRACE_ID_HEX
        assert trace_api.format_span_id(child.parent.span_id) == SPAN_ID_HEX
        assert parent.context.is_remote
        assert parent.context.trace_flags.sampled


def test_b3_extract_header_precedence(b3: tuple[str, TracehoundPropagator]) -> None:
    """The single header wins, as in OTel (``legacy_order`` puts ``b3`` first by default);
    tracehound also reports the multi set naming another trace (P002)."""
    fmt, propagator = b3
    single_trace_id = TRACE_ID_HEX[:-3] + "123"
    _, _, new_carrier = child_parent_new_carrier(
        {
            B3_SINGLE: f"{single_trace_id}-{SPAN_ID_HEX}",
            B3_TRACE: TRACE_ID_HEX,
            B3_SPAN: SPAN_ID_HEX,
            B3_SAMPLED: "1",
        },
        propagator,
    )
    assert b3_trace_id(fmt, new_carrier) == single_trace_id


def test_b3_enabled_sampling(b3: tuple[str, TracehoundPropagator]) -> None:
    fmt, propagator = b3
    for variant in ["1", "True", "true", "d"]:
        carrier = {B3_TRACE: TRACE_ID_HEX, B3_SPAN: SPAN_ID_HEX, B3_SAMPLED: variant}
        _, _, new_carrier = child_parent_new_carrier(carrier, propagator)
        assert b3_sampled(fmt, new_carrier) == "1", variant


def test_b3_disabled_sampling(b3: tuple[str, TracehoundPropagator]) -> None:
    """``0``/``False``/``false`` are not sampled, as in OTel.  The original also lists a
    missing ``X-B3-Sampled`` (a deferred decision): OTel drops it for the multi header but
    records it for the single header; tracehound records both (README, deliberate
    differences), so the deferred case is asserted as sampled."""
    fmt, propagator = b3
    for variant in ["0", "False", "false"]:
        carrier = {B3_TRACE: TRACE_ID_HEX, B3_SPAN: SPAN_ID_HEX, B3_SAMPLED: variant}
        _, _, new_carrier = child_parent_new_carrier(carrier, propagator)
        assert b3_sampled(fmt, new_carrier) == "0", variant
    _, _, deferred = child_parent_new_carrier(
        {B3_TRACE: TRACE_ID_HEX, B3_SPAN: SPAN_ID_HEX}, propagator
    )
    assert b3_sampled(fmt, deferred) == "1"


def test_b3_flags(b3: tuple[str, TracehoundPropagator]) -> None:
    fmt, propagator = b3
    carrier = {B3_TRACE: TRACE_ID_HEX, B3_SPAN: SPAN_ID_HEX, B3_FLAGS: "1"}
    _, _, new_carrier = child_parent_new_carrier(carrier, propagator)
    assert b3_sampled(fmt, new_carrier) == "1"


def test_b3_derived_ctx_is_returned_for_success(b3: tuple[str, TracehoundPropagator]) -> None:
    _, propagator = b3
    old_ctx = Context({"k1": "v1"})
    new_ctx = propagator.extract(
        {B3_TRACE: TRACE_ID_HEX, B3_SPAN: SPAN_ID_HEX, B3_FLAGS: "1"}, old_ctx
    )
    assert _SPAN_KEY in new_ctx
    for key, value in old_ctx.items():
        assert new_ctx[key] == value


def test_b3_derived_ctx_is_returned_for_failure(b3: tuple[str, TracehoundPropagator]) -> None:
    _, propagator = b3
    old_ctx = Context({"k2": "v2"})
    new_ctx = propagator.extract({}, old_ctx)
    assert _SPAN_KEY not in new_ctx
    assert dict(new_ctx) == dict(old_ctx)


def test_b3_64bit_trace_id(b3: tuple[str, TracehoundPropagator]) -> None:
    fmt, propagator = b3
    trace_id_64_bit = TRACE_ID_HEX[:16]
    _, _, new_carrier = child_parent_new_carrier(
        {B3_TRACE: trace_id_64_bit, B3_SPAN: SPAN_ID_HEX, B3_FLAGS: "1"}, propagator
    )
    assert b3_trace_id(fmt, new_carrier) == "0" * 16 + trace_id_64_bit


B3_UNCHANGED = {
    "invalid_single_header": {B3_SINGLE: "0-1-2-3-4-5-6-7"},
    "missing_trace_id": {B3_SPAN: SPAN_ID_HEX, B3_FLAGS: "1"},
    "invalid_trace_id": {B3_TRACE: "abc123", B3_SPAN: SPAN_ID_HEX, B3_FLAGS: "1"},
    "invalid_span_id": {B3_TRACE: TRACE_ID_HEX, B3_SPAN: "abc123", B3_FLAGS: "1"},
    "missing_span_id": {B3_TRACE: TRACE_ID_HEX, B3_FLAGS: "1"},
    "empty_carrier": {},
}


@pytest.mark.parametrize("case", list(B3_UNCHANGED))
def test_b3_extract_to_explicit_and_implicit_ctx(
    b3: tuple[str, TracehoundPropagator], case: str
) -> None:
    """``test_extract_<case>_to_explicit_ctx`` and ``..._to_implicit_ctx``: unchanged."""
    _, propagator = b3
    old_ctx = Context({"k1": "v1"})
    assert dict(propagator.extract(B3_UNCHANGED[case], old_ctx)) == dict(old_ctx)
    assert dict(propagator.extract(B3_UNCHANGED[case])) == dict(Context())


def test_b3_inject_empty_context(b3: tuple[str, TracehoundPropagator]) -> None:
    _, propagator = b3
    new_carrier: dict[str, str] = {}
    propagator.inject(new_carrier, get_current())
    assert len(new_carrier) == 0


def test_b3_default_span(b3: tuple[str, TracehoundPropagator]) -> None:
    _, propagator = b3

    class CarrierGetter(DefaultGetter):
        def get(self, carrier: Any, key: str) -> Any:
            return carrier.get(key, None)

    ctx = propagator.extract({}, getter=CarrierGetter())
    propagator.inject({}, context=ctx)


def test_b3_fields(b3: tuple[str, TracehoundPropagator]) -> None:
    """OTel's B3 propagators never write ``baggage``; tracehound writes it beside every format
    when the context has baggage, so ``fields`` lists it and the span-only inject is the rest."""
    _, propagator = b3
    tracer = trace.TracerProvider().get_tracer("sdk_tracer_provider")
    setter = RecordingSetter()
    with tracer.start_as_current_span("parent"), tracer.start_as_current_span("child"):
        propagator.inject({}, setter=setter)
    assert setter.names == propagator.fields - {"baggage"}
    with_baggage = RecordingSetter()
    with tracer.start_as_current_span("child") as span:
        ctx = baggage.set_baggage("k", "v", trace_api.set_span_in_context(span))
        propagator.inject({}, ctx, setter=with_baggage)
    assert with_baggage.names == propagator.fields


def test_b3_extract_none_context(b3: tuple[str, TracehoundPropagator]) -> None:
    _, propagator = b3
    assert dict(propagator.extract({}, None)) == dict(Context())


# -- Jaeger (test_jaeger_propagator.py) -----------------------------------------------

JAEGER = TracehoundPropagator(inject=["jaeger"], report=False)
J_TRACE_ID = GENERATOR.generate_trace_id()
J_SPAN_ID = GENERATOR.generate_span_id()
J_PARENT_ID = GENERATOR.generate_span_id()


def uber(trace_id: int, span_id: int, parent_id: int, flags: int) -> str:
    """As OTel's ``_format_uber_trace_id`` writes it."""
    return f"{trace_id:032x}:{span_id:016x}:{parent_id:016x}:{flags:02x}"


SERIALIZED_UBER = uber(J_TRACE_ID, J_SPAN_ID, J_PARENT_ID, 11)


def jaeger_context_new_carrier(
    old_carrier: dict[str, Any], carrier_baggage: dict[str, object] | None = None
) -> tuple[Context, dict[str, str]]:
    ctx = JAEGER.extract(old_carrier)
    for key, value in (carrier_baggage or {}).items():
        ctx = baggage.set_baggage(key, value, ctx)
    parent_span_context = trace_api.get_current_span(ctx).get_span_context()
    parent = trace._Span("parent", parent_span_context)
    child = trace._Span(
        "child",
        trace_api.SpanContext(
            parent_span_context.trace_id,
            GENERATOR.generate_span_id(),
            is_remote=False,
            trace_flags=parent_span_context.trace_flags,
            trace_state=parent_span_context.trace_state,
        ),
        parent=parent.get_span_context(),
    )
    new_carrier: dict[str, str] = {}
    ctx = trace_api.set_span_in_context(child, ctx)
    JAEGER.inject(new_carrier, context=ctx)
    return ctx, new_carrier


def test_jaeger_extract_valid_span() -> None:
    span_context = trace_api.get_current_span(
        JAEGER.extract({"uber-trace-id": SERIALIZED_UBER})
    ).get_span_context()
    assert (span_context.trace_id, span_context.span_id) == (J_TRACE_ID, J_SPAN_ID)


def test_jaeger_missing_carrier() -> None:
    span_context = trace_api.get_current_span(JAEGER.extract({})).get_span_context()
    assert span_context.trace_id == trace_api.INVALID_TRACE_ID
    assert span_context.span_id == trace_api.INVALID_SPAN_ID


def test_jaeger_trace_id() -> None:
    _, new_carrier = jaeger_context_new_carrier({"uber-trace-id": SERIALIZED_UBER})
    assert new_carrier["uber-trace-id"].split(":")[0] == SERIALIZED_UBER.split(":")[0]


def test_jaeger_parent_span_id() -> None:
    """The injected parent field is the extracted span: the sender's parent, as Jaeger clients
    and OTel write it (it was always ``0`` before)."""
    _, new_carrier = jaeger_context_new_carrier({"uber-trace-id": SERIALIZED_UBER})
    assert new_carrier["uber-trace-id"].split(":")[2] == SERIALIZED_UBER.split(":")[1]


def test_jaeger_sampled_flag_set() -> None:
    _, new_carrier = jaeger_context_new_carrier({"uber-trace-id": SERIALIZED_UBER})
    assert int(new_carrier["uber-trace-id"].split(":")[3], 16) & 0x01 == 1


def test_jaeger_debug_flag_set() -> None:
    """OTel sets the debug bit on every sampled span it injects; tracehound writes the flags
    the context has (OTel's SpanContext has no debug bit), so debug stays unset."""
    _, new_carrier = jaeger_context_new_carrier({"uber-trace-id": SERIALIZED_UBER})
    assert int(new_carrier["uber-trace-id"].split(":")[3], 16) & 0x02 == 0


def test_jaeger_sample_debug_flags_unset() -> None:
    old_carrier = {"uber-trace-id": uber(J_TRACE_ID, J_SPAN_ID, J_PARENT_ID, 0)}
    _, new_carrier = jaeger_context_new_carrier(old_carrier)
    flags = int(new_carrier["uber-trace-id"].split(":")[3], 16)
    assert flags & 0x01 == 0
    assert flags & 0x02 == 0


def test_jaeger_baggage() -> None:
    input_baggage = {"key1": "value1"}
    _, new_carrier = jaeger_context_new_carrier({"uber-trace-id": SERIALIZED_UBER}, input_baggage)
    assert JAEGER.extract(new_carrier)[_BAGGAGE_KEY] == input_baggage


def test_jaeger_non_string_baggage() -> None:
    _, new_carrier = jaeger_context_new_carrier(
        {"uber-trace-id": SERIALIZED_UBER}, {"key1": 1, "key2": True}
    )
    assert JAEGER.extract(new_carrier)[_BAGGAGE_KEY] == {"key1": "1", "key2": "True"}


def test_jaeger_extract_empty_baggage_value() -> None:
    old_carrier = {
        "uber-trace-id": SERIALIZED_UBER,
        "uberctx-key1": [],
        "uberctx-key2": None,
        "uberctx-key3": "value3",
    }
    assert JAEGER.extract(old_carrier)[_BAGGAGE_KEY] == {"key3": "value3"}


@pytest.mark.parametrize(
    "header",
    [
        "000000000000000000000000deadbeef:00000000deadbef0:00",
        "00000000000000000000000000000000:00000000deadbef0:00:00",
        "000000000000000000000000deadbeef:0000000000000000:00:00",
    ],
)
def test_jaeger_extract_invalid_keeps_baggage(header: str) -> None:
    """``test_extract_invalid_uber_trace_id``/``_trace_id``/``_span_id``."""
    context = JAEGER.extract({"uber-trace-id": header, "uberctx-key1": "value1"})
    span_context = trace_api.get_current_span(context).get_span_context()
    assert not span_context.is_valid
    assert context[_BAGGAGE_KEY] == {"key1": "value1"}


def test_jaeger_fields() -> None:
    """As for B3: ``fields`` also names ``baggage``, written when the context has baggage."""
    tracer = trace.TracerProvider().get_tracer("sdk_tracer_provider")
    setter = RecordingSetter()
    with tracer.start_as_current_span("parent"), tracer.start_as_current_span("child"):
        JAEGER.inject({}, setter=setter)
    assert setter.names == JAEGER.fields - {"baggage"}


def test_jaeger_extract_no_trace_id_to_explicit_and_implicit_ctx() -> None:
    orig_ctx = Context({"k1": "v1"})
    assert dict(JAEGER.extract({}, orig_ctx)) == dict(orig_ctx)
    assert dict(JAEGER.extract({})) == dict(Context())


@pytest.mark.parametrize(
    "header",
    [
        "000000000000000000000000deadbeef:00000000deadbef0:00",
        "00000000000000000000000000000000:00000000deadbef0:00:00",
        "000000000000000000000000deadbeef:0000000000000000:00:00",
        "000000000000000000000000deadbeef:0000000000000000:00:xyz",
    ],
)
def test_jaeger_extract_invalid_uber_trace_id_header_to_explicit_and_implicit_ctx(
    header: str,
) -> None:
    orig_ctx = Context({"k1": "v1"})
    assert dict(JAEGER.extract({"uber-trace-id": header}, orig_ctx)) == dict(orig_ctx)
    assert dict(JAEGER.extract({"uber-trace-id": header})) == dict(Context())


def test_jaeger_non_recording_span_does_not_crash() -> None:
    span = trace_api.NonRecordingSpan(trace_api.SpanContext(1, 1, True))
    with trace_api.use_span(span, end_on_exit=True):
        JAEGER.inject({}, setter=RecordingSetter())


# -- W3C baggage (test_w3cbaggagepropagator.py) -----------------------------------------

BAGGAGE = TracehoundPropagator(report=False)
MAX_HEADER_LENGTH, MAX_PAIR_LENGTH, MAX_PAIRS = 8192, 4096, 180


def extract_baggage(header_value: str) -> dict[str, object]:
    return dict(baggage.get_all(BAGGAGE.extract({"baggage": [header_value]})))


def inject_baggage(values: dict[str, object], propagator: Any = BAGGAGE) -> str | None:
    ctx = get_current()
    for key, value in values.items():
        ctx = baggage.set_baggage(key, value, context=ctx)
    output: dict[str, str] = {}
    propagator.inject(output, context=ctx)
    return output.get("baggage")


def test_baggage_no_context_header() -> None:
    assert dict(baggage.get_all(BAGGAGE.extract({}))) == {}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", {}),  # test_empty_context_header
        ("key1=val1,key2=val2", {"key1": "val1", "key2": "val2"}),  # test_valid_header
        (
            "key1=val1,key2=val2%3Aval3,key3=val4%40%23%24val5",  # url-escaped values
            {"key1": "val1", "key2": "val2:val3", "key3": "val4@#$val5"},
        ),
        ("key1=,key2=val2", {"key1": "", "key2": "val2"}),  # test_valid_header_with_empty_value
        ("header1", {}),  # test_invalid_header
        (" = ", {}),
        ("keykey=value%5Evalue", {"keykey": "value^value"}),  # test_extract_unquote_plus
        ("key%23key=value%23value", {"key#key": "value#value"}),
        ("key1=val1,key2=test\u00e9", {"key1": "val1"}),  # test_extract_non_ascii_header
        ("key1=" + "\u00e9" * MAX_HEADER_LENGTH, {}),  # ..._exceeds_byte_limit
        ("key1=" + "s" * (MAX_HEADER_LENGTH + 1), {}),  # test_header_too_long
        (
            f"key1=value1,key2={'s' * (MAX_PAIR_LENGTH + 1)},key3=value3",  # pair too long
            {"key1": "value1", "key3": "value3"},
        ),
        ("key1=val1,key2=val2,a,val3", {"key1": "val1", "key2": "val2"}),  # invalid value
    ],
)
def test_baggage_extract(header: str, expected: dict[str, str]) -> None:
    assert extract_baggage(header) == expected


def test_baggage_invalid_header_with_space() -> None:
    """OTel rejects ``key1 =   val1``; W3C Baggage allows optional whitespace around ``=``
    and members (``list-member = key OWS "=" OWS value``), so tracehound reads it."""
    assert extract_baggage("key1 =   val1,  key2 =val2   ") == {"key1": "val1", "key2": "val2"}


def test_baggage_valid_header_with_properties() -> None:
    """OTel Python folds properties into the value (``val2;prop=1;prop2;prop3=2``) and then
    percent-encodes them on the next hop; tracehound keeps the value clean and forwards the
    properties, as OTel Java, Go and JS do."""
    header = "key1=val1,key2=val2;prop=1;prop2;prop3=2"
    assert extract_baggage(header) == {"key1": "val1", "key2": "val2"}
    context = BAGGAGE.extract({"baggage": [header]})
    out: dict[str, str] = {}
    BAGGAGE.inject(out, context)
    assert out["baggage"] == header


def test_baggage_header_contains_too_many_entries() -> None:
    header = ",".join([f"key{k}=val" for k in range(MAX_PAIRS + 1)])
    assert len(extract_baggage(header)) == MAX_PAIRS


def test_baggage_header_max_entries_skip_invalid_entry() -> None:
    """A skipped member does not count against the 180: with one too-long member, as in OTel,
    the other 180 are kept; with one malformed member OTel counts it and keeps 179,
    tracehound keeps the 180 valid ones."""
    too_long = ",".join(
        f"key{i}=value{i}" if i != 2 else f"key{i}=value{'s' * (MAX_PAIR_LENGTH + 1)}"
        for i in range(MAX_PAIRS + 1)
    )
    assert extract_baggage(too_long) == {
        f"key{i}": f"value{i}" for i in range(MAX_PAIRS + 1) if i != 2
    }
    malformed = ",".join(
        f"key{i}=value{i}" if i != 2 else f"key{i}xvalue{i}" for i in range(MAX_PAIRS + 1)
    )
    assert extract_baggage(malformed) == {
        f"key{i}": f"value{i}" for i in range(MAX_PAIRS + 1) if i != 2
    }


def test_baggage_inject_no_baggage_entries() -> None:
    assert inject_baggage({}) is None


def test_baggage_inject_space_entries() -> None:
    """OTel Python writes ``val+ue``; Java, Go and JS read ``+`` as a plus.  tracehound writes
    ``%20``, which every peer (OTel Python included) reads as a space."""
    assert inject_baggage({"key": "val ue"}) == "key=val%20ue"


def test_baggage_inject() -> None:
    output = inject_baggage({"key1": "val1", "key2": "val2"})
    assert output is not None
    assert "key1=val1" in output
    assert "key2=val2" in output


def test_baggage_inject_escaped_values() -> None:
    output = inject_baggage({"key1": "val1,val2", "key2": "val3=4"})
    assert output is not None
    assert "key2=val3%3D4" in output


def test_baggage_inject_non_string_values() -> None:
    output = inject_baggage({"key1": True, "key2": 123, "key3": 123.567})
    assert output is not None
    for member in ("key1=True", "key2=123", "key3=123.567"):
        assert member in output


def test_baggage_fields() -> None:
    setter = RecordingSetter()
    BAGGAGE.inject({}, baggage.set_baggage("key", "value"), setter=setter)
    assert setter.names == {"baggage"}
    assert setter.names <= BAGGAGE.fields


def test_baggage_inject_too_many_entries(caplog: pytest.LogCaptureFixture) -> None:
    propagator = TracehoundPropagator(report=False)
    with caplog.at_level(logging.WARNING):
        output = inject_baggage({f"key{i}": f"val{i}" for i in range(MAX_PAIRS + 10)}, propagator)
    assert output is not None
    assert len(output.split(",")) == MAX_PAIRS
    assert f"key{MAX_PAIRS}=" not in output
    assert "baggage entries not sent" in caplog.text
    assert propagator.baggage_dropped == 10


def test_baggage_inject_entry_too_long(caplog: pytest.LogCaptureFixture) -> None:
    propagator = TracehoundPropagator(report=False)
    with caplog.at_level(logging.WARNING):
        output = inject_baggage(
            {"key1": "val1", "big": "x" * MAX_PAIR_LENGTH, "key3": "val3"}, propagator
        )
    assert output == "key1=val1,key3=val3"
    assert "'big'" in caplog.text


def test_baggage_inject_total_header_too_long(caplog: pytest.LogCaptureFixture) -> None:
    propagator = TracehoundPropagator(report=False)
    with caplog.at_level(logging.WARNING):
        output = inject_baggage({f"k{i:03d}": "v" * 200 for i in range(50)}, propagator)
    assert output is not None
    assert len(output) <= MAX_HEADER_LENGTH
    assert f"over {MAX_HEADER_LENGTH} bytes" in caplog.text


def test_baggage_inject_empty_after_all_dropped() -> None:
    long_value = "x" * MAX_PAIR_LENGTH
    assert inject_baggage({"big1": long_value, "big2": long_value}) is None


def test_baggage_inject_extract() -> None:
    """OTel writes ``transaction=string+with+spaces``; tracehound ``%20`` (see above)."""
    carrier: dict[str, str] = {}
    BAGGAGE.inject(carrier, baggage.set_baggage("transaction", "string with spaces"))
    assert carrier == {"baggage": "transaction=string%20with%20spaces"}
    assert baggage.get_all(BAGGAGE.extract(carrier)) == {"transaction": "string with spaces"}


# -- W3C Trace Context (test_tracecontexthttptextformat.py) -------------------------------

TC = TracehoundPropagator(report=False)
TC_TRACE_ID = int("12345678901234567890123456789012", 16)
TC_SPAN_ID = int("1234567890123456", 16)


def tc_span_context(carrier: dict[str, Any]) -> trace_api.SpanContext:
    return trace_api.get_current_span(TC.extract(carrier)).get_span_context()


def test_tc_no_traceparent_header() -> None:
    span = trace_api.get_current_span(TC.extract({}))
    assert isinstance(span.get_span_context(), trace_api.SpanContext)


def test_tc_headers_with_tracestate() -> None:
    traceparent_value = f"00-{TC_TRACE_ID:032x}-{TC_SPAN_ID:016x}-00"
    span_context = tc_span_context(
        {"traceparent": [traceparent_value], "tracestate": ["foo=1,bar=2,baz=3"]}
    )
    assert span_context.trace_id == TC_TRACE_ID
    assert span_context.span_id == TC_SPAN_ID
    assert span_context.trace_state == {"foo": "1", "bar": "2", "baz": "3"}
    assert span_context.is_remote
    output: dict[str, str] = {}
    TC.inject(
        output, context=trace_api.set_span_in_context(trace_api.NonRecordingSpan(span_context))
    )
    assert output["traceparent"] == traceparent_value
    for pair in ["foo=1", "bar=2", "baz=3"]:
        assert pair in output["tracestate"]
    assert output["tracestate"].count(",") == 2


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-00000000000000000000000000000000-1234567890123456-00",  # test_invalid_trace_id
        "00-00000000000000000000000000000000-0000000000000000-00",  # test_invalid_parent_id
        "00-12345678901234567890123456789012-1234567890123456-00-residue",  # format not supported
    ],
)
def test_tc_invalid_traceparent_is_ignored(traceparent: str) -> None:
    span_context = tc_span_context(
        {"traceparent": [traceparent], "tracestate": ["foo=1,bar=2,foo=3"]}
    )
    assert span_context == trace_api.INVALID_SPAN_CONTEXT


def test_tc_no_send_empty_tracestate() -> None:
    output: dict[str, str] = {}
    span = trace_api.NonRecordingSpan(
        trace_api.SpanContext(TC_TRACE_ID, TC_SPAN_ID, is_remote=False)
    )
    TC.inject(output, context=trace_api.set_span_in_context(span))
    assert "traceparent" in output
    assert "tracestate" not in output


def test_tc_propagate_invalid_context() -> None:
    output: dict[str, str] = {}
    TC.inject(output, context=trace_api.set_span_in_context(trace_api.INVALID_SPAN))
    assert "traceparent" not in output


@pytest.mark.parametrize("tracestate", [["foo=1", ""], ["foo=1,"]])
def test_tc_tracestate_empty_header_and_trailing_comma(tracestate: list[str]) -> None:
    traceparent = "00-12345678901234567890123456789012-1234567890123456-00"
    span_context = tc_span_context({"traceparent": [traceparent], "tracestate": tracestate})
    assert span_context.trace_state["foo"] == "1"


def test_tc_tracestate_keys() -> None:
    tracestate_value = "1a-2f@foo=bar1,1a-_*/2b@foo=bar2,foo=bar3,foo-_*/bar=bar4"
    span_context = tc_span_context(
        {
            "traceparent": ["00-12345678901234567890123456789012-1234567890123456-00"],
            "tracestate": [tracestate_value],
        }
    )
    assert span_context.trace_state["1a-2f@foo"] == "bar1"
    assert span_context.trace_state["1a-_*/2b@foo"] == "bar2"
    assert span_context.trace_state["foo"] == "bar3"
    assert span_context.trace_state["foo-_*/bar"] == "bar4"


def test_tc_fields() -> None:
    """The original mocks a span with a tracestate; a real one here.  ``baggage`` is in
    tracehound's ``fields`` as well (one propagator writes both)."""
    span = trace_api.NonRecordingSpan(
        trace_api.SpanContext(1, 2, is_remote=False, trace_state=TraceState([("a", "b")]))
    )
    setter = RecordingSetter()
    TC.inject({}, trace_api.set_span_in_context(span), setter=setter)
    assert setter.names == TC.fields - {"baggage"}


def test_tc_extract_no_trace_parent_to_explicit_and_implicit_ctx() -> None:
    carrier = {"tracestate": ["foo=1"]}
    orig_ctx = Context({"k1": "v1"})
    assert dict(TC.extract(carrier, orig_ctx)) == dict(orig_ctx)
    assert dict(TC.extract(carrier)) == dict(Context())


@pytest.mark.parametrize(
    "trace_parent",
    [
        "invalid",
        "00-00000000000000000000000000000000-1234567890123456-00",
        "00-12345678901234567890123456789012-0000000000000000-00",
        "00-12345678901234567890123456789012-1234567890123456-00-residue",
    ],
)
def test_tc_extract_invalid_trace_parent_to_explicit_and_implicit_ctx(trace_parent: str) -> None:
    carrier = {"traceparent": [trace_parent], "tracestate": ["foo=1"]}
    orig_ctx = Context({"k1": "v1"})
    assert dict(TC.extract(carrier, orig_ctx)) == dict(orig_ctx)
    assert dict(TC.extract(carrier)) == dict(Context())
