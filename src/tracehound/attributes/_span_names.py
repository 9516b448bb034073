"""Span names that carry IDs (A007), and the route-template name to use instead.

A name is high-cardinality when it contains a UUID, a ULID, a hex string of
16 or more digits (hashes, object and trace IDs), a number of 5 or more
digits, an all-digit or ID-like path segment (``/orders/8412``,
``/users/usr_8f3k2j9d``), an e-mail address or a query string.  Route
templates (``/orders/{id}``, ``/orders/:id``) pass, and so does the address
of the peer (``GET 127.0.0.1:18082``, ``connect db.internal:5432``): a port
is not an ID, and a client's peers are few.

Every pattern can start only at the beginning of a run of the characters it
repeats (a lookbehind, ``\\b`` or a literal first character), so the work is
linear in the name's length: a 150 KB name costs milliseconds, not minutes.
"""

from __future__ import annotations

import re

__all__ = ["span_name_problem"]

_SEGMENT_END = r"(?=/|$|\?|#|\s)"
_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+\.[\w.\-]+")
_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "a UUID",
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "{uuid}",
    ),
    ("an e-mail address", _EMAIL, "{email}"),
    ("a query string", re.compile(r"\?[^\s?]*=[^\s]*"), ""),
    ("a ULID", re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b"), "{id}"),
    ("a hex ID", re.compile(r"\b(?=[a-fA-F]*[0-9])[0-9a-fA-F]{16,}\b"), "{id}"),
    ("an all-digit path segment", re.compile(r"(?<=/)[0-9]+" + _SEGMENT_END), "{id}"),
    (
        "an ID-like path segment",
        re.compile(
            r"(?<=/)(?=(?:[A-Za-z_\-]*[0-9]){3})(?=[0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{8,}"
            + _SEGMENT_END
        ),
        "{id}",
    ),
    ("a long number", re.compile(r"(?<![\w.])[0-9]{5,}(?![\w.])"), "{id}"),
)

# A peer address: an IPv4 or bracketed IPv6 address, localhost, a dotted host
# name, or any host right after ``//`` (a URL's authority), then a port.  A
# single word before a colon outside a URL (``order:12345``) stays suspect.
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_HOST_PORT = re.compile(
    r"(?:(?<=//)[A-Za-z0-9][A-Za-z0-9.\-]*"
    r"|(?<![\w.\-:@\[])(?:\[[0-9A-Fa-f:.]+\]|localhost|[A-Za-z0-9][A-Za-z0-9\-]*\.[A-Za-z0-9.\-]*))"
    r":" + _PORT + r"(?![\w.:])"
)
_MASK_BASE = 0xE000  # peer addresses become private-use characters while the patterns run
_MASK_MAX = 0x1900
_MASKS = re.compile(f"[{chr(_MASK_BASE)}-{chr(_MASK_BASE + _MASK_MAX - 1)}]")
_MAY_CARRY_ID = re.compile(r"[0-9@?]")


def span_name_problem(name: str) -> tuple[str, str] | None:
    """(what the name carries, the templated name), or None when it is fine."""
    if not _MAY_CARRY_ID.search(name):
        return None
    peers: list[str] = []
    if ":" in name and not _MASKS.search(name):

        def mask(match: re.Match[str]) -> str:
            peers.append(match.group())
            return chr(_MASK_BASE + len(peers) - 1)

        name = _HOST_PORT.sub(mask, name, count=_MASK_MAX)
    found = []
    templated = name
    for what, pattern, placeholder in _PATTERNS:
        templated, count = pattern.subn(placeholder, templated)
        if count:
            found.append(what)
    if not found:
        return None
    if peers:
        templated = _MASKS.sub(lambda m: peers[ord(m.group()) - _MASK_BASE], templated)
    return " and ".join(found), templated
