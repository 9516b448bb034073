"""W3C traceparent/tracestate parsing: every rule of the grammar, with its reason."""

from __future__ import annotations

import pytest

from tracehound.formats import (
    Format,
    Rejection,
    TraceContext,
    format_traceparent,
    format_tracestate,
    parse_traceparent,
    parse_traceparent_fields,
    parse_tracestate,
)

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"
VALID = f"00-{TID}-{SID}-01"


def test_valid_version_00() -> None:
    parsed = parse_traceparent(VALID)
    assert isinstance(parsed, TraceContext)
    assert parsed.format is Format.TRACECONTEXT
    assert parsed.trace_id_hex == TID
    assert parsed.span_id_hex == SID
    assert parsed.trace_flags == 1
    assert parsed.sampled is True


def test_unknown_flags_are_kept_for_the_sdk_to_mask() -> None:
    parsed = parse_traceparent(f"00-{TID}-{SID}-03")
    assert isinstance(parsed, TraceContext)
    assert parsed.trace_flags == 3  # bit 1 is Level 2's random flag
    assert parsed.sampled is True


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (f"00-{TID.upper()}-{SID}-01", "upper-case hex is not allowed in the trace-id"),
        (f"00-{TID}-{SID.upper()}-01", "upper-case hex is not allowed in the parent-id"),
        (f"00-{TID}-{SID}-0A", "upper-case hex is not allowed in the trace-flags"),
        (f"00-{'0' * 32}-{SID}-01", "trace-id is all zeros"),
        (f"00-{TID}-{'0' * 16}-01", "parent-id is all zeros"),
        (f"00-{TID}-{SID[:15]}-01", "parent-id has 15 characters"),
        (f"00-{TID}-{SID}0-01", "parent-id has 17 characters"),
        (f"00-{TID[:31]}-{SID}-01", "trace-id has 31 characters"),
        (f"00-{TID[:31]}g-{SID}-01", "trace-id contains 'g'"),
        (f"00-{TID}-{SID}-1", "trace-flags must be 2 hex digits"),
        (f"00-{TID}-{SID}-001", "trace-flags must be 2 hex digits"),
        (f"00-{TID}-{SID}-01.", "trace-flags must be 2 hex digits"),
        (f"00-{TID}-{SID}-01-extra", "fields after the flags are only allowed in later versions"),
        (f"ff-{TID}-{SID}-01", "version ff is forbidden"),
        (f"0-{TID}-{SID}-01", "the version must be 2 hex digits"),
        (f"AB-{TID}-{SID}-01", "upper-case hex is not allowed in the version"),
        (f"cc-{TID}-{SID}", "shorter than 55 characters"),
        (f"cc-{TID}-{SID}-01.future", "followed by the end of the value or '-'"),
        ("", "the value is empty"),
        ("   ", "the value is empty"),
    ],
)
def test_rejections_name_the_reason(value: str, reason: str) -> None:
    parsed = parse_traceparent(value)
    assert isinstance(parsed, Rejection)
    assert not parsed
    assert reason in parsed.reason
    assert parsed.header == "traceparent"


def test_future_version_reads_the_version_00_prefix() -> None:
    parsed = parse_traceparent(f"cc-{TID}-{SID}-01-what-the-future-will-be-like")
    assert isinstance(parsed, TraceContext)
    assert (parsed.trace_id_hex, parsed.span_id_hex, parsed.version) == (TID, SID, 0xCC)
    assert isinstance(parse_traceparent(f"cc-{TID}-{SID}-01"), TraceContext)


@pytest.mark.parametrize("padded", [f" {VALID}", f"\t{VALID}", f"{VALID} ", f"\t {VALID} \t"])
def test_surrounding_ows_is_ignored(padded: str) -> None:
    parsed = parse_traceparent(padded)
    assert isinstance(parsed, TraceContext)
    assert parsed.trace_id_hex == TID


