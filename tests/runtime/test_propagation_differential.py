"""Agree with OpenTelemetry's own propagators on valid input; name every deliberate difference.

Differential: the same headers through tracehound and through
``opentelemetry-propagator-b3``, ``opentelemetry-propagator-jaeger`` and
OTel's W3C propagators must give the same trace ID, span ID and sampled flag
(and the same baggage), in both directions: what OTel writes tracehound reads,
and what tracehound writes OTel reads.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import baggage, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.jaeger import JaegerPropagator
from opentelemetry.propagators.textmap import Setter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tracehound.formats.baggage import MAX_BYTES, MAX_MEMBER_BYTES, MAX_MEMBERS
from tracehound.runtime.propagation import TracehoundPropagator, get_extraction, take_rejection

ours = TracehoundPropagator(report=False)
trace_ids_128 = st.integers(min_value=1, max_value=2**128 - 1)
trace_ids_64 = st.integers(min_value=1, max_value=2**64 - 1)
span_ids = st.integers(min_value=1, max_value=2**64 - 1)


def triple(context: Context) -> tuple[int, int, bool] | None:
    sc = trace.get_current_span(context).get_span_context()
    if not sc.is_valid:
        return None
    return sc.trace_id, sc.span_id, sc.trace_flags.sampled


@settings(max_examples=300)
@given(trace_ids_128, span_ids, st.integers(min_value=0, max_value=255))
def test_w3c_agrees(trace_id: int, span_id: int, flags: int) -> None:
    headers = {"traceparent": f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"}
    theirs = TraceContextTextMapPropagator().extract(headers)
    assert triple(ours.extract(headers)) == triple(theirs)
    ours_flags = trace.get_current_span(ours.extract(headers)).get_span_context().trace_flags
    their_flags = trace.get_current_span(theirs).get_span_context().trace_flags
    assert ours_flags == their_flags


@settings(max_examples=300)
@given(st.one_of(trace_ids_128, trace_ids_64), span_ids, st.sampled_from(["0", "1", "d", None]))
def test_b3_single_agrees(trace_id: int, span_id: int, sampling: str | None) -> None:
    width = 32 if trace_id >= 2**64 else 16
    value = f"{trace_id:0{width}x}-{span_id:016x}" + (f"-{sampling}" if sampling else "")
    headers = {"b3": value}
    assert triple(ours.extract(headers)) == triple(B3SingleFormat().extract(headers))


@settings(max_examples=300)
@given(
    st.one_of(trace_ids_128, trace_ids_64),
    span_ids,
    st.sampled_from(["0", "1", None]),
    st.booleans(),
)
def test_b3_multi_agrees(trace_id: int, span_id: int, sampled: str | None, debug: bool) -> None:
    width = 32 if trace_id >= 2**64 else 16
    headers = {"x-b3-traceid": f"{trace_id:0{width}x}", "x-b3-spanid": f"{span_id:016x}"}
    if sampled is not None:
        headers["x-b3-sampled"] = sampled
    if debug:
        headers["x-b3-flags"] = "1"
    if sampled is None and not debug:
        return  # deferred: a deliberate difference, see below
    assert triple(ours.extract(headers)) == triple(B3MultiFormat().extract(headers))


@settings(max_examples=300)
@given(st.one_of(trace_ids_128, trace_ids_64), span_ids, st.sampled_from([0, 1, 3]), st.booleans())
def test_jaeger_agrees(trace_id: int, span_id: int, flags: int, padded: bool) -> None:
    tid = f"{trace_id:032x}" if padded else f"{trace_id:x}"
    sid = f"{span_id:016x}" if padded else f"{span_id:x}"
    headers = {"uber-trace-id": f"{tid}:{sid}:0:{flags}"}
    assert triple(ours.extract(headers)) == triple(JaegerPropagator().extract(headers))


# -- deliberate differences ---------------------------------------------------


TID, SID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def test_difference_jaeger_url_encoded_colons_accepted() -> None:
    """Older Jaeger clients send ``%3A``; OTel rejects it, we read it (ANCHORS)."""
    headers = {"uber-trace-id": f"{TID}%3A{SID}%3A0%3A1"}
    assert triple(JaegerPropagator().extract(headers)) is None
    assert triple(ours.extract(headers)) == (int(TID, 16), int(SID, 16), True)


def test_difference_jaeger_inject_does_not_invent_the_debug_bit() -> None:
    """OTel writes flags 3 (debug) for every sampled span; we write what the context has."""
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s"):
        theirs: dict[str, str] = {}
        JaegerPropagator().inject(theirs)
        mine: dict[str, str] = {}
        TracehoundPropagator(inject="jaeger").inject(mine)
    assert int(theirs["uber-trace-id"].rsplit(":", 1)[1], 16) == 3
    assert int(mine["uber-trace-id"].rsplit(":", 1)[1], 16) == 1


def test_difference_jaeger_debug_flag_alone_means_record() -> None:
    """Flags ``2`` (debug without sampled): Jaeger clients force-sample; OTel drops it."""
    headers = {"uber-trace-id": f"{TID}:{SID}:0:2"}
    assert triple(JaegerPropagator().extract(headers)) == (int(TID, 16), int(SID, 16), False)
    assert triple(ours.extract(headers)) == (int(TID, 16), int(SID, 16), True)


def test_difference_b3_multi_deferred_sampling_is_recorded() -> None:
    """No ``X-B3-Sampled``: OTel records it for ``b3`` but drops it for multi; we record both."""
    single = {"b3": f"{TID}-{SID}"}
    multi = {"x-b3-traceid": TID, "x-b3-spanid": SID}
    assert triple(B3SingleFormat().extract(single))[2] is True  # type: ignore[index]
    assert triple(B3MultiFormat().extract(multi))[2] is False  # type: ignore[index]
    assert triple(ours.extract(single))[2] is True  # type: ignore[index]
    assert triple(ours.extract(multi))[2] is True  # type: ignore[index]


def test_difference_duplicated_traceparent_starts_a_new_trace() -> None:
    """W3C: several traceparent fields are invalid; OTel silently continues the first."""

    class ListGetter:
        def get(self, carrier: dict[str, list[str]], key: str) -> list[str] | None:
            return carrier.get(key)

        def keys(self, carrier: dict[str, list[str]]) -> list[str]:
            return list(carrier)

    tp = f"00-{TID}-{SID}-01"
    other = f"00-{'a' * 32}-{SID}-01"
    carrier = {"traceparent": [tp, other]}
    assert triple(TraceContextTextMapPropagator().extract(carrier, getter=ListGetter())) is not None
    assert triple(ours.extract(carrier, getter=ListGetter())) is None


def test_difference_header_case_in_plain_dicts() -> None:
    """``dict(request.headers)`` has ``Traceparent``; OTel's default getter misses it."""
    headers = {"Traceparent": f"00-{TID}-{SID}-01"}
    assert triple(TraceContextTextMapPropagator().extract(headers)) is None
    assert triple(ours.extract(headers)) is not None


