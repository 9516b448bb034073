"""A001 key style, the word splitter, and the semantic-convention keys that always pass."""

from __future__ import annotations

import re
from pathlib import Path

import opentelemetry.semconv
import pytest

from tracehound.attributes._naming import TEMPLATE_PREFIXES, split_words, style_key, style_problem


def semconv_keys() -> dict[str, str]:
    """Every attribute key of the installed semantic-conventions package, with its doc."""
    root = Path(opentelemetry.semconv.__file__).parent
    keys = {}
    pattern = re.compile(r'^[A-Z0-9_]+: Final = "([^"]+)"\n"""\n(.*?)"""', re.M | re.S)
    for path in [*root.glob("attributes/*.py"), *root.glob("_incubating/attributes/*.py")]:
        for key, doc in pattern.findall(path.read_text(encoding="utf-8")):
            keys[key] = doc
    return keys


@pytest.mark.parametrize(
    "key",
    [
        "order.amount",
        "http.request.method",
        "user.id",
        "gen_ai.usage.input_tokens",
        "k8s.pod.name",
        "a",
    ],
)
def test_keys_in_style(key: str) -> None:
    assert style_problem(key) is None


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("User ID", "spaces"),
        ("userId", "capitals"),
        ("order..amount", "empty segment"),
        (".order", "empty segment"),
        ("http-status", "hyphens"),
        ("order._amount", "`_`"),
        ("order__amount", "`__`"),
        ("order/amount", "characters other"),
        ("", "empty"),
    ],
)
def test_keys_out_of_style_name_the_reason(key: str, reason: str) -> None:
    problem = style_problem(key)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    ("key", "styled"),
    [
        ("userId", "user_id"),
        ("User ID", "user_id"),
        ("order..amount", "order.amount"),
        ("HTTPStatus", "http_status"),
        ("x-api-key", "x_api_key"),
        ("Order.Total", "order.total"),
        ("...", None),
    ],
)
def test_style_key(key: str, styled: str | None) -> None:
    assert style_key(key) == styled
    if styled:
        assert style_problem(styled) is None


def test_split_words() -> None:
    assert split_words("XSRF-TOKEN") == ("xsrf", "token")
    assert split_words("APIKeyId") == ("api", "key", "id")
    assert split_words("gen_ai.usage.input_tokens") == ("gen", "ai", "usage", "input", "tokens")
    assert split_words("PHPSESSID") == ("phpsessid",)


def test_every_semconv_key_passes() -> None:
    keys = semconv_keys()
    assert len(keys) > 500
    assert [key for key in keys if style_problem(key)] == []


def test_every_semconv_template_is_known() -> None:
    templates = {key for key, doc in semconv_keys().items() if "`<key>`" in doc}
    assert templates
    assert {f"{key}." for key in templates} <= set(TEMPLATE_PREFIXES)


@pytest.mark.parametrize(
    "key",
    [
        "http.request.header.content-type",
        "http.response.header.X-Request-ID",
        "process.environment_variable.PATH",
        "k8s.pod.label.app.kubernetes.io/name",
    ],
)
def test_template_keys_pass_whatever_the_suffix(key: str) -> None:
    assert style_problem(key) is None
