"""Values that are secrets (A005), per family, located so only the secret part is redacted.

`find_secrets` returns the families and character ranges of every secret in
a string: whole-token formats (JWTs, cloud and SaaS keys, PEM private keys),
credentials after an auth scheme (``Bearer``/``Basic``), card numbers that
pass both an issuer-prefix check and Luhn, passwords in URL userinfo, and
``name=value`` pairs whose name is a secret key (query strings, cookies,
connection strings, SQL, JSON and header dumps).  A URL keeps its scheme,
host, path and harmless parameters; only the secret ranges change.

One combined regex finds the token formats in a single pass; pairs are only
looked for when the value contains ``=`` or ``:``.  Values shorter than
`MIN_SECRET_LENGTH` are never scanned.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

__all__ = ["MIN_SECRET_LENGTH", "SecretHit", "find_secrets", "is_card_number", "redact"]

MIN_SECRET_LENGTH = 8

SecretHit = tuple[str, int, int]
"""(family, start, end) of one secret inside a value."""

# Each family: a pattern; when it has a group, only the group is the secret.
_FORMATS: tuple[tuple[str, str], ...] = (
    ("jwt", r"\beyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"),
    (
        "pem_private_key",
        r"-----BEGIN[A-Z0-9 ]{0,20} PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?s:.*?)-----END[A-Z0-9 ]{0,20} PRIVATE KEY(?: BLOCK)?-----|(?s:.*))",
    ),
    (
        "aws_access_key",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z2-7]{16}\b",
    ),
    ("aws_session_token", r"\b(?:FwoGZXIvYXdzE|IQoJb3JpZ2luX2Vj)[A-Za-z0-9/+=]{40,}"),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,})\b"),
    ("gitlab_token", r"\bglpat-[A-Za-z0-9_\-]{20,}"),
    ("slack_token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}"),
    ("slack_webhook", r"hooks\.slack\.com/services/(T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,})"),
    ("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9+/=]{24,}"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"),
    ("google_oauth", r"\bya29\.[0-9A-Za-z_\-]{20,}|\bGOCSPX-[A-Za-z0-9_\-]{20,}"),
    ("ai_api_key", r"\bsk-(?:proj-|svcacct-|admin-|ant-[a-z]+\d\d-)?[A-Za-z0-9_\-]{20,}"),
    ("huggingface_token", r"\bhf_[A-Za-z]{30,}\b"),
    ("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("pypi_token", r"\bpypi-AgE[A-Za-z0-9_\-]{50,}"),
    ("sendgrid_key", r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),
    ("mailgun_key", r"\bkey-[0-9a-f]{32}\b"),
    ("shopify_token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b"),
    ("digitalocean_token", r"\bdo[por]_v1_[a-f0-9]{64}\b"),
    ("bearer", r"\b[Bb][Ee][Aa][Rr][Ee][Rr][ \t]+([A-Za-z0-9\-._~+/]{8,}=*)"),
    ("basic", r"\b[Bb][Aa][Ss][Ii][Cc][ \t]+([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])"),
    ("url_password", r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@?#]*:([^/\s@?#]+)@"),
    # CREATE/ALTER USER ... PASSWORD 'x' (PostgreSQL), IDENTIFIED BY 'x' (MySQL, Oracle)
    ("sql_password", r"(?i:\bpassword|\bidentified\s+by)\s+'((?:[^']|'')+)'"),
    ("card_number", r"(?<![\w.+\-])\d(?:[ \-]?\d){12,18}(?![\w.]|[ \-]\d)"),
)
_COMBINED = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _FORMATS))
_GROUP_OF = {name: _COMBINED.groupindex[name] for name, _ in _FORMATS}
_HAS_INNER = {
    name: _COMBINED.groupindex[name] + 1
    for name, pattern in _FORMATS
    if "(" in pattern.replace("(?", "")
}

_PAIRS = (
    # name=value: query strings, cookies, logfmt, connection strings, SQL
    re.compile(
        r"(?<![A-Za-z0-9_.\-])(?P<name>[A-Za-z_][A-Za-z0-9_.\-]{0,63})[ \t]*=[ \t]*"
        r"(?:'(?P<sq>[^']*)'|\"(?P<dq>[^\"]*)\"|(?P<bare>[^\s&;,#)\"']+))"
    ),
    # "name": "value" in JSON
    re.compile(r"\"(?P<name>[^\"\\]{1,64})\"[ \t]*:[ \t]*\"(?P<dq>(?:[^\"\\]|\\.)*)\""),
    # Name: value header lines
    re.compile(r"(?m)^[ \t]*(?P<name>[A-Za-z][A-Za-z0-9\-]{0,63}):[ \t]*(?P<bare>[^\r\n]+)"),
)
# INSERT INTO t (a, b) VALUES (x, y): names and values are apart, by position.
_INSERT = re.compile(
    r"(?is)\binsert\s+into\s+[\w.\"`\[\]]+\s*\((?P<columns>[^)]*)\)\s*values\s*\((?P<values>[^)]*)\)"
)
_SQL_VALUE = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|[^,\s][^,]*")
# A bind parameter is where a value will go, not a value: `token = ?`, VALUES ($1, :token)
_PLACEHOLDER = re.compile(r"(?i)\?\d*|\$\d+|:[a-z_]\w*|%s|%\([^)]*\)s|@\w+|null")
_SPACED_FAMILIES = frozenset({"authorization", "cookie"})
"""Families whose values contain spaces (``Bearer x``, ``a=1; b=2``)."""
_SIGNATURE_PARAMS = frozenset({"sig", "signature", "x-amz-signature", "x-goog-signature"})


def is_card_number(digits: str) -> bool:
    """Whether a digit string has a card issuer's prefix and length and passes Luhn."""
    n = len(digits)
    if not 13 <= n <= 19 or not _issuer_ok(digits, n):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if position % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _issuer_ok(digits: str, n: int) -> bool:
    two, four, six = int(digits[:2]), int(digits[:4]), int(digits[:6])
    return (
        (digits[0] == "4" and n in (13, 16, 19))  # Visa
        or ((51 <= two <= 55 or 2221 <= four <= 2720) and n == 16)  # Mastercard
        or (two in (34, 37) and n == 15)  # American Express
        or ((four == 6011 or 644 <= four // 10 <= 649 or two == 65) and n >= 16)  # Discover
        or ((622126 <= six <= 622925 or two == 62) and n >= 16)  # UnionPay
        or (3528 <= four <= 3589 and n >= 16)  # JCB
        or ((300 <= four // 10 <= 305 or four == 3095 or two in (36, 38, 39)) and n >= 14)
        or four in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763)  # Maestro
        or (2200 <= four <= 2204 and n >= 16)  # Mir
    )


def _strong_credential(text: str) -> bool:
    """A Bearer credential, not an English word (``Bearer authentication``)."""
    if any(c.isdigit() or c in "-._~+/=" for c in text):
        return True
    return len(text) >= 20 and not text.islower() and not text.isupper()


def _basic_credential(text: str) -> bool:
    """A Basic credential: base64 of printable ``user:password``."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return ":" in decoded and decoded.isprintable()


_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "bearer": _strong_credential,
    "basic": _basic_credential,
    "card_number": lambda text: is_card_number(text.replace(" ", "").replace("-", "")),
}


def find_secrets(value: str, key_family: Callable[[str], str | None]) -> list[SecretHit]:
    """Every secret in ``value``; ``key_family`` classifies ``name=value`` names."""
    if len(value) < MIN_SECRET_LENGTH:
        return []
    hits: list[SecretHit] = []
    for match in _COMBINED.finditer(value):
        family = match.lastgroup
        if family is None:
            continue
        inner = _HAS_INNER.get(family)
        start, end = match.span(inner) if inner is not None else match.span()
        validate = _VALIDATORS.get(family)
        if validate is not None and not validate(value[start:end]):
            continue
        hits.append((family, start, end))
    if "=" in value or ":" in value:
        hits.extend(_secret_pairs(value, key_family))
    if "(" in value and ("INSERT" in value or "insert" in value):
        hits.extend(_insert_values(value, key_family))
    return hits


def _insert_values(value: str, key_family: Callable[[str], str | None]) -> list[SecretHit]:
    hits = []
    for match in _INSERT.finditer(value):
        columns = [c.strip().strip('"`[]') for c in match.group("columns").split(",")]
        base = match.start("values")
        for column, item in zip(columns, _SQL_VALUE.finditer(match.group("values")), strict=False):
            if column and key_family(column):
                start, end = item.span()
                text = item.group()
                if text[:1] in "'\"" and len(text) >= 2:
                    start, end = start + 1, end - 1
                elif _PLACEHOLDER.fullmatch(text.strip()):
                    continue
                if end > start:
                    hits.append(("secret_param", base + start, base + end))
    return hits


def _secret_pairs(value: str, key_family: Callable[[str], str | None]) -> list[SecretHit]:
    hits = []
    for pattern in _PAIRS:
        for match in pattern.finditer(value):
            name = match.group("name")
            lowered = name.lower()
            if lowered in _SIGNATURE_PARAMS:
                family: str | None = "url_signature"
            else:
                family = key_family(name)
            if family is None:
                continue
            group = next(g for g in ("sq", "dq", "bare") if match.groupdict().get(g) is not None)
            start, end = match.span(group)
            if (
                group == "bare"
                and family not in _SPACED_FAMILIES
                and " " in value[start:end].strip()
            ):
                continue  # "password: This field is required." is a message, not a secret
            if group == "bare" and _PLACEHOLDER.fullmatch(value[start:end]):
                continue  # `WHERE token = ?`: a bind parameter, no value
            if end > start:
                hits.append(("secret_param", start, end))
    return hits


def redact(value: str, hits: list[SecretHit], marker: str) -> str:
    """``value`` with every hit's range replaced by ``marker`` (overlaps merged)."""
    ranges = sorted((start, end) for _, start, end in hits)
    out, position = [], 0
    for first, end in ranges:
        if end <= position:
            continue
        out.append(value[position : max(first, position)])
        out.append(marker)
        position = end
    out.append(value[position:])
    return "".join(out)