def test_difference_level2_tracestate_keys_kept() -> None:
    """OTel validates tracestate keys with the Level 1 pattern and drops ``1vendor``."""
    headers = {"traceparent": f"00-{TID}-{SID}-01", "tracestate": "1vendor=x,foo@=y"}
    theirs = (
        trace.get_current_span(TraceContextTextMapPropagator().extract(headers))
        .get_span_context()
        .trace_state
    )
    mine = trace.get_current_span(ours.extract(headers)).get_span_context().trace_state
    assert "1vendor" not in theirs
    assert dict(mine) == {"1vendor": "x", "foo@": "y"}


def test_difference_conflicting_formats_w3c_wins() -> None:
    """OTel's composite lets the last valid propagator win; we follow W3C and link the rest."""

    headers = {"traceparent": f"00-{TID}-{SID}-01", "b3": f"{'a' * 32}-{SID}-1"}
    composite = CompositePropagator(
        [TraceContextTextMapPropagator(), B3MultiFormat(), B3SingleFormat()]
    )
    theirs = triple(composite.extract(headers))
    assert theirs is not None and theirs[0] == int("a" * 32, 16)
    mine = triple(ours.extract(headers))
    assert mine is not None and mine[0] == int(TID, 16)


# -- inject: what tracehound writes, OpenTelemetry's propagators read ---------

OTEL_READERS: dict[str, Any] = {
    "tracecontext": TraceContextTextMapPropagator(),
    "jaeger": JaegerPropagator(),
    "b3": B3SingleFormat(),
    "b3multi": B3MultiFormat(),
}


def _remote(trace_id: int, span_id: int, sampled: bool, state: TraceState | None = None) -> Context:
    sc = SpanContext(
        trace_id, span_id, is_remote=False, trace_flags=TraceFlags(int(sampled)), trace_state=state
    )
    return trace.set_span_in_context(NonRecordingSpan(sc))


