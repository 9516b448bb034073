"""A007 on what real clients name their spans: peer addresses, and names of any length."""

from __future__ import annotations

import pytest

from tracehound.attributes import AttributePolicy
from tracehound.attributes._span_names import _EMAIL, _HOST_PORT, span_name_problem


@pytest.mark.parametrize(
    "name",
    [
        "GET 127.0.0.1:8080",
        "GET 127.0.0.1:18082",
        "connect db.internal:5432",
        "GET payments.shop.svc.cluster.local:18082",
        "GET [::1]:18082",
        "GET localhost:50051",
        "POST http://payments:18080/charge",
        "redis-cache.internal:6379 GET",
    ],
)
def test_a_peer_address_with_its_port_is_not_an_id(name: str) -> None:
    assert span_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "templated"),
    [
        # the ID is reported, the peer address kept as it is
        ("POST http://10.0.3.7:18080/orders/12345", "POST http://10.0.3.7:18080/orders/{id}"),
        ("GET db.internal:5432 order 84123311", "GET db.internal:5432 order {id}"),
        # not a port: out of range, or a single word outside a URL
        ("GET example.com:70000", "GET example.com:{id}"),
        ("order:12345", "order:{id}"),
    ],
)
def test_ids_next_to_peer_addresses_are_still_found(name: str, templated: str) -> None:
    problem = span_name_problem(name)
    assert problem is not None
    assert problem[1] == templated


# Shapes that made the e-mail pattern try every position of a long run (quadratic:
# 150 KB took 100 s), and shapes aimed at the peer-address and path patterns.
LONG = 150_000
SHAPES = {
    "word run": "a" * LONG + "1",
    "digit run": "1" * LONG,
    "dotted run": "a." * (LONG // 2) + "1",
    "dashed ids": "a1-" * (LONG // 3),
    "one path segment": "/" + "a1b" * (LONG // 3) + ".",
    "dotted host without port": ("a" * 99 + ".") * (LONG // 100) + ":1x",
    "colons": "[" + ":" * LONG,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_long_names_are_checked_in_one_pass(shape: str) -> None:
    name = SHAPES[shape]
    # the answer for the whole name; then, as a check of the work, each unbounded
    # pattern only starts at the beginning of a run, so each character begins at most
    # one attempt: a search from inside a run finds nothing that starts there
    problem = span_name_problem(name)
    assert problem is None or len(problem[1]) <= len(name)
    assert _EMAIL.search("x" * 50 + "@example.com", 1) is None
    assert _EMAIL.search("x" * 50 + "@example.com", 0) is not None
    assert _HOST_PORT.search("db.internal:5432", 1) is None
    assert _HOST_PORT.search("db.internal:5432", 0) is not None


def test_a_long_name_ending_in_an_id_is_reported_once() -> None:
    name = "step " * 30_000 + "mail bob@example.com"
    violation = AttributePolicy().check_span_name(name)
    assert violation is not None and violation.family == "an e-mail address"
