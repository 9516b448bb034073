"""W3C baggage and Jaeger uberctx-* baggage."""

from __future__ import annotations

from tracehound.formats import format_baggage, parse_baggage, parse_jaeger_baggage


def test_w3c_baggage_with_properties_and_percent_encoding() -> None:
    bag = parse_baggage(["userId=alice,serverNode=DF%2028;prop=1", "isProduction=false"])
    assert bag.as_dict() == {"userId": "alice", "serverNode": "DF 28", "isProduction": "false"}
    assert bag.notes == ()


def test_invalid_members_are_skipped_and_noted() -> None:
    bag = parse_baggage(['good=1, bad key=2, noequals, quote=a"b'])
    assert bag.as_dict() == {"good": "1"}
    assert len(bag.notes) == 3


def test_limits_are_bounded() -> None:
    bag = parse_baggage([",".join(f"k{i}=v" for i in range(1000))])
    assert len(bag.entries) == 180
    huge = parse_baggage(["k=" + "v" * 10_000])
    assert huge.entries == ()


def test_format_round_trip() -> None:
    header = format_baggage([("user", "a b,c"), ("bad key", "x")])
    assert header == "user=a%20b%2Cc"
    assert parse_baggage([header]).as_dict() == {"user": "a b,c"}


def test_jaeger_baggage() -> None:
    bag = parse_jaeger_baggage(
        {"uberctx-user": "bob%20smith", "jaeger-baggage": "k1=v1, k2=v2", "other": "x"}
    )
    assert bag.as_dict() == {"user": "bob smith", "k1": "v1", "k2": "v2"}
