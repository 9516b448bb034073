"""Span names that carry IDs (A007), and the route-template name to use instead.

A name is high-cardinality when it contains a UUID, a ULID, a hex string of
16 or more digits (hashes, object and trace IDs), a number of 5 or more
digits, an all-digit or ID-like path segment (``/orders/8412``,
``/users/usr_8f3k2j9d``), an e-mail address or a query string.  Route
templates (``/orders/{id}``, ``/orders/:id``) pass.
"""

from __future__ import annotations

import re

__all__ = ["span_name_problem"]

_SEGMENT_END = r"(?=/|$|\?|#|\s)"
_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "a UUID",
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "{uuid}",
    ),
    ("an e-mail address", re.compile(r"[\w.+\-]+@[\w\-]+\.[\w.\-]+"), "{email}"),
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


_MAY_CARRY_ID = re.compile(r"[0-9@?]")


def span_name_problem(name: str) -> tuple[str, str] | None:
    """(what the name carries, the templated name), or None when it is fine."""
    if not _MAY_CARRY_ID.search(name):
        return None
    found = []
    templated = name
    for what, pattern, placeholder in _PATTERNS:
        templated, count = pattern.subn(placeholder, templated)
        if count:
            found.append(what)
    if not found:
        return None
    return " and ".join(found), templated