@settings(max_examples=200)
@given(
    trace_ids_128,
    span_ids,
    st.booleans(),
    st.lists(st.sampled_from(list(OTEL_READERS)), min_size=1, max_size=4, unique=True),
)
def test_otel_reads_what_tracehound_injects(
    trace_id: int, span_id: int, sampled: bool, formats: list[str]
) -> None:
    carrier: dict[str, str] = {}
    TracehoundPropagator(inject=formats, report=False).inject(
        carrier, _remote(trace_id, span_id, sampled)
    )
    assert all(name == name.lower() for name in carrier), carrier  # gRPC, Kafka, B3MultiFormat
    for fmt in formats:
        assert triple(OTEL_READERS[fmt].extract(carrier)) == (trace_id, span_id, sampled), fmt


@settings(max_examples=200)
@given(trace_ids_128, span_ids, st.booleans(), st.sampled_from(list(OTEL_READERS)))
def test_tracehound_reads_what_otel_injects(
    trace_id: int, span_id: int, sampled: bool, fmt: str
) -> None:
    carrier: dict[str, str] = {}
    OTEL_READERS[fmt].inject(carrier, _remote(trace_id, span_id, sampled))
    assert triple(ours.extract(carrier)) == (trace_id, span_id, sampled)


def test_jaeger_parent_field_as_otel_writes_it() -> None:
    """The sending span's parent goes in the third field, as OTel and jaeger-client-go/java do."""
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("parent") as parent, tracer.start_as_current_span("child"):
        theirs: dict[str, str] = {}
        JaegerPropagator().inject(theirs)
        mine: dict[str, str] = {}
        TracehoundPropagator(inject="jaeger").inject(mine)
    want = f"{parent.get_span_context().span_id:016x}"
    assert theirs["uber-trace-id"].split(":")[2] == want
    assert mine["uber-trace-id"].split(":")[2] == want
    assert mine["uber-trace-id"].split(":")[:2] == theirs["uber-trace-id"].split(":")[:2]


def test_difference_jaeger_root_parent_is_written_as_jaeger_clients_write_it() -> None:
    """A root span: jaeger-client-go/java write ``0`` (``%x``); OTel pads to 16 zeros."""
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("root"):
        theirs: dict[str, str] = {}
        JaegerPropagator().inject(theirs)
        mine: dict[str, str] = {}
        TracehoundPropagator(inject="jaeger").inject(mine)
    assert theirs["uber-trace-id"].split(":")[2] == "0" * 16
    assert mine["uber-trace-id"].split(":")[2] == "0"
    assert triple(JaegerPropagator().extract(mine)) == triple(ours.extract(theirs))


# -- fields: exactly the names inject may write -------------------------------


class RecordingSetter(Setter[dict[str, str]]):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def set(self, carrier: dict[str, str], key: str, value: str) -> None:
        self.names.add(key)
        carrier[key] = value


@settings(max_examples=100)
@given(st.lists(st.sampled_from(list(OTEL_READERS)), min_size=1, max_size=4, unique=True))
def test_fields_are_exactly_what_inject_may_write(formats: list[str]) -> None:
    propagator = TracehoundPropagator(inject=formats, report=False)
    written: set[str] = set()
    for sampled in (True, False):
        for state in (None, TraceState([("vendor", "x")])):
            for bag in ({}, {"k": "v"}):
                context = _remote(int(TID, 16), int(SID, 16), sampled, state)
                for key, value in bag.items():
                    context = baggage.set_baggage(key, value, context)
                setter = RecordingSetter()
                propagator.inject({}, context, setter)
                written |= setter.names
    # uberctx-<key> names depend on the baggage keys: not listed, as in OTel's JaegerPropagator.
    assert {n for n in written if not n.startswith("uberctx-")} == propagator.fields


# -- mixed-case carriers of every shape ----------------------------------------

LEGACY_TITLE = {
    "Uber-Trace-Id": f"{'a' * 32}:{SID}:0:1",
    "X-B3-TraceId": "b" * 32,
    "X-B3-SpanId": SID,
    "X-B3-Sampled": "1",
}


def _shapes(headers: dict[str, str]) -> dict[str, object]:
    environ = {"REQUEST_METHOD": "GET", "wsgi.version": (1, 0)}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return {
        "dict": dict(headers),
        "pairs": list(headers.items()),
        "wsgi": environ,
        "asgi": {
            "type": "http",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        },
        "kafka": [(k, v.encode()) for k, v in headers.items()],
        "grpc": tuple((k.lower(), v) for k, v in headers.items()),
    }


