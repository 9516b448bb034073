"""Numbers recorded as strings (A003), told apart from identifiers that look numeric.

A string value is a *numeric string* when all of these hold:

1. it is a canonical decimal number: an optional ``-``, no ``+``, no spaces
   or thousands separators, an optional fraction and exponent
   (``42``, ``-3.5``, ``1e6``);
2. it has no leading zero (``007``, ``02134``, ``0044 20 ...`` are zip codes,
   phone numbers and padded IDs; ``0`` and ``0.5`` are numbers);
3. its integer part has at most 15 digits: longer digit strings are order
   numbers, snowflake and card-like IDs, and 16 digits or more would not
   survive a round trip through a double anyway;
4. no word of the key names an identifier or free text (``id``, ``zip``,
   ``phone``, ``version``, ``flavor``, ``code``, ``number``, ``name``, ...;
   versions and version enums such as ``http.flavor`` ("1.1") are no numbers;
   extend with the config's ``identifier_words``).

Rules 1-3 look at the value (`parse_numeric`), rule 4 at the key
(`names_identifier`), which is classified once per distinct key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["IDENTIFIER_WORDS", "names_identifier", "parse_numeric"]

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]+)?(?:[eE][+-]?[0-9]{1,3})?")
_FIRST = frozenset("-0123456789")

IDENTIFIER_WORDS = frozenset(
    {
        # identifiers
        "id", "ids", "uuid", "guid", "key", "zip", "zipcode", "postal", "postcode",
        "phone", "tel", "telephone", "mobile", "fax", "msisdn", "imei", "imsi", "iban",
        "bic", "swift", "account", "acct", "number", "no", "code", "sku", "ean", "upc",
        "gtin", "isbn", "pin", "otp", "serial", "ref", "reference", "tag", "hash", "checksum",
        "sha", "digest",
        # versions and string enums of versions (http.flavor "1.1")
        "version", "ver", "build", "release", "revision", "rev", "flavor", "flavour",
        # free text that may happen to be digits
        "name", "label", "title", "text", "message", "msg", "description", "comment",
        "query", "statement", "body", "path", "route",
    }
)  # fmt: skip


def parse_numeric(value: str) -> int | float | None:
    """The number ``value`` spells under rules 1-3, or None when it is not one."""
    if not value or value[0] not in _FIRST or not _NUMBER.fullmatch(value):
        return None
    if "." in value or "e" in value or "E" in value:
        return float(value)
    return int(value)


def names_identifier(words: Iterable[str], extra: frozenset[str] = frozenset()) -> bool:
    """Whether a key made of ``words`` holds identifiers or text (rule 4)."""
    return any(w in IDENTIFIER_WORDS or w in extra for w in words)
