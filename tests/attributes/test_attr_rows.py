"""The doctor's side: check_span_row on otel_traces rows, never raising."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tracehound.attributes import AttributePolicy, Mode, check_span_row

FAKE = "Zx81" + "kQ2mN9vLp4Rt7Ws3Yb6Hc"


def row(**overrides: object) -> dict:
    base = {
        "TraceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "SpanId": "00f067aa0ba902b7",
        "ServiceName": "checkout",
        "SpanName": "GET /orders/{id}",
        "SpanKind": "Server",
        "SpanAttributes": {"http.request.method": "GET", "http.response.status_code": 200},
        "ResourceAttributes": {"service.name": "checkout"},
    }
    base.update(overrides)
    return base


def test_clean_row_has_no_findings() -> None:
    assert check_span_row(row()) == []


def test_findings_for_each_rule_with_ids_and_location() -> None:
    found = check_span_row(
        row(
            SpanName="GET /orders/8412",
            SpanAttributes={
                "userId": "u",
                "error": "timeout",
                "order.amount": "4.5",
                "user.token": FAKE,
                "note": f"Bearer {FAKE}",
                "http.method": "GET",
            },
        )
    )
    assert sorted(f.code for f in found) == ["A001", "A002", "A003", "A004", "A005", "A006", "A007"]
    for finding in found:
        assert finding.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert finding.span_id == "00f067aa0ba902b7"
        assert finding.service == "checkout"
        assert FAKE not in str(finding.to_dict())
    by_code = {f.code: f for f in found}
    assert by_code["A004"].location == "span 'GET /orders/8412' attribute 'user.token'"
    assert by_code["A004"].details["family"] == "token"
    assert by_code["A007"].location == "span 'GET /orders/{id}'"


def test_resource_and_event_secrets() -> None:
    found = check_span_row(
        row(
            ResourceAttributes={"service.name": "checkout", "deploy.token": FAKE},
            **{
                "Events.Name": ["exception"],
                "Events.Attributes": [{"exception.message": f"Bearer {FAKE}"}],
            },
        )
    )
    assert sorted((f.code, f.details["scope"]) for f in found) == [
        ("A004", "resource"),
        ("A005", "event 'exception'"),
    ]


def test_string_only_stores() -> None:
    attributes = {"http.response.status_code": "200", "order.amount": "4.5", "error": "true"}
    assert check_span_row(row(SpanAttributes=attributes), typed_values=False) == []
    assert [f.code for f in check_span_row(row(SpanAttributes=attributes))] == [
        "A002",
        "A003",
        "A002",
    ]


def test_attribute_maps_as_json_or_pairs() -> None:
    as_json = json.dumps({"password": "x"})
    as_pairs = [("password", "x"), "junk"]
    for attributes in (as_json, as_pairs):
        assert [f.code for f in check_span_row(row(SpanAttributes=attributes))] == ["A004"]


def test_a_given_policy_is_used() -> None:
    policy = AttributePolicy.from_config(overrides={"actions": {"A004": "ignore"}}, env={})
    assert check_span_row(row(SpanAttributes={"password": "x"}), policy=policy) == []
    off = AttributePolicy.from_config(mode=Mode.OFF, env={})
    assert check_span_row(row(SpanAttributes={"password": "x"}), policy=off) == []


odd = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "SpanName",
                "SpanAttributes",
                "ResourceAttributes",
                "ServiceName",
                "TraceId",
                "SpanId",
                "SpanKind",
                "Events.Name",
                "Events.Attributes",
            ]
        ),
        odd,
    )
)
def test_never_raises_on_odd_rows(data: dict) -> None:
    assert isinstance(check_span_row(data), list)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=30), odd, max_size=6))
def test_never_raises_on_odd_attributes(attributes: dict) -> None:
    # Called without the safety net, so a bug cannot hide behind it.
    from tracehound.attributes._rows import _check

    _check(row(SpanAttributes=attributes), AttributePolicy(), True)
    _check(row(SpanAttributes=attributes), AttributePolicy(), False)


def test_not_a_mapping() -> None:
    assert check_span_row(None) == []  # type: ignore[arg-type]
    assert check_span_row(["SpanName"]) == []  # type: ignore[arg-type]
