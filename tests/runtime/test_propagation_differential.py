"""Agree with OpenTelemetry's own propagators on valid input; name every deliberate difference.

Differential: the same headers through tracehound and through
``opentelemetry-propagator-b3``, ``opentelemetry-propagator-jaeger`` and
OTel's W3C propagator must give the same trace ID, span ID and sampled flag.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.propagators.jaeger import JaegerPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tracehound.runtime.propagation import TracehoundPropagator

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
    from opentelemetry.propagators.composite import CompositePropagator

    headers = {"traceparent": f"00-{TID}-{SID}-01", "b3": f"{'a' * 32}-{SID}-1"}
    composite = CompositePropagator(
        [TraceContextTextMapPropagator(), B3MultiFormat(), B3SingleFormat()]
    )
    theirs = triple(composite.extract(headers))
    assert theirs is not None and theirs[0] == int("a" * 32, 16)
    mine = triple(ours.extract(headers))
    assert mine is not None and mine[0] == int(TID, 16)
