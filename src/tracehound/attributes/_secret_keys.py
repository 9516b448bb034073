"""Keys that name a secret (A004), matched on words so ``token_count`` and ``author`` pass.

A key is split into words (`split_words`: punctuation, spaces, camelCase).  It
names a secret when a *secret word* or phrase occurs (``password``,
``token``, ``api key``, ``set-cookie``, ...) and every word after it only
says how the secret is held (``value``, ``header``, ``b64``, ``hash``, ...):
``user.token``, ``http.request.header.authorization`` and ``db_password_hash``
are secrets, ``token_type``, ``auth.method``, ``secret.name`` and
``private_key.path`` describe one without holding it.  ``token`` also passes
after a counting word (``input_tokens``, ``max_tokens``), and the
semantic-convention session identifiers (``session.id``) are not credentials.

The word lists cover logfire's default patterns (password, passwd,
mysql_pwd, secret, auth, credential, private key, api key, session, cookie,
social security, credit card, csrf, xsrf, jwt, ssn) and sentry's denylist
(token, authorization, proxy-authorization, x_api_key, set_cookie,
sessionid, PHPSESSID, XSRF-TOKEN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

__all__ = ["NOT_SECRET_KEYS", "secret_family"]

_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "password": "password", "passwd": "password", "passphrase": "password",
        "passcode": "password", "pwd": "password",
        "secret": "secret", "secrets": "secret",
        "token": "token", "tokens": "token", "bearer": "token",
        "apikey": "api_key", "apikeys": "api_key",
        "authorization": "authorization", "authorisation": "authorization",
        "auth": "authorization",
        "cookie": "cookie", "cookies": "cookie",
        "session": "session", "sessionid": "session", "sessid": "session",
        "phpsessid": "session", "jsessionid": "session", "aspsessionid": "session",
        "credential": "credential", "credentials": "credential", "creds": "credential",
        "privkey": "private_key",
        "jwt": "jwt",
        "csrf": "csrf", "xsrf": "csrf",
        "ssn": "ssn",
        "cvv": "card", "cvv2": "card", "cvc": "card", "cvc2": "card",
    }
)  # fmt: skip

_PHRASES: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("api", "key"): "api_key", ("access", "key"): "api_key",
        ("account", "key"): "api_key", ("subscription", "key"): "api_key",
        ("secret", "key"): "secret", ("master", "key"): "secret",
        ("signing", "key"): "secret", ("encryption", "key"): "secret",
        ("private", "key"): "private_key",
        ("social", "security"): "ssn",
        ("credit", "card"): "card", ("card", "number"): "card",
    }
)  # fmt: skip

# Words written together without a separator: "dbpassword", "clientsecret".
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("password", "password"), ("passwd", "password"), ("passphrase", "password"),
    ("secret", "secret"), ("apikey", "api_key"), ("secretkey", "secret"),
    ("privatekey", "private_key"), ("accesstoken", "token"), ("authtoken", "token"),
    ("refreshtoken", "token"), ("idtoken", "token"), ("csrftoken", "csrf"),
    ("xsrftoken", "csrf"), ("sessionid", "session"), ("sessid", "session"),
    ("sessiontoken", "token"),
)  # fmt: skip

_HOLDERS = frozenset(
    {
        "value", "values", "val", "data", "string", "str", "raw", "text", "header",
        "headers", "b64", "base64", "hex", "encoded", "plain", "plaintext", "cleartext",
        "hash", "hashed", "pem", "der", "bytes", "secret", "key", "token", "cookie",
        "credential", "credentials", "confirmation", "confirm", "param", "field",
    }
)  # fmt: skip
_FAMILY_HOLDERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "session": frozenset({"id", "key"}),
        "ssn": frozenset({"number", "no", "num"}),
        "card": frozenset({"number", "no", "num"}),
    }
)
_COUNTING = frozenset(
    {
        "count", "counts", "usage", "limit", "limits", "budget", "input", "output",
        "prompt", "completion", "completions", "total", "max", "min", "num", "cached",
        "reasoning", "remaining", "used", "estimated", "estimate", "per", "rate",
        "length", "len", "size",
    }
)  # fmt: skip

NOT_SECRET_KEYS = frozenset({"session.id", "session.previous_id"})
"""Semantic-convention keys with a secret word that hold an identifier, not a credential."""


def secret_family(
    words: Sequence[str], extra_words: Mapping[str, str] = MappingProxyType({})
) -> str | None:
    """The secret family a key made of ``words`` names (``"token"``, ...), or None."""
    count = len(words)
    for i, word in enumerate(words):
        family, width = _family_at(words, i, word, extra_words)
        if family is None:
            continue
        holders = _FAMILY_HOLDERS.get(family)
        if not all(
            w in _HOLDERS or w.isdigit() or (holders is not None and w in holders)
            for w in words[i + width : count]
        ):
            continue
        if family == "token" and any(w in _COUNTING for w in words[:i]):
            continue
        return family
    return None


def _family_at(
    words: Sequence[str], i: int, word: str, extra_words: Mapping[str, str]
) -> tuple[str | None, int]:
    if i + 1 < len(words):
        phrase = _PHRASES.get((word, words[i + 1]))
        if phrase is not None:
            return phrase, 2
    family = _WORDS.get(word) or extra_words.get(word)
    if family is not None:
        return family, 1
    if len(word) > 6:
        for suffix, suffix_family in _SUFFIXES:
            if word.endswith(suffix):
                return suffix_family, 1
    return None, 1