@pytest.mark.parametrize("shape", ["dict", "pairs", "wsgi", "asgi", "kafka", "grpc"])
def test_title_case_legacy_beside_lower_case_traceparent_is_seen(shape: str) -> None:
    """A framework adds ``X-B3-*`` in Title-Case beside ``traceparent``: the conflict is seen."""
    headers = {"traceparent": f"00-{TID}-{SID}-01", **LEGACY_TITLE}
    carrier = _shapes(headers)[shape]
    context = TracehoundPropagator(report=False).extract(carrier)
    assert triple(context) == (int(TID, 16), int(SID, 16), True)
    extraction = get_extraction(context)
    assert extraction is not None
    assert {c.format.value for c in extraction.inbound.conflicts} == {"jaeger", "b3multi"}
    # OTel's readers see the same legacy contexts once the names are lower case.
    lowered = {k.lower(): v for k, v in headers.items()}
    seen = {triple(c) for c in (_as_context(c) for c in extraction.links)}
    assert seen == {
        triple(JaegerPropagator().extract(lowered)),
        triple(B3MultiFormat().extract(lowered)),
    }


def _as_context(sc: SpanContext) -> Context:
    return trace.set_span_in_context(NonRecordingSpan(sc))


@pytest.mark.parametrize("shape", ["dict", "pairs", "wsgi", "asgi", "kafka", "grpc"])
def test_legacy_only_in_any_case_and_shape(shape: str) -> None:
    carrier = _shapes({"X-B3-TraceId": TID, "X-B3-SpanId": SID, "X-B3-Sampled": "0"})[shape]
    assert triple(TracehoundPropagator(report=False).extract(carrier)) == (
        int(TID, 16),
        int(SID, 16),
        False,
    )


# -- a rejected header leaves the context exactly as it was --------------------

INVALID = st.sampled_from(
    [
        {"traceparent": f"00-{TID.upper()}-{SID}-01"},
        {"traceparent": f"00-{TID}-{SID}-1"},
        {"traceparent": f"ff-{TID}-{SID}-01"},
        {"uber-trace-id": f"{TID}:{SID}:0"},
        {"uber-trace-id": f"{'0' * 32}:{SID}:0:1"},
        {"b3": "0-1-2-3-4-5-6-7"},
        {"b3": f"{TID}-{'0' * 16}-1"},
        {"x-b3-traceid": "abc123", "x-b3-spanid": SID},
        {"x-b3-traceid": TID},
        {"x-b3-spanid": SID, "x-b3-flags": "1"},
    ]
) | st.dictionaries(
    st.sampled_from(["traceparent", "uber-trace-id", "b3", "x-b3-traceid", "x-b3-spanid"]),
    st.text(alphabet="0123456789abcdefABCDEF-:xz ", max_size=60),
    min_size=1,
)


@settings(max_examples=300)
@given(INVALID)
def test_rejected_headers_leave_the_context_as_it_was(carrier: dict[str, str]) -> None:
    """OTel spec: a propagator MUST NOT store a new value when it cannot parse.

    (OTel's B3 propagator itself stores an invalid span for a zero span ID.)
    """
    given_context = Context({"k1": "v1"})
    mine = ours.extract(carrier, given_context)
    if triple(mine) is None:
        assert dict(mine) == dict(given_context)


def test_the_rejection_reason_is_kept_aside_for_continue_trace() -> None:
    carrier = {"traceparent": f"00-{TID.upper()}-{SID}-01"}
    given_context = Context({"k1": "v1"})
    assert TracehoundPropagator(report=False).extract(carrier, given_context) == given_context
    extraction = take_rejection(carrier)
    assert extraction is not None
    assert [f.code for f in extraction.findings] == ["P001"]
    assert "upper-case hex" in extraction.findings[0].message


# -- B3 single beside a conflicting multi set ----------------------------------


def test_b3_single_and_multi_naming_different_traces_is_a_conflict() -> None:
    """OTel's B3 propagator silently prefers the single header; tracehound follows
    ``legacy_order`` (default ``b3`` first, as OTel) and reports the other (P002)."""
    headers = {"b3": f"{TID}-{SID}-1", "x-b3-traceid": "a" * 32, "x-b3-spanid": SID}
    theirs = triple(B3MultiFormat().extract(headers))
    default = TracehoundPropagator(report=False).extract(headers)
    assert triple(default) == theirs == (int(TID, 16), int(SID, 16), True)
    extraction = get_extraction(default)
    assert extraction is not None
    assert [f.code for f in extraction.findings] == ["P003", "P002"]
    multi_first = TracehoundPropagator(legacy_order="b3multi,b3", report=False).extract(headers)
    assert triple(multi_first) == (int("a" * 32, 16), int(SID, 16), True)


