"""A004 secret keys (word boundaries) and A005 secret values (families, partial redaction)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tracehound.attributes import AttributePolicy
from tracehound.attributes._naming import split_words
from tracehound.attributes._secret_keys import secret_family
from tracehound.attributes._secret_values import find_secrets, is_card_number, redact
from tracehound.doctor import check_paths
from tracehound.runtime.export import OtlpJsonFileExporter

# Fakes are assembled at run time so the source holds no token-shaped string.
FAKE = "Zx81" + "kQ2mN9vLp4Rt7Ws3Yb6Hc"


def family_of(key: str) -> str | None:
    return secret_family(split_words(key))


def value_families(value: str) -> set[str]:
    return {hit[0] for hit in find_secrets(value, family_of)}


@pytest.mark.parametrize(
    ("key", "family"),
    [
        ("password", "password"),
        ("DB_PASSWORD", "password"),
        ("mysql_pwd", "password"),
        ("dbpassword", "password"),
        ("password_hash", "password"),
        ("secret", "secret"),
        ("clientSecret", "secret"),
        ("user.token", "token"),
        ("XSRF-TOKEN", "csrf"),
        ("x_api_key", "api_key"),
        ("apiKey", "api_key"),
        ("aws.secret_access_key", "api_key"),
        ("authorization", "authorization"),
        ("proxy-authorization", "authorization"),
        ("auth", "authorization"),
        ("set-cookie", "cookie"),
        ("set_cookie", "cookie"),
        ("PHPSESSID", "session"),
        ("sessionid", "session"),
        ("session_id", "session"),
        ("credentials", "credential"),
        ("private_key", "private_key"),
        ("jwt", "jwt"),
        ("social_security_number", "ssn"),
        ("credit_card_number", "card"),
        ("cvv", "card"),
    ],
)
def test_secret_keys(key: str, family: str) -> None:
    assert family_of(key) == family


@pytest.mark.parametrize(
    "key",
    [
        "token_count",
        "author",
        "authors",
        "auth.method",
        "gen_ai.usage.input_tokens",
        "max_tokens",
        "token_type",
        "secret_name",
        "k8s.secret.name",
        "private_key.path",
        "api_key_id",
        "password.length",
        "cookie_consent",
        "tokenizer",
        "secretary",
        "sessions.active",
        "authorization.policy",
        "jwt.alg",
        "cache.key",
        "messaging.kafka.message.key",
    ],
)
def test_lookalike_keys_are_not_secrets(key: str) -> None:
    assert family_of(key) is None


def test_semconv_session_id_is_not_a_secret_key() -> None:
    policy = AttributePolicy()
    assert policy.check_attribute("session.id", "8c1f0e2a") == []
    assert [v.code for v in policy.check_attribute("user.session_id", "8c1f0e2a")] == ["A004"]


def test_boolean_values_of_secret_keys_pass() -> None:
    assert AttributePolicy().check_attribute("auth", True) == []


def jwt() -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(b'{"sub":"42"}').rstrip(b"=").decode()
    return f"{header}.{claims}.{FAKE}"


@pytest.mark.parametrize(
    ("value", "family"),
    [
        (jwt, "jwt"),
        (lambda: "Bearer " + FAKE, "bearer"),
        (lambda: "Basic " + base64.b64encode(b"bob:" + FAKE.encode()).decode(), "basic"),
        (lambda: "AKIA" + "ABCDEFGHIJKLMNOP", "aws_access_key"),
        (lambda: "ghp" + "_" + FAKE + FAKE[:11], "github_token"),
        (lambda: "xox" + "b-123456789012-" + FAKE, "slack_token"),
        (lambda: "sk" + "_live_" + FAKE, "stripe_key"),
        (
            lambda: "-----BEGIN" + " PRIVATE KEY-----\nMIIE" + FAKE + "\n-----END PRIVATE KEY-----",
            "pem_private_key",
        ),
        (lambda: "4111 1111 1111 1111", "card_number"),
        (lambda: "postgres://app:" + FAKE + "@db:5432/x", "url_password"),
        (lambda: "https://x.example.com/cb?access_token=" + FAKE + "&a=1", "secret_param"),
        (lambda: "ALTER USER app IDENTIFIED BY '" + FAKE + "'", "sql_password"),
    ],
)
def test_secret_values(value, family: str) -> None:
    assert family in value_families(value())


@pytest.mark.parametrize(
    "value",
    [
        "bearer of bad news",
        "Basic plan, billed monthly",
        "Basic authentication required",
        "4111111111111112",
        "1732400000000000000",
        "978-3-16-148410-0",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "ssh://git@github.com/a/b.git",
        "password: This field is required.",
        "https://example.com/?q=token&page=2",
        "set token_count=15",
        "sk-SK,sk;q=0.9",
        "eyJhIjoxfQ==",
        # bind parameters are where values go, not values (SmartThings' Cassandra batch)
        "INSERT INTO auth.oauth_access_token (oauth_token, access_token) VALUES (?, ?)",
        "INSERT INTO tokens (token, owner) VALUES ($1, $2)",
        "INSERT INTO tokens (token, owner) VALUES (:token, :owner)",
        "INSERT INTO tokens (token, owner) VALUES (%s, %(owner)s)",
        "SELECT * FROM users WHERE password = ? AND name = ?",
        "UPDATE keys SET api_key = @p1 WHERE id = @p2",
    ],
)
def test_lookalike_values_are_not_secrets(value: str) -> None:
    assert value_families(value) == set()


def test_url_keeps_everything_but_the_secret() -> None:
    value = "https://bob:" + FAKE + "@api.example.com/v1/me?access_token=" + FAKE + "&page=2"
    hits = find_secrets(value, family_of)
    assert redact(value, hits, "[R]") == (
        "https://bob:[R]@api.example.com/v1/me?access_token=[R]&page=2"
    )


def test_overlapping_hits_are_merged() -> None:
    value = "Authorization: Bearer " + FAKE
    assert redact(value, find_secrets(value, family_of), "[R]") == "Authorization: [R]"


def test_insert_values_are_matched_to_their_columns() -> None:
    value = "INSERT INTO users (name, password, age) VALUES ('bob', '" + FAKE + "', 42)"
    redacted = redact(value, find_secrets(value, family_of), "[R]")
    assert redacted == "INSERT INTO users (name, password, age) VALUES ('bob', '[R]', 42)"
    mixed = "INSERT INTO users (name, password, token) VALUES (?, '" + FAKE + "', ?)"
    redacted = redact(mixed, find_secrets(mixed, family_of), "[R]")
    assert redacted == "INSERT INTO users (name, password, token) VALUES (?, '[R]', ?)"


def test_card_numbers_need_issuer_and_luhn() -> None:
    assert is_card_number("4111111111111111")
    assert is_card_number("378282246310005")
    assert not is_card_number("4111111111111112")  # Luhn fails
    assert not is_card_number("9111111111111119")  # no issuer starts with 9
    assert not is_card_number("411111111111")  # too short


def test_card_number_as_int_is_redacted() -> None:
    policy = AttributePolicy()
    [violation] = policy.check_attribute("payment.pan", 4111111111111111)
    assert violation.code == "A005"


def test_sequences_and_mappings_are_searched() -> None:
    policy = AttributePolicy()
    assert [v.code for v in policy.check_attribute("headers", ("a", "Bearer " + FAKE))] == ["A005"]
    assert [v.code for v in policy.check_attribute("body", {"password": "x"})] == ["A005"]


def test_a_value_already_redacted_is_not_a_leak() -> None:
    """The marker is what is left after redaction: no A004/A005 on it, so the doctor does
    not report what tracehound's own runtime removed, and redacting twice changes nothing."""
    policy = AttributePolicy()
    assert policy.check_attribute("api_token", "[REDACTED]") == []
    assert policy.check_attribute("http.request.header.authorization", ("[REDACTED]",)) == []
    assert policy.check_attribute("db.query.text", "SELECT 1 WHERE password='[REDACTED]'") == []
    assert policy.check_attribute("body", {"password": "[REDACTED]"}) == []
    # a marker beside a secret, or a secret spelled like a marker elsewhere, still is one
    assert [v.code for v in policy.check_attribute("api_token", "tok-4c9e1a7f3b2d")] == ["A004"]
    assert [v.code for v in policy.check_attribute("api_token", ("[REDACTED]", "x"))] == ["A004"]
    assert [v.code for v in policy.check_attribute("api_token", "[redacted]x")] == ["A004"]
    own = AttributePolicy.from_config(overrides={"redaction_marker": "***"}, env={})
    assert own.check_attribute("api_token", "***") == []


