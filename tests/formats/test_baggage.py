"""W3C baggage and Jaeger uberctx-* baggage, read and written as the peers do."""

from __future__ import annotations

import pickle

from tracehound.formats import format_baggage, parse_baggage, parse_jaeger_baggage
from tracehound.formats.baggage import (
    MAX_BYTES,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    BaggageValue,
    encode_baggage,
)


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
    assert header == "user=a%20b%2Cc,bad%20key=x"
    assert parse_baggage([header]).as_dict() == {"user": "a b,c", "bad key": "x"}


def test_read_as_otel_python_writes_it() -> None:
    """OTel Python quote_plus-es keys and values: spaces arrive as ``+``."""
    bag = parse_baggage(["transaction=string+with+spaces,key+key=value%2Fvalue,k%23=v%23"])
    assert bag.as_dict() == {
        "transaction": "string with spaces",
        "key key": "value/value",
        "k#": "v#",
    }


def test_written_so_every_peer_reads_it_back() -> None:
    """``%20`` for a space, ``%2B`` for a plus: unambiguous for quote_plus and RFC 3986 readers."""
    header = format_baggage([("k", "a b+c=d;e"), ("x+y", "1")])
    assert header == "k=a%20b%2Bc%3Dd%3Be,x%2By=1"
    assert parse_baggage([header]).as_dict() == {"k": "a b+c=d;e", "x+y": "1"}


def test_properties_are_kept_and_written_back() -> None:
    """Java, Go and JS keep member properties as metadata and send them on; so do we."""
    bag = parse_baggage(["key1=val1,key2=val2 ; prop=1;prop2; prop3 = 2"])
    value = bag.as_dict()["key2"]
    assert value == "val2"
    assert isinstance(value, BaggageValue)
    assert value.properties == "prop=1;prop2;prop3=2"
    assert format_baggage(bag.entries) == "key1=val1,key2=val2;prop=1;prop2;prop3=2"
    assert pickle.loads(pickle.dumps(value)).properties == value.properties
    malformed = parse_baggage(["k=v;=x"])
    assert malformed.as_dict() == {"k": "v"}
    assert not isinstance(malformed.as_dict()["k"], BaggageValue)
    assert "properties" in malformed.notes[0]


def test_inject_applies_the_limits_extract_enforces() -> None:
    big = "x" * MAX_MEMBER_BYTES
    encoded = encode_baggage([("a", "1"), ("big", big), ("b", "2")])
    assert encoded.header == "a=1,b=2"
    assert len(encoded.dropped) == 1
    assert "'big'" in encoded.dropped[0]
    assert "4096" in encoded.dropped[0]

    many = encode_baggage([(f"k{i}", "v") for i in range(MAX_MEMBERS + 5)])
    assert len(many.header.split(",")) == MAX_MEMBERS
    assert len(many.dropped) == 5

    wide = encode_baggage([(f"k{i:03d}", "v" * 200) for i in range(50)])
    assert len(wide.header) <= MAX_BYTES
    assert wide.dropped
    # What inject sends, extract reads whole: nothing is silently lost at the next hop.
    for header in (many.header, wide.header):
        parsed = parse_baggage([header])
        assert parsed.notes == ()
        assert len(parsed.entries) == len(header.split(","))


def test_a_header_of_exactly_the_limit_is_read_whole() -> None:
    members = [f"k{i:02d}={'v' * 100}" for i in range(70)]
    header = ",".join(members)
    header += f",z={'w' * (MAX_BYTES - len(header) - 3)}"
    assert len(header) == MAX_BYTES
    assert len(parse_baggage([header]).entries) == 71


def test_unencodable_values_do_not_raise() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    encoded = encode_baggage([("ok", "\udcff surrogate"), ("bad", Broken()), (3, "x")])
    assert encoded.header.startswith("ok=")
    assert len(encoded.dropped) == 2


def test_jaeger_baggage() -> None:
    bag = parse_jaeger_baggage(
        {"uberctx-user": "bob%20smith", "jaeger-baggage": "k1=v1, k2=v2", "other": "x"}
    )
    assert bag.as_dict() == {"user": "bob smith", "k1": "v1", "k2": "v2"}
    # jaeger-client-go/java write values with QueryEscape/URLEncoder: spaces as '+'.
    assert parse_jaeger_baggage({"uberctx-user": "bob+smith"}).as_dict() == {"user": "bob smith"}
