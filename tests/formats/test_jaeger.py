"""Jaeger ``uber-trace-id``: widths, padding, URL encoding, flags."""

from __future__ import annotations

import pytest

from tracehound.formats import (
    Format,
    Rejection,
    TraceContext,
    format_uber_trace_id,
    parse_uber_trace_id,
)


@pytest.mark.parametrize(
    ("value", "trace_id", "span_id", "sampled", "debug"),
    [
        (
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
            0x4BF92F3577B34DA6A3CE929D0E0E4736,
            0x00F067AA0BA902B7,
            True,
            False,
        ),
        ("4bf92f3577b34da6:f067aa0ba902b7:0:0", 0x4BF92F3577B34DA6, 0xF067AA0BA902B7, False, False),
        ("abc:def:0:1", 0xABC, 0xDEF, True, False),  # no zero padding required
        ("abc%3Adef%3A0%3A1", 0xABC, 0xDEF, True, False),  # older clients URL-encode
        ("abc%3adef%3a0%3a3", 0xABC, 0xDEF, True, True),
        ("abc:def:123:2", 0xABC, 0xDEF, True, True),  # debug implies recording
        ("ABC:DEF:0:1", 0xABC, 0xDEF, True, False),
    ],
)
def test_valid(value: str, trace_id: int, span_id: int, sampled: bool, debug: bool) -> None:
    parsed = parse_uber_trace_id(value)
    assert isinstance(parsed, TraceContext)
    assert parsed.format is Format.JAEGER
    assert (parsed.trace_id, parsed.span_id) == (trace_id, span_id)
    assert (parsed.sampled, parsed.debug) == (sampled, debug)


def test_parent_span_id_is_kept() -> None:
    parsed = parse_uber_trace_id("abc:def:123:1")
    assert isinstance(parsed, TraceContext)
    assert parsed.parent_span_id == 0x123


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc:def:0", "expected 4 fields"),
        ("abc:def:0:1:9", "expected 4 fields"),
        ("0:def:0:1", "trace-id is zero"),
        ("abc:0:0:1", "span-id is zero"),
        ("x" * 33 + ":def:0:1", "at most 32"),
        ("abc:" + "d" * 17 + ":0:1", "at most 16"),
        ("abz:def:0:1", "contains 'z'"),
        ("abc:def:0:", "flags must be"),
        ("abc:def:0:100", "flags must be"),
        (":def:0:1", "trace-id is empty"),
    ],
)
def test_rejections(value: str, reason: str) -> None:
    parsed = parse_uber_trace_id(value)
    assert isinstance(parsed, Rejection)
    assert reason in parsed.reason


def test_inject_writes_the_flags_the_context_has() -> None:
    assert format_uber_trace_id(0xABC, 0xDEF, sampled=True).endswith(":0:1")
    assert format_uber_trace_id(0xABC, 0xDEF, sampled=False).endswith(":0:0")
    assert format_uber_trace_id(0xABC, 0xDEF, sampled=True, debug=True).endswith(":0:3")
    with_parent = format_uber_trace_id(0xABC, 0xDEF, sampled=True, parent_span_id=0x123)
    assert with_parent.split(":")[2] == "0000000000000123"
    round_trip = parse_uber_trace_id(format_uber_trace_id(0xABC, 0xDEF, sampled=True))
    assert isinstance(round_trip, TraceContext)
    assert (round_trip.trace_id, round_trip.span_id) == (0xABC, 0xDEF)