def test_the_doctor_reports_no_leak_in_what_tracehound_exported(tmp_path: Path) -> None:
    """`tracehound check` on the file tracehound's exporter wrote behind the policy: the
    token and the password were redacted in-process, and nothing is reported; the same
    spans exported without the policy are reported."""
    for behind_policy in (True, False):
        path = tmp_path / f"spans-{behind_policy}.jsonl"
        policy = AttributePolicy()
        provider = TracerProvider(
            resource=Resource.create({"service.name": "orders"}),
            **({"active_span_processor": policy.processor()} if behind_policy else {}),
        )
        provider.add_span_processor(SimpleSpanProcessor(OtlpJsonFileExporter(str(path))))
        with provider.get_tracer("orders").start_as_current_span("SELECT orders") as span:
            span.set_attribute("api_token", "tok-4c9e1a7f3b2d8e60")
            span.set_attribute("db.query.text", "SELECT 1 WHERE password='hunter2-" + FAKE + "'")
        provider.shutdown()
        report = check_paths([str(path)])
        assert report.spans_analysed == 1
        found = sorted(f.code for f in report.findings if f.code in ("A004", "A005"))
        assert found == ([] if behind_policy else ["A004", "A005"]), behind_policy
        assert ("[REDACTED]" in path.read_text()) is behind_policy


def test_extra_secret_words_and_allow_keys() -> None:
    policy = AttributePolicy.from_config(
        overrides={"secret_words": ["pin"], "allow_keys": ["auth"], "secret_keys": ["x.sig"]},
        env={},
    )
    assert [v.code for v in policy.check_attribute("card.pin", "1234")] == ["A004"]
    assert policy.check_attribute("auth", "x") == []
    assert [v.code for v in policy.check_attribute("x.sig", "abc")] == ["A004"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_find_secrets_never_raises_and_ranges_are_in_bounds(value: str) -> None:
    for family, start, end in find_secrets(value, family_of):
        assert family
        assert 0 <= start <= end <= len(value)
