"""No header value, however hostile, raises out of the parsers (property-based)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tracehound.formats import (
    Format,
    parse_b3_multi,
    parse_b3_single,
    parse_baggage,
    parse_traceparent,
    parse_traceparent_fields,
    parse_tracestate,
    parse_uber_trace_id,
    read_headers,
)

HEADER_NAMES = [
    "traceparent",
    "TraceParent",
    "tracestate",
    "baggage",
    "uber-trace-id",
    "b3",
    "X-B3-TraceId",
    "X-B3-SpanId",
    "X-B3-Sampled",
    "X-B3-Flags",
    "X-B3-ParentSpanId",
    "uberctx-user",
    "jaeger-baggage",
]
# Text near the grammar finds more edge cases than uniform noise.
hexish = st.text(alphabet="0123456789abcdefABCDEF-:%3,= \t;@xg", max_size=80)
values = st.one_of(st.text(max_size=300), hexish)


@settings(max_examples=400)
@given(values)
def test_single_value_parsers(value: str) -> None:
    for parse in (parse_traceparent, parse_uber_trace_id, parse_b3_single):
        result = parse(value)
        assert result is None or isinstance(result, tuple)
    parse_tracestate([value])
    parse_baggage([value])
    parse_traceparent_fields([value, value])


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), values), max_size=12))
def test_read_headers_never_raises(pairs: list[tuple[str, str]]) -> None:
    inbound = read_headers(pairs)
    if inbound.context is not None:
        assert 0 < inbound.context.trace_id < 2**128
        assert 0 < inbound.context.span_id < 2**64
        assert inbound.context.format in Format
    for problem in inbound.problems:
        assert problem.code in {"P001", "P002", "P003", "P004", "P006"}


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(
            ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags", "x-b3-parentspanid"]
        ),
        values,
    )
)
def test_b3_multi_never_raises(headers: dict[str, str]) -> None:
    parse_b3_multi(headers)


def test_huge_and_repeated_values_stay_bounded() -> None:
    huge = "a=" + "b" * 1_000_000
    inbound = read_headers([("tracestate", huge)] * 3 + [("traceparent", "x" * 1_000_000)])
    assert inbound.context is None
    many = ",".join(f"k{i}=v" for i in range(100_000))
    state = parse_tracestate([many])
    assert state.members == ()
    assert state.rejection is not None
