"""B3 single and multi header parsing."""

from __future__ import annotations

import pytest

from tracehound.formats import (
    Format,
    Rejection,
    TraceContext,
    format_b3_multi,
    format_b3_single,
    parse_b3_multi,
    parse_b3_single,
)

T128 = "80f198ee56343ba864fe8b2a57d3eff7"
T64 = "463ac35c9f6413ad"
S = "e457b5a2e4d86bd1"
P = "05e3ac9a4f6e3b90"


@pytest.mark.parametrize(
    ("value", "trace", "sampled", "debug", "parent"),
    [
        (f"{T128}-{S}-1-{P}", T128, True, False, P),
        (f"{T64}-{S}-1", T64, True, False, None),
        (f"{T128}-{S}", T128, None, False, None),  # decision deferred
        (f"{T128}-{S}-0", T128, False, False, None),
        (f"{T128}-{S}-d", T128, True, True, None),
    ],
)
def test_single(
    value: str, trace: str, sampled: bool | None, debug: bool, parent: str | None
) -> None:
    parsed = parse_b3_single(value)
    assert isinstance(parsed, TraceContext)
    assert parsed.format is Format.B3
    assert parsed.trace_id == int(trace, 16)
    assert parsed.span_id == int(S, 16)
    assert (parsed.sampled, parsed.debug) == (sampled, debug)
    assert parsed.parent_span_id == (int(parent, 16) if parent else None)


@pytest.mark.parametrize("value", ["0", "1", "d"])
def test_single_sampling_only_has_no_context(value: str) -> None:
    assert parse_b3_single(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (f"{T128[:-1]}-{S}-1", "trace-id has 31 hex digits"),
        (f"{T128}-{S[:-1]}-1", "span-id has 15 hex digits"),
        (f"{T128}-{S}-x", "sampling state must be 0, 1 or d"),
        (f"{T128}-{S}-1-{P[:-2]}", "parent-span-id has 14"),
        (f"{'0' * 32}-{S}-1", "trace-id is all zeros"),
        ("garbage", "found 1 field"),
        (f"{T128}-{S}-1-{P}-extra", "found 5 fields"),
    ],
)
def test_single_rejections(value: str, reason: str) -> None:
    parsed = parse_b3_single(value)
    assert isinstance(parsed, Rejection)
    assert reason in parsed.reason


def test_multi() -> None:
    parsed = parse_b3_multi(
        {"x-b3-traceid": T64, "x-b3-spanid": S, "x-b3-parentspanid": P, "x-b3-sampled": "1"}
    )
    assert isinstance(parsed, TraceContext)
    assert parsed.format is Format.B3MULTI
    assert (parsed.trace_id, parsed.span_id, parsed.parent_span_id) == (
        int(T64, 16),
        int(S, 16),
        int(P, 16),
    )
    assert parsed.sampled is True


def test_multi_debug_flag_and_legacy_true() -> None:
    debug = parse_b3_multi({"x-b3-traceid": T128, "x-b3-spanid": S, "x-b3-flags": "1"})
    assert isinstance(debug, TraceContext)
    assert (debug.sampled, debug.debug) == (True, True)
    legacy = parse_b3_multi({"x-b3-traceid": T128, "x-b3-spanid": S, "x-b3-sampled": "true"})
    assert isinstance(legacy, TraceContext)
    assert legacy.sampled is True


def test_multi_missing_span_id_and_bad_sampled() -> None:
    missing = parse_b3_multi({"x-b3-traceid": T128})
    assert isinstance(missing, Rejection)
    assert "X-B3-SpanId is missing" in missing.reason
    bad = parse_b3_multi({"x-b3-traceid": T128, "x-b3-spanid": S, "x-b3-sampled": "yes"})
    assert isinstance(bad, Rejection)
    assert bad.header == "X-B3-Sampled"
    assert parse_b3_multi({}) is None


def test_format() -> None:
    assert format_b3_single(int(T128, 16), int(S, 16), sampled=True) == f"{T128}-{S}-1"
    assert format_b3_multi(int(T128, 16), int(S, 16), sampled=False) == {
        "x-b3-traceid": T128,
        "x-b3-spanid": S,
        "x-b3-sampled": "0",
    }