def test_several_traceparent_fields_restart_the_trace() -> None:
    two = parse_traceparent_fields([VALID, VALID])
    assert isinstance(two, Rejection)
    assert "2 traceparent header fields" in two.reason
    combined = parse_traceparent_fields([f"{VALID},{VALID}"])
    assert isinstance(combined, Rejection)
    assert "combined with ','" in combined.reason
    assert parse_traceparent_fields([]) is None


def test_rejection_shortens_huge_values() -> None:
    parsed = parse_traceparent("x" * 100_000)
    assert isinstance(parsed, Rejection)
    assert len(parsed.value) < 200
    assert "more]" in parsed.value


def test_format_round_trip() -> None:
    assert format_traceparent(int(TID, 16), int(SID, 16), 1) == VALID
    assert format_traceparent(1, 2, 0) == f"00-{1:032x}-{2:016x}-00"


# -- tracestate ---------------------------------------------------------------


def test_tracestate_members_in_order_across_fields() -> None:
    state = parse_tracestate(["foo=1,bar=2", "rojo=1,congo=2", "baz=3"])
    assert state.rejection is None
    assert [k for k, _ in state.members] == ["foo", "bar", "rojo", "congo", "baz"]


def test_tracestate_empty_and_whitespace_members_are_allowed() -> None:
    assert parse_tracestate([""]).members == ()
    state = parse_tracestate(["", "foo=1", " , \t,"])
    assert state.members == (("foo", "1"),)
    assert state.rejection is None


def test_tracestate_ows_around_members() -> None:
    state = parse_tracestate(["foo=1 \t , \t bar=2, \t baz=3"])
    assert state.members == (("foo", "1"), ("bar", "2"), ("baz", "3"))


def test_tracestate_value_keeps_leading_space() -> None:
    value = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in ",=")
    state = parse_tracestate([f"foo={value}"])
    assert state.members == (("foo", value),)


@pytest.mark.parametrize(
    "key",
    [
        "1special",
        "foo@",
        "foo@@bar",
        "foo@bar@baz",
        "t" * 241 + "@" + "v" * 14,
        "z" * 256,
        "abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/",
    ],
)
def test_tracestate_level2_key_grammar_accepts(key: str) -> None:
    state = parse_tracestate([f"{key}=1"])
    assert state.rejection is None
    assert state.members == ((key, "1"),)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("@foo=1,bar=2", "must begin with a lowercase letter or a digit"),
        ("FOO=1", "upper-case"),
        ("foo.bar=1", "contains '.'"),
        ("foo =1", "contains ' '"),
        ("z" * 257 + "=1", "at most 256"),
        ("foo=bar=baz", "contains '='"),
        ("foo=,bar=3", "empty value"),
        ("foo", "has no '='"),
        ("foo=" + "v" * 257, "at most 256"),
        ("foo=caf\u00e9", "contains"),
    ],
)
def test_tracestate_invalid_member_discards_the_whole_header(header: str, reason: str) -> None:
    state = parse_tracestate([header])
    assert state.members == ()
    assert state.rejection is not None
    assert reason in state.rejection.reason


def test_tracestate_32_members_kept_33_discarded() -> None:
    members = [f"bar{i:02d}={i:02d}" for i in range(1, 34)]
    kept = parse_tracestate([",".join(members[:32])])
    assert len(kept.members) == 32
    dropped = parse_tracestate([",".join(members)])
    assert dropped.members == ()
    assert dropped.rejection is not None
    assert "33 list-members" in dropped.rejection.reason


def test_tracestate_duplicate_keys_keep_the_first_and_say_so() -> None:
    state = parse_tracestate(["foo=1", "foo=2"])
    assert state.members == (("foo", "1"),)
    assert any("more than once" in note for note in state.notes)


def test_tracestate_truncation_per_w3c() -> None:
    big = ("big", "x" * 200)
    small = [(f"k{i}", "v" * 20) for i in range(30)]
    header = format_tracestate([big, *small], limit=512)
    assert "big=" not in header  # entries over 128 characters go first
    assert len(header) <= 512
    assert header.startswith("k0=")
    entries = header.split(",")
    assert [e.split("=")[0] for e in entries] == [f"k{i}" for i in range(len(entries))]
