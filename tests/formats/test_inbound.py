"""Choosing the context to continue and naming every problem (P001-P004, P006)."""

from __future__ import annotations

from tracehound.formats import Format, read_headers

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"
TP = f"00-{TID}-{SID}-01"
OTHER = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


def codes(inbound: object) -> list[str]:
    return [p.code for p in inbound.problems]  # type: ignore[attr-defined]


def test_nothing_on_the_request() -> None:
    inbound = read_headers({"accept": "*/*"})
    assert inbound.context is None
    assert inbound.problems == ()


def test_w3c_only() -> None:
    inbound = read_headers({"TraceParent": TP, "TRACESTATE": "congo=t61rcWkgMzE"})
    assert inbound.context is not None
    assert inbound.context.trace_id_hex == TID
    assert inbound.tracestate.members == (("congo", "t61rcWkgMzE"),)
    assert inbound.problems == ()


def test_legacy_only_is_continued_and_flagged_p003() -> None:
    for headers, fmt in [
        ({"Uber-Trace-Id": f"{TID}:{SID}:0:1"}, Format.JAEGER),
        ({"b3": f"{TID}-{SID}-1"}, Format.B3),
        ({"X-B3-TraceId": TID, "X-B3-SpanId": SID}, Format.B3MULTI),
    ]:
        inbound = read_headers(headers)
        assert inbound.context is not None
        assert inbound.context.format is fmt
        assert inbound.context.trace_id_hex == TID
        assert codes(inbound) == ["P003"]


def test_conflict_w3c_wins_and_the_loser_is_kept() -> None:
    inbound = read_headers({"traceparent": TP, "uber-trace-id": f"{OTHER}:{SID}:0:1"})
    assert inbound.context is not None
    assert inbound.context.format is Format.TRACECONTEXT
    assert [c.format for c in inbound.conflicts] == [Format.JAEGER]
    assert codes(inbound) == ["P002"]
    assert OTHER in inbound.problems[0].message


def test_agreeing_formats_are_no_conflict_even_64_vs_128_bit() -> None:
    inbound = read_headers(
        {
            "traceparent": f"00-{'0' * 16}{TID[16:]}-{SID}-01",
            "uber-trace-id": f"{TID[16:]}:{SID}:0:1",
            "b3": f"{TID[16:]}-{SID}-1",
        }
    )
    assert inbound.conflicts == ()
    assert len(inbound.others) == 2
    assert codes(inbound) == []


def test_invalid_w3c_falls_back_to_legacy_in_order() -> None:
    inbound = read_headers(
        {
            "traceparent": f"00-{TID.upper()}-{SID}-01",
            "b3": f"{OTHER}-{SID}-1",
            "uber-trace-id": f"{TID}:{SID}:0:1",
        }
    )
    assert inbound.context is not None
    assert inbound.context.format is Format.JAEGER  # jaeger before b3 by default
    assert "P001" in codes(inbound)
    assert "P002" in codes(inbound)  # b3 names another trace than the jaeger winner
    order = read_headers(
        {"b3": f"{OTHER}-{SID}-1", "uber-trace-id": f"{TID}:{SID}:0:1"},
        legacy_order=(Format.B3, Format.JAEGER),
    )
    assert order.context is not None
    assert order.context.format is Format.B3


def test_bad_tracestate_is_p004_and_does_not_affect_traceparent() -> None:
    inbound = read_headers({"traceparent": TP, "tracestate": "FOO=1"})
    assert inbound.context is not None
    assert inbound.tracestate.members == ()
    assert codes(inbound) == ["P004"]


def test_tracestate_without_traceparent_is_ignored() -> None:
    inbound = read_headers({"tracestate": "foo=1", "uber-trace-id": f"{TID}:{SID}:0:1"})
    assert inbound.tracestate.members == ()


def test_broken_legacy_header_is_p006() -> None:
    inbound = read_headers({"uber-trace-id": "not-a-context"})
    assert inbound.context is None
    assert codes(inbound) == ["P006"]
    assert inbound.problems[0].header == "uber-trace-id"


def test_baggage_from_both_formats() -> None:
    inbound = read_headers(
        {
            "uber-trace-id": f"{TID}:{SID}:0:1",
            "UberCtx-Tenant": "acme",
            "baggage": "user=alice",
        }
    )
    assert dict(inbound.baggage) == {"tenant": "acme", "user": "alice"}


def test_pairs_with_repeated_names() -> None:
    inbound = read_headers([("traceparent", TP), ("traceparent", TP)])
    assert inbound.context is None
    assert codes(inbound) == ["P001"]


def test_b3_single_beside_a_conflicting_multi_set_is_p002() -> None:
    """A valid ``b3`` no longer hides an ``X-B3-*`` set naming another trace."""
    inbound = read_headers({
        "b3": f"{TID}-{SID}-1",
        "X-B3-TraceId": OTHER, "X-B3-SpanId": SID,
    })
    assert inbound.context is not None
    assert inbound.context.format is Format.B3  # default order: jaeger, b3, b3multi
    assert Format.B3MULTI in inbound.formats_seen
    assert [c.format for c in inbound.conflicts] == [Format.B3MULTI]
    assert "P002" in codes(inbound)


def test_legacy_order_decides_between_b3_single_and_multi() -> None:
    headers = {"b3": f"{TID}-{SID}-1", "x-b3-traceid": OTHER, "x-b3-spanid": SID}
    multi_first = read_headers(headers, legacy_order=(Format.B3MULTI, Format.B3))
    assert multi_first.context is not None
    assert multi_first.context.format is Format.B3MULTI
    assert multi_first.context.trace_id_hex == OTHER
    assert [c.format for c in multi_first.conflicts] == [Format.B3]
    agreeing = read_headers({**headers, "x-b3-traceid": TID})
    assert agreeing.conflicts == ()
    assert "P002" not in codes(agreeing)
    broken_single = read_headers({"b3": "nonsense-x", "X-B3-TraceId": TID, "X-B3-SpanId": SID})
    assert broken_single.context is not None
    assert broken_single.context.format is Format.B3MULTI
