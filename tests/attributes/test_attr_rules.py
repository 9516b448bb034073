"""A002 reserved keys, A003 numeric strings, A006 legacy keys, A007 span names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracehound.attributes import AttributePolicy
from tracehound.attributes._legacy import LEGACY_KEYS, successor_items
from tracehound.attributes._numeric import parse_numeric
from tracehound.attributes._reserved import DEFAULT_RESERVED, NO_FIX, ReservedSpec
from tracehound.attributes._span_names import span_name_problem

POLICY = AttributePolicy()


def codes(key: str, value: object, **kwargs: object) -> list[str]:
    return [v.code for v in POLICY.check_attribute(key, value, **kwargs)]


@pytest.mark.parametrize(
    ("key", "value", "bad"),
    [
        ("error", True, False),
        ("error", "timeout", True),
        ("error", 1, True),
        ("http.response.status_code", 200, False),
        ("http.response.status_code", "200", True),
        ("http.response.status_code", 700, True),
        ("http.response.status_code", True, True),
        ("span.kind", "server", False),
        ("span.kind", "rpc", True),
        ("span.kind", "SERVER", True),
        ("sampling.priority", 1, False),
        ("sampling.priority", "1", True),
        ("server.port", 8080, False),
        ("server.port", 70000, True),
        ("peer.service", "billing", False),
        ("otel.status_code", "ERROR", False),
        ("otel.status_code", "failed", True),
    ],
)
def test_reserved_types_and_values(key: str, value: object, bad: bool) -> None:
    assert ("A002" in codes(key, value)) is bad


def test_a_reserved_value_cached_clean_does_not_clear_an_equal_value_of_another_type() -> None:
    # 201.0 == 201 and True == 1: the per-span cache of clean reserved values
    # must not let the float or the int through once the other was seen.
    checker = AttributePolicy().checker
    for key, clean, bad in (
        ("http.response.status_code", 201, 201.0),
        ("error", True, 1),
        ("server.port", 8080, 8080.0),
    ):
        assert checker.dirty_keys({key: clean}) == {}
        assert checker.dirty_keys({key: clean}) == {}  # from the cache
        assert [v.code for v in checker.dirty_keys({key: bad})[key]] == ["A002"]
        assert checker.dirty_keys({key: clean}) == {}



def test_a_numeric_string_clean_under_an_identifier_key_is_still_a003_elsewhere() -> None:
    # "12345" is fine as a user ID; the clean-value cache is shared by every
    # key, so remembering it there let "order.total": "12345" through A003.
    checker = AttributePolicy().checker
    for _ in range(2):
        assert checker.dirty_keys({"user.id": "12345", "order.ref": 4111111111111111.0}) == {}
    assert [v.code for v in checker.dirty_keys({"order.total": "12345"})["order.total"]] == [
        "A003"
    ]
    found = checker.dirty_keys({"user.id": "12345", "order.ref": 4111111111111111})
    assert list(found) == ["order.ref"]
    assert [v.code for v in found["order.ref"]] == ["A005"]


def test_dirty_keys_keep_the_attributes_order_and_read_unhashable_values() -> None:
    checker = AttributePolicy().checker
    clean = {"url.path": "/orders", "order.items": 3}
    checker.dirty_keys(clean)
    rows = {"b.Count": "7", **clean, "tags": ["a", "b"], "a.Count": "8"}
    assert list(checker.dirty_keys(rows)) == ["b.Count", "a.Count"]
    assert list(checker.dirty_keys(dict(reversed(rows.items())))) == ["a.Count", "b.Count"]


@pytest.mark.parametrize(
    ("spec", "value", "fixed"),
    [
        (DEFAULT_RESERVED["http.response.status_code"], "200", 200),
        (DEFAULT_RESERVED["http.response.status_code"], 200.0, 200),
        (DEFAULT_RESERVED["http.response.status_code"], "700", NO_FIX),
        (DEFAULT_RESERVED["error"], "true", True),
        (DEFAULT_RESERVED["error"], "0", False),
        (DEFAULT_RESERVED["error"], "timeout", NO_FIX),
        (DEFAULT_RESERVED["span.kind"], "SERVER", "server"),
        (DEFAULT_RESERVED["otel.status_code"], "error", "ERROR"),
        (DEFAULT_RESERVED["peer.service"], 42, "42"),
        (ReservedSpec("float", 0, 1), "0.5", 0.5),
        (ReservedSpec("int"), "nan", NO_FIX),
    ],
)
def test_reserved_coercion(spec: ReservedSpec, value: object, fixed: object) -> None:
    result = spec.coerce(value)
    if fixed is NO_FIX:
        assert result is NO_FIX
    else:
        assert result == fixed
        assert type(result) is type(fixed)


def test_accepts_agrees_with_problem() -> None:
    values = [True, 0, 1, 200, 700, -1, 1.5, "200", "server", "x", None, (1,)]
    for spec in DEFAULT_RESERVED.values():
        for value in values:
            if spec.accepts(value):
                assert spec.problem(value) is None, (spec, value)


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("42", 42),
        ("-3.5", -3.5),
        ("0", 0),
        ("0.5", 0.5),
        ("1e6", 1e6),
        ("123456789012345", 123456789012345),
    ],
)
def test_numeric_strings(value: str, number: float) -> None:
    assert parse_numeric(value) == number


@pytest.mark.parametrize(
    "value",
    [
        "007",
        "02134",
        "+14155550100",
        "1,000",
        " 42",
        "1.2.3",
        "1234567890123456",
        "abc",
        "",
        "-",
        "4e",
    ],
)
def test_identifiers_and_text_are_not_numbers(value: str) -> None:
    assert parse_numeric(value) is None


def test_numeric_string_rule_respects_identifier_keys() -> None:
    assert codes("order.amount", "42.50") == ["A003"]
    assert codes("order.id", "42") == []
    assert codes("address.zip", "02134") == []
    assert codes("service.version", "2.0") == []
    assert codes("order.amount", 42.5) == []


def test_untyped_rows_only_report_unreadable_values() -> None:
    assert codes("order.amount", "42.50", typed=False) == []
    assert codes("http.response.status_code", "200", typed=False) == []
    assert codes("http.response.status_code", "abc", typed=False) == ["A002"]
    assert codes("error", "timeout", typed=False) == ["A002"]


def test_legacy_keys_name_their_successor() -> None:
    [violation] = POLICY.check_attribute("http.method", "GET")
    assert violation.code == "A006"
    assert violation.suggestion == "http.request.method"
    assert "http.request.method" in violation.message


def test_legacy_successor_depends_on_the_side() -> None:
    assert successor_items("net.peer.name", "db", server_side=False) == {"server.address": "db"}
    assert successor_items("net.peer.name", "db", server_side=True) == {"client.address": "db"}
    assert successor_items("http.target", "/a?b=1", server_side=True) == {
        "url.path": "/a",
        "url.query": "b=1",
    }


def test_legacy_successors_are_current_keys() -> None:
    successors = {legacy.successor for legacy in LEGACY_KEYS.values()}
    assert not successors & set(LEGACY_KEYS)


@pytest.mark.parametrize(
    ("name", "templated"),
    [
        ("GET /orders/8412", "GET /orders/{id}"),
        ("GET /users/3f2b9c1e-8d4a-4c6b-9e2f-1a2b3c4d5e6f/cart", "GET /users/{uuid}/cart"),
        ("process order 84123311", "process order {id}"),
        ("GET /blobs/9f86d081884c7d659a2feaa0c55ad015", "GET /blobs/{id}"),
        ("GET /users/usr_8f3k2j9d", "GET /users/{id}"),
        ("send mail to bob@example.com", "send mail to {email}"),
        ("GET /search?q=shoes", "GET /search"),
    ],
)
def test_span_names_with_ids(name: str, templated: str) -> None:
    problem = span_name_problem(name)
    assert problem is not None
    assert problem[1] == templated


@pytest.mark.parametrize(
    "name",
    [
        "GET /orders/{id}",
        "GET /orders/:id",
        "HTTP GET",
        "POST /api/v2/users",
        "SELECT shop.orders",
        "grpc.health.v1.Health/Check",
        "process_payment",
        "kafka send orders",
        "GET /healthz",
        "HTTP 404",
        "GET /static/app.3f9a2b.js",
        "GET /api/oauth2callback",
    ],
)
def test_clean_span_names(name: str) -> None:
    assert span_name_problem(name) is None


KEY_POOL = [
    "order.amount",
    "order.id",
    "http.response.status_code",
    "span.kind",
    "error",
    "user.token",
    "userId",
    "http.method",
    "db.statement",
    "note",
    "session.id",
]
VALUE_POOL = st.one_of(
    st.sampled_from(
        [
            "42",
            "3.5",
            "007",
            "GET",
            "server",
            "rpc",
            "timeout",
            "u-1",
            "4111111111111111",
            "Bearer " + "Zx81kQ2mN9vLp4Rt7Ws3",
            "x" * 300,
            "",
            "-",
            "200",
        ]
    ),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    # equal across types (201 == 201.0, 1 == True): the caches must keep them apart
    st.sampled_from([201, 201.0, 1, True, 0, False, 8080, 8080.0, 4111111111111111,
                     4111111111111111.0]),
    st.tuples(st.sampled_from(["a", "42", "Bearer " + "Zx81kQ2mN9vLp4Rt7Ws3", 1, 1.0])),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEY_POOL), VALUE_POOL, max_size=8))
def test_fast_path_agrees_with_full_check(attributes: dict) -> None:
    checker = POLICY.checker
    expected = {key for key, value in attributes.items() if checker.violations(key, value)}
    for _ in range(2):  # cold, then warm caches
        assert set(checker.dirty_keys(attributes)) == expected