# -- baggage, both directions ----------------------------------------------------

baggage_keys = st.text(min_size=1, max_size=12).filter(lambda k: k.strip() == k)
baggage_values = st.text(max_size=30)


def _with_baggage(entries: dict[str, str]) -> Context:
    context = Context()
    for key, value in entries.items():
        context = baggage.set_baggage(key, value, context)
    return context


@settings(max_examples=300)
@given(st.dictionaries(baggage_keys, baggage_values, max_size=8))
def test_otel_python_baggage_is_read_as_written(entries: dict[str, str]) -> None:
    """OTel Python writes ``quote_plus`` (spaces as ``+``), keys encoded too; read back exactly."""
    carrier: dict[str, str] = {}
    W3CBaggagePropagator().inject(carrier, _with_baggage(entries))
    assert dict(baggage.get_all(ours.extract(carrier))) == entries


@settings(max_examples=300)
@given(st.dictionaries(baggage_keys, baggage_values, max_size=8))
def test_otel_python_reads_tracehound_baggage(entries: dict[str, str]) -> None:
    carrier: dict[str, str] = {}
    ours.inject(carrier, _with_baggage(entries))
    theirs = dict(baggage.get_all(W3CBaggagePropagator().extract(carrier, Context())))
    assert theirs == {k: v.strip() for k, v in entries.items()}  # OTel strips decoded values
    assert dict(baggage.get_all(ours.extract(carrier))) == entries


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # OTel Java, Go and JS write spaces as %20 and keep properties as metadata.
        ("userId=alice%20smith;ttl=30,plan=pro", {"userId": "alice smith", "plan": "pro"}),
        # OTel Python: quote_plus for keys and values.
        (
            "transaction=string+with+spaces,key%23key=v%2Fw",
            {"transaction": "string with spaces", "key#key": "v/w"},
        ),
        # Whitespace around members and '=' is optional whitespace (W3C).
        (" a = 1 , b=2 ", {"a": "1", "b": "2"}),
    ],
)
def test_baggage_as_the_peers_write_it(header: str, expected: dict[str, str]) -> None:
    assert dict(baggage.get_all(ours.extract({"baggage": header}))) == expected


def test_difference_baggage_properties_are_kept_and_forwarded() -> None:
    """OTel Python folds ``;ttl=30`` into the value (and then percent-encodes it on the
    next hop, so Java/Go peers lose it); tracehound keeps the value clean and sends the
    properties on, as OTel Java, Go and JS do."""
    carrier = {"baggage": "userId=alice;ttl=30"}
    theirs = baggage.get_all(W3CBaggagePropagator().extract(carrier, Context()))
    assert theirs == {"userId": "alice;ttl=30"}
    context = ours.extract(carrier)
    assert baggage.get_all(context) == {"userId": "alice"}
    out: dict[str, str] = {}
    ours.inject(out, context)
    assert out["baggage"] == "userId=alice;ttl=30"


def test_inject_limits_match_what_the_next_hop_accepts(caplog: pytest.LogCaptureFixture) -> None:
    """What tracehound sends, OTel Python's extract keeps whole; what it leaves out is counted."""
    entries = {"small": "1", "big": "x" * MAX_MEMBER_BYTES, "after": "2"}
    entries.update({f"k{i:03d}": "v" * 60 for i in range(MAX_MEMBERS + 10)})
    propagator = TracehoundPropagator(report=False)
    carrier: dict[str, str] = {}
    propagator.inject(carrier, _with_baggage(entries))
    sent = carrier["baggage"]
    assert len(sent) <= MAX_BYTES
    assert len(sent.split(",")) <= MAX_MEMBERS
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        theirs = dict(baggage.get_all(W3CBaggagePropagator().extract(carrier, Context())))
    assert not caplog.records, "OTel dropped something tracehound sent"
    assert len(theirs) == len(sent.split(","))
    assert "big" not in theirs and theirs["after"] == "2"
    assert propagator.baggage_dropped == len(entries) - len(theirs)


# -- legacy_order and deliberate differences, continued --------------------------


def test_difference_uppercase_legacy_names_in_a_plain_dict() -> None:
    """OTel's getter is case-sensitive and misses ``X-B3-TraceId`` in a dict; we read it."""
    headers = {"X-B3-TraceId": TID, "X-B3-SpanId": SID, "X-B3-Sampled": "1"}
    assert triple(B3MultiFormat().extract(headers)) is None
    assert triple(ours.extract(headers)) == (int(TID, 16), int(SID, 16), True)
